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
  /** Called after events were stored (committed), with them: what other replicas are told about. */
  onWritten?: (events: readonly GatewayEvent[]) => void
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

/** The events not written yet at a moment: the batch being written, then those after it (`waiting()`). */
export type WaitingEvents = readonly (readonly GatewayEvent[])[]

/**
 * The bus's published events on their way to the store: written in one transaction per tick, one write at
 * a time and in order. An event stays waiting, where reads find it (`withWaiting`), until its write has
 * resolved. An event the store refuses is dropped from its batch, the rest written, and `onRejected` told.
 * When the storage itself fails (full disk, read-only, ...) nothing is dropped: the events wait in memory
 * and are written again with a growing delay until the storage works, up to `maxPendingEvents`.
 */
export class WriteQueue {
  /** The batch being written: waiting still, until its write resolves. */
  private writing: GatewayEvent[] = []
  /** The events after it, written by the next attempt. */
  private pending: GatewayEvent[] = []
  /** The last write attempt (or other work on the store in its turn, `exclusive`); the next waits for it. */
  private turn: Promise<void> = Promise.resolve()
  private flushScheduled = false
  /** Set while the storage fails: the events wait, and a retry is scheduled. */
  private storageFailing = false
  private retryTimer: NodeJS.Timeout | null = null
  private retryDelay: number
  private maxPending: number

  constructor(
    private readonly store: Store,
    /** Reserves the positions handed out before their events are written (positions.ts); null when the store numbers them. */
    private readonly positions: PositionCounter | null,
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

  /** Events waiting to be written. */
  get size(): number {
    return this.writing.length + this.pending.length
  }

  /** Change `maxPendingEvents` (configuration reload). */
  setMaxPendingEvents(limit: number): void {
    this.maxPending = limit
  }

  /** Throws a StoreError for an event past the limit of waiting events, but the essential ones. */
  checkRoom(event: GatewayEvent): void {
    // Without a failure, events wait only until the next tick: the limit is for a storage that fails.
    const waiting = this.size
    if (this.storageFailing && waiting >= this.maxPending && !ALWAYS_KEPT.has(event.type)) {
      const health = this.store.health()
      const code = health.ok ? 'storage_unavailable' : health.error
      throw new StoreError(
        code,
        `${waiting} events wait to be written to the gateway's database, the most it keeps in memory (store.maxPendingEvents)${health.ok ? '' : `: ${health.message}`}`,
        STORE_RETRY_AFTER_MS,
      )
    }
  }

  /** Queues an event for the write of this tick. */
  add(event: GatewayEvent): void {
    this.pending.push(event)
    if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(() => this.flushInBackground())
    }
  }

  /**
   * The events waiting now, for a read to merge (`withWaiting`): taken before the store is read, so that
   * an event written while the read is under way is in the one or the other. The arrays are never changed
   * but by appending, so holding them costs no copy.
   */
  waiting(): WaitingEvents {
    return [this.writing, this.pending]
  }

  /**
   * Runs `work` on the store in the write's turn, with no write of events under way: what it deletes
   * is not written back by a write that was in flight.
   */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const done = this.turn.then(work)
    this.turn = done.then(
      () => undefined,
      () => undefined,
    )
    return done
  }

  /** Drops a deleted session's events not yet written (called in the turn of `exclusive`). */
  forget(sessionId: string): void {
    this.pending = this.pending.filter((event) => event.sessionId !== sessionId)
  }

  /**
   * Write the waiting events, after the write under way. Resolves once they are written, or have failed to
   * be (they wait for the next attempt then); never rejects for the storage: what it refuses is dropped and
   * reported.
   */
  flush(): Promise<void> {
    this.flushScheduled = false
    const attempt = this.turn.then(() => this.attempt())
    this.turn = attempt.catch(() => undefined)
    return attempt
  }

  private async attempt(): Promise<void> {
    await this.positions?.reserveHandedOut()
    if (this.pending.length === 0) return
    const batch = this.pending
    this.pending = []
    this.writing = batch
    let waiting: GatewayEvent[]
    try {
      waiting = await this.write(batch)
    } finally {
      this.writing = []
    }
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

  /** Writes a batch; returns the events that must wait because the storage failed. */
  private async write(batch: GatewayEvent[]): Promise<GatewayEvent[]> {
    try {
      await this.store.appendEvents(batch)
      this.options.onWritten?.(batch)
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
        await this.store.appendEvents([batch[i]!])
        this.options.onWritten?.([batch[i]!])
      } catch (error) {
        if (isStoreError(error)) return this.wait(batch.slice(i), error)
        this.onRejected(batch[i]!, error)
      }
      // Stored or refused: no longer waiting.
      this.writing = batch.slice(i + 1)
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

  /**
   * A flush nobody awaits: a failure that is not the storage's (a bug) is reported and tried again later
   * rather than left to crash the process as an unhandled rejection.
   */
  private flushInBackground(): void {
    this.flush().catch((error: unknown) => {
      this.options.onPersistError?.(error, this.pending.length)
      this.scheduleRetry()
    })
  }

  private scheduleRetry(): void {
    if (this.retryTimer) return
    const delay = this.retryDelay
    this.retryDelay = Math.min(delay * 2, (this.options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS).max)
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null
      this.flushInBackground()
    }, delay)
    // Waiting events are written at shutdown (the engine flushes); the timer alone keeps no process alive.
    this.retryTimer.unref()
  }
}

/**
 * A stored page, followed, when it reached the end of the log, by the events that waited when the read
 * started (`WriteQueue.waiting`) past it, up to `limit`: they come after every stored one (a batch is
 * written whole, or from its first event the storage refused on), and one written meanwhile is in the page
 * already, or still here. `placeOf`: an event's seq or position in the read, 0 for one outside it; `entry`:
 * what the page holds for an event, undefined for one the query does not select.
 */
export function withWaiting<T>(
  waiting: WaitingEvents,
  page: EventPage<T>,
  limit: number | undefined,
  placeOf: (event: GatewayEvent) => number,
  entry: (event: GatewayEvent, place: number) => T | undefined,
): EventPage<T> {
  if (!page.end || waiting.every((events) => events.length === 0)) return page
  const { events } = page
  let last = page.last
  for (const list of waiting) {
    for (const event of list) {
      const place = placeOf(event)
      if (place <= last) continue
      if (limit !== undefined && limit >= 0 && events.length >= limit) return { events, last, end: false }
      last = place
      const item = entry(event, place)
      if (item !== undefined) events.push(item)
    }
  }
  return { events, last, end: true }
}
