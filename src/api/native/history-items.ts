/**
 * A session's conversation as history items, read from its event log: what happened, not what streamed.
 * Token deltas are left out (each block comes whole in its `message`), so are process state and usage
 * (repeated by the turn's outcome); the decision points (permissions, retries, model and settings changes)
 * stay. Each item type is a schema (the routes answer with it); the fields it copies from its event are
 * listed in history-fields.ts.
 */
import { type Static, type TProperties, Type } from '@sinclair/typebox'
import type { EventBus } from '../../events/bus.js'
import { isDirectCall } from '../../events/tool-calls.js'
import type { ContentBlock, GatewayEvent } from '../../events/types.js'
import { Enum, Nullable, ref } from '../responses.js'
import { HISTORY_ITEM_EVENTS, itemFieldsOf, renamed, snakeCase } from './history-fields.js'
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
        denied: Type.Optional(Type.Literal(true, { description: 'Refused by a permission rule or mode.' })),
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
      'permission_request',
      {
        request_id: Type.String(),
        tool_use_id: Type.String(),
        tool_name: Type.String(),
        input: Type.Unknown(),
        reason: Type.Optional(Type.String()),
      },
      'Claude Code asked whether a tool may run.',
    ),
    item(
      'permission_answer',
      {
        request_id: Type.String(),
        behavior: Enum(['allow', 'deny'] as const),
        message: Type.Optional(Type.String()),
        by: Enum(['client', 'rule', 'timeout', 'interrupt'] as const),
      },
      'A permission request was decided.',
    ),
    item(
      'api_retry',
      {
        attempt: Type.Integer(),
        max_retries: Type.Integer(),
        delay_ms: Type.Number(),
        status: Nullable(Type.Integer()),
      },
      'The model call failed and Claude Code tries again.',
    ),
    item('model_change', { model: Nullable(Type.String()) }, '`/model` switched the model.'),
    item(
      'settings_change',
      {
        changes: Type.Record(
          Type.String(),
          Type.Union([
            Type.Object({ from: Type.Unknown(), to: Type.Unknown() }),
            Type.Object({ changed: Type.Literal(true) }, { description: 'A prompt text or a schema.' }),
          ]),
          {
            description:
              "Each setting whose value changed, by its name in the session's view (`model`, `agent`, `permission_mode`, ...).",
          },
        ),
      },
      "An API client changed the session's settings (from its next turn).",
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

export const HistoryPageSchema = Type.Object(
  {
    session_id: Type.String(),
    items: Type.Array(ref<HistoryItem>('HistoryItem')),
    next_after: Type.Integer({
      description: 'Pass as `after` for the next page: the last sequence number this page read.',
    }),
    has_more: Type.Boolean({
      description:
        'More events follow `next_after` (a page can be short when it read its whole scan budget); ' +
        'with `before`, more events come before `next_before`.',
    }),
    next_before: Type.Optional(
      Type.Integer({
        description: 'With `before`: pass as `before` for the page before: the first sequence number read.',
      }),
    ),
  },
  { $id: 'HistoryPage' },
)
export type HistoryPage = Static<typeof HistoryPageSchema>

// The compiler finds an item type of the schema that the table has no row for.
HISTORY_ITEM_EVENTS satisfies Record<HistoryItem['type'], unknown>

/** Each event type that has a history item: the item's type and the event fields it copies. */
const ITEM_OF_EVENT = new Map(
  Object.entries(HISTORY_ITEM_EVENTS).map(([type, { event, fields }]) => [event as string, { type, fields }]),
)

/** The history item an event stands for, or null for what the history leaves out. */
export function historyItem(event: GatewayEvent): HistoryItem | null {
  const read = ITEM_OF_EVENT.get(event.type)
  if (!read) return null
  // Claude's calls are already in their `message`; only the API's direct calls have none.
  if (event.type === 'tool.call' && !isDirectCall(event)) return null
  return {
    seq: event.seq,
    ts: new Date(event.ts).toISOString(),
    turn_id: ('turnId' in event ? event.turnId : undefined) ?? null,
    type: read.type,
    ...itemFieldsOf(event, read.fields),
    ...valuesOfItem(event),
  } as HistoryItem
}

/** What an item holds otherwise than its event does: another shape, a default, a constant. */
function valuesOfItem(event: GatewayEvent): Partial<Record<string, unknown>> {
  switch (event.type) {
    case 'tool.call':
      return { direct: true }
    case 'settings.changed':
      return { changes: renamed(event.changes, snakeCase) }
    case 'compacted':
      return { post_tokens: event.postTokens ?? null }
    case 'turn.completed':
      return { usage: usageView(event.usage) }
    default:
      return {}
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

/**
 * The items of one page as its events are read, either way: each event read counts against SCAN_BUDGET,
 * and the page is full at `limit` items.
 */
function pageReader(limit: number) {
  const items: HistoryItem[] = []
  const chunk = Math.min(CHUNK_MAX, Math.max(CHUNK_MIN, limit * 4))
  let scanned = 0
  return {
    items,
    /** Raw events to ask the store for next: a chunk sized to the page, within what is left of the budget. */
    want: () => Math.min(chunk, SCAN_BUDGET - scanned),
    budgetLeft: () => scanned < SCAN_BUDGET,
    /** Takes the event's item, if it has one; true once the page is full. */
    read(event: GatewayEvent): boolean {
      scanned++
      const item = historyItem(event)
      if (!item) return false
      items.push(item)
      return items.length >= limit
    },
  }
}

/** Up to `limit` items after `after`, reading at most SCAN_BUDGET raw events from the store. */
export async function historyPage(
  bus: EventBus,
  sessionId: string,
  after: number,
  limit: number,
): Promise<HistoryPage> {
  const page = pageReader(limit)
  let cursor = after
  scan: while (page.budgetLeft()) {
    const want = page.want()
    const events = await bus.replay(sessionId, cursor, want)
    for (const event of events) {
      cursor = event.seq
      if (page.read(event)) break scan
    }
    if (events.length < want) break
  }
  return {
    session_id: sessionId,
    items: page.items,
    next_after: cursor,
    has_more: cursor < (await bus.loadSeq(sessionId)),
  }
}

/**
 * Up to `limit` items before `before` (the last page of a long session, then the ones before it), oldest
 * first, reading at most SCAN_BUDGET raw events backwards: sequence numbers have no gaps, so each chunk is
 * a forward read of the range just below the last one.
 */
export async function historyPageBefore(
  bus: EventBus,
  sessionId: string,
  before: number,
  limit: number,
): Promise<HistoryPage> {
  const page = pageReader(limit)
  const last = Math.min(before - 1, await bus.loadSeq(sessionId))
  /** The first sequence number read so far. */
  let cursor = last + 1
  scan: while (page.budgetLeft() && cursor > 1) {
    const from = Math.max(1, cursor - page.want())
    const events = await bus.replay(sessionId, from - 1, cursor - from)
    for (let index = events.length - 1; index >= 0; index--) {
      const event = events[index]!
      cursor = event.seq
      if (page.read(event)) break scan
    }
    cursor = from
  }
  const items = page.items.reverse()
  return { session_id: sessionId, items, next_after: last, has_more: cursor > 1, next_before: cursor }
}

/** Every item of the session's history, read chunk by chunk (the raw events are not all held at once). */
export async function wholeHistory(bus: EventBus, sessionId: string): Promise<HistoryItem[]> {
  const items: HistoryItem[] = []
  let cursor = 0
  for (;;) {
    const events = await bus.replay(sessionId, cursor, CHUNK_MAX)
    for (const event of events) {
      cursor = event.seq
      const item = historyItem(event)
      if (item) items.push(item)
    }
    if (events.length < CHUNK_MAX) return items
  }
}
