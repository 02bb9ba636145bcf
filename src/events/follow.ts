import type { EventBus, Subscription } from './bus.js'
import type { GatewayEvent } from './types.js'

/**
 * The events of one turn as an async iterator, from its `turn.started` to its `turn.completed` inclusive:
 * replayed from the store first, so nothing published before the consumer started is lost.
 * `close()` (or leaving a for-await loop) stops following.
 */
export class TurnFollower implements AsyncIterableIterator<GatewayEvent> {
  private readonly queue: GatewayEvent[] = []
  private wake: (() => void) | null = null
  private ended = false
  private completed = false
  private readonly subscription: Subscription

  constructor(bus: EventBus, sessionId: string, turnId: string, startSeq: number) {
    this.subscription = bus.subscribe(
      sessionId,
      (event) => {
        if (this.ended || !('turnId' in event) || event.turnId !== turnId) return
        this.queue.push(event)
        if (event.type === 'turn.completed') {
          this.completed = true
          // Undefined while the replay runs inside subscribe(); closed right after it then.
          this.subscription?.close()
        }
        this.wake?.()
      },
      startSeq - 1,
    )
    if (this.completed) this.subscription.close()
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
