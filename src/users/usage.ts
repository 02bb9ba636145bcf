/**
 * What each user uses: the turns running now in their sessions, the tokens and cost of the turns they
 * ran, kept per UTC day in the store (`store.access.addUsage`), and their requests of the last minute
 * (`MemoryWindow`, or `RedisWindow` shared by replicas). Read from the events this replica publishes
 * (`bus.subscribeAll`), so that a turn is counted once however many replicas share the log: the one that
 * runs it meters it.
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { RedisClientType } from 'redis'
import { SerialWriter } from '../engine/serial-writer.js'
import type { EventBus } from '../events/bus.js'
import type { GatewayEvent } from '../events/types.js'
import type { AccessStore, UsageDelta } from '../store/access.js'
import type { SessionRecord } from '../store/types.js'

const DAY_MS = 86_400_000

/** The UTC day of `at` (ms since the epoch), `YYYY-MM-DD`: what usage is kept by. */
export const utcDay = (at: number): string => new Date(at).toISOString().slice(0, 10)

/** The first day of the UTC month of `at`, `YYYY-MM-DD`. */
export const utcMonthStart = (at: number): string => `${utcDay(at).slice(0, 8)}01`

/** When the UTC day after `at` begins: a daily quota's reset. */
export const nextUtcDay = (at: number): number => (Math.floor(at / DAY_MS) + 1) * DAY_MS

/** When the UTC month after `at` begins: a monthly quota's reset. */
export function nextUtcMonth(at: number): number {
  const date = new Date(at)
  // Date.UTC carries month 12 into January of the next year.
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1)
}

/**
 * What the meter asks the engine: a session's record (its owner) and, when it can tell, whether the
 * session's process is on a turn (a turn whose end this replica never sees is then not counted forever).
 */
export interface MeteredSessions {
  getSession(id: string): Promise<SessionRecord | undefined>
  runnerOf?(id: string): { busy: boolean } | null
}

/** Session owners kept in memory at most (an owner never changes; a forgotten one is read again). */
const OWNER_CACHE_LIMIT = 10_000
/** How soon usage the store refused is written again. */
const RETRY_MS = 5_000

export const ZERO_USAGE: Readonly<UsageDelta> = Object.freeze({
  inputTokens: 0,
  outputTokens: 0,
  costUsd: 0,
  turns: 0,
})

export class UsageMeter {
  private readonly owners = new Map<string, string | null>()
  /** Sessions a turn was seen starting in and not yet ending (checked against the engine when counted). */
  private readonly running = new Set<string>()
  /** Usage not written yet, by `<user>\n<day>`: added to what the store says until it is. */
  private readonly unwritten = new Map<string, UsageDelta>()
  /** Writes what waits, one write at a time; while the store fails, again after RETRY_MS. */
  private readonly writes = new SerialWriter(() => this.write())
  private failing = false
  private readonly subscription: { close(): void }

  constructor(
    bus: Pick<EventBus, 'subscribeAll'>,
    private readonly sessions: MeteredSessions,
    private readonly access: Pick<AccessStore, 'addUsage' | 'usage'>,
    private readonly log: Logger,
  ) {
    this.subscription = bus.subscribeAll((event) => this.observe(event))
  }

  /** The session's owner (null: the operator's; undefined: no such session), remembered once read. */
  async ownerOf(sessionId: string): Promise<string | null | undefined> {
    if (this.owners.has(sessionId)) return this.owners.get(sessionId)
    const record = await this.sessions.getSession(sessionId)
    if (!record) return undefined
    const owner = record.owner ?? null
    this.owners.set(sessionId, owner)
    if (this.owners.size > OWNER_CACHE_LIMIT) this.owners.delete(this.owners.keys().next().value as string)
    return owner
  }

  /** Turns running now on this replica in `user`'s sessions. */
  async runningTurns(user: string): Promise<number> {
    return (await this.runningSessions(user)).size
  }

  /** The sessions of `user` on a turn now on this replica (a new set, the caller's to change). */
  async runningSessions(user: string): Promise<Set<string>> {
    const sessions = new Set<string>()
    for (const sessionId of [...this.running]) {
      // A turn that ended without its event reaching here (the session moved to another replica, say) is
      // not counted again: the engine says whether the session's process is on a turn.
      if (this.sessions.runnerOf && this.sessions.runnerOf(sessionId)?.busy !== true) {
        this.running.delete(sessionId)
        continue
      }
      if ((await this.ownerOf(sessionId).catch(() => undefined)) === user) sessions.add(sessionId)
    }
    return sessions
  }

  /** The user's usage over days `from` to `to` (inclusive, `YYYY-MM-DD`): the store's and what waits. */
  async usage(user: string, from: string, to: string): Promise<UsageDelta> {
    const stored = await this.access.usage(user, from, to)
    const total = { ...stored }
    for (const [key, delta] of this.unwritten) {
      const [name, day] = key.split('\n') as [string, string]
      if (name === user && day >= from && day <= to) add(total, delta)
    }
    return total
  }

  /** Stops listening and writes what waits (once more, if the store takes it). */
  async close(): Promise<void> {
    this.subscription.close()
    this.writes.cancelRetry()
    await this.writes.settled()
    if (this.unwritten.size > 0) await this.write()
    if (this.unwritten.size > 0)
      this.log.error({ users: [...this.unwritten.keys()].map((key) => key.split('\n')[0]) }, 'usage lost')
  }

  private observe(event: GatewayEvent): void {
    switch (event.type) {
      case 'turn.started':
        this.running.add(event.sessionId)
        return
      case 'turn.completed':
        this.running.delete(event.sessionId)
        this.meter(event)
        return
      case 'session.state':
        if (event.state !== 'running') this.running.delete(event.sessionId)
        return
      case 'session.deleted':
        this.running.delete(event.sessionId)
        this.owners.delete(event.sessionId)
        return
    }
  }

  private meter(event: Extract<GatewayEvent, { type: 'turn.completed' }>): void {
    const day = utcDay(event.ts)
    void this.ownerOf(event.sessionId).then(
      (owner) => {
        if (!owner) return
        const key = `${owner}\n${day}`
        const delta = this.unwritten.get(key) ?? { ...ZERO_USAGE }
        add(delta, {
          inputTokens: event.usage.inputTokens,
          outputTokens: event.usage.outputTokens,
          costUsd: event.costUsd,
          turns: 1,
        })
        this.unwritten.set(key, delta)
        this.writes.flush()
      },
      (err: unknown) =>
        this.log.error(
          { err, session: event.sessionId, turn: event.turnId },
          "a turn's usage is not counted: its session's owner cannot be read",
        ),
    )
  }

  /** Never rejects: a failure is logged once per run of failures, and the usage waits in memory. */
  private async write(): Promise<void> {
    for (const [key, delta] of [...this.unwritten]) {
      const [user, day] = key.split('\n') as [string, string]
      // Taken out before the write: usage added meanwhile goes into a new entry, written next.
      this.unwritten.delete(key)
      try {
        await this.access.addUsage(user, day, delta)
      } catch (err) {
        const waiting = this.unwritten.get(key)
        this.unwritten.set(key, waiting ? add(waiting, delta) : delta)
        if (!this.failing) this.log.error({ err, user, day }, 'usage cannot be written; it is tried again')
        this.failing = true
        // A write asked for meanwhile tries again anyway.
        if (!this.writes.queued) this.writes.retryIn(RETRY_MS)
        return
      }
      if (this.failing) this.log.info('usage is written again')
      this.failing = false
    }
  }
}

function add(total: UsageDelta, delta: UsageDelta): UsageDelta {
  total.inputTokens += delta.inputTokens
  total.outputTokens += delta.outputTokens
  total.costUsd += delta.costUsd
  total.turns += delta.turns
  return total
}

/** The window requests a minute are counted over. */
export const MINUTE_MS = 60_000

export interface WindowTake {
  admitted: boolean
  /** Requests in the window, this one included when admitted. */
  count: number
  /** Refused: until enough requests leave the window for one more, ms. */
  retryAfterMs: number
}

/** Requests of the last minute, per user: `take` counts one if the limit allows it. */
export interface RequestWindow {
  take(user: string, limit: number, now: number): Promise<WindowTake>
  count(user: string, now: number): Promise<number>
}

/** A sliding window in memory: the times of each user's requests within the last `windowMs`. */
export class MemoryWindow implements RequestWindow {
  private readonly times = new Map<string, number[]>()

  constructor(private readonly windowMs = MINUTE_MS) {}

  async take(user: string, limit: number, now: number): Promise<WindowTake> {
    return this.takeNow(user, limit, now)
  }

  /** `take` without waiting: two requests in the same tick cannot both see the last free place. */
  takeNow(user: string, limit: number, now: number): WindowTake {
    const times = this.recent(user, now)
    if (times.length >= limit) {
      // The request that must leave for one more to fit: with `limit` in the window, the oldest.
      const leaving = times[times.length - limit]!
      return { admitted: false, count: times.length, retryAfterMs: leaving + this.windowMs - now }
    }
    times.push(now)
    this.times.set(user, times)
    return { admitted: true, count: times.length, retryAfterMs: 0 }
  }

  async count(user: string, now: number): Promise<number> {
    return this.recent(user, now).length
  }

  private recent(user: string, now: number): number[] {
    const times = this.times.get(user) ?? []
    let expired = 0
    while (expired < times.length && times[expired]! <= now - this.windowMs) expired++
    const kept = expired > 0 ? times.slice(expired) : times
    if (kept.length === 0) this.times.delete(user)
    else if (expired > 0) this.times.set(user, kept)
    return kept
  }
}

/**
 * The same window in Redis, shared by the replicas: a sorted set of request times per user, checked and
 * added to in one script so that two replicas cannot both take the last place.
 */
const TAKE_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
local count = redis.call('ZCARD', KEYS[1])
local limit = tonumber(ARGV[3])
if count >= limit then
  local leaving = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
  return {0, count, tonumber(leaving[2])}
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, count + 1, 0}
`

export class RedisWindow implements RequestWindow {
  /** While Redis cannot be reached: this replica's own count, rather than refusing every turn. */
  private readonly fallback: MemoryWindow
  private failing = false

  constructor(
    private readonly kv: RedisClientType,
    private readonly keyPrefix: string,
    private readonly log: Logger,
    private readonly windowMs = MINUTE_MS,
  ) {
    this.fallback = new MemoryWindow(windowMs)
  }

  async take(user: string, limit: number, now: number): Promise<WindowTake> {
    let reply: [number, number, number]
    try {
      reply = (await this.kv.eval(TAKE_SCRIPT, {
        keys: [this.key(user)],
        arguments: [String(now), String(this.windowMs), String(limit), `${now}:${randomUUID()}`],
      })) as [number, number, number]
    } catch (err) {
      this.failed(err)
      return this.fallback.takeNow(user, limit, now)
    }
    this.failing = false
    const [admitted, count, leaving] = reply.map(Number) as [number, number, number]
    return admitted === 1
      ? { admitted: true, count, retryAfterMs: 0 }
      : { admitted: false, count, retryAfterMs: leaving + this.windowMs - now }
  }

  async count(user: string, now: number): Promise<number> {
    try {
      return await this.kv.zCount(this.key(user), `(${now - this.windowMs}`, '+inf')
    } catch (err) {
      this.failed(err)
      return this.fallback.count(user, now)
    }
  }

  private failed(err: unknown): void {
    if (!this.failing)
      this.log.warn({ err }, 'Redis cannot count requests a minute: each replica counts its own meanwhile')
    this.failing = true
  }

  private key(user: string): string {
    return `${this.keyPrefix}quota:rpm:${user}`
  }
}
