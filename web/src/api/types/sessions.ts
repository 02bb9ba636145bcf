/**
 * Sessions (the REST views of src/api/native/views.ts, snake_case) and a turn's start. Mirrored by hand
 * from the server's definitions, like every module here: only the fields the UI uses are spelled out.
 */

export const SESSION_STATES = [
  'new',
  'starting',
  'idle',
  'running',
  'hibernated',
  'paused',
  'closed',
] as const
export type SessionState = (typeof SESSION_STATES)[number]

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
}

/** `POST /api/sessions/{id}/messages` with `Prefer: respond-async`: the turn has started. */
export interface TurnStarted {
  turn_id: string
  start_seq: number
}
