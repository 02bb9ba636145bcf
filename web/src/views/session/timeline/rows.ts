/**
 * The timeline's rows from its entries: in conversation order, a subagent's steps nested under the
 * `Task`/`Agent` call that started them, each tool call with its status, filtered by kind, and the rows a
 * search matches. Pure functions: node:test checks them.
 */
import type { ToolCallStatus } from '../../../api/types/tools.js'
import { formatCost, formatTokens } from '../../../ui/format.js'
import type { Decision, Entry, EntryOf } from './entry.js'
import type { TimelineState } from './model.js'
import { settingsChangeText } from './settings-change.js'

/** A call's status as the timeline works it out from the events: the same as the server's. */
export type ToolStatus = ToolCallStatus

export const KINDS = ['text', 'thinking', 'tools', 'decisions'] as const
export type Kind = (typeof KINDS)[number]

export interface Row {
  entry: Entry
  /** How deep in subagents: 0 for the main conversation. */
  depth: number
  /** For a tool call. */
  status?: ToolStatus
  /** For a tool call that started a subagent: its steps. */
  children?: number
}

export interface RowOptions {
  kinds: ReadonlySet<Kind>
  /** Subagent calls whose steps are folded away. */
  collapsed: ReadonlySet<string>
}

export const kindOf = (entry: Entry): Kind =>
  entry.kind === 'user' || entry.kind === 'text'
    ? 'text'
    : entry.kind === 'thinking'
      ? 'thinking'
      : entry.kind === 'tool'
        ? 'tools'
        : 'decisions'

/** A tool call's status from what the timeline holds (src/events/tool-calls.ts decides it the same way). */
export function statusOf(
  tool: EntryOf<'tool'>,
  state: TimelineState,
  permission: Extract<Decision, { type: 'permission' }> | undefined,
): ToolStatus {
  const answer = permission?.answer
  if (answer?.behavior === 'deny' && answer.by !== 'interrupt') return 'denied'
  const { result } = tool
  if (result) return result.isError ? (result.denied ? 'denied' : 'failed') : 'succeeded'
  const ended = tool.turnId ? state.turns.get(tool.turnId) : undefined
  if (ended === 'timeout') return 'timeout'
  if (ended === 'error' || ended === 'interrupted' || answer?.by === 'interrupt') return 'interrupted'
  if (!tool.direct && state.processGone > tool.order) return 'interrupted'
  return 'running'
}

/** The rows to show, in order: each entry after the one before it, a subagent's steps under its call. */
export function rowsOf(state: TimelineState, { kinds, collapsed }: RowOptions): Row[] {
  const sorted = [...state.entries.values()].sort((a, b) => a.order - b.order)
  const permissions = new Map<string, Extract<Decision, { type: 'permission' }>>()
  const children = new Map<string, Entry[]>()
  const roots: Entry[] = []
  for (const entry of sorted) {
    if (entry.kind === 'decision' && entry.decision.type === 'permission' && entry.decision.toolUseId)
      permissions.set(entry.decision.toolUseId, entry.decision)
    if (entry.parent !== null && state.entries.has(`tool:${entry.parent}`)) {
      const siblings = children.get(entry.parent)
      if (siblings) siblings.push(entry)
      else children.set(entry.parent, [entry])
    } else roots.push(entry)
  }
  const rows: Row[] = []
  const visit = (entry: Entry, depth: number) => {
    const row: Row = { entry, depth }
    const steps = entry.kind === 'tool' ? children.get(entry.toolUseId) : undefined
    if (entry.kind === 'tool') {
      row.status = statusOf(entry, state, permissions.get(entry.toolUseId))
      if (steps) row.children = steps.length
    }
    if (kinds.has(kindOf(entry))) rows.push(row)
    if (steps && entry.kind === 'tool' && !collapsed.has(entry.toolUseId))
      for (const step of steps) visit(step, depth + 1)
  }
  for (const entry of roots) visit(entry, 0)
  return rows
}

/** What a decision point says, in a line. */
export function decisionText(decision: Decision): string {
  switch (decision.type) {
    case 'permission': {
      const asked = `Permission for ${decision.toolName ?? 'a tool'}`
      const { answer } = decision
      if (!answer) return `${asked}: waiting for an answer`
      const verdict = answer.behavior === 'allow' ? 'allowed' : 'denied'
      const by = {
        client: 'by a client',
        rule: 'by a rule',
        timeout: 'after the timeout',
        interrupt: 'by an interrupt',
      }[answer.by]
      return `${asked}: ${verdict} ${by ?? `(${answer.by})`}${answer.message ? ` — ${answer.message}` : ''}`
    }
    case 'retry':
      return `API retry ${decision.attempt}/${decision.maxRetries} after ${decision.status ?? 'no response'}, in ${(decision.delayMs / 1000).toFixed(1)} s`
    case 'error':
      return `Error ${decision.code}: ${decision.message}`
    case 'compaction':
      return `Conversation compacted (${decision.trigger}): ${formatTokens(decision.preTokens)}${decision.postTokens !== null ? ` → ${formatTokens(decision.postTokens)}` : ''} tokens`
    case 'model':
      return `Model changed to ${decision.model ?? 'the default'}`
    case 'settings':
      return settingsChangeText(decision.changes)
    case 'reset':
      return `Conversation reset (${decision.trigger}): Claude starts a new conversation`
    case 'turn': {
      const label = { success: 'Turn completed', error: 'Turn failed', interrupted: 'Interrupted' }[
        decision.status
      ]
      const tokens = decision.usage.inputTokens + decision.usage.outputTokens
      const parts = [
        label,
        `${(decision.durationMs / 1000).toFixed(1)} s`,
        `${formatTokens(tokens)} tokens`,
        formatCost(decision.costUsd),
      ]
      if (decision.error) parts.push(`${decision.error.code}: ${decision.error.message}`)
      return parts.join(' · ')
    }
  }
}

const searchable = new WeakMap<Entry, string>()

/** The text a search looks in: what the row shows, lower-cased once per entry. */
export function searchTextOf(entry: Entry): string {
  let text = searchable.get(entry)
  if (text === undefined) {
    switch (entry.kind) {
      case 'user':
      case 'text':
      case 'thinking':
        text = entry.text
        break
      case 'tool':
        text = [
          entry.name,
          JSON.stringify(entry.input) ?? '',
          entry.result?.text ?? '',
          ...entry.files.map((file) => file.path),
        ].join('\n')
        break
      case 'decision':
        text = decisionText(entry.decision)
        break
    }
    text = text.toLowerCase()
    searchable.set(entry, text)
  }
  return text
}

/** The indices of the rows `query` matches (case-insensitive), in order; none for an empty query. */
export function matchesOf(rows: readonly Row[], query: string): number[] {
  const needle = query.trim().toLowerCase()
  if (!needle) return []
  const found: number[] = []
  rows.forEach((row, index) => {
    if (searchTextOf(row.entry).includes(needle)) found.push(index)
  })
  return found
}
