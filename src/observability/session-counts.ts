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

  constructor(private readonly store: Store) {}

  observe(event: GatewayEvent): void {
    const counts = this.counts
    if (counts === null || this.stale) return
    if (event.type === 'session.created') counts.new++
    else if (event.type === 'session.state') {
      counts[event.previous]--
      counts[event.state]++
    } else if (event.type === 'session.deleted') this.stale = true
  }

  /** The counts now; while the store cannot be read, the last ones stand (zeros before any). */
  read(now = Date.now()): SessionsByState {
    if (this.stale || this.counts === null || now - this.countedAt >= RECOUNT_EVERY_MS) this.recount(now)
    return { ...(this.counts ?? zeros()) }
  }

  private recount(now: number): void {
    try {
      const counts = zeros()
      for (const state of SESSION_STATES)
        counts[state] = this.store.listSessions({ state, limit: 0, offset: 0 }).total
      this.counts = counts
      this.stale = false
    } catch {
      // The store's own health says why (GET /v1/health); tried again on the next read.
      this.stale = true
    }
    this.countedAt = now
  }
}

const zeros = () => Object.fromEntries(SESSION_STATES.map((state) => [state, 0])) as SessionsByState
