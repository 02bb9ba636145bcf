/**
 * Each user's quotas (`users.list[].quotas` over `users.defaultQuotas`), checked before a turn starts
 * (src/api/admission.ts, and the WebSocket's messages) and before a session is made. What was used comes
 * from the usage meter (usage.ts), requests a minute from its window (in Redis when replicas share them).
 * A quota reached is an AccessError (src/users/errors.ts): 429 with Retry-After in either API.
 */
import type { Logger } from 'pino'
import type { RedisClientType } from 'redis'
import type { Config } from '../config/index.js'
import type { EventBus } from '../events/bus.js'
import type { Quotas as QuotaSettings, UsageDelta, UserRecord } from '../store/access.js'
import type { Store } from '../store/types.js'
import type { UserDirectory } from './directory.js'
import { type QuotaName, quotaExceeded } from './errors.js'
import type { Principal } from './principal.js'
import {
  MemoryWindow,
  type MeteredSessions,
  nextUtcDay,
  nextUtcMonth,
  RedisWindow,
  type RequestWindow,
  UsageMeter,
  utcDay,
  utcMonthStart,
  ZERO_USAGE,
} from './usage.js'

/** Every limit, null where there is none. */
export type QuotaLimits = Record<QuotaName, number | null>

export const QUOTA_NAMES: readonly QuotaName[] = [
  'requestsPerMinute',
  'concurrentTurns',
  'liveSessions',
  'tokensPerDay',
  'tokensPerMonth',
  'usdPerDay',
  'usdPerMonth',
]

export const NO_LIMITS: Readonly<QuotaLimits> = Object.freeze(
  Object.fromEntries(QUOTA_NAMES.map((name) => [name, null])) as QuotaLimits,
)

/** When to try again after too many turns at once: they end at any moment. */
const CONCURRENT_RETRY_MS = 1_000
/** When to try again after too many live sessions: closing one takes a person. */
const LIVE_SESSIONS_RETRY_MS = 60_000
/**
 * The longest a session's place is held for a request making it, if the caller never releases it: by then
 * the session is in the store (where it counts) or its making failed. A safety net, not the way it ends.
 */
const SESSION_HOLD_MS = 30_000

/**
 * A user's limits: each of their own `quotas` that is set, else the default's; 0 is no limit (so a user's
 * 0 lifts a default for them). The operator (no user) has none.
 */
export function effectiveQuotas(
  defaults: QuotaSettings,
  user: Pick<UserRecord, 'quotas'> | undefined | null,
): QuotaLimits {
  if (!user) return { ...NO_LIMITS }
  const limits = { ...NO_LIMITS }
  for (const name of QUOTA_NAMES) {
    const value = user.quotas?.[name] ?? defaults[name]
    limits[name] = value === undefined || value <= 0 ? null : value
  }
  return limits
}

/**
 * A turn admitted, or a session about to be made: its place among the user's turns at once (live sessions),
 * held until the request ends (the WebSocket: until the turn has started). Releasing it twice frees one place.
 */
export interface TurnTicket {
  release(): void
}

/** A session's place, as `admitSession` holds it. */
export type SessionTicket = TurnTicket

const NO_TICKET: TurnTicket = Object.freeze({ release() {} })

/**
 * The session a turn's request is for: known from its route (`:id`), or once the request has chosen or made
 * it (the chat route); undefined until then.
 */
export type TicketSession = string | (() => string | undefined)

/** A held place: the ticket handed out, and the session it is for. */
interface Hold {
  ticket: TurnTicket
  session(): string | undefined
}

/** What a user has used, as the usage routes show it. */
export interface QuotaUse {
  requestsLastMinute: number
  concurrentTurns: number
  liveSessions: number
  tokensToday: number
  tokensThisMonth: number
  usdToday: number
  usdThisMonth: number
}

export interface QuotaReport {
  user: string | null
  quotas: QuotaLimits
  used: QuotaUse
  /** Per limit: what is left of it (never below 0); null when there is no limit. */
  remaining: QuotaLimits
  resets: { day: number; month: number }
}

export interface QuotaOptions {
  config: Config
  directory: Pick<UserDirectory, 'user'>
  store: Pick<Store, 'countSessions' | 'listSessions'>
  meter: UsageMeter
  window: RequestWindow
  /** Several replicas share the store: turns running on the others count too (their sessions' state). */
  shared: boolean
  now?: () => number
}

export class QuotaBook {
  private config: Config
  /** Turns admitted whose requests have not ended, per user. */
  private readonly turns = new Map<string, Set<Hold>>()
  /** Sessions being made (admitted, their requests not ended), per user. */
  private readonly making = new Map<string, Set<Hold>>()
  private readonly now: () => number

  constructor(private readonly options: QuotaOptions) {
    this.config = options.config
    this.now = options.now ?? Date.now
  }

  reconfigure(config: Config): void {
    this.config = config
  }

  /** The limits of a user by name (null: the operator); undefined when there is no such user. */
  async limitsOf(user: string | null): Promise<QuotaLimits | undefined> {
    if (user === null) return { ...NO_LIMITS }
    const record = await this.options.directory.user(user)
    return record ? effectiveQuotas(this.config.users.defaultQuotas, record) : undefined
  }

  /**
   * Whether `principal` may start a turn in `session` now: throws the first quota it would exceed. The
   * ticket holds the turn's place among its user's concurrent turns: release it when the request ends. Once
   * the turn runs, its session counts once, running or held.
   */
  async admitTurn(principal: Principal, session?: TicketSession): Promise<TurnTicket> {
    const user = principal.id
    if (user === null) return NO_TICKET
    const limits = (await this.limitsOf(user)) ?? NO_LIMITS
    const now = this.now()
    await this.checkSpending(user, limits, now)
    let ticket = NO_TICKET
    if (limits.concurrentTurns !== null) {
      // Taken before counting; each request counts the places taken before its own (`runningTurns`).
      const hold = this.hold(this.turns, user, session)
      ticket = hold.ticket
      const busy = await this.runningTurns(user, hold)
      if (busy + 1 > limits.concurrentTurns) {
        ticket.release()
        throw quotaExceeded(
          'concurrentTurns',
          `Quota reached: ${count(limits.concurrentTurns, 'turn')} at once (${busy} running or starting); try again when one ends`,
          CONCURRENT_RETRY_MS,
        )
      }
    }
    if (limits.requestsPerMinute !== null) {
      const taken = await this.options.window.take(user, limits.requestsPerMinute, now).catch((error) => {
        ticket.release()
        throw error
      })
      if (!taken.admitted) {
        ticket.release()
        throw quotaExceeded(
          'requestsPerMinute',
          `Quota reached: ${count(limits.requestsPerMinute, 'request')} per minute (${taken.count} in the last 60 s); the next is allowed in ${Math.ceil(taken.retryAfterMs / 1000)} s`,
          taken.retryAfterMs,
        )
      }
    }
    return ticket
  }

  /**
   * Whether `principal` may have one more live session: throws `live_sessions_exceeded` if not. The ticket
   * holds the session's place while it is being made (the store counts it once made): release it when the
   * request ends, so that requests at once cannot all see the same count.
   */
  async admitSession(principal: Principal): Promise<SessionTicket> {
    const user = principal.id
    if (user === null) return NO_TICKET
    const limit = (await this.limitsOf(user))?.liveSessions ?? null
    if (limit === null) return NO_TICKET
    // As for turns at once: taken before counting, and each counts the places taken before its own.
    const hold = this.hold(this.making, user)
    const lapse = setTimeout(() => hold.ticket.release(), SESSION_HOLD_MS).unref()
    const ticket: SessionTicket = {
      release: () => {
        clearTimeout(lapse)
        hold.ticket.release()
      },
    }
    const made = await this.options.store.countSessions({ owner: user }).catch((error: unknown) => {
      ticket.release()
      throw error
    })
    const making = before(this.making.get(user), hold)
    if (made + making >= limit) {
      ticket.release()
      throw quotaExceeded(
        'liveSessions',
        `Quota reached: ${count(limit, 'live session')} (${made} not closed${making > 0 ? `, ${making} being made` : ''}); close or delete one to make another`,
        LIVE_SESSIONS_RETRY_MS,
      )
    }
    return ticket
  }

  /** A user's limits, what they used and what is left; undefined when there is no such user. */
  async report(user: string | null): Promise<QuotaReport | undefined> {
    const quotas = await this.limitsOf(user)
    if (!quotas) return undefined
    const now = this.now()
    const resets = { day: nextUtcDay(now), month: nextUtcMonth(now) }
    if (user === null) {
      // The operator's sessions are nobody's: not metered, and without limits.
      const used = { ...this.use(ZERO_USAGE, ZERO_USAGE), requestsLastMinute: 0, concurrentTurns: 0 }
      return { user, quotas, used: { ...used, liveSessions: 0 }, remaining: { ...NO_LIMITS }, resets }
    }
    const [requests, running, live, [today, month]] = await Promise.all([
      this.options.window.count(user, now),
      this.runningTurns(user),
      this.options.store.countSessions({ owner: user }),
      this.spent(user, now),
    ])
    const used: QuotaUse = {
      ...this.use(today, month),
      requestsLastMinute: requests,
      concurrentTurns: running,
      liveSessions: live,
    }
    const usedOf: QuotaLimits = {
      requestsPerMinute: used.requestsLastMinute,
      concurrentTurns: used.concurrentTurns,
      liveSessions: used.liveSessions,
      tokensPerDay: used.tokensToday,
      tokensPerMonth: used.tokensThisMonth,
      usdPerDay: used.usdToday,
      usdPerMonth: used.usdThisMonth,
    }
    const remaining = { ...NO_LIMITS }
    for (const name of QUOTA_NAMES) {
      const limit = quotas[name]
      if (limit !== null) remaining[name] = Math.max(0, roundUsd(limit - (usedOf[name] ?? 0)))
    }
    return { user, quotas, used, remaining, resets }
  }

  /** Tokens and cost of today and this month (UTC) against their limits. */
  private async checkSpending(user: string, limits: QuotaLimits, now: number): Promise<void> {
    const { tokensPerDay, tokensPerMonth, usdPerDay, usdPerMonth } = limits
    if (tokensPerDay === null && tokensPerMonth === null && usdPerDay === null && usdPerMonth === null) return
    const [today, month] = await this.spent(user, now)
    const day = nextUtcDay(now)
    const nextMonth = nextUtcMonth(now)
    const checks: [QuotaName, number | null, number, (n: number) => string, string, number][] = [
      ['tokensPerDay', tokensPerDay, tokens(today), tokensText, 'today', day],
      ['tokensPerMonth', tokensPerMonth, tokens(month), tokensText, 'this month', nextMonth],
      ['usdPerDay', usdPerDay, today.costUsd, usdText, 'today', day],
      ['usdPerMonth', usdPerMonth, month.costUsd, usdText, 'this month', nextMonth],
    ]
    for (const [name, limit, used, shown, when, resetsAt] of checks) {
      if (limit === null || used < limit) continue
      const per = when === 'today' ? 'day' : 'month'
      throw quotaExceeded(
        name,
        `Quota reached: ${shown(limit)} per ${per}, ${shown(used)} used ${when}; it resets at ${new Date(resetsAt).toISOString()}`,
        resetsAt - now,
      )
    }
  }

  private spent(user: string, now: number): Promise<[UsageDelta, UsageDelta]> {
    const today = utcDay(now)
    return Promise.all([
      this.options.meter.usage(user, today, today),
      this.options.meter.usage(user, utcMonthStart(now), today),
    ])
  }

  private use(today: UsageDelta, month: UsageDelta) {
    return {
      tokensToday: tokens(today),
      tokensThisMonth: tokens(month),
      usdToday: roundUsd(today.costUsd),
      usdThisMonth: roundUsd(month.costUsd),
    }
  }

  /**
   * Turns running in the user's sessions and turns held for requests not ended (for `mine`: those held
   * before it, see `before`): each session once, running or held (a started turn is not counted twice; a
   * message queued behind its session's turn runs after it), plus each held turn of no known session yet.
   * On this replica as the meter saw them start; with replicas, at least as many as the store has running.
   * Not the sum: a turn forwarded to its session's replica runs there while its ticket is held here.
   */
  private async runningTurns(user: string, mine?: Hold): Promise<number> {
    const sessions = await this.options.meter.runningSessions(user)
    let unnamed = 0
    for (const hold of this.turns.get(user) ?? []) {
      if (hold === mine) break
      const session = hold.session()
      if (session === undefined) unnamed++
      else sessions.add(session)
    }
    const here = sessions.size + unnamed
    if (!this.options.shared) return here
    const { total } = await this.options.store.listSessions({
      owner: user,
      state: 'running',
      limit: 1,
      offset: 0,
    })
    return Math.max(here, total)
  }

  /** A place in `book` for `user`'s request; its ticket gives back exactly this place, once. */
  private hold(book: Map<string, Set<Hold>>, user: string, session?: TicketSession): Hold {
    const holds = book.get(user) ?? new Set<Hold>()
    book.set(user, holds)
    const hold: Hold = {
      session: typeof session === 'function' ? session : () => session,
      ticket: {
        release: () => {
          holds.delete(hold)
          if (holds.size === 0 && book.get(user) === holds) book.delete(user)
        },
      },
    }
    holds.add(hold)
    return hold
  }
}

/** What the quotas need of the running gateway besides the store. */
export interface QuotaRuntime {
  /** The engine: sessions' owners, and whether a session's process is on a turn. */
  sessions: MeteredSessions
  /** Several replicas: the Redis client they share requests a minute in (`cluster.keyPrefix` keys). */
  kv: RedisClientType | null
}

/**
 * The quota book and the usage meter under it, metering the turns `bus` publishes. Without a runtime the
 * engine is asked nothing (the store gives owners) and requests a minute are counted in memory.
 */
export function openQuotas(
  config: Config,
  store: Pick<Store, 'access' | 'getSession' | 'countSessions' | 'listSessions'>,
  directory: Pick<UserDirectory, 'user'>,
  log: Logger,
  bus: Pick<EventBus, 'subscribeAll'> | undefined,
  runtime?: QuotaRuntime,
): { quotas: QuotaBook; close(): Promise<void> } {
  const meter = new UsageMeter(
    bus ?? { subscribeAll: () => ({ close() {} }) },
    runtime?.sessions ?? { getSession: (id) => store.getSession(id) },
    store.access,
    log,
  )
  const kv = runtime?.kv ?? null
  const book = new QuotaBook({
    config,
    directory,
    store,
    meter,
    window: kv ? new RedisWindow(kv, config.cluster.keyPrefix, log) : new MemoryWindow(),
    shared: kv !== null,
  })
  return { quotas: book, close: () => meter.close() }
}

/**
 * How many of `holds` were taken before `mine` (a Set keeps its order): a request counts those before it,
 * so that of requests at once exactly the first that fit are admitted, whichever count ends first.
 */
function before(holds: Set<Hold> | undefined, mine: Hold): number {
  let n = 0
  for (const hold of holds ?? []) {
    if (hold === mine) break
    n++
  }
  return n
}

const tokens = (usage: UsageDelta): number => usage.inputTokens + usage.outputTokens

/** Sums of costs in floating point: to a millionth of a dollar, without the noise of the last digits. */
const roundUsd = (n: number): number => Math.round(n * 1e6) / 1e6

const tokensText = (n: number): string => `${n} tokens`
/** Cents are too coarse for small limits: up to 4 decimals, no trailing zeros. */
const usdText = (n: number): string => `$${Number(n.toFixed(4))}`

const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`
