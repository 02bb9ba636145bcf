/**
 * Worker thread of native.ts's fan-out: `subscribers` clients on one session's `GET /events`, in a thread of
 * their own so their reading does not hold up the gateway's event loop (nor the gateway theirs). Posts
 * `ready` once every stream is open; on `{ lastSeq }` waits until every subscriber has that event, then
 * posts what each received, with this thread's `performance.timeOrigin` so the receipt times can be put on
 * the main thread's clock.
 *
 * Each client is a bare socket: the request is written by hand and the stream (close-delimited, see
 * src/api/native/sse.ts) goes straight to the SSE parser. Node's HTTP client cost this thread several times
 * more per event and subscriber, CPU taken from the two cores the gateway runs on: real subscribers read on
 * their own machines.
 */
import { connect, type Socket } from 'node:net'
import { parentPort, workerData } from 'node:worker_threads'
import { ResponseHead } from './response-head.js'
import { type Followed, recordPiece, SseParser } from './streaming.js'

export interface SubscribersInput {
  url: string
  sessionId: string
  subscribers: number
}

export type SubscribersMessage =
  | { type: 'ready' }
  | { type: 'done'; timeOrigin: number; followed: Followed[] }
  | { type: 'failed'; message: string }

const DELIVERY_TIMEOUT_MS = 30_000

const { url, sessionId, subscribers } = workerData as SubscribersInput
const port = parentPort!
const post = (message: SubscribersMessage) => port.postMessage(message)

/** One subscriber: resolves once the response headers are in (200), with what it receives from then on. */
function subscribe(base: URL, path: string): Promise<{ socket: Socket; followed: Followed }> {
  return new Promise((opened, fail) => {
    const socket = connect(Number(base.port), base.hostname)
    socket.setNoDelay(true)
    const followed: Followed = { sessionId, openedAt: 0, arrivals: [] }
    const parser = new SseParser()
    const head = new ResponseHead(`GET ${path}`)
    socket.on('error', fail)
    socket.on('connect', () =>
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${base.host}\r\nAccept: text/event-stream\r\n\r\n`),
    )
    socket.on('data', (chunk: Buffer) => {
      const at = performance.now()
      const opening = !head.complete
      // latin1 keeps every byte as one character: the ids and event names read are ASCII.
      const piece = head.read(chunk.toString('latin1'))
      if (piece === null) return
      if (piece instanceof Error) {
        fail(piece)
        socket.destroy()
        return
      }
      if (opening) {
        followed.openedAt = at
        opened({ socket, followed })
      }
      try {
        recordPiece(followed, parser, piece, at)
      } catch (error) {
        socket.destroy(error as Error)
      }
    })
  })
}

const base = new URL(url)
const streams: { socket: Socket; followed: Followed }[] = []
try {
  for (let i = 0; i < subscribers; i++)
    streams.push(await subscribe(base, `/api/sessions/${sessionId}/events`))
  port.once('message', async ({ lastSeq }: { lastSeq: number }) => {
    const deadline = performance.now() + DELIVERY_TIMEOUT_MS
    while (streams.some(({ followed }) => (followed.arrivals.at(-1)?.seq ?? 0) < lastSeq)) {
      if (performance.now() > deadline) {
        post({ type: 'failed', message: `not every subscriber received event ${lastSeq} within 30 s` })
        break
      }
      await new Promise((done) => setTimeout(done, 10))
    }
    post({
      type: 'done',
      timeOrigin: performance.timeOrigin,
      followed: streams.map(({ followed }) => followed),
    })
    for (const { socket } of streams) socket.destroy()
  })
  post({ type: 'ready' })
} catch (error) {
  post({ type: 'failed', message: (error as Error).message })
  for (const { socket } of streams) socket.destroy()
}
