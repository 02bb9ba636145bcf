import { setImmediate as loopTurn } from 'node:timers/promises'
import type { EventPage } from '../store/types.js'
import type { Subscription } from './bus.js'

/** Where the caught-up items go: the parts of `EventSink` and `PositionedSink` that do not depend on them. */
interface PacedSink {
  /** Resolves once the consumer has room again, or has ended. */
  drained(): Promise<void>
  /** The items could not be read: the sink ends, saying why. */
  fail(error: unknown): void
}

/** What a followed stream's items are and how they are read, sent and then followed live. */
export interface CatchUpSource<T> {
  /**
   * How far the stream has been published, as the bus counts in memory (a session's last seq, the last
   * global position): read before and after each read, synchronously, to tell whether anything was
   * published while the read was under way.
   */
  published(): number
  /** The next page of stored (and waiting) items after place `after`. */
  read(after: number): Promise<EventPage<T>>
  /** An item's place in the stream: a session's `seq` or a global position. */
  placeOf(item: T): number
  /** Sends an item to the sink; false when the sink is full. */
  send(item: T): boolean
  /**
   * Caught up: subscribe to the live items. Called synchronously after a read that found nothing more and
   * with nothing published since it started, so nothing can be published in between.
   */
  goLive(): Subscription
}

/**
 * The paced catch-up of `EventBus.follow` and `followAll`: the stored items are read a page at a time and
 * sent while the sink has room; when it is full, sending goes on once it has drained. Caught up, the source
 * subscribes to the live items; its listener calls `fellBehind` when the sink fills up again, which leaves
 * the live fan-out and catches up from the store the same way. Nothing is queued here for a slow consumer,
 * and each item reaches it once, in order. The store answers later, and items may be published while a
 * read is under way: the last page goes live only when the bus's count in memory (`published`) did not move
 * during its read; otherwise the next page is read. The first read starts in `start`.
 */
export class CatchUp<T> implements Subscription {
  /** Every item up to this place has been sent, or was not selected. */
  sent: number
  /** Closed by the consumer: nothing more is read or sent. */
  closed = false
  private live: Subscription | null = null

  constructor(
    after: number,
    private readonly sink: PacedSink,
    private readonly source: CatchUpSource<T>,
  ) {
    this.sent = after
  }

  start(): this {
    void this.run(false)
    return this
  }

  /** A live item filled the sink up: leave the live fan-out, and catch up from the store once it drained. */
  fellBehind(): void {
    this.live?.close()
    this.live = null
    void this.run(true)
  }

  close(): void {
    this.closed = true
    this.live?.close()
    this.live = null
  }

  private async run(full: boolean): Promise<void> {
    let page: EventPage<T> = { events: [], last: this.sent, end: false }
    let next = 0
    let reads = 0
    try {
      for (;;) {
        if (full) await this.sink.drained()
        else if (reads > 0) await loopTurn() // a whole page went out: the other connections' turn
        if (this.closed) return
        full = false
        const fresh = next === page.events.length
        let published = 0
        if (fresh) {
          published = this.source.published()
          page = await this.source.read(this.sent)
          if (this.closed) return
          next = 0
          reads++
        }
        while (!full && next < page.events.length) {
          const item = page.events[next++]!
          this.sent = this.source.placeOf(item)
          full = !this.source.send(item)
        }
        if (this.closed) return
        // Past the rows the page left out too (unreadable ones): the next read starts after them.
        if (next === page.events.length) this.sent = page.last
        // The last page, sent whole, and nothing published since its read started: everything published
        // so far was considered. Decided in the same tick as going live, so nothing comes in between.
        if (!full && fresh && page.end && this.source.published() === published) {
          this.live = this.source.goLive()
          return
        }
      }
    } catch (error) {
      if (!this.closed) this.sink.fail(error)
    }
  }
}
