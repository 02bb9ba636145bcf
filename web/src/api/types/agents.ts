/**
 * Agents and their figures (src/api/native/agent-view.ts), mirrored by hand.
 */

export type AgentScope = 'user' | 'project'

/** `AgentListItem` of src/api/native/agent-view.ts: an agent file's entry, or one of Claude Code's own. */
export interface AgentListItem {
  name: string
  description: string | null
  /** null: every tool. */
  tools: string[] | null
  model: string | null
  scope: AgentScope | 'builtin'
  /** null for Claude Code's own agents. */
  path: string | null
  /** Why Claude Code would not load the file. */
  error?: string
  loaded: boolean
  overridden: boolean
}

/**
 * `AgentConfig`: an agent file with every setting under its API name (`max_turns`; null: not set), its
 * prompt and the front matter keys that are no agent setting.
 */
export interface AgentConfig {
  name: string
  scope: AgentScope
  path: string
  description: string | null
  prompt: string
  other_front_matter: Record<string, unknown>
  error?: string
  [setting: string]: unknown
}

/** One main agent's turns or one subagent type's runs (`GET /api/agent-stats`). */
export interface AgentFigure {
  /** null: Claude Code's default main agent. */
  agent: string | null
  runs: number
  succeeded: number
  success_rate: number | null
  latency_ms: { p50: number | null; p95: number | null }
  tokens: { input: number; output: number }
  /** null for subagents: Claude Code reports cost per turn. */
  cost_usd: number | null
}

export interface AgentStats {
  since: number | null
  main: AgentFigure[]
  subagents: AgentFigure[]
}
