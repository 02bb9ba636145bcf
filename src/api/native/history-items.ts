/**
 * A session's conversation as history items, read from its event log: what happened, not what streamed.
 * Token deltas are left out (each block comes whole in its `message`), so are process state, usage (repeated
 * by the turn's outcome) and retries. Each item type is a schema (the routes answer with it) beside the
 * mapper that fills it.
 */
import { type Static, type TProperties, Type } from '@sinclair/typebox'
import { isDirectCall } from '../../engine/direct-calls.js'
import type { EventBus } from '../../events/bus.js'
import type { ContentBlock, GatewayEvent } from '../../events/types.js'
import { Enum, Nullable, ref } from '../responses.js'
import { ToolResultContent, UsageSchema, usageView } from './views.js'

/** An Anthropic content block as the CLI reported it: `text`, `thinking`, `tool_use`, ... */
const Block = Type.Unsafe<ContentBlock>(Type.Object({ type: Type.String() }, { additionalProperties: true }))
const Content = Type.Unsafe<string | ContentBlock[]>(ToolResultContent)

/** One item type: the fields every item has, its `type`, and its own fields. */
const item = <T extends string, P extends TProperties>(type: T, properties: P, description: string) =>
  Type.Object(
    {
      seq: Type.Integer(),
      ts: Type.String({ format: 'date-time', description: 'When the gateway recorded it.' }),
      turn_id: Nullable(
        Type.String({
          description:
            'The turn it belongs to; null for what happens between turns (a reset, a failure to start).',
        }),
      ),
      type: Type.Literal(type),
      ...properties,
    },
    { title: type, description },
  )

export const HistoryItemSchema = Type.Union(
  [
    item('user', { content: Content }, 'What the user sent.'),
    item(
      'assistant',
      {
        message_id: Type.String(),
        model: Type.String(),
        content: Type.Array(Block),
        parent_tool_use_id: Nullable(Type.String({ description: 'Inside a subagent: the Task call.' })),
        synthetic: Type.Boolean({ description: "A local command's answer: no model call happened." }),
      },
      "One of Claude's messages; its `tool_use` blocks are Claude's tool calls.",
    ),
    item(
      'tool_call',
      { tool_use_id: Type.String(), name: Type.String(), input: Type.Unknown(), direct: Type.Literal(true) },
      'A direct tool call made through the API (`POST /api/sessions/{id}/tools/{name}`).',
    ),
    item(
      'tool_result',
      {
        tool_use_id: Type.String(),
        name: Type.String(),
        is_error: Type.Boolean(),
        content: Content,
        structured: Type.Optional(Type.Unknown({ description: "The tool's own output, when reported." })),
        duration_ms: Nullable(Type.Number()),
        parent_tool_use_id: Nullable(Type.String()),
      },
      "A tool call's result.",
    ),
    item(
      'file_change',
      {
        tool_use_id: Type.String(),
        tool: Type.String(),
        path: Type.String(),
        kind: Enum(['created', 'modified', 'deleted'] as const),
        before: Type.Optional(Nullable(Type.String())),
        after: Type.Optional(Type.String()),
      },
      'A file a tool changed.',
    ),
    item(
      'compaction',
      { trigger: Type.String(), pre_tokens: Type.Integer(), post_tokens: Nullable(Type.Integer()) },
      'The conversation was compacted.',
    ),
    item(
      'conversation_reset',
      { claude_session_id: Type.String(), trigger: Type.String() },
      'Claude starts a new conversation (`/clear`).',
    ),
    item(
      'error',
      { code: Type.String(), message: Type.String(), retry_after_ms: Type.Optional(Type.Number()) },
      'An error (codes of docs/events.md).',
    ),
    item(
      'turn_completed',
      {
        status: Enum(['success', 'error', 'interrupted'] as const),
        result: Type.String(),
        stop_reason: Nullable(Type.String()),
        duration_ms: Type.Number(),
        num_turns: Type.Integer(),
        usage: UsageSchema,
        cost_usd: Type.Number(),
        structured_output: Type.Optional(Type.Unknown()),
        error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
      },
      "A turn's outcome.",
    ),
  ],
  { $id: 'HistoryItem', description: 'One item of the history; its fields depend on `type` (docs/api.md).' },
)
export type HistoryItem = Static<typeof HistoryItemSchema>
type ItemBase = Pick<HistoryItem, 'seq' | 'ts' | 'turn_id'>

export const HistoryPageSchema = Type.Object(
  {
    session_id: Type.String(),
    items: Type.Array(ref<HistoryItem>('HistoryItem')),
    next_after: Type.Integer({
      description: 'Pass as `after` for the next page: the last sequence number this page read.',
    }),
    has_more: Type.Boolean({
      description:
        'More events follow `next_after` (a page can be short when it read its whole scan budget).',
    }),
  },
  { $id: 'HistoryPage' },
)
export type HistoryPage = Static<typeof HistoryPageSchema>

/** The history item an event stands for, or null for what the history leaves out. */
export function historyItem(event: GatewayEvent): HistoryItem | null {
  const base = (turnId: string | null | undefined): ItemBase => ({
    seq: event.seq,
    ts: new Date(event.ts).toISOString(),
    turn_id: turnId ?? null,
  })
  switch (event.type) {
    case 'turn.started':
      return { ...base(event.turnId), type: 'user', content: event.content }
    case 'message':
      return {
        ...base(event.turnId),
        type: 'assistant',
        message_id: event.messageId,
        model: event.model,
        content: event.content,
        parent_tool_use_id: event.parentToolUseId,
        synthetic: event.synthetic,
      }
    case 'tool.call':
      // Claude's calls are already in their `message`; only the API's direct calls have none.
      if (!isDirectCall(event)) return null
      return {
        ...base(event.turnId),
        type: 'tool_call',
        tool_use_id: event.toolUseId,
        name: event.name,
        input: event.input,
        direct: true,
      }
    case 'tool.result':
      return {
        ...base(event.turnId),
        type: 'tool_result',
        tool_use_id: event.toolUseId,
        name: event.name,
        is_error: event.isError,
        content: event.content,
        ...(event.structured !== undefined ? { structured: event.structured } : {}),
        duration_ms: event.durationMs,
        parent_tool_use_id: event.parentToolUseId,
      }
    case 'file.changed':
      return {
        ...base(event.turnId),
        type: 'file_change',
        tool_use_id: event.toolUseId,
        tool: event.tool,
        path: event.path,
        kind: event.kind,
        ...(event.before !== undefined ? { before: event.before } : {}),
        ...(event.after !== undefined ? { after: event.after } : {}),
      }
    case 'compacted':
      return {
        ...base(event.turnId),
        type: 'compaction',
        trigger: event.trigger,
        pre_tokens: event.preTokens,
        post_tokens: event.postTokens ?? null,
      }
    case 'conversation.reset':
      return {
        ...base(null),
        type: 'conversation_reset',
        claude_session_id: event.claudeSessionId,
        trigger: event.trigger,
      }
    case 'error':
      return {
        ...base(event.turnId),
        type: 'error',
        code: event.code,
        message: event.message,
        ...(event.retryAfterMs !== undefined ? { retry_after_ms: event.retryAfterMs } : {}),
      }
    case 'turn.completed':
      return {
        ...base(event.turnId),
        type: 'turn_completed',
        status: event.status,
        result: event.result,
        stop_reason: event.stopReason,
        duration_ms: event.durationMs,
        num_turns: event.numTurns,
        usage: usageView(event.usage),
        cost_usd: event.costUsd,
        ...(event.structuredOutput !== undefined ? { structured_output: event.structuredOutput } : {}),
        ...(event.error ? { error: event.error } : {}),
      }
    default:
      return null
  }
}

/** Raw events read per store query while building a page. */
const CHUNK_MIN = 100
const CHUNK_MAX = 1000
/**
 * Raw events one page reads at most: a page stops there even with fewer than `limit` items (`has_more`
 * tells), so a turn of a hundred thousand token deltas costs several cheap pages, not one slow one.
 */
const SCAN_BUDGET = 20_000

/** Up to `limit` items after `after`, reading at most SCAN_BUDGET raw events from the store. */
export function historyPage(bus: EventBus, sessionId: string, after: number, limit: number): HistoryPage {
  const items: HistoryItem[] = []
  const chunk = Math.min(CHUNK_MAX, Math.max(CHUNK_MIN, limit * 4))
  let cursor = after
  let scanned = 0
  scan: while (scanned < SCAN_BUDGET) {
    const want = Math.min(chunk, SCAN_BUDGET - scanned)
    const events = bus.replay(sessionId, cursor, want)
    for (const event of events) {
      cursor = event.seq
      scanned++
      const item = historyItem(event)
      if (item) {
        items.push(item)
        if (items.length >= limit) break scan
      }
    }
    if (events.length < want) break
  }
  return { session_id: sessionId, items, next_after: cursor, has_more: cursor < bus.currentSeq(sessionId) }
}

/** Every item of the session's history, read chunk by chunk (the raw events are not all held at once). */
export function wholeHistory(bus: EventBus, sessionId: string): HistoryItem[] {
  const items: HistoryItem[] = []
  let cursor = 0
  for (;;) {
    const events = bus.replay(sessionId, cursor, CHUNK_MAX)
    for (const event of events) {
      cursor = event.seq
      const item = historyItem(event)
      if (item) items.push(item)
    }
    if (events.length < CHUNK_MAX) return items
  }
}
