/**
 * Sessions (the REST views of src/api/native/views.ts, snake_case) and a turn's start, mirrored by hand:
 * only the fields the UI uses are spelled out. The states are the server's own (src/events/types.ts).
 */
import type { SessionState } from '../../../../src/events/types.js'

export { SESSION_STATES, type SessionState } from '../../../../src/events/types.js'

export interface Usage {
  input_tokens: number
  output_tokens: number
  cache_read_input_tokens: number
  cache_creation_input_tokens: number
  thinking_tokens: number
}

/** `Session` of src/api/native/views.ts. */
export interface Session {
  id: string
  title: string | null
  state: SessionState
  workspace: string
  model: string | null
  agent: string | null
  permission_mode: string
  claude_session_id: string | null
  runner: { pid: number | null; busy: boolean } | null
  usage: Usage
  cost_usd: number
  turns: number
  created_at: string
  updated_at: string
  /** The user it belongs to; null: the operator's. Absent from gateways without users. */
  owner?: string | null
}

/** `POST /api/sessions/{id}/messages` with `Prefer: respond-async`: the turn has started. */
export interface TurnStarted {
  turn_id: string
  start_seq: number
}
