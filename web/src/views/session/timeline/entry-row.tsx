/**
 * One row of the timeline: a user message, Claude's text or thinking, a tool call's card, or a decision
 * point. Memoised on its entry: a frame of new deltas re-renders the rows they changed, not the others.
 */
import { memo, type ReactNode } from 'react'
import { Badge, type Tone } from '../../../ui/badge.js'
import { RelativeTime } from '../../../ui/relative-time.js'
import { RichText } from './code.js'
import type { Decision, EntryOf } from './entry.js'
import { decisionText, type Row } from './rows.js'
import { opensByDefault, ToolCard } from './tool-card.js'

export interface RowProps {
  row: Row
  sessionId: string
  /** The row's toggle was flipped from its default (thinking hidden, a card opened or closed). */
  toggled: boolean
  /** Its subagent's steps are folded. */
  folded: boolean
  onToggle: (key: string) => void
  onFold: (toolUseId: string) => void
  /** A search matches it: `current` is the one jumped to. */
  match: 'current' | 'other' | undefined
  /** Actions placed on a message (fork from here), given by the page. */
  messageActions?: (entry: EntryOf<'user'> | EntryOf<'text'>) => ReactNode
}

export const EntryRow = memo(function EntryRow(props: RowProps) {
  const { row, match } = props
  return (
    <div
      className="tl-row"
      style={{ paddingLeft: row.depth * 28 }}
      data-kind={row.entry.kind}
      data-match={match}
      data-depth={row.depth || undefined}
    >
      {row.depth > 0 && <span className="tl-nest" aria-hidden="true" />}
      <EntryBody {...props} />
    </div>
  )
}, same)

function same(before: RowProps, after: RowProps): boolean {
  return (
    before.row.entry === after.row.entry &&
    before.row.status === after.row.status &&
    before.row.children === after.row.children &&
    before.row.depth === after.row.depth &&
    before.toggled === after.toggled &&
    before.folded === after.folded &&
    before.match === after.match &&
    before.sessionId === after.sessionId &&
    before.messageActions === after.messageActions
  )
}

function EntryBody({ row, sessionId, toggled, folded, onToggle, onFold, messageActions }: RowProps) {
  const { entry } = row
  switch (entry.kind) {
    case 'user':
      return (
        <section className="tl-message tl-user" aria-label="User message">
          <header className="tl-role">
            You <RelativeTime time={entry.ts} />
            {row.depth === 0 && messageActions?.(entry)}
          </header>
          <RichText text={entry.text} />
          {entry.attachments > 0 && (
            <p className="muted">
              + {entry.attachments} attachment{entry.attachments === 1 ? '' : 's'}
            </p>
          )}
        </section>
      )
    case 'text':
      return (
        <section
          className="tl-message tl-assistant"
          aria-label="Claude"
          data-streaming={entry.streaming || undefined}
        >
          <header className="tl-role">
            {row.depth > 0 ? 'Subagent' : 'Claude'}
            {entry.synthetic && <span className="muted"> · local command</span>}
            {entry.streaming && <span className="tl-live">writing…</span>}
            {!entry.streaming && row.depth === 0 && messageActions?.(entry)}
          </header>
          <RichText text={entry.text} />
        </section>
      )
    case 'thinking': {
      const hidden = toggled
      return (
        <section className="tl-thinking" aria-label="Thinking" data-streaming={entry.streaming || undefined}>
          <button
            type="button"
            className="tl-thinking-head"
            aria-expanded={!hidden}
            onClick={() => onToggle(entry.key)}
          >
            <span className="chevron" aria-hidden="true" />
            Thinking
            {entry.streaming && <span className="tl-live">thinking…</span>}
          </button>
          {!hidden &&
            (entry.redacted ? (
              <p className="muted">The model’s thinking is redacted.</p>
            ) : (
              <div className="tl-thinking-text">{entry.text}</div>
            ))}
        </section>
      )
    }
    case 'tool': {
      const status = row.status ?? 'running'
      const open = opensByDefault(entry, status) !== toggled
      return (
        <ToolCard
          tool={entry}
          status={status}
          open={open}
          onToggle={() => onToggle(entry.key)}
          steps={row.children}
          stepsFolded={folded}
          onToggleSteps={() => onFold(entry.toolUseId)}
          sessionId={sessionId}
        />
      )
    }
    case 'decision':
      return <DecisionMarker decision={entry.decision} />
  }
}

const LABELS: Record<Decision['type'], string> = {
  permission: 'Permission',
  retry: 'Retry',
  error: 'Error',
  compaction: 'Compaction',
  model: 'Model',
  settings: 'Settings',
  reset: 'Reset',
  turn: 'Turn',
}

function toneOf(decision: Decision): Tone {
  switch (decision.type) {
    case 'permission':
      return !decision.answer ? 'warning' : decision.answer.behavior === 'allow' ? 'success' : 'danger'
    case 'retry':
      return 'warning'
    case 'error':
      return 'danger'
    case 'turn':
      return decision.status === 'success' ? 'success' : decision.status === 'error' ? 'danger' : 'warning'
    case 'model':
    case 'settings':
    case 'reset':
      return 'accent'
    case 'compaction':
      return 'neutral'
  }
}

function DecisionMarker({ decision }: { decision: Decision }) {
  const label =
    decision.type === 'turn' && decision.status === 'interrupted' ? 'Interrupt' : LABELS[decision.type]
  return (
    <div className="tl-decision" data-decision={decision.type} role="note">
      <Badge tone={toneOf(decision)}>{label}</Badge>
      <span className="tl-decision-text">{decisionText(decision)}</span>
    </div>
  )
}
