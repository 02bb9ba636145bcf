/**
 * The tool calls list across sessions (GET /api/tool-calls, newest first): filters as the route's query,
 * pages appended as the list scrolls, the newest page merged in again when the live stream says calls
 * started or ended. Pure: node:test checks it.
 */
import type { LiveEvent } from '../../api/types/events.js'
import type { Page } from '../../api/types/page.js'
import type { ToolCall, ToolCaller, ToolCallStatus } from '../../api/types/tools.js'

export interface CallFilters {
  name: string
  status: ToolCallStatus | ''
  session: string
  agent: string
  caller: ToolCaller | ''
}

export const NO_FILTERS: CallFilters = { name: '', status: '', session: '', agent: '', caller: '' }

export const isFiltered = (filters: CallFilters) =>
  Object.values(filters).some((value) => value.trim() !== '')

/** The route's query for these filters (blank ones left out). */
export const filterQuery = ({
  name,
  status,
  session,
  agent,
  caller,
}: CallFilters): Record<string, string> => ({
  name: name.trim(),
  status,
  session_id: session.trim(),
  agent: agent.trim(),
  caller,
})

export interface CallsState {
  /** Newest first, as the server orders them. */
  items: ToolCall[]
  /** Calls matching the filters on the server, all pages. */
  total: number
  /** Every page is loaded. */
  complete: boolean
}

export const EMPTY: CallsState = { items: [], total: 0, complete: false }

/** A call's identity: tool_use ids are unique within a session only. */
export const callKey = (call: Pick<ToolCall, 'session_id' | 'id'>) => `${call.session_id} ${call.id}`

/** A page that follows what is loaded (offset = items loaded); calls seen already are replaced. */
export function addPage(state: CallsState, page: Page<ToolCall>): CallsState {
  const fresh = new Map(page.items.map((call) => [callKey(call), call]))
  const items = state.items.map((call) => fresh.get(callKey(call)) ?? call)
  const known = new Set(state.items.map(callKey))
  for (const call of page.items) if (!known.has(callKey(call))) items.push(call)
  return { items, total: page.total, complete: page.items.length === 0 || items.length >= page.total }
}

/**
 * The newest page fetched again: its calls replace what the list has from its start down to the page's
 * oldest call (new calls appear, finished ones change, ones no longer matching the filters go); older
 * loaded calls stay below it.
 */
export function mergeHead(state: CallsState, page: Page<ToolCall>): CallsState {
  const fullPage = page.items.length >= page.limit
  const oldest = page.items.at(-1)
  const inPage = new Set(page.items.map(callKey))
  const below =
    fullPage && oldest
      ? state.items.filter((call) => !inPage.has(callKey(call)) && !isNewer(call, oldest))
      : []
  const items = [...page.items, ...below]
  return {
    items,
    total: page.total,
    complete: page.items.length === 0 || items.length >= page.total,
  }
}

/** Whether `a` comes before `b` in the server's order (started later). */
const isNewer = (a: ToolCall, b: ToolCall) =>
  a.started_at > b.started_at || (a.started_at === b.started_at && a.seq > b.seq)

const CHANGES_CALLS = new Set<LiveEvent['type']>([
  'tool.call',
  'tool.result',
  'permission.resolved',
  'turn.completed',
  'session.state',
])

/** Events after which the list is fetched again: a call started, ended, or was decided. */
export const callsChanged = (events: readonly LiveEvent[]) =>
  events.some((event) => CHANGES_CALLS.has(event.type))

/** The input fields that say best what a call did, in order of preference. */
const TELLING_FIELDS = ['command', 'file_path', 'path', 'pattern', 'url', 'query', 'description', 'prompt']

/** One line about a call's input: `npm test`, `src/app.ts`; else its JSON, cut. */
export function inputSummary(input: unknown, max = 120): string {
  if (input === null || typeof input !== 'object') return cut(JSON.stringify(input) ?? '', max)
  const fields = input as Record<string, unknown>
  for (const field of TELLING_FIELDS) {
    const value = fields[field]
    if (typeof value === 'string' && value.trim()) return cut(value.replace(/\s+/g, ' ').trim(), max)
  }
  return cut(JSON.stringify(input), max)
}

const cut = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text)

/**
 * A result's content as text: a string, or its text blocks (others named by type). A JSON answer (a direct
 * tool's) is indented to be read.
 */
export function resultText(content: string | { type: string; [key: string]: unknown }[]): string {
  const text =
    typeof content === 'string'
      ? content
      : content
          .map((block) =>
            block.type === 'text' && typeof block.text === 'string' ? block.text : `[${block.type}]`,
          )
          .join('\n')
  if (!/^\s*[{[]/.test(text)) return text
  try {
    return JSON.stringify(JSON.parse(text), null, 2)
  } catch {
    return text
  }
}
