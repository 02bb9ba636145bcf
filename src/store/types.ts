import type { PositionedEvent } from '../events/positions.js'
import type { ToolCallStatus } from '../events/tool-calls.js'
import type { EventType, GatewayEvent, SessionState, TokenUsage } from '../events/types.js'
import type { AccessStore } from './access.js'
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
  /** Approved MCP servers (`users.mcpServers`) the session's process starts with, by name; [] none. */
  mcpServers?: string[]
  /**
   * When Claude Code would ask before running a tool: true publishes a `permission.requested` event and
   * waits for an answer through the API (deny after the permission timeout); false denies at once, so only
   * the permission mode and the allow/deny rules decide.
   */
  askPermissions: boolean
}

export interface SessionRecord {
  id: string
  /** The user who created it (src/users/); null: the operator's, from a gateway without users. */
  owner?: string | null
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
  /** Only this user's sessions. */
  owner?: string
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
 * A page of events and how far its read went in the log: rows left out (unreadable, or of other types)
 * count too, so a page with fewer events than its limit is not the end of the log unless `end` says so.
 */
export interface EventPage<T> {
  events: T[]
  /** The seq (or position) of the last row read, the query's start when none was: the next page's start. */
  last: number
  /** Fewer rows than the limit were left: nothing more is stored. */
  end: boolean
}

/** Which events `readEventsAfter` reads, of every session by default. */
export interface PositionQuery {
  /** Only events of these sessions. */
  sessionIds?: readonly string[]
  /** Only events of these types. */
  types?: readonly EventType[]
  limit?: number
}

/** Tool calls across sessions (the `tool_calls` read model), newest first. */
export interface ToolCallQuery {
  limit: number
  offset: number
  name?: string
  status?: ToolCallStatus
  sessionId?: string
  /** Only calls in this user's sessions. */
  owner?: string
  agent?: string
  caller?: 'main' | 'subagent' | 'direct'
  /** Only calls started at or after this time (ms since the epoch). */
  since?: number
  /** Sessions a Claude Code process serves now: Claude's calls without a result run only in those. */
  liveSessions: readonly string[]
}

/** Where a call is in its session's log, and who made it (as its session's agent was then). */
export interface ToolCallRef {
  sessionId: string
  toolUseId: string
  seq: number
  caller: 'main' | 'subagent' | 'direct'
  agent: string | null
  /** Sequence number of the last event that changed it: its view is read from `seq` up to there. */
  lastSeq: number
}

/** A `file.changed` event with its line counts, as the `file_changes` read model keeps it. */
export interface FileChangeRef {
  seq: number
  ts: number
  turnId: string
  toolUseId: string
  tool: string
  path: string
  kind: 'created' | 'modified' | 'deleted'
  /** Lines added and removed; null when a side is unknown or too large to compare. */
  added: number | null
  removed: number | null
  /** Both sides are known, reported by the tool or by the file's previous change. */
  known: boolean
}

/** A file a session changed, rolled up as of its last change. */
export interface ChangedFile {
  path: string
  /** What the session did to it, as of its last change. */
  status: 'created' | 'modified' | 'deleted'
  changes: number
  /** Sums over the changes whose counts are known. */
  added: number
  removed: number
  lastSeq: number
}

/** A session's code changes: every file (in the order first changed) and a page of the changes, oldest first. */
export interface FileChanges {
  totals: { files: number; added: number; removed: number }
  files: ChangedFile[]
  changes: Page<FileChangeRef>
}

/** An agent's finished turns (main agent) or runs (subagent type), totalled. */
export interface AgentFigure {
  /** null: Claude Code's default main agent. */
  agent: string | null
  runs: number
  succeeded: number
  p50Ms: number | null
  p95Ms: number | null
  inputTokens: number
  outputTokens: number
  /** null for subagents: Claude Code reports cost per turn only. */
  costUsd: number | null
}

export interface AgentFigures {
  main: AgentFigure[]
  subagents: (AgentFigure & { agent: string })[]
}

/**
 * Persistence behind the engine: SQLite by default (sqlite.ts), PostgreSQL for several replicas
 * (postgres/). Every method is asynchronous, because a networked database answers later; the SQLite store
 * answers at once, in resolved promises. When the storage itself fails (full, read-only, corrupt,
 * unreachable) a method rejects with a StoreError (errors.ts), and `health()` reports the failure until a
 * write succeeds again; any other error is about the data given (the event bus then writes the events of a
 * failed batch one by one to find it).
 */
export interface Store {
  /**
   * True when the store numbers the global positions itself, in the order its writes commit (PostgreSQL:
   * several replicas write one log): `appendEvents` sets each event's position (`setPosition`), and the
   * bus hands out none of its own. False: the bus numbers them as it publishes (`reservePositions`).
   */
  readonly assignsPositions: boolean
  /** Users, keys, the audit trail and usage (access.ts), in the same database. */
  readonly access: AccessStore
  insertSession(record: SessionRecord): Promise<void>
  updateSession(record: SessionRecord): Promise<void>
  getSession(id: string): Promise<SessionRecord | undefined>
  listSessions(query: SessionQuery): Promise<Page<SessionRecord>>
  deleteSession(id: string): Promise<void>
  /** Sessions stored; with `owner`, that user's that are not closed (their live-sessions quota). */
  countSessions(query?: { owner: string }): Promise<number>
  /**
   * Keeps the events, in one transaction, each with its global position: the one the bus gave it
   * (`positionOf`), or, when `assignsPositions`, one the store gives it here (`setPosition`).
   */
  appendEvents(events: readonly GatewayEvent[]): Promise<void>
  readEvents(sessionId: string, query?: EventQuery): Promise<GatewayEvent[]>
  /** `readEvents` with how far the read went: what paged reads go on from. */
  readEventPage(sessionId: string, query?: EventQuery): Promise<EventPage<GatewayEvent>>
  lastSeq(sessionId: string): Promise<number>
  /** Events of every session (or those the query names) after global position `afterPos`, in that order. */
  readEventsAfter(afterPos: number, query?: PositionQuery): Promise<EventPage<PositionedEvent>>
  /** The highest global position stored; 0 when there is none. */
  lastPos(): Promise<number>
  /** The highest global position reserved (`reservePositions`); 0 when there is none. */
  reservedPos(): Promise<number>
  /**
   * Records durably (synced to disk) that positions up to `upTo` may have been handed out, so that a
   * gateway reopened after losing events it had not written yet never hands them out again. Unused when
   * `assignsPositions`.
   */
  reservePositions(upTo: number): Promise<void>
  /** Tool calls of every session, from the index kept beside the log (read-models.ts). */
  toolCalls(query: ToolCallQuery): Promise<Page<ToolCallRef>>
  /** Sessions whose log leaves calls running (whether they still are depends on their process). */
  sessionsWithRunningCalls(): Promise<string[]>
  /** Turns per main agent and runs per subagent type, since a time (ms since the epoch). */
  agentFigures(since?: number): Promise<AgentFigures>
  /** Whether the read models (tool calls, figures, changes) are still being built from older events. */
  readModelsBuilding(): boolean
  /** A session's code changes (the `file_changes` read model); changes with a side over `maxBytes` uncounted. */
  fileChanges(
    sessionId: string,
    page: { limit: number; offset: number },
    maxBytes: number,
  ): Promise<FileChanges>
  /**
   * Sequence numbers of a file's changes: its first, and its last at or before `seq` (null: none);
   * undefined when the session never changed it.
   */
  fileChangeSeqs(
    sessionId: string,
    path: string,
    seq: number,
  ): Promise<{ first: number; last: number | null } | undefined>
  /** Whether the storage works, as far as the last calls tell. */
  health(): StoreHealth
  close(): Promise<void>
}
