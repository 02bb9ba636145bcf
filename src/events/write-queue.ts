import { isStoreError, STORE_RETRY_AFTER_MS, StoreError } from '../store/errors.js'
import type { EventPage, Store } from '../store/types.js'
import type { PositionCounter } from './positions.js'
import type { EventType, GatewayEvent } from './types.js'

export interface WriteQueueOptions {
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
const ALWAYS_KEPT = new Set<EventType>([
  'turn.completed',
  'error',
  'session.state',
  'session.created',
  'session.deleted',
])

/**
 * The bus's published events on their way to the store: written in one transaction per tick. An event the
 * store refuses is dropped from its batch, the rest written, and `onRejected` told. When the storage itself
 * fails (full disk, read-only, ...) nothing is dropped: the events wait in memory, where reads find them
 * (`withWaiting`), and are written again with a growing delay until the storage works, up to
 * `maxPendingEvents`.
 */
export class WriteQueue {
  private pending: GatewayEvent[] = []
  private flushScheduled = false
  /** Set while the storage fails: the events wait, and a retry is scheduled. */
  private storageFailing = false
  private retryTimer: NodeJS.Timeout | null = null
  private retryDelay: number
  private maxPending: number

  constructor(
    private readonly store: Store,
    /** Reserves the positions handed out before their events are written (positions.ts). */
    private readonly positions: PositionCounter,
    private readonly onRejected: (event: GatewayEvent, error: unknown) => void,
    private readonly options: WriteQueueOptions = {},
  ) {
    this.maxPending = options.maxPendingEvents ?? DEFAULT_MAX_PENDING_EVENTS
    this.retryDelay = (options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS).min
  }

  /** True while the storage fails: the events wait for a retry. */
  get failing(): boolean {
    return this.storageFailing
  }

  /** Change `maxPendingEvents` (configuration reload). */
  setMaxPendingEvents(limit: number): void {
    this.maxPending = limit
  }

  /** Throws a StoreError for an event past the limit of waiting events, but the essential ones. */
  checkRoom(event: GatewayEvent): void {
    // Without a failure, events wait only until the next tick: the limit is for a storage that fails.
    if (this.storageFailing && this.pending.length >= this.maxPending && !ALWAYS_KEPT.has(event.type)) {
      const health = this.store.health()
      const code = health.ok ? 'storage_unavailable' : health.error
      throw new StoreError(
        code,
        `${this.pending.length} events wait to be written to the gateway's database, the most it keeps in memory (store.maxPendingEvents)${health.ok ? '' : `: ${health.message}`}`,
        STORE_RETRY_AFTER_MS,
      )
    }
  }

  /** Queues an event for the write of this tick. */
  add(event: GatewayEvent): void {
    this.pending.push(event)
    if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(() => this.flush())
    }
  }

  /** Drops a deleted session's events not yet written. */
  forget(sessionId: string): void {
    this.pending = this.pending.filter((event) => event.sessionId !== sessionId)
  }

  /** Before a read of the store: writes what waits, unless the storage fails (the retry timer writes then). */
  settle(): void {
    if (!this.retryTimer) this.flush()
  }

  /**
   * Write the waiting events now. Never throws: what the storage cannot take now waits for the next
   * attempt, what it refuses is dropped and reported.
   */
  flush(): void {
    this.flushScheduled = false
    this.positions.reserveHandedOut()
    if (this.pending.length === 0) return
    const batch = this.pending
    this.pending = []
    const waiting = this.write(batch)
    this.pending = waiting.concat(this.pending)
    if (waiting.length > 0) {
      this.scheduleRetry()
    } else if (this.storageFailing) {
      this.storageFailing = false
      this.retryDelay = (this.options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS).min
      if (this.retryTimer) clearTimeout(this.retryTimer)
      this.retryTimer = null
      this.options.onPersistRecovered?.(batch.length)
    }
  }

  /**
   * A stored page, followed, when it reached the end of the log, by the waiting events past it, up to
   * `limit`: they come after every stored one (a batch is written whole, or from its first event the
   * storage refused on). `placeOf`: an event's seq or position in the read, 0 for one outside it; `entry`:
   * what the page holds for an event, undefined for one the query does not select.
   */
  withWaiting<T>(
    page: EventPage<T>,
    limit: number | undefined,
    placeOf: (event: GatewayEvent) => number,
    entry: (event: GatewayEvent, place: number) => T | undefined,
  ): EventPage<T> {
    if (this.pending.length === 0 || !page.end) return page
    const { events } = page
    let last = page.last
    for (const event of this.pending) {
      const place = placeOf(event)
      if (place <= last) continue
      if (limit !== undefined && limit >= 0 && events.length >= limit) return { events, last, end: false }
      last = place
      const item = entry(event, place)
      if (item !== undefined) events.push(item)
    }
    return { events, last, end: true }
  }

  /** Writes a batch; returns the events that must wait because the storage failed. */
  private write(batch: GatewayEvent[]): GatewayEvent[] {
    try {
      this.store.appendEvents(batch)
      return []
    } catch (error) {
      if (isStoreError(error)) return this.wait(batch, error)
      if (batch.length === 1) {
        this.onRejected(batch[0]!, error)
        return []
      }
    }
    // An event of the batch was refused: each is written on its own, so that only the bad one is dropped.
    for (let i = 0; i < batch.length; i++) {
      try {
        this.store.appendEvents([batch[i]!])
      } catch (error) {
        if (isStoreError(error)) return this.wait(batch.slice(i), error)
        this.onRejected(batch[i]!, error)
      }
    }
    return []
  }

  private wait(events: GatewayEvent[], error: StoreError): GatewayEvent[] {
    if (!this.storageFailing) {
      this.storageFailing = true
      this.options.onPersistError?.(error, events.length + this.pending.length)
    }
    return events
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
}
