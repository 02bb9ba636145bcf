import { memo } from 'react'
import type { Session } from '../../api/types/sessions.js'
import { Link } from '../../router.js'
import { baseName, formatCost, formatTokens, totalTokens } from '../../ui/format.js'
import { RelativeTime } from '../../ui/relative-time.js'
import { StatusPill } from '../../ui/status-pill.js'

/** One row, a link to the session (Tab walks the rows, Enter opens one); memoised: a live update re-renders only the rows it changed. */
export const SessionRow = memo(function SessionRow({
  session,
  top,
  height,
  showOwner = false,
}: {
  session: Session
  top: number
  height: number
  showOwner?: boolean
}) {
  const { usage } = session
  const tokens = totalTokens(usage)
  return (
    <li className="table-row" style={{ transform: `translateY(${top}px)`, height }}>
      <Link
        to={`/sessions/${encodeURIComponent(session.id)}`}
        className={showOwner ? 'session-grid session-grid-owner' : 'session-grid'}
        data-session-id={session.id}
      >
        <span>
          <StatusPill state={session.state} />
        </span>
        <span className="cell-title">
          <span className="truncate">{session.title ?? 'Untitled'}</span>
          <span className="muted mono truncate">{session.id.slice(0, 8)}</span>
        </span>
        {showOwner && (
          <span className="truncate" data-owner={session.owner ?? ''}>
            {session.owner ?? <span className="muted">operator</span>}
          </span>
        )}
        <span className="truncate">{session.model ?? <span className="muted">default</span>}</span>
        <span className="truncate">{session.agent ?? <span className="muted">none</span>}</span>
        <span className="truncate mono" title={session.workspace}>
          {baseName(session.workspace)}
        </span>
        <span className="num" title={`${tokens} tokens · turns: ${session.turns}`}>
          {formatTokens(tokens)}
        </span>
        <span className="num">{formatCost(session.cost_usd)}</span>
        <span>
          <RelativeTime time={session.updated_at} />
        </span>
      </Link>
    </li>
  )
})
