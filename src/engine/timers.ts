/** A timer for a configured duration, where 0 means "no limit" (no timer at all). */
export function after(ms: number, callback: () => void): NodeJS.Timeout | null {
  return ms > 0 ? setTimeout(callback, ms) : null
}

/**
 * A one-shot timer for background work that must not keep the process alive: scheduled once until it
 * fires. With `sooner`, an earlier time replaces a later one.
 */
export class Later {
  private timer: NodeJS.Timeout | null = null
  private due = 0

  constructor(private readonly run: () => void) {}

  get pending(): boolean {
    return this.timer !== null
  }

  in(ms: number, { sooner = false } = {}): void {
    const due = Date.now() + ms
    if (this.timer) {
      if (!sooner || this.due <= due) return
      clearTimeout(this.timer)
    }
    this.due = due
    this.timer = setTimeout(() => {
      this.timer = null
      this.run()
    }, ms)
    this.timer.unref()
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }
}

/** A retry after failures, backing off: the delay doubles from `minMs` up to `maxMs`; a success resets it. */
export class Backoff extends Later {
  private delayMs = 0

  constructor(
    run: () => void,
    private readonly minMs: number,
    private readonly maxMs: number,
  ) {
    super(run)
  }

  /** Another failure: the retry is scheduled after the next delay, which is returned. */
  failed(): number {
    this.delayMs = Math.min(this.maxMs, Math.max(this.minMs, this.delayMs * 2))
    this.in(this.delayMs)
    return this.delayMs
  }

  succeeded(): void {
    this.delayMs = 0
  }
}

/**
 * Wait for a turn of the gateway's own in a process (priming, `/clear`) to end: rejects when the process
 * exits first (`Claude Code exited while <doing>`) or `timeoutMs` passes (0: no limit).
 */
export async function turnEnded(
  ended: Promise<void>,
  exited: Promise<unknown>,
  timeoutMs: number,
  doing: string,
): Promise<void> {
  let timer: NodeJS.Timeout | null = null
  const failed = new Promise<never>((_, reject) => {
    void exited.then(() => reject(new Error(`Claude Code exited while ${doing}`)))
    timer = after(timeoutMs, () => reject(new Error(`Claude Code was still ${doing} after ${timeoutMs} ms`)))
  })
  try {
    await Promise.race([ended, failed])
  } finally {
    if (timer) clearTimeout(timer)
  }
}
