/**
 * A session's permission mode and rules (src/api/native/views.ts) and the requests waiting for an answer
 * (src/api/native/permissions.ts), mirrored by hand.
 */

export const PERMISSION_MODES = ['default', 'acceptEdits', 'bypassPermissions', 'plan', 'dontAsk'] as const
export type PermissionMode = (typeof PERMISSION_MODES)[number]

/** `ToolPermissions` of src/api/native/views.ts: a session's permission mode, rules and approvals. */
export interface ToolPermissions {
  permission_mode: PermissionMode
  allowed_tools: string[]
  disallowed_tools: string[]
  ask_permissions: boolean
}

/** `PermissionRequest` of src/api/native/permissions.ts: a request waiting for an answer. */
export interface PermissionRequest {
  request_id: string
  tool_use_id: string
  tool_name: string
  input: unknown
  reason?: string
  turn_id: string
  requested_at: string
  /** When it is denied unanswered; null: never. */
  expires_at: string | null
}
