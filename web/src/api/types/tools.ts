/**
 * Tool calls (src/api/native/tool-calls.ts) and direct tools (src/api/native/tools.ts), mirrored by hand;
 * the statuses and callers are the server's own (src/events/tool-calls.ts).
 */
import type { ToolCaller, ToolCallStatus } from '../../../../src/events/tool-calls.js'
import type { ContentBlock, EventOf } from './events.js'

export {
  TOOL_CALL_STATUSES,
  TOOL_CALLERS,
  type ToolCaller,
  type ToolCallStatus,
} from '../../../../src/events/tool-calls.js'

/** `ToolCall` of src/api/native/tool-calls.ts. */
export interface ToolCall {
  /** The tool_use id (`direct_…` for a direct call). */
  id: string
  session_id: string
  seq: number
  name: string
  input: unknown
  requested_input?: unknown
  status: ToolCallStatus
  caller: ToolCaller
  agent: string | null
  parent_tool_use_id: string | null
  turn_id: string
  result: { content: string | ContentBlock[]; is_error: boolean; structured?: unknown } | null
  permission: {
    request_id: string
    behavior: EventOf<'permission.resolved'>['behavior'] | null
    by: EventOf<'permission.resolved'>['by'] | null
    message?: string
    reason?: string
  } | null
  started_at: string
  finished_at: string | null
  duration_ms: number | null
}

/** A JSON Schema as the gateway describes inputs (only what the UI reads). */
export interface JsonSchema {
  type?: string | string[]
  description?: string
  enum?: unknown[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  items?: JsonSchema
  minimum?: number
  maximum?: number
  minLength?: number
}

/** `ToolDescription` of src/api/native/tools.ts: a direct tool. */
export interface ToolDescription {
  name: string
  claude_code_name: string
  description: string
  input_schema: JsonSchema
  endpoint: string
}
