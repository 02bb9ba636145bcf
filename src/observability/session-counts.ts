/**
 * Sessions by state, read once a second by the dashboard's sampler and on each scrape. Counting them in the
 * store costs a scan of the sessions table per state (~120 ms for 100,000 sessions), so the store is counted
 * once, then the counts follow the bus (`session.created`, `session.state`). They are counted again after a
 * purge (`session.deleted` does not say the state it left) and every minute, which also catches what changes
 * a record without an event (the engine's start hibernating the sessions of the previous run).
 */
import type { GatewayEvent, SessionState } from '../events/types.js'
import { SESSION_STATES } from '../events/types.js'
import type { Store } from '../store/types.js'

const RECOUNT_EVERY_MS = 60_000

export type SessionsByState = Record<SessionState, number>

export class SessionCounts {
  private counts: SessionsByState | null = null
  private countedAt = 0
  private stale = true
  /** The count under way, shared by the reads that come meanwhile. */
  private counting: Promise<void> | null = null
  /** An event changed the counts while they were being counted: whether the count saw it is unknown. */
  private changedWhileCounting = false

  constructor(private readonly store: Store) {}

  observe(event: GatewayEvent): void {
    if (this.counting && COUNTED.has(event.type)) this.changedWhileCounting = true
    const counts = this.counts
    if (counts === null || this.stale) return
    if (event.type === 'session.created') counts.new++
    else if (event.type === 'session.state') {
      counts[event.previous]--
      counts[event.state]++
    } else if (event.type === 'session.deleted') this.stale = true
  }

  /** The counts now; while the store cannot be read, the last ones stand (zeros before any). */
  async read(now = Date.now()): Promise<SessionsByState> {
    if (this.stale || this.counts === null || now - this.countedAt >= RECOUNT_EVERY_MS) {
      this.counting ??= this.recount(now).finally(() => {
        this.counting = null
      })
      await this.counting
    }
    return { ...(this.counts ?? zeros()) }
  }

  private async recount(now: number): Promise<void> {
    this.changedWhileCounting = false
    try {
      // Asked together: a store that answers at once (SQLite) counts them all in this tick.
      const totals = await Promise.all(
        SESSION_STATES.map((state) => this.store.listSessions({ state, limit: 0, offset: 0 })),
      )
      const counts = zeros()
      SESSION_STATES.forEach((state, i) => {
        counts[state] = totals[i]!.total
      })
      this.counts = counts
      // Counted again at the next read when a change came in between (it may be counted or not).
      this.stale = this.changedWhileCounting
    } catch {
      // The store's own health says why (GET /v1/health); tried again on the next read.
      this.stale = true
    }
    this.countedAt = now
  }
}

/** The events that change the counts. */
const COUNTED = new Set<GatewayEvent['type']>(['session.created', 'session.state', 'session.deleted'])

const zeros = () => Object.fromEntries(SESSION_STATES.map((state) => [state, 0])) as SessionsByState
