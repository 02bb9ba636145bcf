/**
 * One owner per live session (src/engine/ownership.ts, src/api/ownership.ts): two gateways in this process
 * as two replicas of one deployment, sharing a PostgreSQL schema of the test's own, a Redis key prefix of
 * its own, and one home (a shared workspace volume and the scripted model). A session live on A and messaged
 * through B is forwarded to A, whose process answers; A's lease expiring mid-turn lets B take the session
 * over (the lost turn recorded interrupted, never replayed; the next message runs on B with the context),
 * and A, told at its next heartbeat, stops its process without writing another event; pinned workspaces
 * refuse the takeover. Skipped, saying why, without PostgreSQL or Redis; in CI (CI=true) they must run.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { after, afterEach, before, describe, test } from 'node:test'
import pg from 'pg'
import WebSocket from 'ws'
import type { GatewayEvent } from '../../src/events/types.js'
import type { Gateway } from '../../src/gateway.js'
import { startGateway } from '../../src/gateway.js'
import { type ConfigOverrides, quietLog, testConfig, withHome } from '../support/harness.js'
import { type Json, nativeClient } from '../support/native-client.js'
import { conversationTexts, lastUserText, type ScriptedMessage, text } from '../support/scripted-anthropic.js'
import { dropRedisKeys, POSTGRES_URL, REDIS_URL, servicesSkip } from '../support/services.js'
import { isGone, waitUntil } from '../support/wait.js'

const SECRET = 'ownership-test-shared-secret'

describe('one owner per live session', {
  skip: await servicesSkip('ownership tests', { postgres: true, redis: true }),
}, () => {
  const fixture = withHome()
  let admin: pg.Pool
  let schema = ''
  let keyPrefix = ''
  const running: Gateway[] = []

  before(() => {
    admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 })
    admin.on('error', () => {})
  })
  after(() => admin.end())
  afterEach(async () => {
    await Promise.all(running.splice(0).map((gateway) => gateway.close()))
    fixture.home.model.reset()
    if (schema) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    if (keyPrefix) await dropRedisKeys(keyPrefix)
  })

  /** A new deployment for the test: its schema and key prefix. */
  function deployment(): void {
    schema = `ownership_${process.pid}_${randomUUID().slice(0, 8)}`
    keyPrefix = `ccgw-test-${randomUUID()}:`
  }

  /** A replica named `id` of the test's deployment. */
  async function replica(id: string, cluster: ConfigOverrides['cluster'] = {}): Promise<Gateway> {
    const config = testConfig(fixture.home, {
      store: { url: POSTGRES_URL, schema },
      cluster: { redisUrl: REDIS_URL, keyPrefix, replicaId: id, secret: SECRET, ...cluster },
      // No spare: every process the model hears from is a session's.
      pool: { warmSpares: 0 },
    })
    const gateway = await startGateway({ config, log: quietLog(), env: fixture.home.env })
    running.push(gateway)
    return gateway
  }

  /** Stops a replica the test is done with (a drain: its leases released). */
  async function stop(gateway: Gateway): Promise<void> {
    running.splice(running.indexOf(gateway), 1)
    await gateway.close()
  }

  const client = (gateway: Gateway) => nativeClient(() => gateway)

  /** A new deployment of replicas A and B (`cluster`: their settings), and a session created through A. */
  async function twoReplicas(cluster: ConfigOverrides['cluster'] = {}) {
    deployment()
    const a = await replica('a', cluster)
    const b = await replica('b', cluster)
    const sessionId = await client(a).createSession()
    return { a, b, sessionId }
  }
  const leases = (gateway: Gateway) => gateway.context.cluster!.leases

  /** A message through `gateway`, answered once its turn has ended. */
  async function say(gateway: Gateway, sessionId: string, content: string): Promise<Json> {
    const answer = await client(gateway).call('POST', `/api/sessions/${sessionId}/messages`, { content })
    assert.equal(answer.status, 200, answer.raw)
    return answer.body
  }

  /** The session's events as `gateway` reads them: from the shared store. */
  const events = (gateway: Gateway, sessionId: string): Promise<GatewayEvent[]> =>
    gateway.context.bus.read(sessionId)

  test('a session live on A, messaged through B: forwarded, answered by the process A runs', async () => {
    const { model } = fixture.home
    const { a, b, sessionId } = await twoReplicas()
    const resumed = await client(a).call('POST', `/api/sessions/${sessionId}/resume`)
    assert.equal(resumed.status, 200, resumed.raw)
    const pid = a.context.engine.runnerOf(sessionId)?.pid
    assert.ok(pid, "A runs the session's process")
    assert.ok(leases(a).holds(sessionId))

    model.script(text('Answered by the owner.'))
    const before = model.turns.length
    const answer = await say(b, sessionId, 'Who answers?')
    assert.equal(answer.result, 'Answered by the owner.')
    assert.equal(model.turns.length, before + 1, 'the model heard one request')
    assert.equal(a.context.engine.runnerOf(sessionId)?.pid, pid, "A's process answered")
    assert.equal(b.context.engine.runnerOf(sessionId), null, 'B started no process')
    assert.ok(leases(a).holds(sessionId), 'A holds the lease')
    assert.equal(leases(b).holds(sessionId), false)

    // An OpenAI request naming the session is forwarded too.
    model.script(text('Still the owner.'))
    const completion = await fetch(`${b.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'claude-code',
        messages: [{ role: 'user', content: 'And now?' }],
        session_id: sessionId,
      }),
    })
    const body = (await completion.json()) as { choices: { message: { content: string } }[] }
    assert.equal(completion.status, 200, JSON.stringify(body))
    assert.equal(body.choices[0]!.message.content, 'Still the owner.')
    assert.equal(model.turns.length, before + 2)
    assert.equal(b.context.engine.runnerOf(sessionId), null)

    // So is a WebSocket: its upgrade goes to A, and its commands run there.
    const socket = new WebSocket(`${b.url.replace('http', 'ws')}/api/sessions/${sessionId}/stream`)
    const received: Json[] = []
    socket.on('message', (data) => received.push(JSON.parse(String(data)) as Json))
    await once(socket, 'open')
    model.script(text('Over the socket.'))
    socket.send(JSON.stringify({ type: 'message', content: 'Over a socket?', request_id: 'r1' }))
    const ended = await waitUntil(
      () => received.find((message) => message.type === 'turn.completed'),
      20_000,
      "the socket's turn to end",
    )
    assert.equal(ended.result, 'Over the socket.')
    assert.ok(received.some((message) => message.type === 'ack' && message.request_id === 'r1'))
    socket.close()
    assert.equal(model.turns.length, before + 3)
    assert.equal(a.context.engine.runnerOf(sessionId)?.pid, pid)
    assert.equal(b.context.engine.runnerOf(sessionId), null)

    // Reads stay where they are asked: B serves the session's events from the shared store, where A's
    // writes land a moment after its answers.
    await waitUntil(
      async () =>
        (await events(b, sessionId)).filter((event) => event.type === 'turn.completed').length === 3,
      5_000,
      "both turns' ends in the shared store",
    )
  })

  test("A's lease expires mid-turn: B takes over, the lost turn is recorded interrupted, A's process stops", async () => {
    const { model } = fixture.home
    // A long lease: it expires when the test says so, and A's heartbeat runs when the test calls it.
    const { a, b, sessionId } = await twoReplicas({ leaseTtlMs: 60_000 })
    model.script(text('Noted: the password is kiwi.'))
    await say(a, sessionId, 'Remember: the password is kiwi.')

    // The second turn waits for a model answer that does not come before A is gone.
    const hanging: ScriptedMessage = { ...text('too late'), delayMs: 30_000 }
    model.script(hanging)
    const started = await client(a).call(
      'POST',
      `/api/sessions/${sessionId}/messages`,
      { content: 'A question A never answers.' },
      { prefer: 'respond-async' },
    )
    assert.equal(started.status, 202, started.raw)
    const lostTurn = started.body.turn_id
    await waitUntil(
      () => model.turns.some((request) => lastUserText(request.body).includes('never answers')),
      20_000,
      "A's model request",
    )
    const pid = a.context.engine.runnerOf(sessionId)?.pid
    assert.ok(pid)

    // A stops renewing, as a replica that died would: its lease runs out.
    await admin.query(
      `UPDATE ${schema}.session_leases SET expires_at = now() - interval '1 second' WHERE session_id = $1`,
      [sessionId],
    )
    model.script((request) =>
      text(
        conversationTexts(request.body).some((message) => message.text.includes('kiwi'))
          ? 'The password is kiwi.'
          : 'I do not know.',
      ),
    )
    const answer = await say(b, sessionId, 'What is the password?')
    assert.equal(answer.result, 'The password is kiwi.', 'B resumed the conversation with its context')
    assert.ok(leases(b).holds(sessionId), 'B holds the lease')
    assert.ok(b.context.engine.runnerOf(sessionId), 'B runs the process')

    // A learns at its next heartbeat: its process stops, and nothing more of it is written.
    const seqBefore = (await events(b, sessionId)).length
    await leases(a).renew()
    assert.equal(leases(a).holds(sessionId), false)
    assert.equal(a.context.engine.runnerOf(sessionId), null)
    await waitUntil(() => isGone(pid), 10_000, "A's process to end")

    const log = await events(b, sessionId)
    assert.equal(log.length, seqBefore, 'A wrote nothing after it lost the session')
    assert.deepEqual(
      log.map((event) => event.seq),
      log.map((_, i) => i + 1),
      'one sequence, no gap, no number twice',
    )
    const ends = log.filter((event) => event.type === 'turn.completed')
    const lost = ends.filter((event) => event.turnId === lostTurn)
    assert.equal(lost.length, 1, 'the lost turn ended once')
    assert.equal(lost[0]!.status, 'interrupted')
    assert.match(lost[0]!.error?.message ?? '', /Replica a\b/)
    assert.equal(ends.at(-1)!.status, 'success')
    const lostAt = log.indexOf(lost[0]!)
    const nextStart = log.findIndex((event, i) => i > lostAt && event.type === 'turn.started')
    assert.ok(nextStart > lostAt, 'recorded before the next turn started')
    // Never replayed: the model heard the lost question once, from A.
    const asked = model.turns.filter((request) => lastUserText(request.body).includes('never answers'))
    assert.equal(asked.length, 1)
    model.clearScript()
  })

  test('a socket opened on B before A took the session: its commands are refused with owned_elsewhere', async () => {
    const { model } = fixture.home
    const { a, b, sessionId } = await twoReplicas()
    // No replica runs the session (A let its lease go once the session was created): B serves the socket.
    await waitUntil(async () => (await leases(b).owner(sessionId))?.live === false, 10_000, 'the release')
    const socket = new WebSocket(`${b.url.replace('http', 'ws')}/api/sessions/${sessionId}/stream`)
    const received: Json[] = []
    socket.on('message', (data) => received.push(JSON.parse(String(data)) as Json))
    await once(socket, 'open')
    const resumed = await client(a).call('POST', `/api/sessions/${sessionId}/resume`)
    assert.equal(resumed.status, 200, resumed.raw)

    const before = model.turns.length
    socket.send(JSON.stringify({ type: 'message', content: 'Run here?', request_id: 'r1' }))
    const refused = await waitUntil(
      () => received.find((message) => message.type === 'error' && message.request_id === 'r1'),
      10_000,
      'the refusal',
    )
    assert.equal(refused.code, 'owned_elsewhere')
    assert.match(refused.message as string, /replica a\b/)
    socket.close()
    assert.equal(model.turns.length, before)
    assert.equal(b.context.engine.runnerOf(sessionId), null)
    assert.equal(leases(b).holds(sessionId), false)
  })

  test('pinned workspaces: a session whose replica is gone is refused, not run elsewhere', async () => {
    const { model } = fixture.home
    const { a, b, sessionId } = await twoReplicas({ workspaces: 'pinned' })
    await stop(a)

    const before = model.turns.length
    const refused = await client(b).call('POST', `/api/sessions/${sessionId}/messages`, {
      content: 'Run anywhere?',
    })
    assert.equal(refused.status, 503, refused.raw)
    const error = refused.body.error as Json
    assert.equal(error.code, 'session_pinned', refused.raw)
    assert.match(error.message as string, /replica a\b.*pinned/)
    assert.equal(model.turns.length, before, 'no process ran it')
    assert.equal(b.context.engine.runnerOf(sessionId), null)
    assert.equal(leases(b).holds(sessionId), false)
  })
})
