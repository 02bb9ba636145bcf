/**
 * Worker thread of native.ts's fan-out: `subscribers` clients on one session's `GET /events`, in a thread of
 * their own so their reading does not hold up the gateway's event loop (nor the gateway theirs). Posts
 * `ready` once every stream is open; on `{ lastSeq }` waits until every subscriber has that event, then
 * posts what each received, with this thread's `performance.timeOrigin` so the receipt times can be put on
 * the main thread's clock.
 *
 * Each client is a bare socket: the request is written by hand and the stream (close-delimited, see
 * src/api/native/sse.ts) is scanned for its `id:` and `event:` lines only. Node's HTTP client and a full SSE
 * parser cost this thread several times more per event and subscriber, CPU taken from the two cores the
 * gateway runs on: real subscribers read on their own machines.
 */
import { connect, type Socket } from 'node:net'
import { parentPort, workerData } from 'node:worker_threads'
import type { Followed } from './streaming.js'

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
const HEADERS_END = '\r\n\r\n'

const { url, sessionId, subscribers } = workerData as SubscribersInput
const port = parentPort!
const post = (message: SubscribersMessage) => port.postMessage(message)

/** One subscriber: resolves once the response headers are in (200), with what it receives from then on. */
function subscribe(base: URL, path: string): Promise<{ socket: Socket; followed: Followed }> {
  return new Promise((opened, fail) => {
    const socket = connect(Number(base.port), base.hostname)
    socket.setNoDelay(true)
    const followed: Followed = { sessionId, openedAt: 0, arrivals: [] }
    let head = ''
    let inBody = false
    let rest = ''
    let seq: number | null = null
    let type = ''
    socket.on('error', fail)
    socket.on('connect', () =>
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${base.host}\r\nAccept: text/event-stream\r\n\r\n`),
    )
    socket.on('data', (chunk: Buffer) => {
      const at = performance.now()
      // Only ASCII lines are read: latin1 keeps every byte, and multi-byte text sits in `data:` lines.
      let text = chunk.toString('latin1')
      if (!inBody) {
        head += text
        const end = head.indexOf(HEADERS_END)
        if (end < 0) return
        if (!head.startsWith('HTTP/1.1 200')) {
          fail(new Error(`GET ${path}: ${head.slice(0, head.indexOf('\r\n'))}`))
          socket.destroy()
          return
        }
        inBody = true
        followed.openedAt = at
        text = head.slice(end + HEADERS_END.length)
        opened({ socket, followed })
      }
      text = rest + text
      let start = 0
      for (let newline = text.indexOf('\n'); newline >= 0; newline = text.indexOf('\n', start)) {
        const line = text.slice(start, newline)
        start = newline + 1
        if (line.startsWith('id: ')) seq = Number(line.slice(4))
        else if (line.startsWith('event: ')) type = line.slice(7)
        else if (line === '') {
          if (type === 'error' && seq === null) socket.destroy(new Error(`stream error on ${path}`))
          if (seq !== null) followed.arrivals.push({ seq, type, at })
          seq = null
          type = ''
        }
      }
      rest = text.slice(start)
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
