import type { Store } from '../store/types.js'
import type { EventBody, GatewayEvent } from './types.js'

export type Listener = (event: GatewayEvent) => void

export interface Subscription {
  close(): void
}

export interface BusOptions {
  /** Called when a listener throws; the bus itself never lets one listener break another. */
  onListenerError?: (error: unknown, event: GatewayEvent) => void
  /** Called when a batch of events could not be written; they stay in memory for the next attempt. */
  onPersistError?: (error: unknown) => void
}

/** A session's follower, with the last sequence number it has already seen (by replay or subscription). */
interface Follower {
  listener: Listener
  after: number
}

/**
 * Numbers every event per session, keeps it (through the store) and hands it to whoever follows the session.
 * Writes are batched into one transaction per tick: a streaming turn produces an event per token.
 */
export class EventBus {
  private readonly lastSeq = new Map<string, number>()
  private readonly followers = new Map<string, Set<Follower>>()
  private readonly everyListeners = new Set<Listener>()
  private pending: GatewayEvent[] = []
  private flushScheduled = false

  constructor(
    private readonly store: Store,
    private readonly options: BusOptions = {},
  ) {}

  publish(sessionId: string, body: EventBody): GatewayEvent {
    const seq = this.nextSeq(sessionId)
    const event = { ...body, seq, ts: Date.now(), sessionId } as GatewayEvent
    this.pending.push(event)
    if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(() => this.flushInBackground())
    }
    // A follower added during this delivery has seen this event already (`after`), so it is skipped.
    const forSession = this.followers.get(sessionId)
    if (forSession)
      for (const follower of forSession) if (seq > follower.after) this.deliver(follower.listener, event)
    for (const listener of this.everyListeners) this.deliver(listener, event)
    return event
  }

  /**
   * Follow a session. With `afterSeq`, every stored event after it is delivered first, synchronously and
   * in order, then the live ones: no gap and no duplicate, because nothing can publish in between.
   */
  subscribe(sessionId: string, listener: Listener, afterSeq?: number): Subscription {
    if (afterSeq !== undefined) for (const event of this.replay(sessionId, afterSeq)) listener(event)
    let set = this.followers.get(sessionId)
    if (!set) {
      set = new Set()
      this.followers.set(sessionId, set)
    }
    const follower = { listener, after: this.currentSeq(sessionId) }
    set.add(follower)
    return {
      close: () => {
        set.delete(follower)
        if (set.size === 0 && this.followers.get(sessionId) === set) this.followers.delete(sessionId)
      },
    }
  }

  /** Follow every session (metrics, the admin UI). */
  subscribeAll(listener: Listener): Subscription {
    this.everyListeners.add(listener)
    return { close: () => this.everyListeners.delete(listener) }
  }

  replay(sessionId: string, afterSeq = 0, limit?: number): GatewayEvent[] {
    this.flush()
    return this.store.readEvents(sessionId, { afterSeq, limit })
  }

  currentSeq(sessionId: string): number {
    return this.lastSeq.get(sessionId) ?? this.store.lastSeq(sessionId)
  }

  /**
   * Forget a deleted session's counter and its events not yet written (its events are gone from the store),
   * so nothing of it is written after the store deleted it, whichever of the two comes first.
   */
  forget(sessionId: string): void {
    this.pending = this.pending.filter((event) => event.sessionId !== sessionId)
    this.lastSeq.delete(sessionId)
  }

  flush(): void {
    this.flushScheduled = false
    if (this.pending.length === 0) return
    const batch = this.pending
    this.pending = []
    try {
      this.store.appendEvents(batch)
    } catch (error) {
      this.pending = batch.concat(this.pending)
      throw error
    }
  }

  private flushInBackground(): void {
    try {
      this.flush()
    } catch (error) {
      this.options.onPersistError?.(error)
    }
  }

  private nextSeq(sessionId: string): number {
    const seq = this.currentSeq(sessionId) + 1
    this.lastSeq.set(sessionId, seq)
    return seq
  }

  private deliver(listener: Listener, event: GatewayEvent): void {
    try {
      listener(event)
    } catch (error) {
      this.options.onListenerError?.(error, event)
    }
  }
}
