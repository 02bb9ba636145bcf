/**
 * The audit page without React: its filters as the query of `GET /api/audit` and of its export, pages
 * added newest first, and an entry's facts in a line. Pure, so node:test checks them.
 */
import type { Query } from '../../api/client.js'
import type { AuditEntry, AuditPage } from '../../api/types/users.js'

export interface AuditFilters {
  actor: string
  action: string
  session_id: string
  /** `datetime-local` values (the browser's time zone); empty: unbounded. */
  since: string
  until: string
}

export const NO_FILTERS: AuditFilters = { actor: '', action: '', session_id: '', since: '', until: '' }

export const PAGE_SIZE = 100

/** A `datetime-local` value as ms since the epoch (what the routes take), or undefined when empty or not a time. */
export function timeOf(local: string): number | undefined {
  if (!local.trim()) return undefined
  const time = new Date(local).getTime()
  return Number.isNaN(time) ? undefined : time
}

/** The filters as the query both routes take (empty ones left out; times in ms). */
export function filterQuery(filters: AuditFilters): Query {
  return {
    actor: filters.actor.trim() || undefined,
    action: filters.action.trim() || undefined,
    session_id: filters.session_id.trim() || undefined,
    since: timeOf(filters.since),
    until: timeOf(filters.until),
  }
}

/** A page's query: the filters, older than `before` when paging on. */
export const pageQuery = (filters: AuditFilters, before: number | null): Query => ({
  ...filterQuery(filters),
  before: before ?? undefined,
  limit: PAGE_SIZE,
})

export interface AuditState {
  items: AuditEntry[]
  /** The cursor of the next (older) page; null: no more. */
  next: number | null
}

export const EMPTY: AuditState = { items: [], next: null }

/** A page added to what is shown: newest first, each entry once (a page may overlap a newer one). */
export function addPage(state: AuditState, page: AuditPage): AuditState {
  const seen = new Set(state.items.map((entry) => entry.id))
  const items = [...state.items, ...page.items.filter((entry) => !seen.has(entry.id))]
  items.sort((a, b) => b.id - a.id)
  return { items, next: page.next_before ?? null }
}

export const isFiltered = (filters: AuditFilters) =>
  Object.values(filters).some((value) => value.trim() !== '')

/** An entry's detail in a line: `model: sonnet · chars: 42`, values as JSON when not plain. */
export function detailLine(detail: AuditEntry['detail']): string {
  if (!detail) return ''
  return Object.entries(detail)
    .map(([name, value]) => `${name}: ${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' · ')
}

/** A status as a tone: refusals and failures stand out; 0 is an event without an HTTP answer. */
export const statusTone = (status: number): 'success' | 'warning' | 'danger' | 'neutral' =>
  status === 0 ? 'neutral' : status >= 500 ? 'danger' : status >= 400 ? 'warning' : 'success'
