/**
 * The session page's header: what the session is (title, state, model, agent, workspace) and what it cost
 * so far, kept current by the live stream (a turn's end, a state or model change fetches it again), and the
 * tabs between its conversation and its code changes.
 */
import { type ReactNode, useCallback, useEffect, useRef, useState } from 'react'
import { api } from '../../api/client.js'
import { isStaff, useMe } from '../../api/me.js'
import type { Session } from '../../api/types/sessions.js'
import { useLiveEvents } from '../../live/live.js'
import { Link } from '../../router.js'
import { Fact } from '../../ui/fact.js'
import { baseName, formatCost, formatTokens, totalTokens } from '../../ui/format.js'
import { RelativeTime } from '../../ui/relative-time.js'
import { StatusPill } from '../../ui/status-pill.js'
import './session-header.css'

/** Events after which the server's view of the session says something new. */
const REFRESHING = new Set(['session.state', 'turn.completed', 'model.changed', 'session.ready'])

export interface SessionRecord {
  session: Session | undefined
  error: unknown
  /** The stream said it was deleted. */
  deleted: boolean
  reload: () => void
  /** The session as an action's answer returned it. */
  replace: (session: Session) => void
}

export function useSessionRecord(id: string, reloadKey: unknown): SessionRecord {
  const [session, setSession] = useState<Session>()
  const [error, setError] = useState<unknown>()
  const [deleted, setDeleted] = useState(false)
  const inFlight = useRef(false)
  const again = useRef(false)

  const load = useCallback(async () => {
    // One request at a time; events during it ask for one more after it.
    if (inFlight.current) {
      again.current = true
      return
    }
    inFlight.current = true
    try {
      setSession(await api.get<Session>(`/sessions/${encodeURIComponent(id)}`))
      setError(undefined)
    } catch (failure) {
      setError(failure)
    } finally {
      inFlight.current = false
      if (again.current) {
        again.current = false
        void load()
      }
    }
  }, [id])

  // biome-ignore lint/correctness/useExhaustiveDependencies: `reloadKey` (a new API key) loads again.
  useEffect(() => {
    setSession(undefined)
    setDeleted(false)
    void load()
  }, [load, reloadKey])

  useLiveEvents((events) => {
    let refresh = false
    for (const event of events) {
      if (event.sessionId !== id) continue
      if (event.type === 'session.deleted') setDeleted(true)
      else if (REFRESHING.has(event.type)) refresh = true
      // The state shows at once; the figures come with the fetch.
      if (event.type === 'session.state')
        setSession((current) => (current ? { ...current, state: event.state } : current))
    }
    if (refresh) void load()
  })

  return { session, error, deleted, reload: () => void load(), replace: setSession }
}

export function SessionHeader({
  session,
  tab,
  status,
  controls,
}: {
  session: Session
  tab: 'conversation' | 'changes'
  /** Beside the state: what waits for the user (permission requests). */
  status?: ReactNode
  /** The session's controls (interrupt, pause, model...), placed by the page. */
  controls?: ReactNode
}) {
  const { usage } = session
  const tokens = totalTokens(usage)
  const base = `/sessions/${encodeURIComponent(session.id)}`
  // Admins and viewers see everyone's sessions: whose this is shows.
  const showOwner = isStaff(useMe())
  return (
    <header className="session-header">
      <div className="session-title-line">
        <Link to="/sessions" className="back-link" aria-label="Back to the sessions">
          ← Sessions
        </Link>
        <h1 id="session-title" className="truncate">
          {session.title ?? 'Untitled session'}
        </h1>
        <StatusPill state={session.state} />
        {status}
      </div>
      <dl className="session-facts">
        {showOwner && (
          <Fact className="fact" name="Owner">
            {session.owner ?? <span className="muted">operator</span>}
          </Fact>
        )}
        <Fact className="fact" name="Model">
          {session.model ?? <span className="muted">default</span>}
        </Fact>
        <Fact className="fact" name="Agent">
          {session.agent ?? <span className="muted">none</span>}
        </Fact>
        <Fact className="fact" name="Workspace">
          <span className="mono" title={session.workspace}>
            {baseName(session.workspace)}
          </span>
        </Fact>
        <Fact className="fact" name="Tokens">
          <span title={`${tokens} tokens: ${usage.input_tokens} in, ${usage.output_tokens} out`}>
            {formatTokens(tokens)}
          </span>
        </Fact>
        <Fact className="fact" name="Cost">
          {formatCost(session.cost_usd)}
        </Fact>
        <Fact className="fact" name="Turns">
          {session.turns}
        </Fact>
        <Fact className="fact" name="Active">
          <RelativeTime time={session.updated_at} />
        </Fact>
        <Fact className="fact" name="Id">
          <span className="mono" title={session.id}>
            {session.id.slice(0, 8)}
          </span>
        </Fact>
      </dl>
      <div className="session-tabs-line">
        <nav className="tabs" aria-label="Session">
          <Link to={base} className="tab" aria-current={tab === 'conversation' ? 'page' : undefined}>
            Conversation
          </Link>
          <Link to={`${base}/changes`} className="tab" aria-current={tab === 'changes' ? 'page' : undefined}>
            Code changes
          </Link>
        </nav>
        {controls && <div className="session-controls-slot">{controls}</div>}
      </div>
    </header>
  )
}
