/**
 * Three gateway processes (`node --import tsx src/cli.ts`) sharing one PostgreSQL schema and one Redis key
 * prefix, each with a Claude config folder of its own and the workspace shared, as replicas behind a load
 * balancer run: a session created on one is messaged through another and followed live through the third;
 * a message reaching a replica that does not own the session is forwarded to its owner; the owner killed
 * with SIGKILL in the middle of a turn → that turn is recorded as interrupted (never replayed), the session
 * goes on on a survivor with its whole context (the scripted model sees the earlier turns), and no follower
 * sees an event twice or misses one, live or replayed.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import type { GatewayEvent } from '../../src/events/types.js'
import { type GatewayProcess, startGateway } from '../support/gateway-process.js'
import { type TestHome, testHome } from '../support/harness.js'
import { conversationTexts, lastUserText, text } from '../support/scripted-anthropic.js'
import { dropRedisKeys, POSTGRES_URL, REDIS_URL, servicesSkip } from '../support/services.js'
import { parseSse } from '../support/sse.js'
import { isGone, waitUntil } from '../support/wait.js'
import { WEATHER_FUNCTION } from '../support/weather-function.js'

const LEASE_TTL_MS = 3_000

interface Replica extends GatewayProcess {
  name: string
}

/** A live SSE stream read in the background: its frames as they arrive. */
interface Followed {
  events: GatewayEvent[]
  ids: string[]
  close(): void
}

const skip = await servicesSkip('replica tests', { postgres: true, redis: true })

describe('replicas on PostgreSQL and Redis', { skip }, () => {
  const schema = `ccgw_replicas_${process.pid}`
  const prefix = `ccgw-test-${process.pid}-${randomBytes(4).toString('hex')}:`
  const secret = randomBytes(24).toString('hex')
  const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 })
  admin.on('error', () => {})
  let home: TestHome
  const replicas = new Map<string, Replica>()

  async function startReplica(name: string): Promise<Replica> {
    const own = join(home.root, `replica-${name}`)
    mkdirSync(join(own, 'home'), { recursive: true })
    const replica = {
      name,
      ...(await startGateway(
        home,
        {
          // Each replica has its own disk for Claude's config and its data folder: only the database is shared.
          CLAUDE_CONFIG_DIR: join(own, 'claude-config'),
          HOME: join(own, 'home'),
          CCGW_STORE_DATA_DIR: join(own, 'data'),
          CCGW_STORE_URL: POSTGRES_URL,
          CCGW_STORE_SCHEMA: schema,
          CCGW_CLUSTER_REDIS_URL: REDIS_URL,
          CCGW_CLUSTER_KEY_PREFIX: prefix,
          CCGW_CLUSTER_REPLICA_ID: name,
          CCGW_CLUSTER_SECRET: secret,
          CCGW_CLUSTER_LEASE_TTL_MS: String(LEASE_TTL_MS),
        },
        `replica ${name}`,
      )),
    }
    replicas.set(name, replica)
    return replica
  }

  const call = async (replica: Replica, method: string, path: string, body?: unknown, headers = {}) => {
    const response = await fetch(`${replica.url}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const raw = await response.text()
    return { status: response.status, headers: response.headers, raw, body: raw ? JSON.parse(raw) : null }
  }

  /** Follows an SSE route on `replica` in the background. */
  function follow(replica: Replica, path: string): Followed {
    const controller = new AbortController()
    const followed: Followed = { events: [], ids: [], close: () => controller.abort() }
    void (async () => {
      const response = await fetch(`${replica.url}${path}`, { signal: controller.signal })
      assert.equal(response.status, 200)
      const decoder = new TextDecoder()
      let buffer = ''
      for await (const chunk of response.body!) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true })
        const end = buffer.lastIndexOf('\n\n')
        if (end < 0) continue
        for (const frame of parseSse(buffer.slice(0, end + 2))) {
          if (!frame.data || frame.event === 'heartbeat') continue
          followed.events.push(frame.data as GatewayEvent)
          if (frame.id !== undefined) followed.ids.push(frame.id)
        }
        buffer = buffer.slice(end + 2)
      }
    })().catch(() => {})
    return followed
  }

  /** The replica holding the session's live lease (its owner), as the shared database says. */
  async function owner(sessionId: string): Promise<Replica | undefined> {
    const { rows } = await admin.query<{ replica_id: string }>(
      `SELECT replica_id FROM ${schema}.session_leases WHERE session_id = $1 AND NOT released AND expires_at > now()`,
      [sessionId],
    )
    return rows[0] && replicas.get(rows[0].replica_id)
  }

  /** Every seq from 1 up, each once, in order: nothing missed, nothing twice. */
  function assertGapless(events: GatewayEvent[], what: string): void {
    const seqs = events.map((event) => event.seq)
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => i + 1),
      `${what}: ${seqs.join(',')}`,
    )
  }

  before(async () => {
    home = await testHome()
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await Promise.all(['a', 'b', 'c'].map((name) => startReplica(name)))
  })

  after(async () => {
    for (const { child } of replicas.values()) {
      for (const pid of childPids(child.pid!)) process.kill(pid, 'SIGKILL')
      child.kill('SIGKILL')
    }
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {})
    await dropRedisKeys(prefix)
    await admin.end()
    await home?.close()
  })

  let sessionId: string
  let followedOnC: Followed
  let allOnC: Followed

  test('a session created on one replica, messaged through another, is followed live through the third', async () => {
    const [a, b, c] = ['a', 'b', 'c'].map((name) => replicas.get(name)!)
    // Each says at start which database and replicas it joined, without their credentials.
    const ready = a!.log.find((line) => String(line.msg).includes('ready at'))!
    const redis = new URL(REDIS_URL)
    assert.deepEqual(ready.cluster, {
      replicaId: 'a',
      redis: `${redis.protocol}//${redis.host}`,
      workspaces: 'shared',
    })
    assert.equal((ready.database as { schema: string }).schema, schema)
    const created = await call(a!, 'POST', '/api/sessions', { title: 'across replicas' })
    assert.equal(created.status, 201, created.raw)
    sessionId = created.body.id
    // Any replica reads it from the shared store.
    for (const replica of [b!, c!]) {
      const read = await call(replica, 'GET', `/api/sessions/${sessionId}`)
      assert.equal(read.status, 200, read.raw)
      assert.equal(read.body.title, 'across replicas')
    }
    followedOnC = follow(c!, `/api/sessions/${sessionId}/events`)
    allOnC = follow(c!, `/api/events?sessions=${sessionId}`)
    await sleep(200)

    home.model.script(text('first answer'))
    const first = await call(b!, 'POST', `/api/sessions/${sessionId}/messages`, { content: 'hello one' })
    assert.equal(first.status, 200, first.raw)
    assert.equal(first.body.status, 'success', first.raw)
    const holder = await owner(sessionId)
    assert.ok(holder, 'one replica runs the session')

    // Through a replica that does not own it: forwarded to the owner, whose process keeps the context.
    const other = [a!, b!, c!].find((replica) => replica !== holder)!
    home.model.script(text('second answer'))
    const second = await call(other, 'POST', `/api/sessions/${sessionId}/messages`, { content: 'hello two' })
    assert.equal(second.status, 200, second.raw)
    assert.equal(second.body.status, 'success', second.raw)
    assert.equal(await owner(sessionId), holder, 'the session stays with its owner')
    const seen = conversationTexts(home.model.turns.at(-1)!.body).map((turn) => turn.text)
    assert.ok(seen.some((t) => t.includes('hello one')) && seen.some((t) => t.includes('first answer')))

    // Live on the third replica: every event once, in order, the two turns complete.
    await waitUntil(
      () => followedOnC.events.filter((event) => event.type === 'turn.completed').length === 2,
      20_000,
      'both turns followed on C',
    )
    assertGapless(followedOnC.events, 'followed on C')
    await waitUntil(
      () => allOnC.events.filter((event) => event.type === 'turn.completed').length === 2,
      20_000,
      'both turns on C through /api/events',
    )
    const positions = allOnC.ids.map(Number)
    assert.deepEqual(
      positions,
      [...positions].sort((x, y) => x - y),
      'positions increase',
    )
    assert.equal(new Set(positions).size, positions.length, 'no position twice')
  })

  test('an OpenAI conversation continues through any replica: function results and follow-ups reach the process that asked', async () => {
    const [a, b, c] = ['a', 'b', 'c'].map((name) => replicas.get(name)!) as [Replica, Replica, Replica]
    const fallback = home.model.fallback
    home.model.fallback = (request) => {
      const last = request.body.messages?.findLast((m) => m.role === 'user')
      const results = Array.isArray(last?.content) ? last.content.filter((b) => b.type === 'tool_result') : []
      if (results.length === 0 && lastUserText(request.body).includes('Weather'))
        return { blocks: [{ type: 'tool_use', name: 'mcp__client__get_weather', input: { city: 'Paris' } }] }
      return text(results.length > 0 ? `Results: ${JSON.stringify(results[0]!.content)}` : 'you are welcome')
    }
    try {
      const messages: unknown[] = [{ role: 'user', content: 'Weather in Paris?' }]
      const chat = (replica: Replica) =>
        call(replica, 'POST', '/v1/chat/completions', {
          model: 'claude-code',
          messages,
          tools: [WEATHER_FUNCTION],
        })
      const first = await chat(a)
      assert.equal(first.status, 200, first.raw)
      const choice = first.body.choices[0]
      assert.equal(choice.finish_reason, 'tool_calls')
      const sessionId = first.headers.get('x-session-id')
      const asked = childPids(a.child.pid!)
      assert.ok(asked.length > 0, 'A runs the conversation')

      // The function's result, sent to another replica: forwarded to A, whose turn waits for it.
      messages.push(choice.message, {
        role: 'tool',
        tool_call_id: choice.message.tool_calls[0].id,
        content: '21°C and sunny',
      })
      const second = await chat(b)
      assert.equal(second.status, 200, second.raw)
      assert.equal(second.headers.get('x-session-id'), sessionId)
      assert.match(second.body.choices[0].message.content, /21°C and sunny/)

      // A follow-up through the third replica: the same session, on A's process still.
      messages.push(second.body.choices[0].message, { role: 'user', content: 'Thanks!' })
      const third = await chat(c)
      assert.equal(third.status, 200, third.raw)
      assert.equal(third.headers.get('x-session-id'), sessionId)
      assert.deepEqual(childPids(a.child.pid!), asked, "A's process served all three")
    } finally {
      home.model.fallback = fallback
    }
  })

  test('the owner killed mid-turn: the turn is recorded interrupted and the session goes on on a survivor with its context', async () => {
    const holder = await owner(sessionId)
    assert.ok(holder, 'the session has an owner')
    const survivors = [...replicas.values()].filter((replica) => replica !== holder)
    const [sender, other] = survivors as [Replica, Replica]

    // A turn the model never finishes: it is running on the owner when the owner dies.
    const turnsBefore = home.model.turns.length
    home.model.script({ ...text('never sent'), delayMs: 15_000 })
    const started = await call(
      sender,
      'POST',
      `/api/sessions/${sessionId}/messages`,
      { content: 'the doomed turn' },
      { prefer: 'respond-async' },
    )
    assert.equal(started.status, 202, started.raw)
    await waitUntil(() => home.model.turns.length > turnsBefore, 20_000, 'the doomed turn reached the model')
    const processes = childPids(holder.child.pid!)
    holder.child.kill('SIGKILL')
    // A pod's processes die with it: so do the owner's Claude Code processes here.
    for (const pid of processes) process.kill(pid, 'SIGKILL')
    await waitUntil(() => isGone(holder.child.pid!), 5_000, 'the owner is gone')
    replicas.delete(holder.name)
    home.model.clearScript()

    // A client retries what the dead owner cannot answer (503 with Retry-After) until a survivor takes over.
    home.model.script(text('recovered'))
    const killedAt = Date.now()
    let answer: Awaited<ReturnType<typeof call>>
    for (;;) {
      answer = await call(sender, 'POST', `/api/sessions/${sessionId}/messages`, {
        content: 'after the crash',
      })
      if (answer.status !== 503) break
      assert.ok(Date.now() - killedAt < LEASE_TTL_MS * 5, `still refused: ${answer.raw}`)
      assert.ok(answer.headers.get('retry-after'), answer.raw)
      await sleep(250)
    }
    assert.equal(answer.status, 200, answer.raw)
    assert.equal(answer.body.status, 'success', answer.raw)

    // The survivor's process resumed the conversation from the shared store: every earlier turn is there.
    const seen = conversationTexts(home.model.turns.at(-1)!.body).map((turn) => turn.text)
    for (const said of ['hello one', 'first answer', 'hello two', 'second answer', 'after the crash'])
      assert.ok(
        seen.some((t) => t.includes(said)),
        `the model saw "${said}": ${JSON.stringify(seen)}`,
      )
    // The doomed turn was not replayed: the model got it once.
    assert.equal(
      home.model.turns.filter((turn) => conversationTexts(turn.body).at(-1)?.text.includes('the doomed turn'))
        .length,
      1,
    )

    // A fork, on the survivor: its config folder never had the conversation (resumed from PostgreSQL into a
    // temporary copy), so the branch is taken from the store, every turn of it.
    const fork = await call(sender, 'POST', `/api/sessions/${sessionId}/fork`, {})
    assert.equal(fork.status, 201, fork.raw)
    home.model.script(text('on a branch'))
    const branched = await call(sender, 'POST', `/api/sessions/${fork.body.id}/messages`, {
      content: 'the branch goes on',
    })
    assert.equal(branched.status, 200, branched.raw)
    const branch = conversationTexts(home.model.turns.at(-1)!.body).map((turn) => turn.text)
    for (const said of ['hello one', 'second answer', 'after the crash', 'recovered'])
      assert.ok(
        branch.some((t) => t.includes(said)),
        `the fork has "${said}": ${JSON.stringify(branch)}`,
      )

    // Its turn is recorded as interrupted, in every reader's log: live on C (when C survived), and replayed
    // from the start through a survivor.
    const replayed = follow(other, `/api/sessions/${sessionId}/events`)
    const readers = holder.name === 'c' ? [replayed] : [replayed, followedOnC]
    for (const reader of readers) {
      await waitUntil(
        () => reader.events.filter((event) => event.type === 'turn.completed').length === 4,
        20_000,
        'four turns ended',
      )
      const ends = reader.events.filter(
        (event): event is Extract<GatewayEvent, { type: 'turn.completed' }> =>
          event.type === 'turn.completed',
      )
      assert.deepEqual(
        ends.map((end) => end.status),
        ['success', 'success', 'interrupted', 'success'],
      )
      assertGapless(reader.events, reader === replayed ? 'replayed' : 'followed on C')
    }
    replayed.close()
    followedOnC.close()
    allOnC.close()
  })
})

/** A process's children (the Claude Code processes of a gateway). */
function childPids(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((line) => Number(line.trim()))
      .filter((n) => n > 0)
  } catch {
    return []
  }
}
