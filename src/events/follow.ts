import type { EventBus, Subscription } from './bus.js'
import type { GatewayEvent } from './types.js'

/**
 * The events of one turn as an async iterator, from its `turn.started` to its `turn.completed` inclusive:
 * read from the store first (`EventBus.follow`), so nothing published before the consumer started is lost.
 * The turn's events wait here until consumed.
 * `close()` (or leaving a for-await loop) stops following.
 */
export class TurnFollower implements AsyncIterableIterator<GatewayEvent> {
  private readonly queue: GatewayEvent[] = []
  private wake: (() => void) | null = null
  private ended = false
  private completed = false
  /** Why the events could not be read: thrown by `next` once the events before it are consumed. */
  private failure: { error: unknown } | null = null
  private readonly subscription: Subscription

  constructor(bus: EventBus, sessionId: string, turnId: string, startSeq: number) {
    this.subscription = bus.follow(sessionId, startSeq - 1, {
      send: (event) => {
        if (this.ended || this.completed || !('turnId' in event) || event.turnId !== turnId) return true
        this.queue.push(event)
        if (event.type === 'turn.completed') {
          this.completed = true
          this.subscription.close()
        }
        this.wake?.()
        return true
      },
      drained: () => Promise.resolve(),
      fail: (error) => {
        this.failure = { error }
        this.wake?.()
      },
    })
  }

  /** Events already received and not yet consumed. */
  get buffered(): number {
    return this.queue.length
  }

  async next(): Promise<IteratorResult<GatewayEvent>> {
    for (;;) {
      const event = this.take()
      if (event) return { value: event, done: false }
      if (this.ended) return { value: undefined, done: true }
      if (this.failure) {
        this.close()
        throw this.failure.error
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve
      })
      this.wake = null
    }
  }

  private take(): GatewayEvent | undefined {
    const event = this.queue.shift()
    if (event?.type === 'turn.completed') this.ended = true
    return event
  }

  async return(): Promise<IteratorResult<GatewayEvent>> {
    this.close()
    return { value: undefined, done: true }
  }

  close(): void {
    this.ended = true
    this.queue.length = 0
    this.subscription.close()
    this.wake?.()
  }

  [Symbol.asyncIterator](): this {
    return this
  }
}
