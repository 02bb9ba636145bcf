/**
 * A session's stored history (GET /api/sessions/{id}/history, src/api/native/history-items.ts), mirrored by
 * hand.
 */
import type { ErrorCode, EventOf, TurnStatus } from '../../../../src/events/types.js'
import type { ContentBlock, SettingChange } from './events.js'
import type { Usage } from './sessions.js'

/** An item of `GET /api/sessions/{id}/history` (src/api/native/history-items.ts), by `type`. */
export type HistoryItem = { seq: number; ts: string; turn_id: string | null } & (
  | { type: 'user'; content: string | ContentBlock[] }
  | {
      type: 'assistant'
      message_id: string
      model: string
      content: ContentBlock[]
      parent_tool_use_id: string | null
      synthetic: boolean
    }
  | { type: 'tool_call'; tool_use_id: string; name: string; input: unknown; direct: true }
  | {
      type: 'tool_result'
      tool_use_id: string
      name: string
      is_error: boolean
      content: string | ContentBlock[]
      structured?: unknown
      duration_ms: number | null
      parent_tool_use_id: string | null
      denied?: true
    }
  | {
      type: 'file_change'
      tool_use_id: string
      tool: string
      path: string
      kind: EventOf<'file.changed'>['kind']
      before?: string | null
      after?: string
    }
  | {
      type: 'permission_request'
      request_id: string
      tool_use_id: string
      tool_name: string
      input: unknown
      reason?: string
    }
  | {
      type: 'permission_answer'
      request_id: string
      behavior: EventOf<'permission.resolved'>['behavior']
      message?: string
      by: EventOf<'permission.resolved'>['by']
    }
  | { type: 'api_retry'; attempt: number; max_retries: number; delay_ms: number; status: number | null }
  | { type: 'model_change'; model: string | null }
  | { type: 'settings_change'; changes: Record<string, SettingChange> }
  | { type: 'compaction'; trigger: string; pre_tokens: number; post_tokens: number | null }
  | { type: 'conversation_reset'; claude_session_id: string; trigger: string }
  | { type: 'error'; code: ErrorCode; message: string; retry_after_ms?: number }
  | {
      type: 'turn_completed'
      status: TurnStatus
      result: string
      stop_reason: string | null
      duration_ms: number
      num_turns: number
      usage: Usage
      cost_usd: number
      error?: { code: ErrorCode; message: string }
    }
)

/** A page of history: forwards (`after` → `next_after`) or backwards (`before` → `next_before`). */
export interface HistoryPage {
  session_id: string
  items: HistoryItem[]
  next_after: number
  has_more: boolean
  next_before?: number
}
