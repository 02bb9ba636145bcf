import type { SessionState } from '../api/types/sessions.js'
import type { Tone } from './badge.js'

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
    <span className={`pill pill-${STATE_TONES[state]}`} data-state={state}>
      <span className="pill-dot" aria-hidden="true" />
      {state}
    </span>
  )
}
