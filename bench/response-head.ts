/**
 * The head of an HTTP/1.1 response read off a bare socket, for the benchmark clients that write their
 * requests by hand (idle-holder.ts, native-subscribers.ts): chunks are held until the blank line that ends
 * the head, a status other than 200 is the stream's failure, and what follows the head is the body.
 */
const HEADERS_END = '\r\n\r\n'

export class ResponseHead {
  /** The head read so far; null once it is complete. */
  private text: string | null = ''

  /** `request` names the request in a failure: `GET /path`. */
  constructor(private readonly request: string) {}

  get complete(): boolean {
    return this.text === null
  }

  /**
   * What of `piece` (a chunk as latin1: one character a byte, a split UTF-8 sequence does no harm) is body:
   * null while the head is still coming, an Error naming the status line when it is not 200.
   */
  read(piece: string): string | null | Error {
    if (this.text === null) return piece
    this.text += piece
    const end = this.text.indexOf(HEADERS_END)
    if (end < 0) return null
    if (!this.text.startsWith('HTTP/1.1 200'))
      return new Error(`${this.request}: ${this.text.slice(0, this.text.indexOf('\r\n'))}`)
    const body = this.text.slice(end + HEADERS_END.length)
    this.text = null
    return body
  }
}
