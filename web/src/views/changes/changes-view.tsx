/**
 * A session's code changes (/admin/sessions/:id/changes): the rollup (files, lines added and removed,
 * changes), the changed files, each change as a highlighted diff (unified or split), and any file compared
 * between two points of the conversation. The selection lives in the address (`?path=&from=&to=`), so a
 * comparison can be linked to; the rollup follows the session live (`file.changed` on the tab's stream).
 */
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react'
import { api } from '../../api/client.js'
import { credentials } from '../../api/credentials.js'
import type { ChangeRollup } from '../../api/types/changes.js'
import { useLiveEvents } from '../../live/live.js'
import { Link, navigate, useLocation } from '../../router.js'
import { Button } from '../../ui/button.js'
import { EmptyState } from '../../ui/empty-state.js'
import { ErrorState } from '../../ui/error-state.js'
import { Spinner } from '../../ui/spinner.js'
import { SessionHeader, useSessionRecord } from '../session/session-header.js'
import { SessionMissing } from '../session/session-missing.js'
import { ChangeCard } from './change-card.js'
import { DiffModeToggle } from './code-diff.js'
import { Compare } from './compare.js'
import { FileList } from './file-list.js'
import {
  changesOf,
  changesRollupStale,
  commonFolder,
  readSelection,
  relativeTo,
  type Selection,
  selectionQuery,
} from './model.js'
import './changes.css'

/** Change cards shown at first, and added by each "show more". */
const CARDS_PER_STEP = 50

export default function ChangesView({ params }: { params: Record<string, string> }) {
  const id = params.id!
  const { query } = useLocation()
  const search = query.toString()
  // biome-ignore lint/correctness/useExhaustiveDependencies: `search` is the query's value.
  const selection = useMemo(() => readSelection(query), [search])
  const [rollup, setRollup] = useState<ChangeRollup>()
  const [error, setError] = useState<unknown>()
  const [cards, setCards] = useState(CARDS_PER_STEP)
  // One rollup request at a time; events arriving meanwhile ask for one more after it.
  const loading = useRef<{ id: string; again: boolean }>(undefined)

  const load = useCallback(async () => {
    if (loading.current?.id === id) {
      loading.current.again = true
      return
    }
    loading.current = { id, again: false }
    try {
      do {
        loading.current.again = false
        const next = await api.get<ChangeRollup>(`/sessions/${encodeURIComponent(id)}/changes`)
        if (loading.current?.id !== id) return
        setRollup(next)
        setError(undefined)
      } while (loading.current.again)
    } catch (failure) {
      if (loading.current?.id === id) setError(failure)
    } finally {
      if (loading.current?.id === id) loading.current = undefined
    }
  }, [id])

  // Again with a new key: the first answer may have been a 401.
  const { key } = useSyncExternalStore(credentials.subscribe, credentials.get)
  const { session, error: sessionError, deleted, reload } = useSessionRecord(id, key)
  // biome-ignore lint/correctness/useExhaustiveDependencies: `key` is the reason to load again.
  useEffect(() => {
    setRollup(undefined)
    void load()
  }, [id, load, key])

  useLiveEvents((events) => {
    if (changesRollupStale(events, id)) void load()
  })

  const base = useMemo(() => commonFolder(rollup?.files.map((file) => file.path) ?? []), [rollup])
  const shown = useMemo(() => (rollup ? changesOf(rollup, selection.file) : []), [rollup, selection.file])
  const version = rollup?.changes.at(-1)?.seq ?? 0
  const path = `/sessions/${encodeURIComponent(id)}`

  const select = (next: Selection, { replace = false } = {}) =>
    navigate(`${path}/changes${selectionQuery(next)}`, { replace })
  const selectFile = (file: string | undefined) => {
    setCards(CARDS_PER_STEP)
    select({ ...selection, file })
  }

  if (deleted || !session)
    return (
      <SessionMissing
        id={id}
        deleted={deleted}
        deletedNote="Another client deleted it while its changes were open here."
        error={sessionError}
        onRetry={reload}
      />
    )

  const header = <SessionHeader session={session} tab="changes" />
  if (error && !rollup)
    return (
      <section className="view changes-view" aria-labelledby="session-title">
        {header}
        <ErrorState error={error} what="The session’s changes" onRetry={() => void load()} />
      </section>
    )
  if (!rollup)
    return (
      <section className="view changes-view" aria-labelledby="session-title">
        {header}
        <Spinner label="Loading the changes" visibleLabel />
      </section>
    )
  if (rollup.changes.length === 0)
    return (
      <section className="view changes-view" aria-labelledby="session-title">
        {header}
        <EmptyState title="No code changes yet" action={<Link to={path}>Open the conversation</Link>}>
          <p>
            When Claude creates, edits or deletes a file in this session (Write, Edit, NotebookEdit, its
            subagents or a direct call), the change shows here, live, with its diff.
          </p>
        </EmptyState>
      </section>
    )

  const counts = { created: 0, modified: 0, deleted: 0 }
  for (const file of rollup.files) counts[file.status]++

  return (
    <section className="view changes-view" aria-labelledby="session-title">
      {header}
      <div className="changes-summary">
        <dl className="changes-totals" aria-label="Totals">
          <Figure label="files changed" value={rollup.totals.files} />
          <Figure label="lines added" value={`+${rollup.totals.added}`} tone="added" />
          <Figure label="lines removed" value={`−${rollup.totals.removed}`} tone="removed" />
          <Figure label={rollup.changes.length === 1 ? 'change' : 'changes'} value={rollup.changes.length} />
          <Figure label="created" value={counts.created} />
          <Figure label="modified" value={counts.modified} />
          <Figure label="deleted" value={counts.deleted} />
        </dl>
        {base && (
          <span className="changes-base muted truncate" title={base}>
            in <span className="mono">{base}</span>
          </span>
        )}
      </div>
      <div className="changes-layout">
        <FileList files={rollup.files} base={base} selected={selection.file} onSelect={selectFile} />
        <div className="changes-main">
          <div className="toolbar changes-toolbar">
            <DiffModeToggle />
            {error !== undefined && (
              <span className="form-error" role="alert">
                Could not refresh the changes.{' '}
                <Button variant="ghost" onClick={() => void load()}>
                  Retry
                </Button>
              </span>
            )}
          </div>
          <Compare
            session={id}
            rollup={rollup}
            base={base}
            selection={selection}
            version={version}
            onChange={(next) => select(next, { replace: next.file === selection.file })}
          />
          <section className="changes-list" aria-labelledby="changes-list-title">
            <h2 id="changes-list-title">
              {selection.file === undefined
                ? `Every change (${shown.length})`
                : `Changes to ${relativeTo(selection.file, base)} (${shown.length})`}
            </h2>
            {shown.length === 0 && (
              <p className="diff-note">This session did not change that file: pick one from the list.</p>
            )}
            {shown.slice(0, cards).map((change) => (
              <ChangeCard key={change.seq} session={id} change={change} base={base} version={version} />
            ))}
            {shown.length > cards && (
              <Button onClick={() => setCards((count) => count + CARDS_PER_STEP)}>
                Show {Math.min(CARDS_PER_STEP, shown.length - cards)} more changes
              </Button>
            )}
          </section>
        </div>
      </div>
    </section>
  )
}

function Figure({ label, value, tone }: { label: string; value: number | string; tone?: string }) {
  return (
    <div className="changes-figure">
      <dt>{label}</dt>
      <dd className={tone}>{value}</dd>
    </div>
  )
}
