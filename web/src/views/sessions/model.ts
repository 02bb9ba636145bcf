/**
 * The sessions list's state and how pages and live events change it: pure functions over plain data (no
 * React, no DOM), so node:test checks them and the view only wires them to fetch and the stream.
 */
import type { LiveEvent } from '../../api/types/events.js'
import type { Page } from '../../api/types/page.js'
import type { Session, SessionState } from '../../api/types/sessions.js'

export interface SessionsState {
  byId: ReadonlyMap<string, Session>
  /** Sessions on the server, all pages, as the last page said. */
  total: number
  /** Offset of the next page to fetch. */
  next: number
  /** Every page is loaded. */
  complete: boolean
}

export const EMPTY: SessionsState = { byId: new Map(), total: 0, next: 0, complete: false }

export interface Filters {
  search: string
  state: SessionState | ''
  agent: string
}

export const NO_FILTERS: Filters = { search: '', state: '', agent: '' }

export function addPage(state: SessionsState, page: Page<Session>): SessionsState {
  const byId = new Map(state.byId)
  for (const session of page.items) byId.set(session.id, session)
  const next = page.offset + page.items.length
  return { byId, total: page.total, next, complete: page.items.length === 0 || next >= page.total }
}

/** Sessions fetched one by one (new ones the stream named, or rows to refresh). */
export function upsert(state: SessionsState, sessions: readonly Session[]): SessionsState {
  const byId = new Map(state.byId)
  let added = 0
  for (const session of sessions) {
    if (!byId.has(session.id)) added += 1
    byId.set(session.id, session)
  }
  return { ...state, byId, total: state.total + added }
}

/**
 * Rows whose server view must be fetched after these events: sessions the list does not have yet (created
 * since it loaded), and sessions whose turn ended (tokens, cost and turns are the server's sums).
 */
export function staleIds(state: SessionsState, events: readonly LiveEvent[]): string[] {
  const ids = new Set<string>()
  const deleted = new Set<string>()
  for (const event of events) {
    if (event.type === 'session.deleted') {
      deleted.add(event.sessionId)
      ids.delete(event.sessionId)
    } else if (
      !deleted.has(event.sessionId) &&
      (!state.byId.has(event.sessionId) || event.type === 'turn.completed')
    )
      ids.add(event.sessionId)
  }
  return [...ids]
}

/** What the events say about rows the list has: state, model, last activity; deleted sessions go. */
export function applyEvents(state: SessionsState, events: readonly LiveEvent[]): SessionsState {
  let byId: Map<string, Session> | undefined
  let removed = 0
  for (const event of events) {
    const session = (byId ?? state.byId).get(event.sessionId)
    if (!session) continue
    byId ??= new Map(state.byId)
    if (event.type === 'session.deleted') {
      byId.delete(event.sessionId)
      removed += 1
      continue
    }
    const updated: Session = { ...session, updated_at: laterIso(session.updated_at, event.ts) }
    if (event.type === 'session.state') updated.state = event.state
    else if (event.type === 'model.changed') updated.model = event.model
    byId.set(event.sessionId, updated)
  }
  return byId ? { ...state, byId, total: Math.max(0, state.total - removed) } : state
}

const laterIso = (iso: string, ts: number) => (Date.parse(iso) >= ts ? iso : new Date(ts).toISOString())

/** The rows to show: filtered, most recently active first (as the server pages them). */
export function visibleSessions(state: SessionsState, { search, state: wanted, agent }: Filters): Session[] {
  const needle = search.trim().toLowerCase()
  const rows: Session[] = []
  for (const session of state.byId.values()) {
    if (wanted && session.state !== wanted) continue
    if (agent && session.agent !== agent) continue
    if (needle && !matches(session, needle)) continue
    rows.push(session)
  }
  return rows.sort((a, b) =>
    a.updated_at === b.updated_at ? a.id.localeCompare(b.id) : a.updated_at < b.updated_at ? 1 : -1,
  )
}

function matches(session: Session, needle: string): boolean {
  return [session.title, session.id, session.model, session.agent, session.workspace, session.owner].some(
    (field) => field?.toLowerCase().includes(needle),
  )
}

/** The agents named by the loaded sessions, for the agent filter. */
export function agentsOf(state: SessionsState): string[] {
  const agents = new Set<string>()
  for (const session of state.byId.values()) if (session.agent) agents.add(session.agent)
  return [...agents].sort()
}

export const isFiltered = (filters: Filters) =>
  filters.search.trim() !== '' || filters.state !== '' || filters.agent !== ''
