import type { EventPage, EventQuery, PositionQuery, Store } from '../store/types.js'
import { CatchUp } from './catch-up.js'
import { eventJson } from './json.js'
import { member } from './membership.js'
import { PositionCounter, type PositionedEvent, positionOf, setPosition } from './positions.js'
import { SeqCounter } from './seq-counter.js'
import { SharedLog, type SharedLogOptions } from './shared-log.js'
import type { EventBody, EventType, GatewayEvent } from './types.js'
import { WriteQueue, type WriteQueueOptions, withWaiting } from './write-queue.js'

export type Listener = (event: GatewayEvent) => void
/** Told about each stored event with its global position (`subscribeStored`). */
export type PositionedListener = (item: PositionedEvent) => void

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

/** The bus's options; those of the storage's failures are the write queue's (write-queue.ts). */
export interface BusOptions extends WriteQueueOptions {
  /** Called when a listener throws; the bus itself never lets one listener break another. */
  onListenerError?: (error: unknown, event: GatewayEvent) => void
  /** Required when the store numbers the positions itself (a log several replicas share, shared-log.ts). */
  shared?: SharedLogOptions
}

/**
 * Events about a session rather than of it: outside its sequence (`seq` 0, never numbered, replayed or
 * delivered by the per-session reads and follows), carried by the global log only (`subscribeAll`,
 * GET /api/events). Sessions' own streams and counts stay as they were before the global log.
 */
const OUTSIDE_SEQUENCE = new Set<EventType>(['session.created', 'session.deleted'])

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

/** A session's follower, with the last sequence number it has already seen (by catch-up or subscription). */
interface Follower {
  listener: Listener
  after: number
}

export { SeqNotLoadedError } from './seq-counter.js'

/**
 * Numbers every event per session, keeps it (through the store) and hands it to whoever follows the session.
 * Writes are batched into one transaction per tick: a streaming turn produces an event per token.
 *
 * The store answers asynchronously, but `publish` numbers and delivers at once: each session's last seq
 * is kept in memory, loaded from the store (`loadSeq`) before the first event the bus publishes for it, and
 * the global positions are reserved ahead (positions.ts). Open a bus with `EventBus.open`.
 *
 * One event never costs another: an event that cannot be serialised is refused by `publish` (it gets no
 * number and reaches no one); one the store refuses is dropped from its batch, the rest written, and the
 * rejection handlers told (the engine fails that event's turn). When the storage itself fails (full disk,
 * read-only, ...) nothing is dropped: the events wait in memory, are read from there, and are written again
 * with a growing delay until the storage works, up to `maxPendingEvents` (write-queue.ts).
 */
export class EventBus {
  /** Each session's last seq: loaded from the store once (`loadSeq`), then counted here. */
  private readonly lastSeq: SeqCounter
  private readonly followers = new Map<string, Set<Follower>>()
  private readonly everyListeners = new Set<Listener>()
  private readonly rejectionHandlers = new Set<RejectionHandler>()
  /** The events not yet written: those of this tick, or all since the storage failed. */
  private readonly queue: WriteQueue
  /**
   * The last global position known: the last handed out by `positions`, or, when the store numbers them
   * itself (`Store.assignsPositions`), the highest it had when the bus opened.
   */
  private knownPos: number
  /**
   * The log several replicas share, its events as any of them commits them (shared-log.ts); null when this
   * bus alone writes the log (the positions are its own then).
   */
  private readonly shared: SharedLog | null = null

  private constructor(
    private readonly store: Store,
    /**
     * The global positions (positions.ts), continued above every one handed out before, written or not;
     * null when the store numbers the events itself, as its writes commit: they have none at publish then.
     */
    private readonly positions: PositionCounter | null,
    lastPos: number,
    private readonly options: BusOptions,
  ) {
    this.knownPos = lastPos
    this.lastSeq = new SeqCounter(store)
    const { shared } = options
    let onWritten = options.onWritten
    if (!positions) {
      if (!shared) throw new Error('A store that numbers the positions itself needs the `shared` bus options')
      const log = new SharedLog(store, lastPos, shared, this.lastSeq, (listener, event) =>
        this.deliver(listener, event),
      )
      this.shared = log
      onWritten = (events) => {
        options.onWritten?.(events)
        log.written(events)
      }
    }
    this.queue = new WriteQueue(store, positions, (event, error) => this.reject(event, error), {
      ...options,
      onWritten,
    })
  }

  /** A bus on `store`, continuing its positions: awaited before the bus is used. */
  static async open(store: Store, options: BusOptions = {}): Promise<EventBus> {
    if (store.assignsPositions) return new EventBus(store, null, await store.lastPos(), options)
    const positions = await PositionCounter.open(store)
    return new EventBus(store, positions, positions.last, options)
  }

  /** Change `maxPendingEvents` (configuration reload). */
  setMaxPendingEvents(limit: number): void {
    this.queue.setMaxPendingEvents(limit)
  }

  /**
   * Number (its session's `seq` and its global position), keep and deliver an event. Throws
   * EventRejectedError, publishing nothing, when the event cannot be serialised; throws a StoreError when
   * the storage fails and `maxPendingEvents` events already wait; throws SeqNotLoadedError for an event of
   * a session's sequence whose seq has not been loaded (`loadSeq`).
   */
  publish(sessionId: string, body: EventBody): GatewayEvent {
    const inSequence = !OUTSIDE_SEQUENCE.has(body.type)
    const seq = inSequence ? this.currentSeq(sessionId) + 1 : 0
    const event = { ...body, seq, ts: Date.now(), sessionId } as GatewayEvent
    this.admit(event)
    if (inSequence) this.lastSeq.set(sessionId, seq)
    if (this.positions) {
      // While the storage fails, its events wait unwritten and unreserved alike: `flush` reserves both.
      const pos = this.positions.next(!this.queue.failing)
      setPosition(event, pos)
      this.knownPos = pos
    }
    this.queue.add(event)
    // A follower added during this delivery has seen this event already (`after`), so it is skipped; so is
    // an event outside the sequence (seq 0).
    const forSession = this.followers.get(sessionId)
    if (forSession)
      for (const follower of forSession) if (seq > follower.after) this.deliver(follower.listener, event)
    for (const listener of this.everyListeners) this.deliver(listener, event)
    return event
  }

  /** Follow a session's live events, from the next one published. */
  subscribe(sessionId: string, listener: Listener): Subscription {
    return this.addFollower(sessionId, listener)
  }

  /**
   * Follow a session at the consumer's pace, from after `afterSeq` (catch-up.ts): the stored events are read
   * a page at a time while the sink has room, then the live ones as they are published; a sink that fills
   * up leaves the live fan-out and catches up from the store. Nothing is queued here for a slow consumer, so
   * what it costs is bounded by its own buffer, and each event reaches it once, in the session's order.
   */
  follow(sessionId: string, afterSeq: number, sink: EventSink, pageSize = REPLAY_PAGE_SIZE): Subscription {
    const catchUp: CatchUp<GatewayEvent> = new CatchUp(afterSeq, sink, {
      published: () => Math.max(this.lastSeq.get(sessionId) ?? 0, this.shared?.publishedSeq(sessionId) ?? 0),
      read: (after) => this.readPage(sessionId, { afterSeq: after, limit: pageSize }),
      placeOf: (event) => event.seq,
      send: (event) => sink.send(event),
      goLive: () => {
        const local = this.addFollower(sessionId, onLive)
        const stored = this.shared?.follow(sessionId, onLive)
        return {
          close: () => {
            local.close()
            stored?.close()
          },
        }
      },
    })
    // Live events come as this replica publishes them and, with a shared log, as the feed delivers what
    // any replica committed (this one's again, later): each is sent once, the next in the sequence only;
    // one past it means the follower missed some (another replica's, not delivered yet when it went live),
    // read from the store then.
    const onLive = (event: GatewayEvent) => {
      if (catchUp.closed || event.seq <= catchUp.sent) return
      if (event.seq !== catchUp.sent + 1) return catchUp.fellBehind()
      catchUp.sent = event.seq
      if (sink.send(event) || catchUp.closed) return
      catchUp.fellBehind()
    }
    return catchUp.start()
  }

  /**
   * Every event as published, in publish order (the position order, when the bus numbers them), those
   * outside any session's sequence too (metrics, `followAll`).
   */
  subscribeAll(listener: Listener): Subscription {
    this.everyListeners.add(listener)
    return { close: () => this.everyListeners.delete(listener) }
  }

  /**
   * Every event after global position `after`, with its position, in position order: as published when
   * the bus numbers the positions (`subscribeAll`), as committed by any replica when the store does (the
   * feed; `after` below the feed's position reads the events in between first).
   */
  subscribeStored(listener: PositionedListener, after: number): Subscription {
    if (this.shared) return this.shared.listen(listener, after)
    return this.subscribeAll((event) => {
      const pos = positionOf(event)!
      if (pos > after) listener({ pos, event })
    })
  }

  replay(sessionId: string, afterSeq = 0, limit?: number): Promise<GatewayEvent[]> {
    return this.read(sessionId, { afterSeq, limit })
  }

  /**
   * A session's events as the store has them, followed by those still waiting to be written (the storage
   * may be failing): everything published, whatever the state of the disk.
   */
  async read(sessionId: string, query: EventQuery = {}): Promise<GatewayEvent[]> {
    return (await this.readPage(sessionId, query)).events
  }

  /** `read`, with how far it went: a page with fewer events than asked is the last only when `end` says so. */
  async readPage(sessionId: string, query: EventQuery = {}): Promise<EventPage<GatewayEvent>> {
    const waiting = this.queue.waiting()
    const page = await this.store.readEventPage(sessionId, query)
    const { types } = query
    return withWaiting(
      waiting,
      page,
      query.limit,
      (event) => (event.sessionId === sessionId ? event.seq : 0),
      (event) => (!types || types.includes(event.type) ? event : undefined),
    )
  }

  /**
   * Every session's events (or those `query` selects) after global position `afterPos`, as the store has
   * them, followed by those still waiting to be written: `readPage` across sessions, in position order.
   * When the store numbers the positions itself, the waiting events have none yet: only stored ones are read.
   */
  async readAfter(afterPos: number, query: PositionQuery = {}): Promise<EventPage<PositionedEvent>> {
    const waiting = this.positions ? this.queue.waiting() : []
    const page = await this.store.readEventsAfter(afterPos, query)
    const { sessionIds, types } = query
    return withWaiting(
      waiting,
      page,
      query.limit,
      (event) => positionOf(event)!,
      (event, pos) =>
        (sessionIds && !sessionIds.includes(event.sessionId)) || (types && !types.includes(event.type))
          ? undefined
          : { pos, event },
    )
  }

  /**
   * The last global position given to an event, 0 before any; with a shared log, the last the feed
   * delivered (committed by any replica).
   */
  get lastPos(): number {
    return this.shared ? this.shared.last : this.knownPos
  }

  /** Be told about events the store refused (they were delivered, but are not kept). */
  onEventRejected(handler: RejectionHandler): Subscription {
    this.rejectionHandlers.add(handler)
    return { close: () => this.rejectionHandlers.delete(handler) }
  }

  /**
   * A session's last seq, loaded (`loadSeq`) or counted since. Throws SeqNotLoadedError for a session not
   * loaded: await `loadSeq` instead where that may be.
   */
  currentSeq(sessionId: string): number {
    return this.lastSeq.current(sessionId)
  }

  /**
   * A session's last seq, read from the store the first time and counted in memory from then on: awaited
   * before the bus publishes for a session it has not seen since it opened (the engine loads a session's
   * sequence with its record).
   */
  loadSeq(sessionId: string): Promise<number> {
    return this.lastSeq.load(sessionId)
  }

  /**
   * Forget a session's counted seq and read it from the store again, once this replica's waiting events are
   * written: another replica may have published for the session since (it owned the session meanwhile,
   * src/engine/ownership.ts), and numbering on from the old count would repeat its numbers.
   */
  async reloadSeq(sessionId: string): Promise<number> {
    await this.flush()
    // A load under way may have read the store before the other replica's last events: not this one's.
    this.lastSeq.forget(sessionId)
    return this.loadSeq(sessionId)
  }

  /**
   * Delete a session's events: `deleteStored` deletes them from the store, run when no write is under way,
   * so that none of the session's events is written after it; once it succeeded, its events not yet written
   * are dropped and its counter forgotten. When it fails, nothing is dropped (the purge can be tried again).
   */
  async purge(sessionId: string, deleteStored: () => Promise<void>): Promise<void> {
    await this.queue.exclusive(async () => {
      await deleteStored()
      this.queue.forget(sessionId)
      this.lastSeq.forget(sessionId)
    })
  }

  /**
   * Forget a session this replica no longer owns (another took it over): its events not written yet are
   * dropped, since the new owner numbers on from the stored ones and a late write would collide with its
   * events, and its counter is read from the store again if it is ever needed here.
   */
  disown(sessionId: string): void {
    this.queue.forget(sessionId)
    this.lastSeq.forget(sessionId)
  }

  /**
   * Write the waiting events now, after a write under way. Resolves once they are written, or failed to be
   * (they wait for the next attempt then): what the storage refuses is dropped and reported.
   */
  flush(): Promise<void> {
    return this.queue.flush()
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

  /** Refuses an event that cannot be serialised, or any but the essential ones past the limit. */
  private admit(event: GatewayEvent): void {
    this.queue.checkRoom(event)
    try {
      // Serialised once for the store and every subscriber (json.ts); here, so that a failure costs no one else.
      eventJson(event)
    } catch (error) {
      throw new EventRejectedError(event, error)
    }
  }

  /** Live events from now on: those published so far have been read (or were not asked for). */
  private addFollower(sessionId: string, listener: Listener): Subscription {
    // Not loaded: nothing was published for the session here, and whatever will be comes after its load.
    return member(this.followers, sessionId, { listener, after: this.lastSeq.get(sessionId) ?? 0 })
  }

  /** Stops reading the shared log (the gateway closes). */
  close(): void {
    this.shared?.close()
  }

  private deliver(listener: Listener, event: GatewayEvent): void {
    try {
      listener(event)
    } catch (error) {
      this.options.onListenerError?.(error, event)
    }
  }
}
