/**
 * Which event each history item type is read from, and the event fields the item carries, in the item's
 * order and under their snake_case names (`toolUseId` → `tool_use_id`). The server reads events into
 * items with it (history-items.ts) and the admin UI reads items back into events (web/src/views/session/
 * timeline/history.ts): one table, so that the two directions cannot drift apart. It imports types only,
 * as the UI bundles it.
 */
import type { EventOf, EventType } from '../../events/types.js'

/** A name as the API's views spell it: `permissionMode` → `permission_mode`. */
export const snakeCase = (name: string) => name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)

/** A field's name in its event and in its history item. */
export interface FieldNames {
  event: string
  item: string
}

/** An item read from events of type `event`: the fields it copies, checked against the event's own. */
const readFrom = <E extends EventType>(event: E, ...fields: (keyof EventOf<E> & string)[]) => ({
  event,
  // Both spellings once, here, rather than renaming every field of every event a history page reads.
  fields: fields.map((name): FieldNames => ({ event: name, item: snakeCase(name) })),
})

export const HISTORY_ITEM_EVENTS = {
  user: readFrom('turn.started', 'content'),
  assistant: readFrom('message', 'messageId', 'model', 'content', 'parentToolUseId', 'synthetic'),
  tool_call: readFrom('tool.call', 'toolUseId', 'name', 'input'),
  tool_result: readFrom(
    'tool.result',
    'toolUseId',
    'name',
    'isError',
    'content',
    'structured',
    'durationMs',
    'parentToolUseId',
    'denied',
  ),
  file_change: readFrom('file.changed', 'toolUseId', 'tool', 'path', 'kind', 'before', 'after'),
  permission_request: readFrom(
    'permission.requested',
    'requestId',
    'toolUseId',
    'toolName',
    'input',
    'reason',
  ),
  permission_answer: readFrom('permission.resolved', 'requestId', 'behavior', 'message', 'by'),
  api_retry: readFrom('api.retry', 'attempt', 'maxRetries', 'delayMs', 'status'),
  model_change: readFrom('model.changed', 'model'),
  settings_change: readFrom('settings.changed', 'changes'),
  compaction: readFrom('compacted', 'trigger', 'preTokens', 'postTokens'),
  conversation_reset: readFrom('conversation.reset', 'claudeSessionId', 'trigger'),
  error: readFrom('error', 'code', 'message', 'retryAfterMs'),
  turn_completed: readFrom(
    'turn.completed',
    'status',
    'result',
    'stopReason',
    'durationMs',
    'numTurns',
    'usage',
    'costUsd',
    'structuredOutput',
    'error',
  ),
}

/** A name as the events spell it: `permission_mode` → `permissionMode`. */
export const camelCase = (name: string) =>
  name.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase())

/** The same record under other names (a settings change's, from one spelling to the other). */
export const renamed = <T>(record: Record<string, T>, rename: (name: string) => string): Record<string, T> =>
  Object.fromEntries(Object.entries(record).map(([name, value]) => [rename(name), value]))

/** The fields an event has of those listed, as its history item names them. */
export const itemFieldsOf = (event: object, fields: readonly FieldNames[]) =>
  copied(event, fields, 'event', 'item')

/** The fields a history item has of those listed, as its event names them. */
export const eventFieldsOf = (item: object, fields: readonly FieldNames[]) =>
  copied(item, fields, 'item', 'event')

/** The listed fields `from` has (absent or undefined ones are left out), in the list's order. */
function copied(
  from: object,
  fields: readonly FieldNames[],
  nameIn: keyof FieldNames,
  nameOut: keyof FieldNames,
): Record<string, unknown> {
  const to: Record<string, unknown> = {}
  for (const names of fields) {
    const value = (from as Record<string, unknown>)[names[nameIn]]
    if (value !== undefined) to[names[nameOut]] = value
  }
  return to
}
