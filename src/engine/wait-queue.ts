/**
 * The requests waiting for a process slot: first come, first served, each with a deadline. The pool
 * decides when a slot is free; this only keeps who waits, and in which order.
 */
import type { GatewayError } from './errors.js'
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
   * Resolves when `grantNext` reaches this request; rejects with `expired()` after `timeoutMs` (0: no
   * deadline) unless a slot is already being handed over to it by then.
   */
  wait(timeoutMs: number, expired: () => GatewayError): Promise<void> {
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
