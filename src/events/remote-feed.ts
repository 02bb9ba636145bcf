import type { Logger } from 'pino'
import { Backoff } from '../engine/timers.js'
import type { EventPage } from '../store/types.js'
import { REPLAY_PAGE_SIZE, type Subscription } from './bus.js'
import type { Fanout } from './fanout.js'
import type { PositionedEvent } from './positions.js'

export type RemoteListener = (item: PositionedEvent) => void

export interface RemoteFeedOptions {
  /** The shared log's events after a global position, in position order (`Store.readEventsAfter`). */
  read: (afterPos: number, limit: number) => Promise<EventPage<PositionedEvent>>
  /** What wakes the feed: notices of committed events, and resyncs when some may have been missed. */
  fanout: Pick<Fanout, 'onNotice' | 'onResync'>
  /** The position the feed starts after: events at or below it are never delivered. */
  after: number
  logger: Logger
  /** Events read at a time (REPLAY_PAGE_SIZE). */
  pageSize?: number
  /**
   * How often the log is read without a notice, in ms (DEFAULT_POLL_MS): notices are at most once, so a
   * lost one delays its events by this much at worst.
   */
  pollMs?: number
  /** First and longest wait before reading again after a failed read, in ms (it doubles in between). */
  retryDelayMs?: { min: number; max: number }
}

export const DEFAULT_POLL_MS = 1_000
const DEFAULT_RETRY_DELAY_MS = { min: 100, max: 5_000 }

/** A listener, with the last position it has been given (or asked to start after). */
interface Member {
  listener: RemoteListener
  after: number
  /**
   * Joined behind the feed after the read under way started: that read does not cover its events, the
   * next one (from its position) does, so this one gives it nothing.
   */
  waiting: boolean
}

/**
 * The events every replica commits to the shared log, delivered to this replica's listeners exactly once
 * each, in position order. The log is the source of truth: a notice (fanout.ts) only says when to read it.
 * The feed reads on a notice past what it has delivered, on a resync, at start and on a safety poll; one
 * read loop at a time, which pages until the end of the log, and notices that arrive meanwhile make it read
 * once more rather than start another. A failed read (the database is down) is logged and tried again with
 * a growing delay; the position it would have gone on from is kept.
 *
 * A listener may start behind the feed (a client that caught up from the store while the feed read on):
 * the loop then reads from the lowest position any listener needs, and gives each listener only the events
 * past its own position, so every listener gets every event after its start once, whichever joined when.
 */
export class RemoteFeed {
  /** The feed's own position: every event up to it has been read and delivered. */
  private position: number
  private readonly members = new Set<Member>()
  /** Something may be past what was read: a notice, a resync, the poll, the start. */
  private wanted = true
  private reading = false
  private closed = false
  /** The first failure of a run of failed reads, logged once; null while reads succeed. */
  private failingSince: number | null = null
  private readonly pageSize: number
  private readonly retry: Backoff
  private readonly poll: NodeJS.Timeout
  private readonly subscriptions: Subscription[]

  constructor(private readonly options: RemoteFeedOptions) {
    this.position = options.after
    this.pageSize = options.pageSize ?? REPLAY_PAGE_SIZE
    const delay = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS
    this.retry = new Backoff(() => this.wake(), delay.min, delay.max)
    this.poll = setInterval(() => this.wake(), options.pollMs ?? DEFAULT_POLL_MS)
    // The feed serves the process's connections; it alone keeps nothing alive.
    this.poll.unref()
    this.subscriptions = [
      options.fanout.onNotice(({ pos }) => {
        if (pos > this.position) this.wake()
      }),
      options.fanout.onResync(() => this.wake()),
    ]
    this.wake()
  }

  /** The last position read and delivered (the start before the first read). */
  get last(): number {
    return this.position
  }

  /**
   * Delivers the events after `after` (the feed's position by default) to `listener`, in order, each once.
   * Nothing at or below `after` reaches it; when `after` is behind the feed, the events in between are read
   * again for it before it gets any later one.
   */
  listen(listener: RemoteListener, after = this.position): Subscription {
    const member: Member = { listener, after, waiting: after < this.position }
    this.members.add(member)
    if (member.waiting) this.wake()
    return { close: () => this.members.delete(member) }
  }

  close(): void {
    this.closed = true
    this.retry.cancel()
    clearInterval(this.poll)
    for (const subscription of this.subscriptions) subscription.close()
    this.members.clear()
  }

  /** Reads now, or once the read in flight (or the wait after a failure) is over. */
  private wake(): void {
    if (this.closed) return
    this.wanted = true
    if (this.reading || this.retry.pending) return
    void this.run()
  }

  private async run(): Promise<void> {
    this.reading = true
    try {
      while (!this.closed && (this.wanted || this.lowest() < this.position)) {
        this.wanted = false
        let page: EventPage<PositionedEvent>
        do {
          const from = this.lowest()
          for (const member of this.members) member.waiting = false
          page = await this.options.read(from, this.pageSize)
          if (this.closed) return
          this.deliver(from, page)
        } while (!page.end)
      }
      this.recovered()
    } catch (error) {
      this.failed(error)
    } finally {
      this.reading = false
    }
  }

  /** The lowest position the next read must start after: the feed's, or a listener's behind it. */
  private lowest(): number {
    let lowest = this.position
    for (const member of this.members) if (member.after < lowest) lowest = member.after
    return lowest
  }

  /** Gives a page read after `from` to the listeners it covers: all but those waiting for another read. */
  private deliver(from: number, page: EventPage<PositionedEvent>): void {
    for (const item of page.events) {
      if (item.pos <= from) continue
      if (item.pos > this.position) this.position = item.pos
      // The set itself, not a copy: a listener added by another during this delivery gets the events after
      // its start from this page on, and one removed gets no more.
      for (const member of this.members) {
        if (member.waiting || item.pos <= member.after) continue
        member.after = item.pos
        try {
          member.listener(item)
        } catch (error) {
          this.options.logger.error(
            { err: error, pos: item.pos },
            'A listener of the shared event log failed',
          )
        }
      }
    }
    // Rows the page skipped (unreadable ones) count as read. At the end of the log, positions up to the
    // feed's are holes (deleted sessions' events): nothing will be committed below a committed position.
    const reached = page.end ? Math.max(page.last, this.position) : page.last
    if (reached > this.position) this.position = reached
    for (const member of this.members) if (!member.waiting && member.after < reached) member.after = reached
  }

  private failed(error: unknown): void {
    if (this.failingSince === null) {
      this.failingSince = Date.now()
      this.options.logger.warn(
        { err: error, after: this.position },
        'Cannot read the shared event log: reading again with a growing delay',
      )
    } else {
      this.options.logger.debug({ err: error }, 'The shared event log still cannot be read')
    }
    this.wanted = true
    this.retry.failed()
  }

  private recovered(): void {
    this.retry.succeeded()
    if (this.failingSince === null) return
    this.options.logger.info(
      { failedForMs: Date.now() - this.failingSince, at: this.position },
      'The shared event log can be read again',
    )
    this.failingSince = null
  }
}
