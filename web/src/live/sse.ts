/**
 * A text/event-stream parser (the WHATWG "server-sent events" interpretation rules), for streams read with
 * fetch: EventSource cannot send an Authorization header. Plain TypeScript, no DOM: node:test runs it.
 */

export interface SseFrame {
  /** The `id:` of this frame, or undefined when it had none. */
  id: string | undefined
  /** `event:`, `message` when absent. */
  event: string
  data: string
}

export interface SseHandlers {
  frame(frame: SseFrame): void
  /** A `: comment` line (`: connected`, `: heartbeat`): proof the connection is alive. */
  comment?(text: string): void
}

/** Feed it text as it arrives, in chunks cut anywhere; it calls the handlers once per complete frame. */
export class SseParser {
  #buffer = ''
  /** The previous chunk ended with CR: an LF starting the next one belongs to the same line end. */
  #pendingCr = false
  #id: string | undefined
  #event = ''
  #data: string[] = []
  #hasData = false

  constructor(private readonly handlers: SseHandlers) {}

  push(chunk: string): void {
    let text = chunk
    if (this.#pendingCr && text.startsWith('\n')) text = text.slice(1)
    this.#pendingCr = false
    this.#buffer += text
    let start = 0
    for (;;) {
      const cr = this.#buffer.indexOf('\r', start)
      const lf = this.#buffer.indexOf('\n', start)
      if (cr === -1 && lf === -1) break
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf)
      this.#line(this.#buffer.slice(start, end))
      if (this.#buffer[end] === '\r') {
        if (end + 1 === this.#buffer.length) this.#pendingCr = true
        else if (this.#buffer[end + 1] === '\n') {
          start = end + 2
          continue
        }
      }
      start = end + 1
    }
    this.#buffer = this.#buffer.slice(start)
  }

  #line(line: string): void {
    if (line === '') {
      this.#dispatch()
      return
    }
    if (line.startsWith(':')) {
      this.handlers.comment?.(line.slice(1).trimStart())
      return
    }
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') {
      this.#data.push(value)
      this.#hasData = true
    } else if (field === 'event') this.#event = value
    else if (field === 'id' && !value.includes('\0')) this.#id = value
    // `retry:` is not used: reconnection timing is the stream's own (stream.ts).
  }

  #dispatch(): void {
    // A frame with no data line (an `id:` or `event:` alone) dispatches nothing, as in EventSource.
    if (this.#hasData) {
      this.handlers.frame({ id: this.#id, event: this.#event || 'message', data: this.#data.join('\n') })
    }
    this.#id = undefined
    this.#event = ''
    this.#data = []
    this.#hasData = false
  }
}

/** Reads a response body to its end through a parser; resolves when the server ends the stream. */
export async function readSse(body: ReadableStream<Uint8Array>, handlers: SseHandlers): Promise<void> {
  const parser = new SseParser(handlers)
  const decoder = new TextDecoder()
  const reader = body.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      parser.push(decoder.decode(value, { stream: true }))
    }
    parser.push(decoder.decode())
  } finally {
    reader.releaseLock()
  }
}
