import { Later } from './timers.js'

/**
 * A write of what waits in memory, run in the background one at a time so that an older version never lands
 * after a newer one: asked for while one is under way, it runs once more when that one is done. While the
 * storage fails, the owner asks for it again after a delay (`retryIn`).
 */
export class SerialWriter {
  private writing: Promise<void> | null = null
  /** Asked for while a write was under way: run again after it. */
  private again = false
  private readonly retry = new Later(() => this.flush())

  /** @param write writes what waits; never rejects (it logs its failures and keeps what it could not write). */
  constructor(private readonly write: () => Promise<void>) {}

  /** A write is asked for behind the one under way. */
  get queued(): boolean {
    return this.again
  }

  /** A retry is scheduled. */
  get retrying(): boolean {
    return this.retry.pending
  }

  flush(): void {
    if (this.writing) {
      this.again = true
      return
    }
    this.writing = this.write().finally(() => {
      this.writing = null
      if (!this.again) return
      this.again = false
      this.flush()
    })
  }

  /** Flush again in `ms`, unless a retry is scheduled already. */
  retryIn(ms: number): void {
    this.retry.in(ms)
  }

  cancelRetry(): void {
    this.retry.cancel()
  }

  /** Resolves once no write is under way, those asked for meanwhile included. */
  async settled(): Promise<void> {
    while (this.writing) await this.writing
  }
}
