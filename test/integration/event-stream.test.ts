/**
 * GET /api/events against a real gateway (the real CLI, the scripted model): every session's events in one
 * stream in position order, a reconnect with Last-Event-ID that gets exactly what it missed, the filters,
 * session creation and purge, and bad cursors refused.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { GatewayEvent } from '../../src/events/types.js'
import { withGateway } from '../support/harness.js'
import { expectInvalid, type Json, nativeClient } from '../support/native-client.js'
import { text } from '../support/scripted-anthropic.js'
import { parseSse, readEventStream, type SseFrame } from '../support/sse.js'
import { waitUntil } from '../support/wait.js'

/** An open GET /api/events, read as it arrives. */
interface OpenStream {
  raw(): string
  frames(): SseFrame[]
  /** The event frames (not `stream.position`). */
  events(): { pos: number; event: GatewayEvent }[]
  close(): void
}

describe('GET /api/events', () => {
  const g = withGateway({ pool: { warmSpares: 0 } })
  const { call } = nativeClient(() => g.gateway)

  async function open(query = '', headers: Record<string, string> = {}): Promise<OpenStream> {
    const controller = new AbortController()
    const response = await fetch(`${g.url}/api/events${query}`, { headers, signal: controller.signal })
    const { received } = readEventStream(response)
    const frames = () => parseSse(received())
    return {
      raw: received,
      frames,
      events: () =>
        frames()
          .filter((frame) => frame.event !== 'stream.position')
          .map((frame) => ({ pos: Number(frame.id), event: frame.data as GatewayEvent })),
      close: () => controller.abort(),
    }
  }

  const createSession = async () => (await call('POST', '/api/sessions', {})).body.id as string

  async function turn(id: string, answer: string): Promise<void> {
    g.home.model.script(text(answer, { chunkSize: 3 }))
    const answered = await call('POST', `/api/sessions/${id}/messages`, { content: 'go' })
    assert.equal(answered.status, 200, answered.raw)
  }

  const messageOf = (error: Json) => error.message as string

  const completed = (stream: OpenStream, id: string) =>
    stream.events().filter((e) => e.event.sessionId === id && e.event.type === 'turn.completed').length

  /** What the gateway has after `after`, as the stream must send it. */
  const expectedAfter = async (after: number, sessionIds?: string[]) =>
    (await g.gateway.context.bus.readAfter(after, { sessionIds })).events.map(({ pos, event }) => ({
      pos,
      event,
    }))

  test('both sessions in order; a reconnect with Last-Event-ID gets exactly the missing events', async () => {
    const first = await open()
    await waitUntil(() => first.frames().length > 0, 5_000, 'the position frame')
    assert.ok(first.raw().startsWith(': connected\n\n'))
    const [position] = first.frames()
    assert.equal(position!.event, 'stream.position')
    const start = (position!.data as { pos: number }).pos
    assert.equal(Number(position!.id), start)
    assert.equal(start, g.gateway.context.bus.lastPos)

    const a = await createSession()
    const b = await createSession()
    await turn(a, 'first answer of a')
    await turn(b, 'first answer of b')
    await waitUntil(() => completed(first, a) === 1 && completed(first, b) === 1, 10_000, 'both turns')
    const seen = first.events()
    first.close()
    assert.deepEqual(seen, await expectedAfter(start))
    assert.deepEqual(
      seen.map((e) => e.pos),
      seen.map((_, i) => start + 1 + i),
      'positions without a gap',
    )
    for (const id of [a, b]) {
      const mine = seen.filter((e) => e.event.sessionId === id).map((e) => e.event)
      assert.deepEqual([mine[0]!.type, mine[0]!.seq], ['session.created', 0], 'outside the sequence')
      assert.deepEqual(
        mine.slice(1),
        await g.gateway.context.bus.replay(id),
        'the same events as the session stream',
      )
    }

    const last = seen.at(-1)!.pos
    await turn(a, 'second answer of a')
    await turn(b, 'second answer of b')
    const again = await open('?after=1', { 'last-event-id': String(last) })
    await waitUntil(() => completed(again, a) === 1 && completed(again, b) === 1, 10_000, 'the missed turns')
    await turn(a, 'live answer')
    await waitUntil(() => completed(again, a) === 2, 10_000, 'the live turn')
    again.close()
    assert.ok(!again.frames().some((frame) => frame.event === 'stream.position'), 'a cursor was given')
    assert.deepEqual(
      again.events(),
      await expectedAfter(last),
      'exactly the missing ones, then live, once each',
    )
    assert.ok(again.events().every((e) => e.pos > last))
  })

  test('sessions= follows only those; a purge ends a session with session.deleted, also on replay', async () => {
    const a = await createSession()
    const b = await createSession()
    const onlyA = await open(`?sessions=${a}&after=0`)
    const lifecycle = await open('?types=session.created,session.deleted')
    await turn(a, 'for a')
    await turn(b, 'for b')
    await waitUntil(() => completed(onlyA, a) === 1, 10_000, "a's turn")
    assert.equal(await call('DELETE', `/api/sessions/${b}?purge=true`).then((r) => r.status), 204)
    await waitUntil(() => lifecycle.events().length === 1, 10_000, 'the deletion')
    onlyA.close()
    lifecycle.close()
    assert.ok(onlyA.events().every((e) => e.event.sessionId === a))
    assert.deepEqual(onlyA.events(), await expectedAfter(0, [a]))
    const [deleted] = lifecycle.events()
    assert.equal(deleted!.event.type, 'session.deleted')
    assert.equal(deleted!.event.sessionId, b)

    const replayed = await open(`?types=session.deleted&sessions=${a},${b}&after=0`)
    await waitUntil(() => replayed.events().length === 1, 5_000, 'the deletion replayed')
    replayed.close()
    assert.deepEqual(replayed.events(), [deleted])
    assert.equal((await call('GET', `/api/sessions/${b}/events`)).status, 404)
  })

  test('bad cursors and filters are refused with a 400 in the native shape', async () => {
    expectInvalid(await call('GET', '/api/events?after=-1'), 'querystring.after')
    expectInvalid(await call('GET', '/api/events?after=soon'))
    expectInvalid(
      await call('GET', '/api/events', undefined, { 'last-event-id': 'x' }),
      'headers.last-event-id',
    )
    expectInvalid(await call('GET', '/api/events?types=text.delta,nope'), 'querystring.types')
    expectInvalid(await call('GET', '/api/events?sessions=a,,b'), 'querystring.sessions')
    expectInvalid(await call('GET', '/api/events?since=3'))
  })

  test("Last-Event-ID is refused as a position here, as a sequence number on a session's stream", async () => {
    const id = await createSession()
    const message = async (path: string) =>
      messageOf(
        expectInvalid(
          await call('GET', path, undefined, { 'last-event-id': '1.5' }),
          'headers.last-event-id',
        ),
      )
    assert.match(await message('/api/events'), /must be an event's position/)
    assert.match(await message(`/api/sessions/${id}/events`), /must be an event's sequence number/)
  })

  test('sessions= names at most native.eventStreamMaxSessions sessions (200), with a 400, not a 431', async () => {
    const ids = (count: number) => Array.from({ length: count }, () => crypto.randomUUID()).join(',')
    const refused = expectInvalid(
      await call('GET', `/api/events?sessions=${ids(201)}`),
      'querystring.sessions',
    )
    assert.match(messageOf(refused), /more than 200 sessions \(native\.eventStreamMaxSessions\)/)
    const most = await open(`?sessions=${ids(200)}`)
    await waitUntil(() => most.frames().length > 0, 5_000, 'the stream.position frame')
    most.close()
  })
})
