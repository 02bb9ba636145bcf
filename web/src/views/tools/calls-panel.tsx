/**
 * Every session's tool calls, newest first: filtered on the server (GET /api/tool-calls), paged as the
 * list scrolls, virtualised, and fetched again from the top when the live stream says calls started or
 * ended. A row opens the call's input and result; its session is a link.
 */
import { memo, useCallback, useEffect, useRef, useState } from 'react'
import { api } from '../../api/client.js'
import type { Page } from '../../api/types/page.js'
import { TOOL_CALL_STATUSES, TOOL_CALLERS, type ToolCall } from '../../api/types/tools.js'
import { useLiveEvents } from '../../live/live.js'
import { Link } from '../../router.js'
import { Badge } from '../../ui/badge.js'
import { Button } from '../../ui/button.js'
import { EmptyState } from '../../ui/empty-state.js'
import { ErrorState } from '../../ui/error-state.js'
import { formatDuration } from '../../ui/format.js'
import { type FilterField, FilterFields, useLoad } from '../../ui/list-view.js'
import { RelativeTime } from '../../ui/relative-time.js'
import { Spinner } from '../../ui/spinner.js'
import { callStatusTone } from '../../ui/status-pill.js'
import { useVirtualRows, VirtualTable } from '../../ui/virtual-table.js'
import { CallDetails } from './call-details.js'
import {
  addPage,
  type CallFilters,
  type CallsState,
  callKey,
  callsChanged,
  EMPTY,
  filterQuery,
  inputSummary,
  isFiltered,
  mergeHead,
  NO_FILTERS,
} from './calls-model.js'
import { useSessionTitles } from './session-titles.js'

const PAGE_SIZE = 100
const ROW_HEIGHT = 52
const TYPING_MS = 300
const REFRESH_MS = 500
const COLUMNS: [string, string?][] = [
  ['Status'],
  ['Tool'],
  ['Session'],
  ['Made by'],
  ['Started'],
  ['Duration', 'num'],
]
const FILTERS: FilterField<CallFilters>[] = [
  { name: 'name', label: 'Tool name', placeholder: 'Tool (Bash, read…)' },
  { name: 'status', label: 'Status', all: 'All statuses', options: TOOL_CALL_STATUSES },
  { name: 'caller', label: 'Caller', all: 'Any caller', options: TOOL_CALLERS },
  { name: 'agent', label: 'Agent', placeholder: 'Agent' },
  { name: 'session', label: 'Session id', placeholder: 'Session id', className: 'mono' },
]

export function CallsPanel({ hidden }: { hidden: boolean }) {
  const [typed, setTyped] = useState<CallFilters>(NO_FILTERS)
  const [filters, setFilters] = useState<CallFilters>(NO_FILTERS)
  const [calls, setCalls] = useState<CallsState>(EMPTY)
  const [loaded, setLoaded] = useState(false)
  const [loading, setLoading] = useState(false)
  const [error, setError] = useState<unknown>()
  const [open, setOpen] = useState<ToolCall>()

  // Text filters apply once typing pauses; the lists at once.
  useEffect(() => {
    const timer = setTimeout(() => setFilters(typed), TYPING_MS)
    return () => clearTimeout(timer)
  }, [typed])

  // Answers to a query of filters no longer shown are dropped.
  const generation = useRef(0)
  const fetchPage = useCallback(
    async (
      offset: number,
      apply: (state: CallsState, page: Page<ToolCall>) => CallsState,
      { background = false } = {},
    ) => {
      const asked = generation.current
      // A live refresh shows no spinner: during a turn it would flicker all along.
      if (!background) setLoading(true)
      try {
        const page = await api.get<Page<ToolCall>>('/tool-calls', {
          query: { ...filterQuery(filters), limit: PAGE_SIZE, offset },
        })
        if (asked !== generation.current) return
        setCalls((state) => apply(state, page))
        setLoaded(true)
        setError(undefined)
      } catch (failure) {
        if (asked === generation.current) setError(failure)
      } finally {
        if (asked === generation.current && !background) setLoading(false)
      }
    },
    [filters],
  )

  // From the first page again with other filters (and with a new key).
  useLoad(
    useCallback(async () => {
      generation.current += 1
      setCalls(EMPTY)
      setLoaded(false)
      await fetchPage(0, addPage)
    }, [fetchPage]),
  )

  const timer = useRef<ReturnType<typeof setTimeout>>(undefined)
  useEffect(() => () => clearTimeout(timer.current), [])
  // The refresh asks with the filters shown when it fires: one scheduled before they changed would merge
  // calls they leave out into the filtered list.
  const currentFetch = useRef(fetchPage)
  useEffect(() => {
    currentFetch.current = fetchPage
  }, [fetchPage])
  useLiveEvents((events) => {
    if (!callsChanged(events) || timer.current !== undefined) return
    timer.current = setTimeout(() => {
      timer.current = undefined
      void currentFetch.current(0, mergeHead, { background: true })
    }, REFRESH_MS)
  })

  const table = useVirtualRows(calls.items.length, ROW_HEIGHT, 10)
  const { visible, lastVisible } = table
  const titles = useSessionTitles([...new Set(visible.map((item) => calls.items[item.index]!.session_id))])
  useEffect(() => {
    if (!loaded || loading || error || calls.complete) return
    if (lastVisible >= calls.items.length - 20) void fetchPage(calls.items.length, addPage)
  }, [loaded, loading, error, calls, lastVisible, fetchPage])

  const update = (change: Partial<CallFilters>) => setTyped((previous) => ({ ...previous, ...change }))
  const choose = (change: Partial<CallFilters>) => {
    update(change)
    setFilters((previous) => ({ ...previous, ...change }))
  }
  const filtered = isFiltered(filters)

  return (
    <div className="tab-panel calls-panel" hidden={hidden}>
      <div className="toolbar">
        <FilterFields fields={FILTERS} values={typed} onChange={update} onChoose={choose} />
        <span className="muted" aria-live="polite">
          {loaded && `${calls.total} call${calls.total === 1 ? '' : 's'}`}
        </span>
        {loading && <Spinner label="Loading tool calls" />}
      </div>
      {error !== undefined && calls.items.length === 0 ? (
        <ErrorState error={error} what="The tool calls" onRetry={() => void fetchPage(0, addPage)} />
      ) : !loaded ? (
        <Spinner label="Loading tool calls" visibleLabel />
      ) : calls.items.length === 0 ? (
        filtered ? (
          <EmptyState
            title="No call matches"
            action={<Button onClick={() => choose(NO_FILTERS)}>Clear filters</Button>}
          >
            <p>No tool call of any session matches these filters.</p>
          </EmptyState>
        ) : (
          <EmptyState title="No tool calls yet">
            <p>
              Claude's tool calls appear here, live, as sessions make them; so do the direct tools run from
              the <Link to="/tools/run">Run a tool</Link> tab or{' '}
              <code>POST /api/sessions/:id/tools/:name</code>.
            </p>
          </EmptyState>
        )
      ) : (
        <VirtualTable rows={table} columns={COLUMNS} grid="calls-grid" label="Tool calls">
          {visible.map((item) => {
            const call = calls.items[item.index]!
            return (
              <CallRow
                key={callKey(call)}
                call={call}
                title={titles.get(call.session_id)}
                top={item.start}
                onOpen={setOpen}
              />
            )
          })}
        </VirtualTable>
      )}
      {open && <CallDetails call={open} onClose={() => setOpen(undefined)} />}
    </div>
  )
}

const CallRow = memo(function CallRow({
  call,
  title,
  top,
  onOpen,
}: {
  call: ToolCall
  /** The session's title; null: it has none; undefined: not known yet. */
  title: string | null | undefined
  top: number
  onOpen: (call: ToolCall) => void
}) {
  return (
    <li
      className="table-row calls-grid calls-row"
      style={{ transform: `translateY(${top}px)`, height: ROW_HEIGHT }}
      data-tool-call={call.id}
      data-status={call.status}
    >
      <span>
        <Badge tone={callStatusTone(call.status)}>{call.status}</Badge>
      </span>
      <button type="button" className="cell-title call-open" onClick={() => onOpen(call)}>
        <span className="truncate call-name">{call.name}</span>
        <span className="muted mono truncate">{inputSummary(call.input)}</span>
      </button>
      <span className="cell-title">
        <Link
          to={`/sessions/${encodeURIComponent(call.session_id)}`}
          className="truncate session-link"
          title={call.session_id}
        >
          {title ?? (title === null ? 'Untitled' : call.session_id.slice(0, 8))}
        </Link>
        {title !== undefined && <span className="muted mono truncate">{call.session_id.slice(0, 8)}</span>}
      </span>
      <span
        className="truncate"
        title={call.parent_tool_use_id ? `Inside ${call.parent_tool_use_id}` : undefined}
      >
        {call.caller}
        {call.agent && <span className="muted"> · {call.agent}</span>}
      </span>
      <span>
        <RelativeTime time={call.started_at} />
      </span>
      <span className="num">{call.duration_ms === null ? '—' : formatDuration(call.duration_ms)}</span>
    </li>
  )
})
