import type { Logger } from 'pino'
import type { Subscription } from './bus.js'

/**
 * What a replica announces after a batch of events committed to the shared log: how far the log now goes.
 * Kept tiny on purpose: readers learn what changed from the database, never from the notice.
 */
export interface Notice {
  /** The global position of the batch's last event. */
  pos: number
  /** The replica that committed it (`cluster.replicaId`). */
  replica: string
}

/**
 * How the replicas wake each other when events are committed (remote-feed.ts reads them back from the
 * store). A notice may be lost; `onResync` says when some may have been.
 */
export interface Fanout {
  /** Tells every replica (this one included) that the log grew. Never throws; a failure is the fanout's to report. */
  announce(notice: Notice): Promise<void>
  onNotice(handler: (notice: Notice) => void): Subscription
  /** Called when notices may have been missed: after the fanout subscribed again, following a disconnect. */
  onResync(handler: () => void): Subscription
  close(): Promise<void>
}

/** Handlers of one kind of news: one that throws is logged and costs the others nothing. */
export class Handlers<T> {
  private readonly handlers = new Set<(value: T) => void>()

  constructor(
    private readonly logger: Logger,
    /** What the handlers are told about, for the log. */
    private readonly what: string,
  ) {}

  add(handler: (value: T) => void): Subscription {
    // Wrapped: the same function added twice is called twice, and each subscription removes its own.
    const entry = (value: T) => handler(value)
    this.handlers.add(entry)
    return { close: () => this.handlers.delete(entry) }
  }

  call(value: T): void {
    for (const handler of this.handlers) {
      try {
        handler(value)
      } catch (error) {
        this.logger.error({ err: error }, `A handler of ${this.what} failed`)
      }
    }
  }

  clear(): void {
    this.handlers.clear()
  }
}

/**
 * The fanout of a single gateway: the only replica there is hears its own notices, at once, in the same
 * process. Nothing can be missed, so `onResync` is never called.
 */
export class LocalFanout implements Fanout {
  private readonly notices: Handlers<Notice>
  private closed = false

  constructor(logger: Logger) {
    this.notices = new Handlers(logger, 'event notices')
  }

  async announce(notice: Notice): Promise<void> {
    if (!this.closed) this.notices.call(notice)
  }

  onNotice(handler: (notice: Notice) => void): Subscription {
    return this.notices.add(handler)
  }

  onResync(_handler: () => void): Subscription {
    return { close: () => {} }
  }

  async close(): Promise<void> {
    this.closed = true
    this.notices.clear()
  }
}
