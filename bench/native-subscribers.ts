/**
 * Worker thread of native.ts's fan-out: `subscribers` clients on one session's `GET /events`, in a thread of
 * their own so their reading does not hold up the gateway's event loop (nor the gateway theirs). Posts
 * `ready` once every stream is open; on `{ lastSeq }` waits until every subscriber has that event, then
 * posts what each received, with this thread's `performance.timeOrigin` so the receipt times can be put on
 * the main thread's clock.
 */
import { Agent } from 'node:http'
import { parentPort, workerData } from 'node:worker_threads'
import { type Followed, openEventStream } from './streaming.js'

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
const agent = new Agent({ keepAlive: false, maxSockets: subscribers + 10 })

try {
  const streams: Awaited<ReturnType<typeof openEventStream>>[] = []
  for (let i = 0; i < subscribers; i++)
    streams.push(
      await openEventStream(url, sessionId, {
        method: 'GET',
        path: `/api/sessions/${sessionId}/events`,
        agent,
      }),
    )
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
    for (const { request } of streams) request.destroy()
    agent.destroy()
  })
  post({ type: 'ready' })
} catch (error) {
  post({ type: 'failed', message: (error as Error).message })
  agent.destroy()
}
