/**
 * History pages as the events they were read from, so that one reducer (model.ts) folds both the pages and
 * the live stream; and where the paging stands: the range of sequence numbers read so far, which the live
 * events extend, and what is still to fetch before it (older pages) or in a gap after it.
 */
import type { GatewayEvent, TokenUsage } from '../../../api/types/events.js'
import type { HistoryItem, HistoryPage } from '../../../api/types/history.js'
import type { Usage } from '../../../api/types/sessions.js'

const usageOf = (usage: Usage): TokenUsage => ({
  inputTokens: usage.input_tokens,
  outputTokens: usage.output_tokens,
  cacheReadInputTokens: usage.cache_read_input_tokens,
  cacheCreationInputTokens: usage.cache_creation_input_tokens,
  thinkingTokens: usage.thinking_tokens,
})

/** A settings change's names as the event has them: the history's `permission_mode` is `permissionMode`. */
const camelCased = <T>(changes: Record<string, T>): Record<string, T> =>
  Object.fromEntries(
    Object.entries(changes).map(([name, change]) => [
      name.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase()),
      change,
    ]),
  )

/** The event a history item was read from (history-items.ts `historyItem`, the other way round). */
export function eventOf(item: HistoryItem, sessionId: string): GatewayEvent {
  const envelope = { seq: item.seq, ts: Date.parse(item.ts), sessionId }
  const turnId = item.turn_id ?? ''
  switch (item.type) {
    case 'user':
      return { ...envelope, type: 'turn.started', turnId, content: item.content }
    case 'assistant':
      return {
        ...envelope,
        type: 'message',
        turnId,
        messageId: item.message_id,
        model: item.model,
        content: item.content,
        parentToolUseId: item.parent_tool_use_id,
        synthetic: item.synthetic,
      }
    case 'tool_call':
      return {
        ...envelope,
        type: 'tool.call',
        turnId,
        toolUseId: item.tool_use_id,
        name: item.name,
        input: item.input,
        parentToolUseId: null,
        direct: true,
      }
    case 'tool_result':
      return {
        ...envelope,
        type: 'tool.result',
        turnId,
        toolUseId: item.tool_use_id,
        name: item.name,
        isError: item.is_error,
        content: item.content,
        durationMs: item.duration_ms,
        parentToolUseId: item.parent_tool_use_id,
        ...(item.denied ? { denied: true as const } : {}),
      }
    case 'file_change':
      return {
        ...envelope,
        type: 'file.changed',
        turnId,
        toolUseId: item.tool_use_id,
        tool: item.tool,
        path: item.path,
        kind: item.kind,
        ...(item.before !== undefined ? { before: item.before } : {}),
        ...(item.after !== undefined ? { after: item.after } : {}),
      }
    case 'permission_request':
      return {
        ...envelope,
        type: 'permission.requested',
        turnId,
        requestId: item.request_id,
        toolUseId: item.tool_use_id,
        toolName: item.tool_name,
        input: item.input,
        ...(item.reason !== undefined ? { reason: item.reason } : {}),
      }
    case 'permission_answer':
      return {
        ...envelope,
        type: 'permission.resolved',
        turnId,
        requestId: item.request_id,
        behavior: item.behavior,
        by: item.by,
        ...(item.message !== undefined ? { message: item.message } : {}),
      }
    case 'api_retry':
      return {
        ...envelope,
        type: 'api.retry',
        turnId,
        attempt: item.attempt,
        maxRetries: item.max_retries,
        delayMs: item.delay_ms,
        status: item.status,
      }
    case 'model_change':
      return { ...envelope, type: 'model.changed', turnId, model: item.model }
    case 'settings_change':
      return { ...envelope, type: 'settings.changed', changes: camelCased(item.changes) }
    case 'compaction':
      return {
        ...envelope,
        type: 'compacted',
        turnId,
        trigger: item.trigger,
        preTokens: item.pre_tokens,
        ...(item.post_tokens !== null ? { postTokens: item.post_tokens } : {}),
      }
    case 'conversation_reset':
      return {
        ...envelope,
        type: 'conversation.reset',
        claudeSessionId: item.claude_session_id,
        trigger: item.trigger,
      }
    case 'error':
      return {
        ...envelope,
        type: 'error',
        ...(item.turn_id ? { turnId: item.turn_id } : {}),
        code: item.code,
        message: item.message,
      }
    case 'turn_completed':
      return {
        ...envelope,
        type: 'turn.completed',
        turnId,
        status: item.status,
        result: item.result,
        stopReason: item.stop_reason,
        durationMs: item.duration_ms,
        numTurns: item.num_turns,
        usage: usageOf(item.usage),
        costUsd: item.cost_usd,
        ...(item.error ? { error: item.error } : {}),
      }
  }
}

/**
 * What has been read of the session's events: every sequence number from `from` to `to` (history pages
 * and the live events after them). `from` is where the next older page ends (`before`), 1 once the start
 * is read; `to` is 0 until the first page came.
 */
export interface Coverage {
  from: number
  to: number
  /** The first page came. */
  started: boolean
}

export const NO_COVERAGE: Coverage = { from: 1, to: 0, started: false }

/** A page read backwards (`before`): it reaches further back; the first one also sets where it ends. */
export function olderPage(coverage: Coverage, page: HistoryPage): Coverage {
  const from = page.next_before ?? 1
  if (!coverage.started) return { from, to: page.next_after, started: true }
  return { ...coverage, from: Math.min(coverage.from, from) }
}

/** A page read forwards (`after`) to fill a gap: the range reaches its end. */
export const newerPage = (coverage: Coverage, page: HistoryPage): Coverage => ({
  ...coverage,
  to: Math.max(coverage.to, page.next_after),
})

/**
 * The live events' sequence numbers extend the range while they follow on from it; `gap` is the first
 * number missing before a later event (a page must fetch from there), undefined when none is.
 */
export function extend(
  coverage: Coverage,
  seen: ReadonlySet<number>,
): { coverage: Coverage; gapAfter: number | undefined } {
  if (!coverage.started) return { coverage, gapAfter: undefined }
  let to = coverage.to
  while (seen.has(to + 1)) to++
  let later = false
  for (const seq of seen)
    if (seq > to + 1) {
      later = true
      break
    }
  return { coverage: to === coverage.to ? coverage : { ...coverage, to }, gapAfter: later ? to : undefined }
}

export const hasOlder = (coverage: Coverage) => coverage.started && coverage.from > 1
