/**
 * The engine against the real Claude Code CLI and the scripted model: turns, thinking, tools that really
 * touch the workspace, interrupt, hibernate and resume, restart, crashes, limits and shutdown.
 */
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs'
import { join } from 'node:path'
import { describe, type TestContext, test } from 'node:test'
import { projectSlug } from '../../src/engine/claude-home.js'
import { GatewayError } from '../../src/engine/errors.js'
import { PRIMING_PROMPT } from '../../src/engine/priming.js'
import { liveProcesses, Runner } from '../../src/engine/runner.js'
import type { ContentBlock, EventOf, GatewayEvent } from '../../src/events/types.js'
import { flakyCli, type TestEngine, testEngine, testHome, withHome } from '../support/harness.js'
import { conversationTexts, failure, lastUserText, text, toolCall } from '../support/scripted-anthropic.js'
import { isGone, waitForEvent, waitUntil } from '../support/wait.js'

/** An engine of the test's own (`testEngine`'s arguments), closed after the test whatever its outcome. */
async function testEngineFor(t: TestContext, ...args: Parameters<typeof testEngine>): Promise<TestEngine> {
  const own = await testEngine(...args)
  t.after(() => own.close())
  return own
}

const ofTurn = (events: GatewayEvent[], turnId: string) =>
  events.filter((e) => 'turnId' in e && e.turnId === turnId)

describe('engine with the real CLI', () => {
  const h = withHome()

  test('a text turn streams token by token and completes with usage', async (t) => {
    const { engine, events } = await testEngineFor(t, h.home)
    h.home.model.script(
      text('Hello from the scripted model', {
        chunkSize: 5,
        usage: { input_tokens: 30, output_tokens: 9 },
      }),
    )
    const session = await engine.createSession({ title: 'text' })
    const turn = await engine.send(session.id, 'Say hello')
    const done = await turn.done
    assert.equal(done.status, 'success')
    assert.equal(done.result, 'Hello from the scripted model')
    assert.equal(done.usage.inputTokens, 30)
    assert.equal(done.usage.outputTokens, 9)

    const mine = ofTurn(events, turn.id)
    const deltas = mine.filter((e): e is EventOf<'text.delta'> => e.type === 'text.delta')
    assert.ok(deltas.length >= 5, `expected token deltas, got ${deltas.length}`)
    assert.equal(deltas.map((d) => d.text).join(''), 'Hello from the scripted model')
    assert.deepEqual(
      [...new Set(mine.map((e) => e.type))],
      ['turn.started', 'text.delta', 'message', 'message.stop', 'usage', 'turn.completed'],
    )
    // session.created is about the session, outside its sequence (seq 0).
    const forSession = events.filter((e) => e.sessionId === session.id && e.seq > 0)
    assert.deepEqual(
      forSession.map((e) => e.seq),
      forSession.map((_, i) => i + 1),
      'sequence numbers start at 1 without gaps',
    )
    assert.equal(lastUserText(h.home.model.turns.at(-1)!.body), 'Say hello')
    const record = (await engine.getSession(session.id))!
    assert.equal(record.state, 'idle')
    assert.ok(record.claudeSessionId)
    assert.equal(record.turns, 1)
  })

  test('a thinking turn streams thinking deltas before the text', async (t) => {
    const { engine, events } = await testEngineFor(t, h.home)
    h.home.model.script({
      blocks: [
        { type: 'thinking', thinking: 'Let me think about this carefully.' },
        { type: 'text', text: 'The answer is 4.' },
      ],
      chunkSize: 6,
    })
    const session = await engine.createSession({ thinking: { type: 'enabled', budgetTokens: 2048 } })
    const turn = await engine.send(session.id, 'What is 2 + 2?')
    const done = await turn.done
    assert.equal(done.result, 'The answer is 4.')
    const mine = ofTurn(events, turn.id)
    const thinking = mine.filter((e): e is EventOf<'thinking.delta'> => e.type === 'thinking.delta')
    assert.ok(thinking.length > 1)
    assert.equal(thinking.map((t) => t.text).join(''), 'Let me think about this carefully.')
    const firstText = mine.findIndex((e) => e.type === 'text.delta')
    assert.ok(mine.findIndex((e) => e.type === 'thinking.delta') < firstText)
    // Claude Code turns a budget into adaptive thinking on models that support it; either way it is on.
    assert.ok(['enabled', 'adaptive'].includes(h.home.model.turns.at(-1)!.body.thinking?.type ?? 'none'))
  })

  test('Claude runs Bash and Write in the workspace; the files exist and the changes are events', async (t) => {
    const { engine, events } = await testEngineFor(t, h.home)
    h.home.model.script(
      toolCall('Bash', { command: 'echo from-bash > bash.txt', description: 'write a file' }),
      toolCall('Write', { file_path: join(h.home.workspace, 'hello.py'), content: 'print("hi")\n' }),
      text('Both files are written.'),
    )
    const session = await engine.createSession({ permissionMode: 'bypassPermissions' })
    const turn = await engine.send(session.id, 'Create two files')
    const done = await turn.done
    assert.equal(done.status, 'success', JSON.stringify(done.error))
    assert.equal(readFileSync(join(h.home.workspace, 'bash.txt'), 'utf8'), 'from-bash\n')
    assert.equal(readFileSync(join(h.home.workspace, 'hello.py'), 'utf8'), 'print("hi")\n')

    const mine = ofTurn(events, turn.id)
    const calls = mine.filter((e): e is EventOf<'tool.call'> => e.type === 'tool.call')
    assert.deepEqual(
      calls.map((c) => c.name),
      ['Bash', 'Write'],
    )
    const results = mine.filter((e): e is EventOf<'tool.result'> => e.type === 'tool.result')
    assert.deepEqual(
      results.map((r) => [r.name, r.isError]),
      [
        ['Bash', false],
        ['Write', false],
      ],
    )
    assert.equal(results[0]!.toolUseId, calls[0]!.toolUseId)
    const change = mine.find((e): e is EventOf<'file.changed'> => e.type === 'file.changed')
    assert.ok(change)
    assert.equal(change.path, join(h.home.workspace, 'hello.py'))
    assert.equal(change.kind, 'created')
    assert.equal(change.after, 'print("hi")\n')
    assert.equal(change.before, null)
  })

  test('interrupt stops a streaming turn; the same process serves the next message', async (t) => {
    const { engine, events } = await testEngineFor(t, h.home)
    h.home.model.script(
      text('x'.repeat(400), { chunkSize: 2, chunkDelayMs: 20 }),
      text('after the interrupt'),
    )
    const session = await engine.createSession({})
    const turn = await engine.send(session.id, 'Write a long answer')
    await waitForEvent(events, (e) => e.type === 'text.delta' && e.turnId === turn.id)
    const pid = engine.runnerOf(session.id)!.pid
    assert.equal(await engine.interrupt(session.id), true)
    const done = await turn.done
    assert.equal(done.status, 'interrupted')
    assert.equal((await engine.getSession(session.id))!.state, 'idle')

    const next = await engine.send(session.id, 'Are you still there?')
    assert.equal((await next.done).result, 'after the interrupt')
    assert.equal(engine.runnerOf(session.id)!.pid, pid, 'no new process')
    assert.equal(await engine.interrupt(session.id), false, 'nothing to interrupt')
  })

  test('an idle session hibernates and resumes with its context', async (t) => {
    const { engine, events } = await testEngineFor(t, h.home, { idleTimeoutMs: 300 })
    h.home.model.script(text('My name is Scripty.'), text('You asked for my name.'))
    const session = await engine.createSession({})
    const first = await (await engine.send(session.id, 'What is your name?')).done
    const firstPid = engine.runnerOf(session.id)!.pid!
    await waitForEvent(events, (e) => e.type === 'session.state' && e.state === 'hibernated')
    assert.equal(engine.runnerOf(session.id), null)
    await waitUntil(() => isGone(firstPid), 10_000, 'the hibernated process to exit')

    const second = await (await engine.send(session.id, 'What did I ask?')).done
    assert.equal(second.result, 'You asked for my name.')
    // The resumed CLI continues its saved cost total: the turn is charged only for itself.
    assert.ok(first.costUsd > 0)
    assert.ok(Math.abs(second.costUsd - first.costUsd) < 1e-9, `${second.costUsd} vs ${first.costUsd}`)
    assert.ok(Math.abs((await engine.getSession(session.id))!.costUsd - 2 * first.costUsd) < 1e-9)
    assert.notEqual(engine.runnerOf(session.id)!.pid, firstPid)
    assert.deepEqual(conversationTexts(h.home.model.turns.at(-1)!.body), [
      { role: 'user', text: 'What is your name?' },
      { role: 'assistant', text: 'My name is Scripty.' },
      { role: 'user', text: 'What did I ask?' },
    ])
  })

  test('sessions survive a gateway restart and continue with their context', async () => {
    const first = await testEngine(h.home)
    let sessionId: string
    try {
      h.home.model.script(text('Remember: the code word is heron.'))
      const session = await first.engine.createSession({ title: 'before restart' })
      sessionId = session.id
      await (await first.engine.send(session.id, 'Tell me a code word')).done
    } finally {
      await first.close()
    }
    const second = await testEngine(h.home)
    try {
      const listed = (await second.engine.listSessions({ limit: 100, offset: 0 })).items.find(
        (s) => s.id === sessionId,
      )
      assert.ok(listed, 'listed after the restart')
      assert.equal(listed.title, 'before restart')
      assert.equal(listed.state, 'hibernated')
      h.home.model.script(text('It was heron.'))
      const turn = await second.engine.send(sessionId, 'Which code word?')
      assert.equal((await turn.done).result, 'It was heron.')
      const seen = conversationTexts(h.home.model.turns.at(-1)!.body).map((t) => t.text)
      assert.deepEqual(seen, ['Tell me a code word', 'Remember: the code word is heron.', 'Which code word?'])
      const replayed = await second.bus.replay(sessionId)
      assert.deepEqual(
        replayed.map((e) => e.seq),
        replayed.map((_, i) => i + 1),
        'the event log continues without a gap across the restart',
      )
    } finally {
      await second.close()
    }
  })

  test('a CLI killed mid-turn fails that turn clearly and the next message resumes', async (t) => {
    const { engine, events } = await testEngineFor(t, h.home)
    h.home.model.script(
      text('First answer.'),
      text('y'.repeat(300), { chunkSize: 1, chunkDelayMs: 20 }),
      text('Back again.'),
    )
    const session = await engine.createSession({})
    await (await engine.send(session.id, 'First question')).done
    const turn = await engine.send(session.id, 'Second question')
    await waitForEvent(events, (e) => e.type === 'text.delta' && e.turnId === turn.id)
    process.kill(engine.runnerOf(session.id)!.pid!, 'SIGKILL')
    const done = await turn.done
    assert.equal(done.status, 'error')
    assert.equal(done.error?.code, 'process_exited')
    assert.match(done.error!.message, /exited unexpectedly \(signal SIGKILL\)/)
    assert.equal((await engine.getSession(session.id))!.state, 'hibernated')

    const next = await engine.send(session.id, 'Third question')
    assert.equal((await next.done).result, 'Back again.')
    const seen = conversationTexts(h.home.model.turns.at(-1)!.body).map((t) => t.text)
    assert.deepEqual(seen.slice(0, 2), ['First question', 'First answer.'])
    assert.equal(seen.at(-1), 'Third question')
  })

  test('a full pool evicts the least recently used idle runner', async (t) => {
    const { engine, events } = await testEngineFor(t, h.home, { maxRunners: 1, queueSize: 0 })
    const a = await engine.createSession({ title: 'a' })
    const b = await engine.createSession({ title: 'b' })
    await (await engine.send(a.id, 'hello a')).done
    await (await engine.send(b.id, 'hello b')).done
    assert.equal((await engine.getSession(a.id))!.state, 'hibernated')
    assert.ok(
      events.some((e) => e.sessionId === a.id && e.type === 'session.state' && e.reason === 'evicted'),
    )
    assert.equal(engine.processStats.live, 1)
  })

  test('a full pool and a full queue give the busy error; a queued request waits its turn', async (t) => {
    const { engine, events } = await testEngineFor(t, h.home, {
      maxRunners: 1,
      queueSize: 1,
      queueTimeoutMs: 20_000,
    })
    h.home.model.script(text('z'.repeat(100), { chunkSize: 1, chunkDelayMs: 20 }))
    const a = await engine.createSession({ title: 'slow' })
    const b = await engine.createSession({ title: 'queued' })
    const c = await engine.createSession({ title: 'refused' })
    const slow = await engine.send(a.id, 'slow one')
    await waitForEvent(events, (e) => e.type === 'text.delta' && e.turnId === slow.id)
    const queued = engine.send(b.id, 'waits for a slot')
    await waitUntil(() => engine.processStats.queued === 1, 5_000, 'the request to queue')
    await assert.rejects(engine.send(c.id, 'no room'), (error: unknown) => {
      assert.ok(error instanceof GatewayError)
      assert.equal(error.code, 'busy')
      assert.ok(error.retryAfterMs && error.retryAfterMs > 0)
      return true
    })
    assert.equal((await slow.done).status, 'success')
    assert.equal((await (await queued).done).status, 'success')
    assert.equal(
      (await engine.getSession(a.id))!.state,
      'hibernated',
      'the idle runner gave way to the queued request',
    )
  })

  test('a second message to a busy session waits; beyond the session queue it is refused', async (t) => {
    const { engine, events } = await testEngineFor(t, h.home, { sessionQueueSize: 1 })
    h.home.model.script(text('one', { delayMs: 500 }), text('two'))
    const session = await engine.createSession({})
    const first = await engine.send(session.id, 'first')
    const second = engine.send(session.id, 'second')
    await assert.rejects(engine.send(session.id, 'third'), { code: 'session_busy' })
    assert.equal((await first.done).result, 'one')
    const secondTurn = await second
    assert.equal((await secondTurn.done).result, 'two')
    const starts = events.filter((e) => e.type === 'turn.started').map((e) => e.turnId)
    const ends = events.filter((e) => e.type === 'turn.completed').map((e) => e.turnId)
    assert.deepEqual(starts, ends, 'turns never interleave')
  })

  test('a warm spare serves a new conversation without starting a process', async (t) => {
    const { engine } = await testEngineFor(t, h.home, { warmSpares: 1 })
    await waitUntil(() => engine.processStats.spares === 1, 30_000, 'a warm spare')
    const sparePids = [...liveProcesses].map((p) => p.pid)
    const session = await engine.createSession({})
    const turn = await engine.send(session.id, 'hi')
    assert.equal((await turn.done).status, 'success')
    assert.ok(sparePids.includes(engine.runnerOf(session.id)!.pid!), 'the spare process serves the session')
    await waitUntil(() => engine.processStats.spares === 1, 30_000, 'the spare to be replaced')
  })

  test('with every slot held by idle sessions, the one idle longest gives its process to a new spare', async (t) => {
    const { engine, events } = await testEngineFor(t, h.home, {
      maxRunners: 2,
      warmSpares: 1,
      // Long enough for b's turn to end before a may give way, on a loaded machine too (1.5 s was not in CI).
      spareReclaimIdleMs: 6_000,
    })
    await waitUntil(() => engine.processStats.spares === 1, 30_000, 'a warm spare')
    h.home.model.script(text('first a'), text('first b'))
    const a = await engine.createSession({ title: 'a' })
    await (await engine.send(a.id, 'hello a')).done
    await waitUntil(() => engine.processStats.spares === 1, 30_000, 'the spare to be replaced')
    const b = await engine.createSession({ title: 'b' })
    await (await engine.send(b.id, 'hello b')).done
    // Both slots are a session's now: no spare until a has been idle long enough.
    assert.equal(engine.processStats.spares, 0)
    assert.equal((await engine.getSession(a.id))!.state, 'idle')
    await waitUntil(() => engine.processStats.spares === 1, 30_000, 'a spare in a reclaimed slot')
    assert.equal((await engine.getSession(a.id))!.state, 'hibernated')
    assert.equal((await engine.getSession(b.id))!.state, 'idle', 'only the session idle the longest gave way')
    assert.ok(
      events.some((e) => e.sessionId === a.id && e.type === 'session.state' && e.reason === 'evicted'),
    )
    assert.ok(engine.processStats.live <= 2)

    const sparePid = [...liveProcesses].find((p) => ![engine.runnerOf(b.id)?.pid].includes(p.pid))!.pid
    const c = await engine.createSession({ title: 'c' })
    await (await engine.send(c.id, 'hello c')).done
    assert.equal(engine.runnerOf(c.id)!.pid, sparePid, 'the new conversation got the spare')

    h.home.model.script(text('a again'))
    await (await engine.send(a.id, 'back to a')).done
    assert.ok(conversationTexts(h.home.model.turns.at(-1)!.body).some((t) => t.text === 'first a'))
  })

  test('a turn that runs too long fails with turn_timeout', async (t) => {
    const { engine } = await testEngineFor(t, h.home, { turnTimeoutMs: 800 })
    h.home.model.script(text('w'.repeat(200), { chunkSize: 1, chunkDelayMs: 30 }))
    const session = await engine.createSession({})
    const done = await (await engine.send(session.id, 'take your time')).done
    assert.equal(done.status, 'error')
    assert.equal(done.error?.code, 'turn_timeout')
  })

  test('a permission request is published and answered through the engine', async (t) => {
    const { engine, events } = await testEngineFor(t, h.home)
    const target = join(h.home.workspace, 'approved.txt')
    const refused = join(h.home.workspace, 'refused.txt')
    h.home.model.script(
      toolCall('Write', { file_path: target, content: 'approved\n' }),
      toolCall('Write', { file_path: refused, content: 'refused\n' }),
      text('Done.'),
    )
    const session = await engine.createSession({ permissionMode: 'default', askPermissions: true })
    const turn = await engine.send(session.id, 'Write two files')
    const first = (await waitForEvent(
      events,
      (e) => e.type === 'permission.requested',
    )) as EventOf<'permission.requested'>
    assert.equal(first.toolName, 'Write')
    assert.deepEqual(first.input, { file_path: target, content: 'approved\n' })
    assert.equal(engine.answerPermission(session.id, 'no-such-request', { behavior: 'allow' }), false)
    assert.equal(engine.answerPermission(session.id, first.requestId, { behavior: 'allow' }), true)
    const second = (await waitForEvent(
      events,
      (e) => e.type === 'permission.requested' && e.requestId !== first.requestId,
    )) as EventOf<'permission.requested'>
    engine.answerPermission(session.id, second.requestId, { behavior: 'deny', message: 'Not that one' })
    assert.equal((await turn.done).status, 'success')
    assert.equal(readFileSync(target, 'utf8'), 'approved\n')
    assert.equal(existsSync(refused), false)
    const resolved = events.filter(
      (e): e is EventOf<'permission.resolved'> => e.type === 'permission.resolved',
    )
    assert.deepEqual(
      resolved.map((r) => [r.behavior, r.by]),
      [
        ['allow', 'client'],
        ['deny', 'client'],
      ],
    )
    const denied = events.find(
      (e): e is EventOf<'tool.result'> => e.type === 'tool.result' && e.toolUseId === second.toolUseId,
    )
    assert.equal(denied?.isError, true)
    assert.match(JSON.stringify(denied?.content), /Not that one/)
  })

  test('without interactive approvals, or without an answer in time, a permission request is denied', async (t) => {
    const { engine, events } = await testEngineFor(t, h.home, { permissionTimeoutMs: 300 })
    h.home.model.script(
      toolCall('Write', { file_path: join(h.home.workspace, 'a.txt'), content: 'a' }),
      text('Could not write.'),
      toolCall('Write', { file_path: join(h.home.workspace, 'b.txt'), content: 'b' }),
      text('Nobody answered.'),
    )
    const rules = await engine.createSession({ permissionMode: 'default' })
    await (await engine.send(rules.id, 'write a')).done
    const asking = await engine.createSession({ permissionMode: 'default', askPermissions: true })
    await (await engine.send(asking.id, 'write b')).done
    const resolved = events.filter(
      (e): e is EventOf<'permission.resolved'> => e.type === 'permission.resolved',
    )
    assert.deepEqual(
      resolved.map((r) => [r.sessionId, r.behavior, r.by]),
      [
        [rules.id, 'deny', 'rule'],
        [asking.id, 'deny', 'timeout'],
      ],
    )
    assert.equal(existsSync(join(h.home.workspace, 'a.txt')), false)
    assert.equal(existsSync(join(h.home.workspace, 'b.txt')), false)
  })

  test('a CLI that fails to start is retried once', async (t) => {
    const flaky = await flakyCli(h.home, 1)
    const { engine } = await testEngineFor(t, h.home, { startRetries: 1 }, flaky.path)
    const session = await engine.createSession({})
    assert.equal((await (await engine.send(session.id, 'hi')).done).status, 'success')
    assert.equal(flaky.starts(), 2)
  })

  test('a CLI that keeps failing to start gives start_failed with its reason', async (t) => {
    const broken = await flakyCli(h.home, 100)
    const { engine, events } = await testEngineFor(t, h.home, { startRetries: 1 }, broken.path)
    const session = await engine.createSession({})
    await assert.rejects(engine.send(session.id, 'hi'), (error: unknown) => {
      assert.ok(error instanceof GatewayError)
      assert.equal(error.code, 'start_failed')
      assert.match(error.message, /simulated start failure/)
      return true
    })
    assert.equal(broken.starts(), 2)
    assert.equal((await engine.getSession(session.id))!.state, 'new')
    assert.ok(events.some((e) => e.type === 'error' && e.code === 'start_failed'))
    assert.equal(engine.processStats.live, 0)
  })

  test('without a usable CLI, turns are refused as unavailable with the reason', async (t) => {
    const { engine } = await testEngineFor(t, h.home, {}, join(h.home.root, 'no-such-claude'))
    assert.equal(engine.cli.usable, false)
    const session = await engine.createSession({})
    await assert.rejects(engine.send(session.id, 'hi'), (error: unknown) => {
      assert.ok(error instanceof GatewayError)
      assert.equal(error.code, 'unavailable')
      assert.match(error.message, /no-such-claude/)
      return true
    })
  })

  test('upstream failures end the turn with a classified error; retries are events', async (t) => {
    const own = await testHome()
    own.env.CLAUDE_CODE_MAX_RETRIES = '1'
    const { engine, events } = await testEngineFor(t, own)
    // Registered after the engine's close: the home outlives the engine.
    t.after(() => own.close())
    const session = await engine.createSession({})
    const tooLong = failure(
      400,
      'prompt is too long: 250000 tokens > 200000 maximum',
      'invalid_request_error',
    )
    own.model.script(tooLong)
    const first = await (await engine.send(session.id, 'a very long prompt')).done
    assert.equal(first.status, 'error')
    assert.equal(first.error?.code, 'context_length_exceeded')

    const overloaded = failure(529, 'Overloaded', 'overloaded_error')
    own.model.script(overloaded, overloaded)
    const turn = await engine.send(session.id, 'again')
    const second = await turn.done
    assert.equal(second.error?.code, 'overloaded')
    const retry = ofTurn(events, turn.id).find((e): e is EventOf<'api.retry'> => e.type === 'api.retry')
    assert.ok(retry)
    assert.equal(retry.status, 529)
    assert.equal(retry.maxRetries, 1)
  })

  test('content Claude Code cannot use is refused before the turn starts; the session stays usable', async (t) => {
    const { engine, events } = await testEngineFor(t, h.home)
    const session = await engine.createSession({})
    const unusable = [
      [{ type: 'text' }],
      [{ type: 'text', text: 5 }],
      [],
      [{ type: 'foo' }],
      [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: '' } }],
      [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'not*base64' } }],
    ]
    for (const content of unusable) {
      await assert.rejects(engine.send(session.id, content as ContentBlock[]), (error: unknown) => {
        assert.ok(error instanceof GatewayError)
        assert.equal(error.code, 'invalid_request')
        assert.match(error.message, /^The message cannot be sent: content/)
        return true
      })
    }
    const mine = events.filter((e) => e.sessionId === session.id)
    assert.equal(mine.filter((e) => e.type === 'turn.started').length, 0, 'no turn started')
    assert.notEqual((await engine.getSession(session.id))?.state, 'running')
    h.home.model.script(text('fine'))
    assert.equal((await (await engine.send(session.id, [{ type: 'text', text: 'hi' }])).done).result, 'fine')
  })

  test('a message Claude Code drops without answering ends its turn at once, not at the timeout', async (t) => {
    const { engine } = await testEngineFor(t, h.home)
    const send = Runner.prototype.send
    try {
      const session = await engine.createSession({})
      await (await engine.send(session.id, 'warm up')).done
      // What Claude Code does with a text block without text: it takes the message and answers nothing.
      Runner.prototype.send = function (this: Runner) {
        Runner.prototype.send = send
        return send.call(this, [{ type: 'text' }] as ContentBlock[])
      }
      const started = Date.now()
      const done = await (await engine.send(session.id, 'this one goes astray')).done
      assert.equal(done.status, 'error')
      assert.equal(done.error?.code, 'upstream_error')
      assert.ok(Date.now() - started < 20_000, `ended after ${Date.now() - started} ms`)
      assert.equal((await engine.getSession(session.id))?.state, 'idle')
      h.home.model.script(text('next'))
      assert.equal((await (await engine.send(session.id, 'and this?')).done).result, 'next')
    } finally {
      Runner.prototype.send = send
    }
  })

  test('interrupt tells the truth: a Claude Code that ignores it is stopped, the session goes on', async (t) => {
    const { engine } = await testEngineFor(t, h.home)
    const interrupt = Runner.prototype.interrupt
    try {
      const session = await engine.createSession({})
      h.home.model.script(text('w'.repeat(400), { chunkSize: 1, chunkDelayMs: 25 }))
      const asked = h.home.model.turns.length
      const turn = await engine.send(session.id, 'talk slowly')
      const waiting = engine.send(session.id, 'the message behind it')
      await waitUntil(() => h.home.model.turns.length > asked, 20_000, 'the model request')
      Runner.prototype.interrupt = async () => undefined
      assert.equal(await engine.interrupt(session.id), true)
      Runner.prototype.interrupt = interrupt
      const done = await turn.done
      assert.equal(done.status, 'interrupted')
      assert.match(done.error?.message ?? '', /did not stop/)
      assert.equal(await engine.interrupt(session.id), false, 'nothing runs now')
      // The message that waited behind the turn runs (the session resumes with a new process).
      assert.equal((await (await waiting).done).status, 'success')
    } finally {
      Runner.prototype.interrupt = interrupt
    }
  })

  test("Claude's API refusing the credentials ends the turn at its first retry", async (t) => {
    const { engine, events } = await testEngineFor(t, h.home)
    h.home.model.fallback = () => failure(401, 'invalid x-api-key', 'authentication_error')
    try {
      const session = await engine.createSession({})
      const asked = h.home.model.turns.length
      const started = Date.now()
      const turn = await engine.send(session.id, 'hello')
      const done = await turn.done
      assert.equal(done.status, 'error')
      assert.equal(done.error?.code, 'upstream_auth_failed')
      assert.ok(Date.now() - started < 20_000, `ended after ${Date.now() - started} ms`)
      assert.equal(h.home.model.turns.length - asked, 1, 'not retried')
      const error = ofTurn(events, turn.id).find((e) => e.type === 'error')
      assert.equal(error?.type === 'error' && error.code, 'upstream_auth_failed')
    } finally {
      h.home.model.fallback = () => text('ok')
    }
  })

  test("Claude Code's retries of an overloaded model API get the retry budget, then the turn fails", async (t) => {
    const { engine, events } = await testEngineFor(t, h.home, { retryBudgetMs: 60_000 })
    h.home.model.fallback = () => failure(529, 'Overloaded', 'overloaded_error')
    try {
      const session = await engine.createSession({})
      const started = Date.now()
      // A turn's own budget wins over the engine's.
      const turn = await engine.send(session.id, 'hello', { retryBudgetMs: 1_500 })
      const done = await turn.done
      assert.equal(done.error?.code, 'overloaded')
      assert.match(done.error?.message ?? '', /1500 ms/)
      // Well before Claude Code's own retries would give up (ten, over two minutes), with room
      // for a process start on a loaded machine.
      assert.ok(Date.now() - started < 20_000, `ended after ${Date.now() - started} ms`)
      const error = ofTurn(events, turn.id).find((e): e is EventOf<'error'> => e.type === 'error')
      assert.ok((error?.retryAfterMs ?? 0) > 0, 'the error says when to retry')
    } finally {
      h.home.model.fallback = () => text('ok')
    }
  })

  test('after shutdown no CLI process is left', async () => {
    const { engine, close } = await testEngine(h.home, { warmSpares: 1 })
    const a = await engine.createSession({})
    const b = await engine.createSession({})
    await (await engine.send(a.id, 'one')).done
    h.home.model.script(text('v'.repeat(200), { chunkSize: 1, chunkDelayMs: 20 }))
    const running = await engine.send(b.id, 'two')
    await waitUntil(() => engine.processStats.spares === 1, 30_000, 'a warm spare')
    const pids = [...liveProcesses].map((p) => p.pid!)
    assert.ok(pids.length >= 3, `expected two runners and a spare, got ${pids.length}`)
    await close()
    assert.equal((await running.done).error?.code, 'shutting_down')
    assert.equal(liveProcesses.size, 0)
    for (const pid of pids) assert.ok(isGone(pid), `process ${pid} is gone`)
    assert.ok(existsSync(h.home.dataDir))
  })
})

describe('warm spares primed before they serve', () => {
  const h = withHome()

  /** Claude Code's transcripts in the test workspace, by Claude session id. */
  const transcripts = (): Map<string, string> => {
    const dir = join(h.home.env.CLAUDE_CONFIG_DIR!, 'projects', projectSlug(realpathSync(h.home.workspace)))
    const files = existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith('.jsonl')) : []
    return new Map(
      files.map((name) => [name.slice(0, -'.jsonl'.length), readFileSync(join(dir, name), 'utf8')]),
    )
  }
  const primed = () =>
    [...transcripts()].filter(([, text]) => text.includes(PRIMING_PROMPT)).map(([id]) => id)

  /**
   * One new conversation on a warm spare, then a follow-up after its process was let go (a resume): what the
   * model received each time, the session's event types, and which spare transcripts existed before it.
   */
  const converse = async (primeSpares: boolean) => {
    const { engine, events, close } = await testEngine(h.home, { warmSpares: 1, primeSpares })
    try {
      await waitUntil(() => engine.processStats.spares === 1, 30_000, 'a warm spare')
      const primedBefore = primed()
      const requestsBefore = h.home.model.turns.length
      h.home.model.script(text('Hello from the spare', { chunkSize: 4 }), text('You said hello'))
      const session = await engine.createSession({})
      const first = await (await engine.send(session.id, 'Say hello')).done
      const claudeSessionId = (await engine.getSession(session.id))!.claudeSessionId!
      engine.restartRunner(session.id)
      await waitForEvent(
        events,
        (e) => e.sessionId === session.id && e.type === 'session.state' && e.state === 'hibernated',
      )
      const second = await (await engine.send(session.id, 'What did I say?')).done
      const requests = h.home.model.turns.slice(requestsBefore).map((r) => r.body)
      const mine = events.filter((e) => e.sessionId === session.id)
      return { primedBefore, requestsBefore, first, second, claudeSessionId, requests, mine }
    } finally {
      await close()
    }
  }

  test('a spare handles a blocked prompt while idle; its conversation and events are as without it', async () => {
    const plain = await converse(false)
    assert.deepEqual(plain.primedBefore, [], 'without priming no prompt reaches a spare')
    const run = await converse(true)
    // The CLI recorded the blocked prompt in the spare's transcript before any session claimed it, and no
    // model request was made for it.
    assert.equal(run.primedBefore.length, 1, 'the spare ran the priming prompt before it was claimed')
    assert.equal(run.requestsBefore, plain.requestsBefore + plain.requests.length)
    assert.equal(run.claudeSessionId, run.primedBefore[0], 'the primed process served the conversation')

    assert.equal(run.first.result, 'Hello from the spare')
    assert.equal(run.second.result, 'You said hello')
    assert.equal(run.requests.length, 2, 'one model request per turn, none for the priming')
    assert.deepEqual(conversationTexts(run.requests[0]!), [{ role: 'user', text: 'Say hello' }])
    assert.deepEqual(conversationTexts(run.requests[1]!), [
      { role: 'user', text: 'Say hello' },
      { role: 'assistant', text: 'Hello from the spare' },
      { role: 'user', text: 'What did I say?' },
    ])
    for (const body of run.requests) {
      assert.ok(!JSON.stringify(body).includes(PRIMING_PROMPT), 'the model never sees the priming prompt')
      assert.ok(!JSON.stringify(body).includes('blocked by hook'), 'nor that a prompt was blocked')
    }
    // Everything the model received, and every event, is what an unprimed spare gives.
    const anonymous = (body: object, claudeSessionId: string) =>
      JSON.stringify({ ...body, metadata: undefined }).replaceAll(claudeSessionId, 'SESSION')
    assert.deepEqual(
      run.requests.map((body) => anonymous(body, run.claudeSessionId)),
      plain.requests.map((body) => anonymous(body, plain.claudeSessionId)),
    )
    const shape = (events: GatewayEvent[]) =>
      events.map((e) => (e.type === 'session.state' ? e.state : e.type))
    assert.deepEqual(shape(run.mine), shape(plain.mine))
    assert.equal(run.mine.filter((e) => e.type === 'session.ready').length, 2, 'one per process, as before')
  })

  test('a primed spare that never serves leaves no transcript behind', async () => {
    const known = new Set(transcripts().keys())
    const { engine, close } = await testEngine(h.home, { warmSpares: 1 })
    await waitUntil(() => engine.processStats.spares === 1, 30_000, 'a warm spare')
    const spare = primed().filter((id) => !known.has(id))
    assert.equal(spare.length, 1, 'the spare was primed')
    await close()
    assert.ok(!transcripts().has(spare[0]!), "the unused spare's transcript is removed once it stops")
  })
})
