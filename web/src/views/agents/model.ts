/**
 * The agents list: each agent (files and Claude Code's own) with its figures from GET /api/agent-stats —
 * as a main agent (turns) and as a subagent type (runs) — and the agents that have figures but no entry
 * (Claude Code's default main agent, a subagent type no file defines). Pure: node:test checks it.
 */
import type { AgentFigure, AgentListItem, AgentStats } from '../../api/types/agents.js'
import type { LiveEvent } from '../../api/types/events.js'

export interface AgentRow {
  /** Unique in the list: scope and name. */
  key: string
  name: string
  /** The entry of GET /api/agents; absent for an agent known only by its figures. */
  agent?: AgentListItem
  /** As a session's main agent: its turns. */
  main?: AgentFigure
  /** As a subagent type (Task / Agent tool): its runs. */
  subagent?: AgentFigure
}

/** The name Claude Code's default main agent (`agent: null`) is shown under. */
export const DEFAULT_AGENT = 'Claude Code (default)'

/**
 * One row per agent entry, figures joined by name. Figures go to the entry Claude Code would use for that
 * name (loaded, not overridden); names no entry has get rows of their own, after the entries.
 */
export function agentRows(agents: readonly AgentListItem[], stats: AgentStats | undefined): AgentRow[] {
  const main = new Map(stats?.main.map((figure) => [figure.agent, figure]))
  const subagent = new Map(stats?.subagents.map((figure) => [figure.agent, figure]))
  const effective = new Set<AgentListItem>()
  for (const name of new Set(agents.map((agent) => agent.name))) {
    const candidates = agents.filter((agent) => agent.name === name)
    effective.add(candidates.find((agent) => agent.loaded && !agent.overridden) ?? candidates[0]!)
  }
  const rows: AgentRow[] = agents.map((agent) => ({
    key: `${agent.scope}:${agent.name}`,
    name: agent.name,
    agent,
    ...(effective.has(agent) ? figuresOf(agent.name, main, subagent) : {}),
  }))
  const named = new Set(agents.map((agent) => agent.name))
  const orphans = new Set<string | null>(
    [...main.keys(), ...subagent.keys()].filter((name) => name === null || !named.has(name)),
  )
  for (const name of orphans)
    rows.push({ key: `figures:${name}`, name: name ?? DEFAULT_AGENT, ...figuresOf(name, main, subagent) })
  return rows
}

function figuresOf(
  name: string | null,
  main: Map<string | null, AgentFigure>,
  subagent: Map<string | null, AgentFigure>,
): Pick<AgentRow, 'main' | 'subagent'> {
  const figures: Pick<AgentRow, 'main' | 'subagent'> = {}
  const asMain = main.get(name)
  const asSubagent = subagent.get(name)
  if (asMain) figures.main = asMain
  if (asSubagent) figures.subagent = asSubagent
  return figures
}

/** Rows whose name or description contains `search` (any case). */
export function searchRows(rows: readonly AgentRow[], search: string): AgentRow[] {
  const needle = search.trim().toLowerCase()
  if (!needle) return [...rows]
  return rows.filter((row) =>
    [row.name, row.agent?.description].some((text) => text?.toLowerCase().includes(needle)),
  )
}

/** Turns and runs end with `turn.completed`: the figures are fetched again after one. */
export const figuresChanged = (events: readonly LiveEvent[]) =>
  events.some((event) => event.type === 'turn.completed')

/** 0.923 → "92%"; null (nothing ran) → "—". */
export const formatRate = (rate: number | null) => (rate === null ? '—' : `${Math.round(rate * 100)}%`)

/** What the `since` choice of the figures means, in ms since the epoch. */
export const SINCE_CHOICES = [
  { value: '', label: 'All time', ms: 0 },
  { value: '24h', label: 'Last 24 hours', ms: 24 * 3_600_000 },
  { value: '7d', label: 'Last 7 days', ms: 7 * 24 * 3_600_000 },
] as const

export function sinceOf(choice: string, now: number): number | undefined {
  const found = SINCE_CHOICES.find((each) => each.value === choice)
  return found && found.ms > 0 ? now - found.ms : undefined
}
