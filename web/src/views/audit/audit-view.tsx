/**
 * The audit trail (admins and viewers): who did what and when, newest first, filtered by actor, action,
 * session and time, paged back with `next_before`, and exported with the same filters (CSV, NDJSON).
 * The export is fetched with the key in a header and saved: a plain link could not carry the key.
 */
import { type FormEvent, useCallback, useRef, useState } from 'react'
import { api } from '../../api/client.js'
import type { AuditPage } from '../../api/types/users.js'
import { Link } from '../../router.js'
import { Badge } from '../../ui/badge.js'
import { Button } from '../../ui/button.js'
import { EmptyState } from '../../ui/empty-state.js'
import { ErrorState } from '../../ui/error-state.js'
import { FormError } from '../../ui/form-error.js'
import { type FilterField, FilterFields, TableHead, useLoad } from '../../ui/list-view.js'
import { RelativeTime } from '../../ui/relative-time.js'
import { RoleBadge } from '../../ui/role-badge.js'
import { saveFile } from '../../ui/save-file.js'
import { Spinner } from '../../ui/spinner.js'
import { useAction } from '../session/actions/action.js'
import {
  type AuditFilters,
  type AuditState,
  addPage,
  detailLine,
  EMPTY,
  filterQuery,
  isFiltered,
  NO_FILTERS,
  pageQuery,
  statusTone,
} from './model.js'
import './audit.css'

const COLUMNS: [string, string?][] = [
  ['When'],
  ['Actor'],
  ['Action'],
  ['Status'],
  ['Session · target'],
  ['Detail'],
]
const FILTERS: FilterField<AuditFilters>[] = [
  { name: 'actor', label: 'Actor', placeholder: 'Actor (user name)' },
  { name: 'action', label: 'Action', placeholder: 'Action (createSession…)' },
  { name: 'session_id', label: 'Session', placeholder: 'Session id' },
]
/** The time bounds, picked rather than typed. */
const TIME_FILTERS = [
  { name: 'since', label: 'From' },
  { name: 'until', label: 'To' },
] as const
const FORMATS = [
  { format: 'csv', label: 'CSV' },
  { format: 'ndjson', label: 'NDJSON' },
] as const

export default function AuditView() {
  const [form, setForm] = useState<AuditFilters>(NO_FILTERS)
  const [filters, setFilters] = useState<AuditFilters>(NO_FILTERS)
  const [state, setState] = useState<AuditState>()
  const [error, setError] = useState<unknown>()
  const [loading, setLoading] = useState(false)
  // Only the last query's answer is shown (filters changed while one was on its way).
  const generation = useRef(0)

  const loadPage = useCallback(async (wanted: AuditFilters, from: AuditState | undefined) => {
    const asked = ++generation.current
    setLoading(true)
    try {
      const page = await api.get<AuditPage>('/audit', { query: pageQuery(wanted, from?.next ?? null) })
      if (asked !== generation.current) return
      setState(addPage(from ?? EMPTY, page))
      setError(undefined)
    } catch (failure) {
      if (asked === generation.current) setError(failure)
    } finally {
      if (asked === generation.current) setLoading(false)
    }
  }, [])

  const first = useCallback(() => loadPage(filters, undefined), [loadPage, filters])
  useLoad(first)

  const apply = (event: FormEvent) => {
    event.preventDefault()
    setState(undefined)
    setFilters({ ...form })
  }
  const clear = () => {
    setForm(NO_FILTERS)
    setState(undefined)
    setFilters(NO_FILTERS)
  }
  const update = (change: Partial<AuditFilters>) => setForm((previous) => ({ ...previous, ...change }))

  const exporting = useAction(async (format: string) => {
    const { blob, fileName } = await api.downloadGet('/audit/export', {
      query: { ...filterQuery(filters), format },
    })
    saveFile(blob, fileName ?? `audit.${format}`)
    return true
  })

  return (
    <section className="view audit-view" aria-labelledby="audit-title">
      <div className="view-header">
        <h1 id="audit-title">Audit</h1>
        {state && (
          <span className="muted" aria-live="polite">
            {state.items.length} entries{state.next !== null ? ' shown, more older' : ''}
          </span>
        )}
        <span className="view-header-end export-links">
          {FORMATS.map(({ format, label }) => (
            <Button key={format} disabled={exporting.pending} onClick={() => void exporting.run(format)}>
              Export {label}
            </Button>
          ))}
        </span>
      </div>
      <form className="toolbar audit-filters" onSubmit={apply} aria-label="Filters">
        <FilterFields fields={FILTERS} values={form} onChange={update} />
        {TIME_FILTERS.map(({ name, label }) => (
          <label key={name} className="time-filter">
            {label}
            <input
              type="datetime-local"
              value={form[name]}
              onChange={(event) => update({ [name]: event.target.value })}
            />
          </label>
        ))}
        <Button type="submit" variant="primary">
          Filter
        </Button>
        {isFiltered(form) && <Button onClick={clear}>Clear</Button>}
        {loading && <Spinner label="Loading entries" />}
      </form>
      {exporting.error && <FormError>The export failed: {exporting.error}</FormError>}
      {error !== undefined && !state?.items.length ? (
        <ErrorState error={error} what="The audit trail" onRetry={() => void loadPage(filters, state)} />
      ) : !state ? (
        <Spinner label="Loading the audit trail" visibleLabel />
      ) : state.items.length === 0 ? (
        <EmptyState title={isFiltered(filters) ? 'No entry matches' : 'Nothing recorded yet'}>
          <p>Every change made through the APIs is recorded here: who, what, when, and how it ended.</p>
        </EmptyState>
      ) : (
        <div className="table">
          <TableHead columns={COLUMNS} grid="audit-grid" />
          <div className="table-body">
            <ul className="plain-list" aria-label="Audit entries">
              {state.items.map((entry) => (
                <li
                  key={entry.id}
                  className="audit-grid audit-row list-row"
                  data-audit-action={entry.action}
                  data-actor={entry.actor ?? ''}
                >
                  <span>
                    <RelativeTime time={entry.ts} />
                  </span>
                  <span className="audit-actor">
                    <span className="truncate">{entry.actor ?? <span className="muted">operator</span>}</span>
                    {entry.role && <RoleBadge role={entry.role} />}
                  </span>
                  <span className="mono truncate" title={entry.action}>
                    {entry.action}
                  </span>
                  <span>
                    <Badge tone={statusTone(entry.status)}>
                      {entry.status === 0 ? 'event' : entry.status}
                    </Badge>
                  </span>
                  <span className="cell-title">
                    {entry.session_id ? (
                      <Link
                        to={`/sessions/${encodeURIComponent(entry.session_id)}`}
                        className="mono truncate"
                      >
                        {entry.session_id.slice(0, 8)}
                      </Link>
                    ) : null}
                    {entry.target && <span className="mono truncate muted">{entry.target}</span>}
                  </span>
                  <span
                    className="truncate muted"
                    title={`${detailLine(entry.detail)}${entry.ip ? `\nfrom ${entry.ip}` : ''}${entry.request_id ? `\nrequest ${entry.request_id}` : ''}`}
                  >
                    {detailLine(entry.detail)}
                  </span>
                </li>
              ))}
            </ul>
            {state.next !== null && (
              <div className="load-more">
                <Button disabled={loading} onClick={() => void loadPage(filters, state)}>
                  {loading ? 'Loading…' : 'Older entries'}
                </Button>
              </div>
            )}
          </div>
        </div>
      )}
    </section>
  )
}
