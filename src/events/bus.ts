import { setImmediate as loopTurn } from 'node:timers/promises'
import { isStoreError, STORE_RETRY_AFTER_MS, StoreError } from '../store/errors.js'
import type { EventQuery, Store } from '../store/types.js'
import { eventJson } from './json.js'
import type { EventBody, EventType, GatewayEvent } from './types.js'

export type Listener = (event: GatewayEvent) => void

export interface Subscription {
  close(): void
}

/**
 * Where `EventBus.follow` sends a session's events: a subscriber's connection. Like a Node stream's `write`,
 * `send` takes the event and tells whether there is room for more.
 */
export interface EventSink {
  /** Takes the event. False when the consumer is full: nothing more is sent until `drained()` resolves. */
  send(event: GatewayEvent): boolean
  /**
   * Resolves once the consumer has room again, or has ended. Ending a consumer that makes no room (and
   * closing its subscription) is the sink's decision: the bus only waits.
   */
  drained(): Promise<void>
  /** The session's events could not be read: the sink ends, saying why. */
  fail(error: unknown): void
}

/**
 * Stored events `follow` reads at a time: a few hundred kilobytes, so a page is written in a few milliseconds
 * and holds little memory, while a replay of tens of thousands of events takes only tens of reads.
 */
export const REPLAY_PAGE_SIZE = 500

/** Told about an event that was published but cannot be stored (see `onEventRejected`). */
export type RejectionHandler = (event: GatewayEvent, error: Error) => void

export interface BusOptions {
  /** Called when a listener throws; the bus itself never lets one listener break another. */
  onListenerError?: (error: unknown, event: GatewayEvent) => void
  /**
   * Called when the storage fails and events start waiting in memory (once, until a write succeeds again);
   * `pending`: how many wait.
   */
  onPersistError?: (error: unknown, pending: number) => void
  /** Called when writes succeed again after `onPersistError`, with the number of events then written. */
  onPersistRecovered?: (written: number) => void
  /**
   * Events that may wait in memory while the storage fails; past it, `publish` refuses events with a
   * StoreError, but those that end a turn or change a session's state (DEFAULT_MAX_PENDING_EVENTS).
   */
  maxPendingEvents?: number
  /** First and longest wait before writing waiting events again, in ms (it doubles in between). */
  retryDelayMs?: { min: number; max: number }
}

/** The default of `maxPendingEvents`: about as many as a few long turns stream, some tens of megabytes. */
export const DEFAULT_MAX_PENDING_EVENTS = 100_000
const DEFAULT_RETRY_DELAY_MS = { min: 100, max: 5_000 }

/**
 * Kept past `maxPendingEvents`: without them no follower would learn that its turn ended or its session
 * changed state, and there are few of them (some per turn, not per token).
 */
const ALWAYS_KEPT = new Set<EventType>(['turn.completed', 'error', 'session.state'])

/** An event that cannot be serialised (nested too deeply, a cycle, a BigInt): it is not published at all. */
export class EventRejectedError extends Error {
  override readonly name = 'EventRejectedError'

  constructor(
    readonly event: GatewayEvent,
    cause: unknown,
  ) {
    const why =
      cause instanceof RangeError ? `${cause.message} (nested too deeply?)` : (cause as Error).message
    super(`The ${event.type} event cannot be serialised: ${why}`, { cause })
  }
}

/** A session's follower, with the last sequence number it has already seen (by replay or subscription). */
interface Follower {
  listener: Listener
  after: number
}

/**
 * Numbers every event per session, keeps it (through the store) and hands it to whoever follows the session.
 * Writes are batched into one transaction per tick: a streaming turn produces an event per token.
 *
 * One event never costs another: an event that cannot be serialised is refused by `publish` (it gets no
 * number and reaches no one); one the store refuses is dropped from its batch, the rest written, and the
 * rejection handlers told (the engine fails that event's turn). When the storage itself fails (full disk,
 * read-only, ...) nothing is dropped: the events wait in memory, are read from there, and are written again
 * with a growing delay until the storage works, up to `maxPendingEvents`.
 */
export class EventBus {
  private readonly lastSeq = new Map<string, number>()
  private readonly followers = new Map<string, Set<Follower>>()
  private readonly everyListeners = new Set<Listener>()
  private readonly rejectionHandlers = new Set<RejectionHandler>()
  private pending: GatewayEvent[] = []
  private flushScheduled = false
  /** Set while the storage fails: the events wait, and a retry is scheduled. */
  private failing = false
  private retryTimer: NodeJS.Timeout | null = null
  private retryDelay: number
  private maxPending: number

  constructor(
    private readonly store: Store,
    private readonly options: BusOptions = {},
  ) {
    this.maxPending = options.maxPendingEvents ?? DEFAULT_MAX_PENDING_EVENTS
    this.retryDelay = (options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS).min
  }

  /** Change `maxPendingEvents` (configuration reload). */
  setMaxPendingEvents(limit: number): void {
    this.maxPending = limit
  }

  /**
   * Number, keep and deliver an event. Throws EventRejectedError, publishing nothing, when the event cannot
   * be serialised; throws a StoreError when the storage fails and `maxPendingEvents` events already wait.
   */
  publish(sessionId: string, body: EventBody): GatewayEvent {
    const seq = this.currentSeq(sessionId) + 1
    const event = { ...body, seq, ts: Date.now(), sessionId } as GatewayEvent
    this.admit(event)
    this.lastSeq.set(sessionId, seq)
    this.pending.push(event)
    if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(() => this.flush())
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
    return this.addFollower(sessionId, listener)
  }

  /**
   * Follow a session at the consumer's pace, from after `afterSeq`: the stored events are read a page at a
   * time and sent while the sink has room; when it is full, sending goes on once it has drained. Caught up,
   * the sink gets the live events as they are published; when it fills up again, it leaves the live fan-out
   * and catches up from the store the same way. Nothing is queued here for a slow consumer, so what it costs
   * is bounded by its own buffer, and each event reaches it once, in the session's order: the switch to live
   * events happens in the same tick as the read that found nothing more, so nothing can come in between.
   * The first page is sent before this returns (and any sent later, after the sink drained or in a later
   * tick), so a short replay is as immediate as `subscribe`'s.
   */
  follow(sessionId: string, afterSeq: number, sink: EventSink, pageSize = REPLAY_PAGE_SIZE): Subscription {
    let sent = afterSeq
    let closed = false
    let live: Subscription | null = null
    const onLive = (event: GatewayEvent) => {
      if (sink.send(event) || closed) return
      sent = event.seq
      live?.close()
      live = null
      void catchUp(true)
    }
    const catchUp = async (full: boolean): Promise<void> => {
      let page: GatewayEvent[] = []
      let next = 0
      try {
        for (;;) {
          if (full) await sink.drained()
          else if (next > 0) await loopTurn() // a whole page went out: the other connections' turn
          if (closed) return
          full = false
          const fresh = next === page.length
          if (fresh) {
            page = this.replay(sessionId, sent, pageSize)
            next = 0
          }
          while (!full && next < page.length) {
            const event = page[next++]!
            sent = event.seq
            full = !sink.send(event)
          }
          if (closed) return
          // A short page read in this tick and sent whole: everything published so far has been sent.
          if (!full && fresh && page.length < pageSize) {
            live = this.addFollower(sessionId, onLive)
            return
          }
        }
      } catch (error) {
        if (!closed) sink.fail(error)
      }
    }
    void catchUp(false)
    return {
      close: () => {
        closed = true
        live?.close()
        live = null
      },
    }
  }

  /** Follow every session (metrics, the admin UI). */
  subscribeAll(listener: Listener): Subscription {
    this.everyListeners.add(listener)
    return { close: () => this.everyListeners.delete(listener) }
  }

  replay(sessionId: string, afterSeq = 0, limit?: number): GatewayEvent[] {
    return this.read(sessionId, { afterSeq, limit })
  }

  /**
   * A session's events as the store has them, followed by those still waiting to be written (the storage
   * may be failing): everything published, whatever the state of the disk.
   */
  read(sessionId: string, query: EventQuery = {}): GatewayEvent[] {
    // While the storage fails, the retry timer writes: a read does not make another attempt of its own.
    if (!this.retryTimer) this.flush()
    const stored = this.store.readEvents(sessionId, query)
    if (this.pending.length === 0) return stored
    const { afterSeq = 0, limit, types } = query
    if (limit !== undefined && limit >= 0 && stored.length >= limit) return stored
    // Waiting events come after every stored one of their session: a batch is written whole, or from
    // its first event the storage refused on.
    const after = Math.max(afterSeq, stored.at(-1)?.seq ?? 0)
    const waiting = this.pending.filter(
      (event) => event.sessionId === sessionId && event.seq > after && (!types || types.includes(event.type)),
    )
    const all = waiting.length > 0 ? stored.concat(waiting) : stored
    return limit !== undefined && limit >= 0 ? all.slice(0, limit) : all
  }

  /** Be told about events the store refused (they were delivered, but are not kept). */
  onEventRejected(handler: RejectionHandler): Subscription {
    this.rejectionHandlers.add(handler)
    return { close: () => this.rejectionHandlers.delete(handler) }
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

  /**
   * Write the waiting events now. Never throws: what the storage cannot take now waits for the next
   * attempt, what it refuses is dropped and reported.
   */
  flush(): void {
    this.flushScheduled = false
    if (this.pending.length === 0) return
    const batch = this.pending
    this.pending = []
    const waiting = this.write(batch)
    this.pending = waiting.concat(this.pending)
    if (waiting.length > 0) {
      this.scheduleRetry()
    } else if (this.failing) {
      this.failing = false
      this.retryDelay = (this.options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS).min
      if (this.retryTimer) clearTimeout(this.retryTimer)
      this.retryTimer = null
      this.options.onPersistRecovered?.(batch.length)
    }
  }

  /** Writes a batch; returns the events that must wait because the storage failed. */
  private write(batch: GatewayEvent[]): GatewayEvent[] {
    try {
      this.store.appendEvents(batch)
      return []
    } catch (error) {
      if (isStoreError(error)) return this.wait(batch, error)
      if (batch.length === 1) {
        this.reject(batch[0]!, error)
        return []
      }
    }
    // An event of the batch was refused: each is written on its own, so that only the bad one is dropped.
    for (let i = 0; i < batch.length; i++) {
      try {
        this.store.appendEvents([batch[i]!])
      } catch (error) {
        if (isStoreError(error)) return this.wait(batch.slice(i), error)
        this.reject(batch[i]!, error)
      }
    }
    return []
  }

  private wait(events: GatewayEvent[], error: StoreError): GatewayEvent[] {
    if (!this.failing) {
      this.failing = true
      this.options.onPersistError?.(error, events.length + this.pending.length)
    }
    return events
  }

  private reject(event: GatewayEvent, error: unknown): void {
    const reason = error instanceof Error ? error : new Error(String(error))
    for (const handler of this.rejectionHandlers) {
      try {
        handler(event, reason)
      } catch (thrown) {
        this.options.onListenerError?.(thrown, event)
      }
    }
  }

  private scheduleRetry(): void {
    if (this.retryTimer) return
    const delay = this.retryDelay
    this.retryDelay = Math.min(delay * 2, (this.options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS).max)
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null
      this.flush()
    }, delay)
    // Waiting events are written at shutdown (the engine flushes); the timer alone keeps no process alive.
    this.retryTimer.unref()
  }

  /** Refuses an event that cannot be serialised, or any but the essential ones past the limit. */
  private admit(event: GatewayEvent): void {
    // Without a failure, events wait only until the next tick: the limit is for a storage that fails.
    if (this.failing && this.pending.length >= this.maxPending && !ALWAYS_KEPT.has(event.type)) {
      const health = this.store.health()
      const code = health.ok ? 'storage_unavailable' : health.error
      throw new StoreError(
        code,
        `${this.pending.length} events wait to be written to the gateway's database, the most it keeps in memory (store.maxPendingEvents)${health.ok ? '' : `: ${health.message}`}`,
        STORE_RETRY_AFTER_MS,
      )
    }
    try {
      // Serialised once for the store and every subscriber (json.ts); here, so that a failure costs no one else.
      eventJson(event)
    } catch (error) {
      throw new EventRejectedError(event, error)
    }
  }

  /** Live events from now on: those published so far have been replayed (or were not asked for). */
  private addFollower(sessionId: string, listener: Listener): Subscription {
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

  private deliver(listener: Listener, event: GatewayEvent): void {
    try {
      listener(event)
    } catch (error) {
      this.options.onListenerError?.(error, event)
    }
  }
}
