import type { EventPage, EventQuery, PositionQuery, Store } from '../store/types.js'
import { CatchUp } from './catch-up.js'
import { eventJson } from './json.js'
import { PositionCounter, type PositionedEvent, positionOf, setPosition } from './positions.js'
import type { EventBody, EventType, GatewayEvent } from './types.js'
import { WriteQueue, type WriteQueueOptions } from './write-queue.js'

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

/** The bus's options; those of the storage's failures are the write queue's (write-queue.ts). */
export interface BusOptions extends WriteQueueOptions {
  /** Called when a listener throws; the bus itself never lets one listener break another. */
  onListenerError?: (error: unknown, event: GatewayEvent) => void
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
 * with a growing delay until the storage works, up to `maxPendingEvents` (write-queue.ts).
 */
export class EventBus {
  private readonly lastSeq = new Map<string, number>()
  /** The global positions (positions.ts), continued above every one handed out before, written or not. */
  private readonly positions: PositionCounter
  private readonly followers = new Map<string, Set<Follower>>()
  private readonly everyListeners = new Set<Listener>()
  private readonly rejectionHandlers = new Set<RejectionHandler>()
  /** The events not yet written: those of this tick, or all since the storage failed. */
  private readonly queue: WriteQueue

  constructor(
    private readonly store: Store,
    private readonly options: BusOptions = {},
  ) {
    this.positions = new PositionCounter(store)
    this.queue = new WriteQueue(store, this.positions, (event, error) => this.reject(event, error), options)
  }

  /** Change `maxPendingEvents` (configuration reload). */
  setMaxPendingEvents(limit: number): void {
    this.queue.setMaxPendingEvents(limit)
  }

  /**
   * Number (its session's `seq` and its global position), keep and deliver an event. Throws
   * EventRejectedError, publishing nothing, when the event cannot be serialised; throws a StoreError when
   * the storage fails and `maxPendingEvents` events already wait.
   */
  publish(sessionId: string, body: EventBody): GatewayEvent {
    const inSequence = !OUTSIDE_SEQUENCE.has(body.type)
    const seq = inSequence ? this.currentSeq(sessionId) + 1 : 0
    const event = { ...body, seq, ts: Date.now(), sessionId } as GatewayEvent
    this.admit(event)
    if (inSequence) this.lastSeq.set(sessionId, seq)
    // While the storage fails, its events wait unwritten and unreserved alike: `flush` reserves both.
    setPosition(event, this.positions.next(!this.queue.failing))
    this.queue.add(event)
    // A follower added during this delivery has seen this event already (`after`), so it is skipped; so is
    // an event outside the sequence (seq 0).
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
   * Follow a session at the consumer's pace, from after `afterSeq` (catch-up.ts): the stored events are read
   * a page at a time while the sink has room, then the live ones as they are published; a sink that fills
   * up leaves the live fan-out and catches up from the store. Nothing is queued here for a slow consumer, so
   * what it costs is bounded by its own buffer, and each event reaches it once, in the session's order. The
   * first page is sent before this returns, so a short replay is as immediate as `subscribe`'s.
   */
  follow(sessionId: string, afterSeq: number, sink: EventSink, pageSize = REPLAY_PAGE_SIZE): Subscription {
    const catchUp: CatchUp<GatewayEvent> = new CatchUp(afterSeq, sink, {
      read: (after) => this.readPage(sessionId, { afterSeq: after, limit: pageSize }),
      placeOf: (event) => event.seq,
      send: (event) => sink.send(event),
      goLive: () => this.addFollower(sessionId, onLive),
    })
    const onLive = (event: GatewayEvent) => {
      if (sink.send(event) || catchUp.closed) return
      catchUp.sent = event.seq
      catchUp.fellBehind()
    }
    return catchUp.start()
  }

  /**
   * Every event as published, in position order, those outside any session's sequence too (metrics,
   * `followAll`).
   */
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
    return this.readPage(sessionId, query).events
  }

  /** `read`, with how far it went: a page with fewer events than asked is the last only when `end` says so. */
  readPage(sessionId: string, query: EventQuery = {}): EventPage<GatewayEvent> {
    this.queue.settle()
    const page = this.store.readEventPage(sessionId, query)
    const { types } = query
    return this.queue.withWaiting(
      page,
      query.limit,
      (event) => (event.sessionId === sessionId ? event.seq : 0),
      (event) => (!types || types.includes(event.type) ? event : undefined),
    )
  }

  /**
   * Every session's events (or those `query` selects) after global position `afterPos`, as the store has
   * them, followed by those still waiting to be written: `readPage` across sessions, in position order.
   */
  readAfter(afterPos: number, query: PositionQuery = {}): EventPage<PositionedEvent> {
    this.queue.settle()
    const page = this.store.readEventsAfter(afterPos, query)
    const { sessionIds, types } = query
    return this.queue.withWaiting(
      page,
      query.limit,
      (event) => positionOf(event)!,
      (event, pos) =>
        (sessionIds && !sessionIds.includes(event.sessionId)) || (types && !types.includes(event.type))
          ? undefined
          : { pos, event },
    )
  }

  /** The last global position given to an event, 0 before any. */
  get lastPos(): number {
    return this.positions.last
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
    this.queue.forget(sessionId)
    this.lastSeq.delete(sessionId)
  }

  /**
   * Write the waiting events now. Never throws: what the storage cannot take now waits for the next
   * attempt, what it refuses is dropped and reported.
   */
  flush(): void {
    this.queue.flush()
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
