import type { Logger } from 'pino'
import type { Store } from '../store/types.js'
import type { Listener, PositionedListener, Subscription } from './bus.js'
import type { Fanout } from './fanout.js'
import { member } from './membership.js'
import { type PositionedEvent, positionOf } from './positions.js'
import { RemoteFeed } from './remote-feed.js'
import type { SeqCounter } from './seq-counter.js'
import type { GatewayEvent } from './types.js'

/**
 * What tells every replica that events were committed (fanout.ts), this replica's name in its notices, and
 * how often the log is read without a notice (remote-feed.ts).
 */
export interface SharedLogOptions {
  fanout: Fanout
  replica: string
  logger: Logger
  pollMs?: number
}

/**
 * The bus's side of an event log several replicas share (the store numbers the positions, PostgreSQL): the
 * log's events as any replica commits them (remote-feed.ts), how far each session is published there, the
 * follows told a session's events as they come, and the notice to every replica of what this one wrote.
 */
export class SharedLog {
  private readonly feed: RemoteFeed
  /** Each session's last seq the feed delivered: how far it is published, whoever published it. */
  private readonly storedSeq = new Map<string, number>()
  /** `follow`s of a session, told its events as the feed delivers them (those of other replicas). */
  private readonly followers = new Map<string, Set<Listener>>()

  constructor(
    store: Store,
    /** The last global position the store had when the bus opened: the feed starts after it. */
    after: number,
    private readonly options: SharedLogOptions,
    /** The bus's count of each session's last seq: it follows the log for the sessions loaded here. */
    private readonly lastSeq: SeqCounter,
    /** Hands an event to a listener; the bus's, so that a listener that throws costs no other one. */
    private readonly deliver: (listener: Listener, event: GatewayEvent) => void,
  ) {
    const { fanout, logger, pollMs } = options
    this.feed = new RemoteFeed({
      read: (from, limit) => store.readEventsAfter(from, { limit }),
      fanout,
      after,
      logger,
      pollMs,
    })
    this.feed.listen((item) => this.onStored(item))
  }

  /** The last global position the feed delivered (committed by any replica). */
  get last(): number {
    return this.feed.last
  }

  /** A session's last seq the feed delivered, whoever published it; undefined before any. */
  publishedSeq(sessionId: string): number | undefined {
    return this.storedSeq.get(sessionId)
  }

  /** Events this replica wrote: every replica is told how far the log goes now. */
  written(events: readonly GatewayEvent[]): void {
    let pos = 0
    for (const event of events) pos = Math.max(pos, positionOf(event) ?? 0)
    if (pos > 0) void this.options.fanout.announce({ pos, replica: this.options.replica })
  }

  /** Every event committed after global position `after`, with its position, in position order. */
  listen(listener: PositionedListener, after: number): Subscription {
    return this.feed.listen(listener, after)
  }

  /** A session's events as the feed delivers them (a `follow` gone live). */
  follow(sessionId: string, listener: Listener): Subscription {
    return member(this.followers, sessionId, listener)
  }

  /** Stops reading the log. */
  close(): void {
    this.feed.close()
  }

  /** An event the feed delivered: committed to the shared log by this replica or another. */
  private onStored({ event }: PositionedEvent): void {
    const { sessionId } = event
    if (event.type === 'session.deleted') this.storedSeq.delete(sessionId)
    if (event.seq === 0) return
    if (event.seq > (this.storedSeq.get(sessionId) ?? 0)) this.storedSeq.set(sessionId, event.seq)
    // Another replica's event, of a session this one has loaded (to read it): the count follows the log,
    // so that reads asking how far the session goes (history pages, changes) see the owner's events too.
    const loaded = this.lastSeq.get(sessionId)
    if (loaded !== undefined && event.seq > loaded) this.lastSeq.set(sessionId, event.seq)
    const followers = this.followers.get(sessionId)
    if (followers) for (const listener of followers) this.deliver(listener, event)
  }
}
