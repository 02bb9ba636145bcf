/** Server-sent events as the tests read them. */

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
