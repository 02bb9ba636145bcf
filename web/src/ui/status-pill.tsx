/** How a session's state and a tool call's status read, wherever they show. */
import type { SessionState } from '../api/types/sessions.js'
import type { ToolCallStatus } from '../api/types/tools.js'
import { type Tone, toneStyle } from './badge.js'

// Badge and StatusPill are used together: either module gives both.
export { Badge, type Tone } from './badge.js'

const STATE_TONES: Record<SessionState, Tone> = {
  new: 'neutral',
  starting: 'accent',
  running: 'accent',
  idle: 'success',
  hibernated: 'neutral',
  paused: 'warning',
  closed: 'neutral',
}

/** A session's state; `running` pulses. */
export function StatusPill({ state }: { state: SessionState }) {
  return (
    <span className="pill" style={toneStyle(STATE_TONES[state])} data-state={state}>
      <span className="dot" aria-hidden="true" />
      {state}
    </span>
  )
}

const CALL_TONES: Record<ToolCallStatus, Tone> = {
  running: 'accent',
  succeeded: 'success',
  failed: 'danger',
  denied: 'warning',
  interrupted: 'neutral',
  timeout: 'danger',
}

/** A tool call's status as a badge's tone: a failure stands out, a refusal warns. */
export const callStatusTone = (status: ToolCallStatus): Tone => CALL_TONES[status]
