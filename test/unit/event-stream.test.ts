/**
 * EventStream (src/api/native/sse.ts) as its clients receive it, read byte for byte off the socket: an
 * event arrives as its SSE frame and nothing else, the same for every subscriber, on a stream that is not
 * chunked and ends with its connection. (Chunked encoding wrapped each frame in a size line and a CRLF: four
 * pieces written per event and subscriber instead of one, the cost the close-delimited stream removed.)
 */
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { type TestContext, test } from 'node:test'
import { setImmediate as loopTurn } from 'node:timers/promises'
import Fastify from 'fastify'
import { EventStream } from '../../src/api/native/sse.js'
import type { GatewayEvent } from '../../src/events/types.js'

interface Subscriber {
  stream: EventStream
  closed: boolean
}

interface Client {
  /** The response's status line and headers, lower-case names. */
  head: () => { status: string; headers: Record<string, string> }
  /** Every byte of the body after the `: connected` comment, as it came off the socket. */
  received: () => string
  ended: Promise<void>
}

/** A server whose `/stream` opens an EventStream, and `count` clients connected to it on raw sockets. */
async function subscribers(
  t: TestContext,
  count: number,
): Promise<{ subs: Subscriber[]; clients: Client[] }> {
  const app = Fastify()
  const subs: Subscriber[] = []
  app.get('/stream', (_request, reply) => {
    const sub: Subscriber = { stream: null as unknown as EventStream, closed: false }
    sub.stream = new EventStream(reply, {
      heartbeatMs: 0,
      maxBufferedBytes: 1 << 20,
      stallTimeoutMs: 30_000,
      endsWithConnection: true,
      onClose: () => {
        sub.closed = true
      },
    })
    subs.push(sub)
  })
  const url = new URL(await app.listen({ port: 0, host: '127.0.0.1' }))
  const clients: Client[] = []
  const sockets: Socket[] = []
  t.after(async () => {
    for (const socket of sockets) socket.destroy()
    await app.close()
  })
  for (let i = 0; i < count; i++) {
    const socket = connect({ host: url.hostname, port: Number(url.port) })
    sockets.push(socket)
    socket.write(`GET /stream HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`)
    let bytes = ''
    socket.setEncoding('latin1').on('data', (piece: string) => {
      bytes += piece
    })
    const ended = new Promise<void>((done, failed) => socket.on('end', done).on('error', failed))
    const split = () => {
      const at = bytes.indexOf('\r\n\r\n')
      return at < 0 ? null : { head: bytes.slice(0, at), body: bytes.slice(at + 4) }
    }
    // Read up to the comment however it came framed: the assertions say what is wrong with the framing.
    await until(() => split()?.body.includes(': connected\n\n') === true)
    clients.push({
      head: () => {
        const [status = '', ...lines] = split()!.head.split('\r\n')
        const headers = Object.fromEntries(
          lines.map((line) => {
            const colon = line.indexOf(':')
            return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()]
          }),
        )
        return { status, headers }
      },
      received: () => {
        const { body } = split()!
        const start = body.indexOf(': connected\n\n') + ': connected\n\n'.length
        return Buffer.from(body.slice(start), 'latin1').toString('utf8')
      },
      ended,
    })
  }
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

test('an event reaches every subscriber as its frame alone, the same bytes for all', async (t) => {
  const { subs, clients } = await subscribers(t, 3)
  const events = [event(1, 'a'), event(2, 'bé')]
  for (const e of events) {
    for (const sub of subs) sub.stream.send(e)
    await until(() => clients.every((client) => client.received().endsWith(frame(e))))
  }
  // Nothing around the frames: no chunk sizes, no CRLFs.
  assert.deepEqual(
    clients.map((client) => client.received()),
    clients.map(() => events.map(frame).join('')),
  )
})

test('the stream is not chunked and ends with its connection', async (t) => {
  const { subs, clients } = await subscribers(t, 1)
  const [sub, client] = [subs[0]!, clients[0]!]
  const { status, headers } = client.head()
  assert.equal(status, 'HTTP/1.1 200 OK')
  assert.equal(headers['transfer-encoding'], undefined)
  assert.equal(headers['content-length'], undefined)
  assert.equal(headers.connection, 'close')
  sub.stream.send(event(1, 'a'))
  sub.stream.fail('shutting_down', 'The gateway is stopping')
  await client.ended
  assert.equal(
    client.received(),
    `${frame(event(1, 'a'))}event: error\ndata: {"code":"shutting_down","message":"The gateway is stopping"}\n\n`,
  )
  await until(() => sub.closed)
})
