/**
 * The requests waiting for a process slot: first come, first served, each with a deadline. The pool
 * decides when a slot is free; this keeps who waits, in which order, and what a request is told when the
 * queue has no room or no slot came in time.
 */
import { GatewayError } from './errors.js'
import { after } from './timers.js'

interface Waiter {
  grant(): void
  fail(error: GatewayError): void
}

export class WaitQueue {
  private readonly waiters: Waiter[] = []

  get length(): number {
    return this.waiters.length
  }

  /**
   * Wait for a slot, refused (`busy`) at once when `room` requests are waiting already, or when none came
   * within `timeoutMs`. `slots`: how many processes there are, for the message.
   */
  join(room: number, timeoutMs: number, slots: number): Promise<void> {
    if (this.waiters.length >= room)
      return Promise.reject(
        busy(
          `All ${slots} Claude Code processes are busy and ${this.waiters.length} requests are already waiting`,
          timeoutMs,
        ),
      )
    return this.wait(timeoutMs, () =>
      busy(`No Claude Code process became free within ${timeoutMs} ms`, timeoutMs),
    )
  }

  /**
   * Resolves when `grantNext` reaches this request; rejects with `expired()` after `timeoutMs` (0: no
   * deadline) unless a slot is already being handed over to it by then.
   */
  private wait(timeoutMs: number, expired: () => GatewayError): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = after(timeoutMs, () => {
        const index = this.waiters.indexOf(waiter)
        if (index < 0) return
        this.waiters.splice(index, 1)
        reject(expired())
      })
      const waiter: Waiter = {
        grant: () => {
          if (timer) clearTimeout(timer)
          resolve()
        },
        fail: (error) => {
          if (timer) clearTimeout(timer)
          reject(error)
        },
      }
      this.waiters.push(waiter)
    })
  }

  /** Takes the first waiter out of the queue: `slot` grants it once it resolves. */
  grantNext(slot: Promise<void>): void {
    const waiter = this.waiters.shift()
    if (waiter) void slot.then(waiter.grant)
  }

  failAll(error: GatewayError): void {
    for (const waiter of this.waiters.splice(0)) waiter.fail(error)
  }
}

/** No slot for a request: it may try again in about the queue's timeout (1 to 30 s). */
function busy(message: string, queueTimeoutMs: number): GatewayError {
  return new GatewayError('busy', message, Math.max(1_000, Math.min(queueTimeoutMs || 30_000, 30_000)))
}
