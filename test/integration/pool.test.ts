/**
 * The pool under traffic, with the real CLI and the scripted model: after a burst a spare comes back
 * without waiting for a session to idle a minute; a session a request waits on is never evicted; an OpenAI
 * conversation nobody followed up lets its process go after `openai.unfollowedIdleMs`, and a late follow-up
 * still has its context; a process given back serves a new conversation after `/clear` when only talk ran in
 * it; health shows the processes' memory. What each conversation's model request holds is checked: nothing
 * of one conversation reaches another.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import OpenAI from 'openai'
import { liveProcesses } from '../../src/engine/runner.js'
import type { EventOf } from '../../src/events/types.js'
import { type TestHome, testEngine, testHome, withGateway } from '../support/harness.js'
import { conversationTexts, lastUserText, text, toolCall } from '../support/scripted-anthropic.js'
import { isGone, waitForEvent, waitUntil } from '../support/wait.js'

/** Two slots, one spare, a session idle 300 ms gives its process up for a missing spare. */
const reuseLimits = { maxRunners: 2, warmSpares: 1, spareReclaimIdleMs: 300, idleTimeoutMs: 120_000 }
/** What `/clear` leaves before the new conversation's first message (process-reuse.ts). */
const clearTrace = (value: string) =>
  /^<local-command-caveat>|^<command-name>\/clear<\/command-name>|^<local-command-stdout><\/local-command-stdout>/.test(
    value,
  )

/** The scripted model answers each message with its own words: who heard what stays visible. */
const echo = (home: TestHome) => {
  home.model.fallback = (request) => text(`echo: ${lastUserText(request.body)}`)
}

describe('the pool under traffic, with the real CLI', () => {
  let home: TestHome
  before(async () => {
    home = await testHome()
    echo(home)
  })
  after(async () => {
    await home.close()
  })

  test('after a burst fills every slot, a spare comes back without waiting a minute', async () => {
    // The process given back stops here and the spare is a new one (reuse: the next suite).
    const { engine, events, close } = await testEngine(home, {
      maxRunners: 3,
      warmSpares: 1,
      spareReclaimIdleMs: 300,
      idleTimeoutMs: 120_000,
      reuseProcesses: false,
    })
    try {
      await waitUntil(() => engine.processStats.spares === 1, 30_000, 'a warm spare')
      const burst = await Promise.all(['a', 'b', 'c'].map((name) => engine.createSession({ title: name })))
      await Promise.all(
        burst.map(async (session) => (await engine.send(session.id, `hello ${session.title}`)).done),
      )
      // Three idle sessions in three slots; within seconds (not a minute) one gives way to a new spare.
      await waitUntil(() => engine.processStats.spares === 1, 30_000, 'a spare in a reclaimed slot')
      const evicted = burst.filter((session) =>
        events.some(
          (e) => e.sessionId === session.id && e.type === 'session.state' && e.reason === 'evicted',
        ),
      )
      assert.equal(evicted.length, 1, 'one session gave its process up')
      assert.equal((await engine.getSession(evicted[0]!.id))!.state, 'hibernated')
      assert.ok(engine.processStats.live <= 3)

      const sparePid = engine.memory().processes.find((p) => p.role === 'spare')!.pid
      const d = await engine.createSession({ title: 'd' })
      await (await engine.send(d.id, 'hello d')).done
      assert.equal(engine.runnerOf(d.id)!.pid, sparePid, 'the new conversation got the spare')
      assert.deepEqual(conversationTexts(home.model.turns.at(-1)!.body), [{ role: 'user', text: 'hello d' }])

      const back = evicted[0]!
      await (await engine.send(back.id, 'still there?')).done
      assert.deepEqual(conversationTexts(home.model.turns.at(-1)!.body), [
        { role: 'user', text: `hello ${back.title}` },
        { role: 'assistant', text: `echo: hello ${back.title}` },
        { role: 'user', text: 'still there?' },
      ])
    } finally {
      await close()
    }
  })

  test('a session whose turn waits is never evicted for a spare; an idle one is', async () => {
    const { engine, events, close } = await testEngine(home, {
      maxRunners: 2,
      warmSpares: 1,
      spareReclaimIdleMs: 200,
    })
    try {
      await waitUntil(() => engine.processStats.spares === 1, 30_000, 'a warm spare')
      const settings = { permissionMode: 'default' as const, askPermissions: true }
      const waiting = await engine.createSession({ ...settings, title: 'waiting' })
      const idle = await engine.createSession({ ...settings, title: 'idle' })
      // The waiting session's turn asks to run a tool and waits for the answer (as a client's would).
      home.model.script({ blocks: [{ type: 'tool_use', name: 'Bash', input: { command: 'touch x' } }] })
      const turn = await engine.send(waiting.id, 'run it')
      const asked = (await waitForEvent(
        events,
        (e) => e.type === 'permission.requested' && e.sessionId === waiting.id,
      )) as EventOf<'permission.requested'>
      const waitingPid = engine.runnerOf(waiting.id)!.pid!
      await (await engine.send(idle.id, 'hello idle')).done
      // Both slots are taken; the spare comes back in the idle session's slot, never the waiting one's.
      await waitUntil(() => engine.processStats.spares === 1, 30_000, 'a spare in a reclaimed slot')
      assert.equal((await engine.getSession(idle.id))!.state, 'hibernated')
      assert.equal(engine.runnerOf(waiting.id)?.pid, waitingPid)
      assert.ok(!events.some((e) => e.sessionId === waiting.id && e.type === 'session.state' && e.reason))
      assert.equal(engine.pendingPermissions(waiting.id).length, 1)
      engine.answerPermission(waiting.id, asked.requestId, { behavior: 'deny', message: 'not now' })
      assert.equal((await turn.done).status, 'success')
      assert.ok(!isGone(waitingPid), 'the waiting session kept its process throughout')
    } finally {
      await close()
    }
  })

  test('a process given back shows the model nothing of the earlier conversation, which still resumes with its context', async () => {
    const { engine, events, close } = await testEngine(home, reuseLimits)
    const echoing = home.model.fallback
    try {
      await waitUntil(() => engine.processStats.spares === 1, 30_000, 'a warm spare')
      const earlier = await engine.createSession({ title: 'earlier' })
      // A slow model answer (a second of API time) that the reused process's next turn must not count.
      home.model.fallback = (request) =>
        lastUserText(request.body).includes('heron')
          ? text(`echo: ${lastUserText(request.body)}`, { delayMs: 1_000 })
          : echoing(request)
      await (await engine.send(earlier.id, 'The code word is heron.')).done
      const reusedPid = engine.runnerOf(earlier.id)!.pid!
      await waitUntil(() => engine.processStats.spares === 1, 30_000, 'the spare replaced')
      const other = await engine.createSession({ title: 'other' })
      await (await engine.send(other.id, 'hello other')).done
      // Both slots are taken and the spare is missing: the earlier session, idle the longest, gives its
      // process up, which clears its conversation and is the spare.
      await waitUntil(() => engine.processStats.spares === 1, 30_000, 'a spare again')
      assert.equal(engine.memory().processes.find((p) => p.role === 'spare')?.pid, reusedPid)
      assert.equal((await engine.getSession(earlier.id))!.state, 'hibernated')
      assert.equal(engine.processCounts.reuses, 1)

      const next = await engine.createSession({ title: 'next' })
      const answered = await (await engine.send(next.id, 'hello next')).done
      assert.ok(
        (answered.apiDurationMs ?? 0) <= answered.durationMs,
        `the turn's API time (${answered.apiDurationMs} ms) is its own, not the earlier conversation's too`,
      )
      assert.equal(engine.runnerOf(next.id)?.pid, reusedPid, 'the new conversation got the reused process')
      const seen = home.model.turns.at(-1)!.body
      assert.ok(!JSON.stringify(seen).includes('heron'), 'nothing of the earlier conversation, anywhere')
      const texts = conversationTexts(seen)
      assert.deepEqual(texts.at(-1), { role: 'user', text: 'hello next' })
      assert.ok(
        texts.slice(0, -1).every((t) => t.role === 'user' && clearTrace(t.text)),
        JSON.stringify(texts),
      )
      assert.notEqual(
        (await engine.getSession(next.id))!.claudeSessionId,
        (await engine.getSession(earlier.id))!.claudeSessionId,
        'a conversation of its own',
      )
      assert.ok(
        !events.some((e) => e.sessionId === earlier.id && e.type === 'conversation.reset'),
        "the /clear is no event of the earlier session's",
      )

      await (await engine.send(earlier.id, 'Which code word?')).done
      assert.deepEqual(conversationTexts(home.model.turns.at(-1)!.body), [
        { role: 'user', text: 'The code word is heron.' },
        { role: 'assistant', text: 'echo: The code word is heron.' },
        { role: 'user', text: 'Which code word?' },
      ])
      // The reused conversation resumes too, from its own transcript.
      engine.restartRunner(next.id)
      await waitUntil(() => engine.runnerOf(next.id) === null, 10_000, 'the next session to let go')
      await (await engine.send(next.id, 'and now?')).done
      const resumed = home.model.turns.at(-1)!.body
      assert.ok(!JSON.stringify(resumed).includes('heron'))
      const said = conversationTexts(resumed).filter((t) => t.role === 'user' && !clearTrace(t.text))
      assert.deepEqual(
        said.map((t) => t.text),
        ['hello next', 'and now?'],
      )
    } finally {
      home.model.fallback = echoing
      await close()
    }
  })

  test('a process whose turn its deleted session left unfinished is stopped, not reused', async () => {
    // One slot: the spare is missing as soon as the session takes it, so reuse would be wanted.
    const { engine, close } = await testEngine(home, { ...reuseLimits, maxRunners: 1 })
    const echoing = home.model.fallback
    try {
      await waitUntil(() => engine.processStats.spares === 1, 30_000, 'a warm spare')
      home.model.fallback = (request) =>
        lastUserText(request.body).includes('slowly')
          ? text('too late', { delayMs: 20_000 })
          : echoing(request)
      const doomed = await engine.createSession({ title: 'doomed' })
      void (await engine.send(doomed.id, 'answer slowly')).done.catch(() => undefined)
      await waitUntil(
        () => home.model.requests.some((r) => lastUserText(r.body).includes('slowly')),
        30_000,
        'the model asked',
      )
      const pid = engine.runnerOf(doomed.id)!.pid!
      await engine.deleteSession(doomed.id, false)
      // A /clear queued behind the unfinished turn would hold the process for the turn's 20 s (or its own
      // time limit), and the turn would go on for a session that is gone.
      await waitUntil(() => isGone(pid), 4_000, 'the process stopped at once')
      assert.equal(engine.processCounts.reuses, 0)
    } finally {
      home.model.fallback = echoing
      await close()
    }
  })

  test('a process given back is not reused when a tool of Claude Code ran in it', async () => {
    const { engine, close } = await testEngine(home, reuseLimits)
    try {
      await waitUntil(() => engine.processStats.spares === 1, 30_000, 'a warm spare')
      writeFileSync(join(home.workspace, 'notes.txt'), 'kept in the process?')
      const reader = await engine.createSession({ title: 'reader' })
      home.model.script(toolCall('Read', { file_path: join(home.workspace, 'notes.txt') }))
      await (await engine.send(reader.id, 'read the notes')).done
      const readerPid = engine.runnerOf(reader.id)!.pid!
      await waitUntil(() => engine.processStats.spares === 1, 30_000, 'the spare replaced')
      const other = await engine.createSession({ title: 'other' })
      await (await engine.send(other.id, 'hello other')).done
      await waitUntil(() => isGone(readerPid), 30_000, 'the reader session to give its process up')
      await waitUntil(() => engine.processStats.spares === 1, 30_000, 'a new spare')
      assert.notEqual(engine.memory().processes.find((p) => p.role === 'spare')?.pid, readerPid)
      assert.equal(engine.processCounts.reuses, 0)
    } finally {
      await close()
    }
  })
})

describe('OpenAI conversations nobody followed up', () => {
  const key = 'pool-test-key'
  const g = withGateway({
    server: { apiKeys: [key] },
    pool: { warmSpares: 1 },
    openai: { unfollowedIdleMs: 300 },
  })
  let client: OpenAI
  before(() => {
    echo(g.home)
    client = new OpenAI({ baseURL: `${g.gateway.url}/v1`, apiKey: key, maxRetries: 0 })
  })

  test('let their process go after openai.unfollowedIdleMs; a late follow-up resumes with its context', async () => {
    const { engine } = g.gateway.context
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      { role: 'user', content: 'The code word is heron.' },
    ]
    const first = await client.chat.completions.create({ model: 'claude-code', messages }).withResponse()
    const sessionId = first.response.headers.get('x-session-id')!
    const pid = engine.runnerOf(sessionId)!.pid!
    await waitUntil(() => engine.runnerOf(sessionId) === null, 10_000, 'the unfollowed session to hibernate')
    // Given back: it exits, or (pool.reuseProcesses) becomes the spare after /clear when the spare is still
    // missing: the replacement for the one this conversation took may not have started within 300 ms.
    const givenBack = () =>
      isGone(pid) || engine.memory().processes.some((p) => p.pid === pid && p.role === 'spare')
    await waitUntil(givenBack, 10_000, 'its process to exit or become the spare')
    assert.equal((await engine.getSession(sessionId))!.state, 'hibernated')

    const sessions = (await engine.stats()).sessions
    messages.push(first.data.choices[0]!.message, { role: 'user', content: 'Which code word?' })
    const second = await client.chat.completions.create({ model: 'claude-code', messages }).withResponse()
    assert.equal(second.response.headers.get('x-session-id'), sessionId, 'the same session resumed')
    assert.equal((await engine.stats()).sessions, sessions, 'no new session')
    assert.deepEqual(conversationTexts(g.home.model.turns.at(-1)!.body), [
      { role: 'user', text: 'The code word is heron.' },
      { role: 'assistant', text: 'echo: The code word is heron.' },
      { role: 'user', text: 'Which code word?' },
    ])
    // Followed up now: it keeps its process the usual pool.idleTimeoutMs.
    const resumedPid = engine.runnerOf(sessionId)!.pid!
    await new Promise((resolve) => setTimeout(resolve, 600))
    assert.equal(engine.runnerOf(sessionId)?.pid, resumedPid)
  })

  test('authenticated health shows every live process and its memory; the open view does not', async () => {
    await waitUntil(() => g.gateway.context.engine.processStats.spares === 1, 30_000, 'a warm spare')
    const health = async (headers: Record<string, string>) =>
      ((await (await fetch(`${g.gateway.url}/v1/health`, { headers })).json()) as HealthBody).processes
    const open = await health({})
    assert.equal(open.memory, undefined)
    const { memory } = await health({ authorization: `Bearer ${key}` })
    assert.ok(memory)
    assert.ok(memory.gateway_rss_bytes > 0)
    const pids = [...liveProcesses].map((p) => p.pid)
    assert.ok(memory.processes.some((p) => p.role === 'spare'))
    for (const process of memory.processes) assert.ok(pids.includes(process.pid!), 'a live CLI process')
    if (process.platform === 'linux') {
      assert.ok(memory.processes.every((p) => p.rss_bytes! > 10 * 2 ** 20))
      const sum = memory.processes.reduce((total, p) => total + p.rss_bytes!, 0)
      assert.equal(memory.claude_rss_bytes, sum)
    }
  })
})

interface HealthBody {
  processes: {
    memory?: {
      gateway_rss_bytes: number
      claude_rss_bytes: number | null
      processes: { pid: number | null; role: string; rss_bytes: number | null }[]
    }
  }
}
