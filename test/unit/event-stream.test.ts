/**
 * EventStream (src/api/native/sse.ts) on real sockets: an event is one piece written to each subscriber's
 * socket, the same bytes for all of them, and the stream (not chunked) ends with its connection.
 */
import assert from 'node:assert/strict'
import { type IncomingMessage, request } from 'node:http'
import type { Socket } from 'node:net'
import { type TestContext, test } from 'node:test'
import { setImmediate as loopTurn } from 'node:timers/promises'
import Fastify from 'fastify'
import { EventStream } from '../../src/api/native/sse.js'
import type { GatewayEvent } from '../../src/events/types.js'

interface Subscriber {
  stream: EventStream
  /** What each system call writing to the socket (`_write`, `_writev`) was given, since the stream opened. */
  writes: unknown[][]
  closed: boolean
}

interface Client {
  response: IncomingMessage
  /** Everything received after the `: connected` comment. */
  received: () => string
  ended: Promise<void>
}

/** Records what each system call writing to the socket is given (the pieces of a `_writev`). */
function recordWrites(socket: Socket, writes: unknown[][]): void {
  const { _write, _writev } = socket
  socket._write = (chunk, encoding, callback) => {
    writes.push([chunk])
    _write.call(socket, chunk, encoding, callback)
  }
  socket._writev = (chunks, callback) => {
    writes.push(chunks.map(({ chunk }) => chunk))
    _writev?.call(socket, chunks, callback)
  }
}

/** A server whose `/stream` opens an EventStream, and `count` clients connected to it. */
async function subscribers(
  t: TestContext,
  count: number,
): Promise<{ subs: Subscriber[]; clients: Client[] }> {
  const app = Fastify()
  const subs: Subscriber[] = []
  app.get('/stream', (_request, reply) => {
    const socket = reply.raw.socket as Socket
    const sub: Subscriber = { stream: null as unknown as EventStream, writes: [], closed: false }
    sub.stream = new EventStream(reply, {
      heartbeatMs: 0,
      maxBufferedBytes: 1 << 20,
      stallTimeoutMs: 30_000,
      endsWithConnection: true,
      onClose: () => {
        sub.closed = true
      },
    })
    recordWrites(socket, sub.writes)
    subs.push(sub)
  })
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  const clients: Client[] = []
  t.after(async () => {
    for (const { response } of clients) response.destroy()
    await app.close()
  })
  for (let i = 0; i < count; i++) {
    const response = await new Promise<IncomingMessage>((opened, failed) =>
      request(`${url}/stream`, opened).on('error', failed).end(),
    )
    let text = ''
    response.setEncoding('utf8').on('data', (piece: string) => {
      text += piece
    })
    const ended = new Promise<void>((done, failed) => response.on('end', done).on('error', failed))
    clients.push({ response, received: () => text.replace(': connected\n\n', ''), ended })
    await until(() => text.startsWith(': connected'))
  }
  for (const sub of subs) sub.writes.length = 0
  return { subs, clients }
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out')
    await loopTurn()
  }
}

const event = (seq: number, text: string) =>
  ({
    type: 'text.delta',
    turnId: 't1',
    text,
    parentToolUseId: null,
    seq,
    ts: 0,
    sessionId: 's1',
  }) as GatewayEvent

const frame = (e: GatewayEvent) => `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`

test('an event is one piece written to each socket, the same bytes for every subscriber', async (t) => {
  const { subs, clients } = await subscribers(t, 3)
  const events = [event(1, 'a'), event(2, 'b')]
  for (const e of events) {
    for (const sub of subs) sub.stream.send(e)
    await until(() => clients.every((client) => client.received().endsWith(frame(e))))
  }
  assert.deepEqual(
    clients.map((client) => client.received()),
    clients.map(() => events.map(frame).join('')),
  )
  // Chunked encoding wrote four pieces per event (size, CRLF, frame, CRLF), framed for each subscriber.
  for (const sub of subs)
    assert.deepEqual(
      sub.writes.map((pieces) => pieces.length),
      [1, 1],
    )
  for (const [i, e] of events.entries()) {
    const written = subs.map((sub) => sub.writes[i]![0])
    assert.equal(String(written[0]), frame(e))
    assert.ok(
      written.every((bytes) => bytes === written[0]),
      `event ${e.seq}: one Buffer shared by all`,
    )
  }
})

test('the stream is not chunked and ends with its connection', async (t) => {
  const { subs, clients } = await subscribers(t, 1)
  const [sub, client] = [subs[0]!, clients[0]!]
  assert.equal(client.response.headers['transfer-encoding'], undefined)
  assert.equal(client.response.headers.connection, 'close')
  sub.stream.send(event(1, 'a'))
  sub.stream.fail('shutting_down', 'The gateway is stopping')
  await client.ended
  assert.equal(
    client.received(),
    `${frame(event(1, 'a'))}event: error\ndata: {"code":"shutting_down","message":"The gateway is stopping"}\n\n`,
  )
  await until(() => client.response.socket.destroyed)
  assert.equal(sub.closed, true)
})
