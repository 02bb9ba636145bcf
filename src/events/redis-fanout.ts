/**
 * The replicas' fanout through Redis pub/sub: after each committed batch of events, its replica PUBLISHes a
 * notice on one channel, and every replica (itself too) SUBSCRIBEs to it.
 *
 * Pub/sub delivers at most once: a notice published while a subscriber is disconnected, or dropped with a
 * slow subscriber's buffer, is gone. That is enough here because a notice carries no event, only the news
 * that the log grew. PostgreSQL holds the events and their order (the global position, assigned in commit
 * order), and every replica reads them from there (remote-feed.ts): a lost notice only delays events until
 * the next one, the resync this fanout reports after subscribing again, or the readers' safety poll. Nothing
 * needs to be stored in Redis, and a Redis outage costs latency, never events.
 *
 * NATS JetStream (or Redis Streams) would be the better fit if the messages themselves had to be durable in
 * the broker: events carried in the messages with no database to read them back from, consumers that must
 * replay from an acknowledged offset after being away, or replicas too many for each to poll the database.
 */
import type { Logger } from 'pino'
import { createClient } from 'redis'
import { maskUrlPassword } from '../effective-config.js'
import type { Subscription } from './bus.js'
import { type Fanout, Handlers, type Notice } from './fanout.js'

type RedisClient = ReturnType<typeof createClient>

export interface RedisFanoutOptions {
  /** `redis://` or `rediss://` (`cluster.redisUrl`); its password is never logged. */
  url: string
  /**
   * Starts the channel's name (`cluster.keyPrefix`): replicas of one deployment share it, another
   * deployment on the same Redis picks its own.
   */
  keyPrefix: string
  logger: Logger
  /** The connections' name in Redis's CLIENT LIST (`ccgw-<replica id>`, say): whose they are. */
  clientName?: string
  /** First and longest wait between reconnection attempts, in ms (it doubles in between, plus some jitter). */
  reconnectDelayMs?: { min: number; max: number }
  /** How long a connection attempt may take, in ms. */
  connectTimeoutMs?: number
  /** Announcements that may wait for Redis's answer; past it an announcement fails (counted). */
  maxPendingAnnouncements?: number
  /** How long `close` waits for the announcements under way before it drops the connections, in ms. */
  closeTimeoutMs?: number
}

/** What the fanout did since it started, for the metrics. */
export interface FanoutCounts {
  announced: number
  /** Announcements Redis did not take (down, or too many waiting): the readers' poll finds their events. */
  announceFailures: number
  notices: number
  /** Messages on the channel that are not notices; ignored. */
  malformedNotices: number
  /** Times the subscriber subscribed again after a disconnect. */
  resyncs: number
}

const DEFAULT_RECONNECT_DELAY_MS = { min: 100, max: 5_000 }
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000
/** A few seconds of a busy gateway's batches (one per tick at most, but ticks are short). */
const DEFAULT_MAX_PENDING_ANNOUNCEMENTS = 1_000
const DEFAULT_CLOSE_TIMEOUT_MS = 2_000

/**
 * Connects to Redis and subscribes to the notices. Rejects, naming the URL (without its password), when
 * Redis cannot be reached: a replica without its fanout would serve stale live streams, so it does not start.
 */
export async function connectRedisFanout(options: RedisFanoutOptions): Promise<RedisFanout> {
  const fanout = new RedisFanout(options)
  try {
    await fanout.start()
    return fanout
  } catch (error) {
    await fanout.close()
    const why = error instanceof Error && error.message ? error.message : String(error)
    throw new Error(`Cannot connect to Redis at ${maskUrlPassword(options.url)}: ${why}`, { cause: error })
  }
}

export class RedisFanout implements Fanout {
  /** The channel the notices go through. */
  readonly channel: string
  readonly counts: FanoutCounts = {
    announced: 0,
    announceFailures: 0,
    notices: 0,
    malformedNotices: 0,
    resyncs: 0,
  }
  private readonly publisher: RedisClient
  /** Its own connection: a subscribed connection takes no other command. */
  private readonly subscriber: RedisClient
  private readonly notices: Handlers<Notice>
  private readonly resyncs: Handlers<void>
  private readonly logger: Logger
  /** Connected and subscribed once: from then on a lost connection is reconnected, and a reconnect is a resync. */
  private started = false
  private closed = false
  /** The connections lost since their last `ready` (each logged once per outage). */
  private readonly down = new Set<RedisClient>()
  /** The first failed announcement of a run of them, logged once; null while they succeed. */
  private announceFailingSince: number | null = null

  /** Use `connectRedisFanout`. */
  constructor(private readonly options: RedisFanoutOptions) {
    this.channel = `${options.keyPrefix}events`
    this.logger = options.logger.child({ redis: maskUrlPassword(options.url) })
    this.notices = new Handlers(this.logger, 'event notices')
    this.resyncs = new Handlers(this.logger, 'event resyncs')
    const delay = options.reconnectDelayMs ?? DEFAULT_RECONNECT_DELAY_MS
    this.publisher = createClient({
      url: options.url,
      name: options.clientName,
      // An announcement while Redis is down fails at once rather than queueing up behind the outage.
      disableOfflineQueue: true,
      commandsQueueMaxLength: options.maxPendingAnnouncements ?? DEFAULT_MAX_PENDING_ANNOUNCEMENTS,
      socket: {
        connectTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        // Before the start, a failure is the start's (`connectRedisFanout` rejects); after it, the
        // connection is tried again for as long as it takes, at most `max` apart.
        reconnectStrategy: (retries) =>
          this.started && !this.closed
            ? Math.min(delay.max, delay.min * 2 ** retries) + Math.floor(Math.random() * delay.min)
            : false,
      },
    })
    this.subscriber = this.publisher.duplicate()
    for (const client of [this.publisher, this.subscriber]) {
      // Without an 'error' listener node-redis would throw: a Redis failure must never end the process.
      client.on('error', (error: unknown) => this.connectionFailed(client, error))
      client.on('ready', () => this.connectionReady(client))
    }
  }

  /** Connects both connections and subscribes. */
  async start(): Promise<void> {
    await Promise.all([this.publisher.connect(), this.subscriber.connect()])
    await this.subscriber.subscribe(this.channel, (message) => this.received(message))
    this.started = true
    this.logger.info({ channel: this.channel }, 'Connected to Redis: live events reach the other replicas')
  }

  async announce(notice: Notice): Promise<void> {
    if (this.closed) return
    try {
      await this.publisher.publish(this.channel, JSON.stringify({ pos: notice.pos, replica: notice.replica }))
      this.counts.announced++
      if (this.announceFailingSince !== null) {
        this.logger.info(
          { failedForMs: Date.now() - this.announceFailingSince },
          'Announcing events works again',
        )
        this.announceFailingSince = null
      }
    } catch (error) {
      this.counts.announceFailures++
      if (this.closed || this.announceFailingSince !== null) return
      this.announceFailingSince = Date.now()
      this.logger.warn(
        { err: error },
        'Cannot announce committed events through Redis: the other replicas find them by their poll',
      )
    }
  }

  onNotice(handler: (notice: Notice) => void): Subscription {
    return this.notices.add(handler)
  }

  onResync(handler: () => void): Subscription {
    return this.resyncs.add(handler)
  }

  /**
   * Quits both connections, after the announcements under way (up to `closeTimeoutMs`). Closed during an
   * outage, node-redis's wait before its next attempt still runs out (`reconnectDelayMs.max` at most),
   * holding the process that long unless it exits by itself, as the gateway does at shutdown.
   */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.notices.clear()
    this.resyncs.clear()
    const timeoutMs = this.options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS
    await Promise.all([quit(this.publisher, timeoutMs), quit(this.subscriber, timeoutMs)])
  }

  private received(message: string): void {
    const notice = parseNotice(message)
    if (!notice) {
      this.counts.malformedNotices++
      // Someone else publishes on the channel (a prefix shared by mistake?): said once, then counted.
      const level = this.counts.malformedNotices === 1 ? 'warn' : 'debug'
      this.logger[level](
        { channel: this.channel, bytes: message.length },
        'Ignored a message that is no notice',
      )
      return
    }
    this.counts.notices++
    this.notices.call(notice)
  }

  private connectionFailed(client: RedisClient, error: unknown): void {
    // Before the start, `connectRedisFanout` reports the failure; after `close`, nobody needs to know.
    if (!this.started || this.closed) return
    const connection = client === this.subscriber ? 'subscriber' : 'publisher'
    if (this.down.has(client)) {
      this.logger.debug({ err: error, connection }, 'Redis still cannot be reached')
      return
    }
    this.down.add(client)
    this.logger.warn({ err: error, connection }, 'Lost the connection to Redis: reconnecting')
  }

  private connectionReady(client: RedisClient): void {
    if (!this.started || this.closed) return
    if (this.down.delete(client)) {
      this.logger.info(
        { connection: client === this.subscriber ? 'subscriber' : 'publisher' },
        'Reconnected to Redis',
      )
    }
    // node-redis subscribes again before it is ready: notices published in between were missed.
    if (client === this.subscriber) {
      this.counts.resyncs++
      this.resyncs.call()
    }
  }
}

/** A notice as `announce` publishes it, or undefined for anything else. */
function parseNotice(message: string): Notice | undefined {
  try {
    const { pos, replica } = JSON.parse(message) as Partial<Notice>
    if (Number.isSafeInteger(pos) && pos! >= 0 && typeof replica === 'string') return { pos: pos!, replica }
  } catch {}
  return undefined
}

/** Closes a connection after its commands under way, or drops it when they take longer than `timeoutMs`. */
async function quit(client: RedisClient, timeoutMs: number): Promise<void> {
  if (!client.isOpen) {
    client.destroy()
    return
  }
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), timeoutMs)
  })
  try {
    if ((await Promise.race([client.close(), late])) === 'late') client.destroy()
  } finally {
    clearTimeout(timer)
  }
}
