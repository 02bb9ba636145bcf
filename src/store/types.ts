import type { EventType, GatewayEvent, SessionState, TokenUsage } from '../events/types.js'
import type { StoreHealth } from './errors.js'

/** Claude Code's permission modes, as sessions, the configuration and both APIs name them. */
export const PERMISSION_MODES = ['default', 'acceptEdits', 'bypassPermissions', 'plan', 'dontAsk'] as const
export type PermissionMode = (typeof PERMISSION_MODES)[number]

/** A function the API client executes itself, offered to Claude as a tool. */
export interface ClientToolSpec {
  name: string
  description: string
  /** JSON Schema of the arguments, as the client gave it. */
  parameters: Record<string, unknown>
}

export type Effort = 'low' | 'medium' | 'high' | 'xhigh' | 'max'

export type ThinkingSetting =
  | { type: 'adaptive' }
  | { type: 'enabled'; budgetTokens: number }
  | { type: 'disabled' }

/** What a session asks of Claude Code; everything a runner needs to start (or resume) it. */
export interface SessionSettings {
  workspace: string
  model: string | null
  agent: string | null
  permissionMode: PermissionMode
  /** Built-in tools offered to Claude; null = Claude Code's default set. */
  tools: string[] | null
  allowedTools: string[]
  disallowedTools: string[]
  /** Replaces Claude Code's system prompt when set. */
  systemPrompt: string | null
  /** Appended to Claude Code's system prompt when set. */
  appendSystemPrompt: string | null
  thinking: ThinkingSetting | null
  /** How hard Claude works (Claude Code's effort level); null: the model's default. */
  effort: Effort | null
  /** A JSON Schema the final answer must follow (Claude Code's structured output); null: free text. */
  outputSchema: Record<string, unknown> | null
  /** Cap on each model response's output tokens; null: Claude Code's default. */
  maxOutputTokens: number | null
  maxTurns: number | null
  /** Functions the API client runs (OpenAI `tools`); null: none. */
  clientTools: ClientToolSpec[] | null
  additionalDirectories: string[]
  /**
   * When Claude Code would ask before running a tool: true publishes a `permission.requested` event and
   * waits for an answer through the API (deny after the permission timeout); false denies at once, so only
   * the permission mode and the allow/deny rules decide.
   */
  askPermissions: boolean
}

export interface SessionRecord {
  id: string
  title: string | null
  settings: SessionSettings
  /** Claude Code's own session id: what a runner resumes. Changes on /clear. */
  claudeSessionId: string | null
  state: SessionState
  createdAt: number
  updatedAt: number
  usage: TokenUsage
  costUsd: number
  turns: number
  /**
   * The main agent was removed: Claude Code would restore it from the transcript on resume, so the next
   * start clears it there first.
   */
  clearAgentOnResume?: boolean
}

export interface SessionQuery {
  limit: number
  offset: number
  state?: SessionState
  workspace?: string
  agent?: string
}

export interface Page<T> {
  items: T[]
  total: number
}

export interface EventQuery {
  afterSeq?: number
  limit?: number
  /** Only events of these types (a session's tool calls among its token deltas, say). */
  types?: readonly EventType[]
}

/**
 * Persistence behind the engine. SQLite by default; the interface is what another backend implements.
 * When the storage itself fails (full, read-only, corrupt, unreachable) a method throws a StoreError
 * (errors.ts), and `health()` reports the failure until a write succeeds again; any other error is about
 * the data given (the event bus then writes the events of a failed batch one by one to find it).
 */
export interface Store {
  insertSession(record: SessionRecord): void
  updateSession(record: SessionRecord): void
  getSession(id: string): SessionRecord | undefined
  listSessions(query: SessionQuery): Page<SessionRecord>
  deleteSession(id: string): void
  countSessions(): number
  appendEvents(events: readonly GatewayEvent[]): void
  readEvents(sessionId: string, query?: EventQuery): GatewayEvent[]
  lastSeq(sessionId: string): number
  /** Whether the storage works, as far as the last calls tell. */
  health(): StoreHealth
  close(): void
}
