/**
 * The admin UI's live stream (web/src/live/stream.ts) against a scripted GET /api/events: resumes with
 * Last-Event-ID after every kind of cut, delivers nothing twice, sends the key in a header only, waits for
 * a new key after a 401, and takes a silent connection for dead.
 */
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import type { LiveEvent } from '../../web/src/api/types/events.js'
import { LiveStream, type StreamOptions } from '../../web/src/live/stream.js'
import { waitUntil } from '../support/wait.js'

interface Connection {
  url: string
  headers: Record<string, string>
  send(text: string): void
  /** The server ends the stream. */
  end(): void
}

/** A fake fetch whose every call is a connection the test writes to; `status` answers instead when set. */
function scriptedServer() {
  const connections: Connection[] = []
  let status = 200
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const headers = { ...(init?.headers as Record<string, string>) }
    if (status !== 200) {
      connections.push({ url: String(input), headers, send() {}, end() {} })
      return new Response('{"error":{"code":"unauthorized","message":"key"}}', { status })
    }
    let controller!: ReadableStreamDefaultController<Uint8Array>
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        controller = c
      },
    })
    // As a real fetch: aborting errors the body being read.
    init?.signal?.addEventListener('abort', () => controller.error(new Error('aborted')))
    const encoder = new TextEncoder()
    connections.push({
      url: String(input),
      headers,
      send: (text) => controller.enqueue(encoder.encode(text)),
      end: () => controller.close(),
    })
    return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } })
  }
  return {
    connections,
    fetch,
    answer(code: number) {
      status = code
    },
  }
}

const frame = (pos: number, sessionId = 's1', type = 'session.state') =>
  `id: ${pos}\nevent: ${type}\ndata: ${JSON.stringify({ type, seq: pos, ts: 1765000000000 + pos, sessionId })}\n\n`

function started(t: TestContext, options: StreamOptions) {
  const stream = new LiveStream({ initialDelayMs: 1, maxDelayMs: 5, random: () => 0, ...options })
  const events: LiveEvent[] = []
  stream.subscribe((event) => events.push(event))
  stream.start()
  t.after(() => stream.stop())
  return { stream, events }
}

test('resumes after a cut from the last id: nothing missing, nothing twice', async (t) => {
  const server = scriptedServer()
  const { stream, events } = started(t, {
    fetch: server.fetch,
    headers: () => ({ authorization: 'Bearer k1' }),
  })
  const first = await waitUntil(() => server.connections[0])
  assert.equal(first.url, '/api/events')
  assert.equal(first.headers['last-event-id'], undefined)
  assert.equal(first.headers.authorization, 'Bearer k1')
  first.send(': connected\n\nid: 10\nevent: stream.position\ndata: {"pos":10}\n\n')
  first.send(frame(11) + frame(12))
  await waitUntil(() => events.length === 2)
  assert.equal(stream.status, 'open')
  first.end()

  const second = await waitUntil(() => server.connections[1])
  assert.equal(second.headers['last-event-id'], '12')
  // A replay overlapping what was seen: 12 again, then 13.
  second.send(`: connected\n\n${frame(11)}${frame(12)}${frame(13)}`)
  await waitUntil(() => events.length === 3)
  assert.deepEqual(
    events.map((event) => event.pos),
    [11, 12, 13],
  )
  assert.equal(events[2]!.sessionId, 's1')
  assert.equal(events[2]!.seq, 13)
  assert.equal(stream.position, 13)
  // The key never went into a URL.
  for (const connection of server.connections) assert.doesNotMatch(connection.url, /k1/)
})

test('an error frame before a cut is kept, and the stream comes back', async (t) => {
  const server = scriptedServer()
  const { stream, events } = started(t, { fetch: server.fetch })
  const first = await waitUntil(() => server.connections[0])
  first.send(`id: 3\nevent: stream.position\ndata: {"pos":3}\n\n${frame(4)}`)
  first.send('event: error\ndata: {"code":"slow_consumer","message":"Too slow"}\n\n')
  first.end()
  const second = await waitUntil(() => server.connections[1])
  assert.equal(second.headers['last-event-id'], '4')
  assert.deepEqual(stream.lastError, { code: 'slow_consumer', message: 'Too slow' })
  second.send(frame(5))
  await waitUntil(() => events.length === 2)
})

test('a 401 waits for a new key, then resumes where it was', async (t) => {
  const server = scriptedServer()
  let key = 'wrong'
  let refused = 0
  const { stream, events } = started(t, {
    fetch: server.fetch,
    headers: () => ({ authorization: `Bearer ${key}` }),
    onUnauthorized: () => {
      refused += 1
    },
  })
  const first = await waitUntil(() => server.connections[0])
  first.send('id: 7\nevent: stream.position\ndata: {"pos":7}\n\n')
  server.answer(401)
  first.end()
  await waitUntil(() => stream.status === 'unauthorized')
  assert.equal(refused, 1)
  await new Promise((resolve) => setTimeout(resolve, 30))
  assert.equal(server.connections.length, 2, 'no retry without a new key')

  server.answer(200)
  key = 'right'
  stream.reconnect()
  const third = await waitUntil(() => server.connections[2])
  assert.equal(third.headers.authorization, 'Bearer right')
  assert.equal(third.headers['last-event-id'], '7')
  third.send(frame(8))
  await waitUntil(() => events.length === 1)
})

test('a connection silent past silenceMs is replaced; heartbeats keep it', async (t) => {
  const server = scriptedServer()
  started(t, { fetch: server.fetch, silenceMs: 80 })
  const first = await waitUntil(() => server.connections[0])
  first.send('id: 1\nevent: stream.position\ndata: {"pos":1}\n\n')
  for (let beat = 0; beat < 4; beat++) {
    await new Promise((resolve) => setTimeout(resolve, 40))
    first.send(': heartbeat\n\n')
  }
  assert.equal(server.connections.length, 1)
  const second = await waitUntil(() => server.connections[1], 2000)
  assert.equal(second.headers['last-event-id'], '1')
})

test('sessions and types go in the query; stop ends the connection for good', async (t) => {
  const server = scriptedServer()
  const { stream } = started(t, { fetch: server.fetch, sessions: ['a', 'b'], types: ['session.state'] })
  const first = await waitUntil(() => server.connections[0])
  assert.equal(first.url, '/api/events?sessions=a%2Cb&types=session.state')
  stream.stop()
  await new Promise((resolve) => setTimeout(resolve, 30))
  assert.equal(server.connections.length, 1)
  assert.equal(stream.status, 'stopped')
})
