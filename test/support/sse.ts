/** Server-sent events as the tests read them. */
import assert from 'node:assert/strict'

export interface SseFrame {
  id?: string
  event?: string
  data?: unknown
}

/** The frames of an SSE body that carry JSON data, in order; comments (heartbeats) and other frames left out. */
export function parseSse(raw: string): SseFrame[] {
  return raw
    .split('\n\n')
    .filter((frame) => frame && !frame.startsWith(':'))
    .map((frame) => {
      const out: SseFrame = {}
      for (const line of frame.split('\n')) {
        const [key, ...rest] = line.split(': ')
        const value = rest.join(': ')
        if (key === 'id') out.id = value
        if (key === 'event') out.event = value
        if (key === 'data') {
          try {
            out.data = JSON.parse(value)
          } catch {
            return {}
          }
        }
      }
      return out
    })
    .filter((frame) => frame.data !== undefined)
}

/**
 * A 200 text/event-stream response read in the background, as it arrives: what came so far, and `ended` once
 * the stream ends or is cut off (the test aborting it, the connection lost).
 */
export function readEventStream(response: Response): { received(): string; ended: Promise<void> } {
  assert.equal(response.status, 200)
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/)
  return readBody(response.body!)
}

/** A response body read in the background as text, as `readEventStream` reads it, whatever its status. */
export function readBody(body: ReadableStream<Uint8Array>): { received(): string; ended: Promise<void> } {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let raw = ''
  const ended = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) return
        raw += decoder.decode(value, { stream: true })
      }
    } catch {
      // Cut off: ended too.
    }
  })()
  return { received: () => raw, ended }
}
