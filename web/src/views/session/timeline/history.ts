/**
 * History pages as the events they were read from, so that one reducer (model.ts) folds both the pages and
 * the live stream; and where the paging stands: the range of sequence numbers read so far, which the live
 * events extend, and what is still to fetch before it (older pages) or in a gap after it.
 */
import {
  camelCase,
  eventFieldsOf,
  HISTORY_ITEM_EVENTS,
  renamed,
} from '../../../../../src/api/native/history-fields.js'
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

/** The event a history item was read from (history-items.ts `historyItem`, the other way round). */
export function eventOf(item: HistoryItem, sessionId: string): GatewayEvent {
  const { event: type, fields } = HISTORY_ITEM_EVENTS[item.type]
  const event: Record<string, unknown> = {
    seq: item.seq,
    ts: Date.parse(item.ts),
    sessionId,
    type,
    // A null turn: an event that has none (a settings change, a reset, an error between turns).
    ...(item.turn_id !== null ? { turnId: item.turn_id } : {}),
    ...eventFieldsOf(item, fields),
    ...valuesOfEvent(item),
  }
  // The item's null is the event's absent count (a compaction that did not report it).
  if (item.type === 'compaction' && item.post_tokens === null) delete event.postTokens
  return event as GatewayEvent
}

/** What an event holds otherwise than its item does: another shape, a constant. */
function valuesOfEvent(item: HistoryItem): Partial<Record<string, unknown>> {
  switch (item.type) {
    case 'tool_call':
      return { parentToolUseId: null, direct: true }
    case 'settings_change':
      return { changes: renamed(item.changes, camelCase) }
    case 'turn_completed':
      return { usage: usageOf(item.usage) }
    default:
      return {}
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
