/**
 * Every session, most recently active first: paged from GET /api/sessions as the list scrolls (all pages
 * while filtering, since filters apply to what is loaded), virtualised so that thousands of rows stay
 * fast, and kept current by the live stream (model.ts says how).
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react'
import { api } from '../../api/client.js'
import { isStaff, useMe } from '../../api/me.js'
import type { Page } from '../../api/types/page.js'
import { SESSION_STATES, type Session } from '../../api/types/sessions.js'
import { useLiveEvents } from '../../live/live.js'
import { Button } from '../../ui/button.js'
import { EmptyState } from '../../ui/empty-state.js'
import { ErrorState } from '../../ui/error-state.js'
import { FilterFields, SearchBox, useLoad } from '../../ui/list-view.js'
import { Spinner } from '../../ui/spinner.js'
import { useVirtualRows, VirtualTable } from '../../ui/virtual-table.js'
import {
  addPage,
  agentsOf,
  applyEvents,
  EMPTY,
  type Filters,
  isFiltered,
  NO_FILTERS,
  type SessionsState,
  staleIds,
  upsert,
  visibleSessions,
} from './model.js'
import { SessionRow } from './session-row.js'
import './sessions.css'

const PAGE_SIZE = 200
const ROW_HEIGHT = 56
const COLUMNS: [name: string, className?: string][] = [
  ['State'],
  ['Title'],
  ['Owner'],
  ['Model'],
  ['Agent'],
  ['Workspace'],
  ['Tokens', 'num'],
  ['Cost', 'num'],
  ['Last activity'],
]

/** Without the owner: a user sees only their own sessions. */
const OWN_COLUMNS = COLUMNS.filter(([name]) => name !== 'Owner')

export default function SessionsView() {
  // Admins and viewers see everyone's sessions: whose each is shows.
  const showOwner = isStaff(useMe())
  const [sessions, setSessions] = useState<SessionsState>(EMPTY)
  const [filters, setFilters] = useState<Filters>(NO_FILTERS)
  const [error, setError] = useState<unknown>()
  const [loading, setLoading] = useState(false)
  // The state as the stream handler last saw it (it runs outside React's render).
  const current = useRef(sessions)
  current.current = sessions
  const fetching = useRef(new Set<string>())

  const loadPage = useCallback(async (offset: number) => {
    setLoading(true)
    try {
      const page = await api.get<Page<Session>>('/sessions', { query: { limit: PAGE_SIZE, offset } })
      setSessions((state) => addPage(state, page))
      setError(undefined)
    } catch (failure) {
      setError(failure)
    } finally {
      setLoading(false)
    }
  }, [])

  const refetch = useCallback(async (ids: string[]) => {
    const wanted = ids.filter((id) => !fetching.current.has(id))
    for (const id of wanted) fetching.current.add(id)
    const found = await Promise.all(
      wanted.map((id) =>
        api
          .get<Session>(`/sessions/${encodeURIComponent(id)}`)
          // Deleted meanwhile, or the key went away: the row simply is not (re)placed.
          .catch(() => undefined)
          .finally(() => fetching.current.delete(id)),
      ),
    )
    const fresh = found.filter((session): session is Session => session !== undefined)
    if (fresh.length > 0) setSessions((state) => upsert(state, fresh))
  }, [])

  useLoad(useCallback(() => loadPage(0), [loadPage]))

  useLiveEvents((events) => {
    const stale = staleIds(current.current, events)
    setSessions((state) => applyEvents(state, events))
    if (stale.length > 0) void refetch(stale)
  })

  const rows = useMemo(() => visibleSessions(sessions, filters), [sessions, filters])
  const agents = useMemo(() => agentsOf(sessions), [sessions])
  const filtered = isFiltered(filters)

  const table = useVirtualRows(rows.length, ROW_HEIGHT, 12)
  const { lastVisible } = table

  // The next page when the end of what is loaded comes into view, or at once while filtering.
  useEffect(() => {
    if (loading || error || sessions.complete || sessions.next === 0) return
    if (filtered || lastVisible >= rows.length - 20) void loadPage(sessions.next)
  }, [loading, error, sessions, filtered, lastVisible, rows.length, loadPage])

  const update = (change: Partial<Filters>) => setFilters((previous) => ({ ...previous, ...change }))
  const firstLoad = sessions.next === 0 && !sessions.complete

  return (
    <section className="view sessions-view" aria-labelledby="sessions-title">
      <div className="view-header">
        <h1 id="sessions-title">Sessions</h1>
        <span className="muted" aria-live="polite">
          {filtered ? `${rows.length} of ${sessions.total}` : sessions.total} sessions
        </span>
      </div>
      <div className="toolbar">
        <SearchBox
          label="Search sessions"
          placeholder={`Search title, id, model, agent, workspace${showOwner ? ', owner' : ''}`}
          value={filters.search}
          onChange={(search) => update({ search })}
        />
        <FilterFields
          fields={[
            { name: 'state', label: 'State', all: 'All states', options: SESSION_STATES },
            { name: 'agent', label: 'Agent', all: 'All agents', options: agents },
          ]}
          values={filters}
          onChange={update}
        />
        {loading && <Spinner label="Loading sessions" />}
      </div>

      {error !== undefined && rows.length === 0 ? (
        <ErrorState error={error} what="The sessions" onRetry={() => void loadPage(sessions.next)} />
      ) : firstLoad ? (
        <Spinner label="Loading sessions" visibleLabel />
      ) : rows.length === 0 ? (
        filtered ? (
          <EmptyState
            title="No session matches"
            action={<Button onClick={() => setFilters(NO_FILTERS)}>Clear filters</Button>}
          >
            <p>Nothing loaded matches these filters.</p>
          </EmptyState>
        ) : (
          <EmptyState title="No sessions yet">
            <p>
              Sessions appear here, live, as clients create them: <code>POST /api/sessions</code> on the
              native API, or any OpenAI-compatible client pointed at <code>/v1</code>.
            </p>
          </EmptyState>
        )
      ) : (
        <VirtualTable
          rows={table}
          columns={showOwner ? COLUMNS : OWN_COLUMNS}
          grid={showOwner ? 'session-grid session-grid-owner' : 'session-grid'}
          label="Sessions"
        >
          {table.visible.map((item) => (
            <SessionRow
              key={rows[item.index]!.id}
              session={rows[item.index]!}
              top={item.start}
              height={ROW_HEIGHT}
              showOwner={showOwner}
            />
          ))}
        </VirtualTable>
      )}
    </section>
  )
}
