/**
 * The session a tab acts on (its permissions, the workspace a tool runs in): the open sessions, most
 * recently active first. The choice is kept in the address (`?session=`), so it survives a reload and
 * follows from tab to tab.
 */
import { useCallback, useId, useState } from 'react'
import { api } from '../../api/client.js'
import type { Page } from '../../api/types/page.js'
import type { Session } from '../../api/types/sessions.js'
import { navigate, useLocation } from '../../router.js'
import { Button } from '../../ui/button.js'
import { ErrorState } from '../../ui/error-state.js'
import { baseName } from '../../ui/format.js'
import { useLoad } from '../../ui/list-view.js'
import { Spinner } from '../../ui/spinner.js'

const LIMIT = 200

export function SessionPicker({ sessionId }: { sessionId: string | null }) {
  const id = useId()
  const { path } = useLocation()
  const [sessions, setSessions] = useState<Session[]>()
  const [error, setError] = useState<unknown>()

  const load = useCallback(async () => {
    try {
      const page = await api.get<Page<Session>>('/sessions', { query: { limit: LIMIT } })
      setSessions(page.items.filter((session) => session.state !== 'closed'))
      setError(undefined)
    } catch (failure) {
      setError(failure)
    }
  }, [])
  useLoad(load)

  const choose = (chosen: string) =>
    navigate(chosen ? `${path}?session=${encodeURIComponent(chosen)}` : path, { replace: true })

  if (error !== undefined) return <ErrorState error={error} what="The sessions" onRetry={() => void load()} />
  if (!sessions) return <Spinner label="Loading sessions" visibleLabel />
  // A session chosen by its address but not among the latest open ones is still offered.
  const known = sessionId === null || sessions.some((session) => session.id === sessionId)
  return (
    <div className="toolbar session-picker">
      <label htmlFor={id}>Session</label>
      <select id={id} value={sessionId ?? ''} onChange={(event) => choose(event.target.value)}>
        <option value="">Choose a session…</option>
        {!known && <option value={sessionId ?? ''}>{sessionId}</option>}
        {sessions.map((session) => (
          <option key={session.id} value={session.id}>
            {session.title ?? 'Untitled'} · {baseName(session.workspace)} · {session.id.slice(0, 8)} (
            {session.state})
          </option>
        ))}
      </select>
      <Button variant="ghost" onClick={() => void load()}>
        Refresh
      </Button>
      {sessions.length === 0 && (
        <span className="muted">No open session: create one with POST /api/sessions or from a client.</span>
      )}
    </div>
  )
}
