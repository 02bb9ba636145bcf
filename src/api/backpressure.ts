/**
 * The pace of one subscriber's connection (an SSE response, a WebSocket). A subscriber that reads more
 * slowly than events come, or that asked for a long replay, is not cut off for it: what it has not taken
 * yet stays in its connection's buffer up to `maxBufferedBytes`, and no more is written until that has been
 * sent. Only one that stops taking data altogether, for `stallTimeoutMs`, is cut off: it would otherwise
 * hold its buffer and its place in the replay for ever.
 */

export interface PaceLimits {
  /** Unsent bytes past which a write is the last one until they have been sent. */
  maxBufferedBytes: number
  /** How long a full connection may take no byte at all before it counts as stalled; 0: never. */
  stallTimeoutMs: number
}

/** What a Pacer writes to: a ServerResponse as it is (its members are used directly, on every event). */
export interface PacedConnection<C> {
  /** Writes a chunk; `flushed`, when given, is called once the chunk has left (or failed to leave) the process. */
  write(chunk: C, flushed?: (error?: Error | null) => void): unknown
  /** Bytes written and not yet sent. */
  readonly writableLength: number
}

/**
 * Writes to a connection like a Node stream does (`write` answers false when the caller should wait for
 * `drained()`), and tells when the reader at the other end has stalled (`onStall`, once).
 *
 * The wait ends when the write that filled the connection has been flushed, so everything before it too.
 * Meanwhile, every `stallTimeoutMs` the bytes that left the process since the previous check are counted:
 * none at all is a stall. A reader that is merely slow always takes some.
 */
export class Pacer<C extends { length: number }> {
  private waiting: Promise<void> | null = null
  private release: (() => void) | null = null
  private stallTimer: NodeJS.Timeout | null = null
  /** Bytes written since the connection opened (about: a string's length in characters). */
  private written = 0
  /** `written - writableLength` at the previous stall check: what had left the process then. */
  private sent = 0
  private ended = false

  constructor(
    private readonly connection: PacedConnection<C>,
    private readonly limits: PaceLimits,
    private readonly onStall: () => void,
  ) {}

  /** Writes `chunk`. False when the connection is full: write again once `drained()` has resolved. */
  write(chunk: C): boolean {
    this.written += chunk.length
    if (this.waiting !== null) {
      this.connection.write(chunk)
      return false
    }
    if (this.connection.writableLength + chunk.length <= this.limits.maxBufferedBytes || this.ended) {
      this.connection.write(chunk)
      return true
    }
    this.waiting = new Promise((resolve) => {
      this.release = resolve
    })
    this.connection.write(chunk, () => this.settle())
    if (this.limits.stallTimeoutMs > 0 && this.waiting !== null) {
      this.sent = this.written - this.connection.writableLength
      this.stallTimer = setTimeout(() => this.checkProgress(), this.limits.stallTimeoutMs)
    }
    return false
  }

  /** Resolves once what was written has been sent, or the connection has ended (`end()`). */
  drained(): Promise<void> {
    return this.waiting ?? Promise.resolve()
  }

  /** The connection ended: nothing is waited for any more. */
  end(): void {
    this.ended = true
    this.settle()
  }

  private settle(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer)
    this.stallTimer = null
    const release = this.release
    this.waiting = null
    this.release = null
    release?.()
  }

  private checkProgress(): void {
    const sent = this.written - this.connection.writableLength
    if (sent > this.sent) {
      this.sent = sent
      this.stallTimer?.refresh()
      return
    }
    this.stallTimer = null
    this.onStall()
    this.end()
  }
}
