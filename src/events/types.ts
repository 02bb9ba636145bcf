/**
 * The gateway's one event vocabulary. Every consumer (OpenAI chunks, native SSE/WS, the admin UI, metrics,
 * the store) reads these and nothing else; they are produced from SDK messages in `engine/translate.ts`.
 * The reference with examples is docs/events.md.
 */

export const SESSION_STATES = [
  'new',
  'starting',
  'idle',
  'running',
  'hibernated',
  'paused',
  'closed',
] as const
export type SessionState = (typeof SESSION_STATES)[number]

export interface TokenUsage {
  inputTokens: number
  outputTokens: number
  cacheReadInputTokens: number
  cacheCreationInputTokens: number
  /** Output tokens spent on thinking, when the CLI reports them. */
  thinkingTokens: number
}

export type TurnStatus = 'success' | 'error' | 'interrupted'

export type ErrorCode =
  | 'busy'
  | 'session_busy'
  | 'session_paused'
  | 'unavailable'
  | 'start_failed'
  | 'process_exited'
  | 'turn_timeout'
  | 'tool_timeout'
  | 'interrupted'
  | 'upstream_error'
  | 'rate_limited'
  | 'overloaded'
  /** Claude's API refused the gateway's credentials (401/403): fixing them takes a person, not a retry. */
  | 'upstream_auth_failed'
  | 'context_length_exceeded'
  | 'max_turns'
  | 'max_budget'
  | 'not_found'
  | 'invalid_request'
  | 'shutting_down'
  /** Another replica runs the session (src/engine/ownership.ts): the request belongs there. */
  | 'owned_elsewhere'
  /**
   * The session's workspace is on another replica's disk only (`cluster.workspaces: pinned`), and that
   * replica is not running it: it cannot run anywhere else.
   */
  | 'session_pinned'
  /** The gateway's database has no space left (disk full, or store.maxSizeBytes reached). */
  | 'storage_full'
  /** The gateway's database cannot be used: read-only, corrupt, I/O error. */
  | 'storage_unavailable'
  | 'internal'

/** One setting's change: its value before and after, or for prompt texts and schemas only that it changed. */
export type SettingChange = { from: unknown; to: unknown } | { changed: true }

/** A piece of content the model produced or was given, in Anthropic's block shape (kept as-is). */
export type ContentBlock = { type: string; [key: string]: unknown }

export type EventBody =
  /** A session was created. Like `session.deleted`, outside the session's sequence: `seq` 0 (docs/events.md). */
  | { type: 'session.created'; title: string | null; workspace: string; agent: string | null }
  /**
   * A session was purged: its other events are gone from the store; this one is kept, so that a client
   * replaying every session's events (GET /api/events) learns of the deletion.
   */
  | { type: 'session.deleted' }
  | { type: 'session.state'; state: SessionState; previous: SessionState; reason?: string }
  | {
      type: 'session.ready'
      claudeSessionId: string
      model: string
      cwd: string
      tools: string[]
      permissionMode: string
    }
  | { type: 'conversation.reset'; claudeSessionId: string; trigger: string }
  | { type: 'turn.started'; turnId: string; content: string | ContentBlock[] }
  | { type: 'text.delta'; turnId: string; text: string; parentToolUseId: string | null }
  | { type: 'thinking.delta'; turnId: string; text: string; parentToolUseId: string | null }
  | {
      type: 'message'
      turnId: string
      messageId: string
      model: string
      content: ContentBlock[]
      parentToolUseId: string | null
      /** True for a local command's answer (model "<synthetic>"): no model call happened. */
      synthetic: boolean
    }
  /** The model finished one response (it may call tools and go on): `stopReason` and `usage` are the API's. */
  | {
      type: 'message.stop'
      turnId: string
      stopReason: string | null
      usage: TokenUsage
      parentToolUseId: string | null
    }
  | {
      type: 'tool.call'
      turnId: string
      toolUseId: string
      name: string
      input: unknown
      parentToolUseId: string | null
      /** A direct call: made by an API client through the gateway's own tools, not by Claude. */
      direct?: true
    }
  | {
      type: 'tool.result'
      turnId: string
      toolUseId: string
      name: string
      isError: boolean
      content: string | ContentBlock[]
      /** The tool's structured output when the CLI reports one (e.g. Write's file, Bash's stdout). */
      structured?: unknown
      durationMs: number | null
      parentToolUseId: string | null
      /** Claude Code's permission check refused the call (a rule, the mode, or an answer): it did not run. */
      denied?: true
      /** The result of a direct call (see `tool.call`). */
      direct?: true
    }
  | {
      type: 'file.changed'
      turnId: string
      toolUseId: string
      tool: string
      path: string
      kind: 'created' | 'modified' | 'deleted'
      /** Content before the change, when the tool reported it (null: the file did not exist). */
      before?: string | null
      /** Content after the change, when the tool reported it. */
      after?: string
    }
  | {
      type: 'permission.requested'
      turnId: string
      requestId: string
      toolUseId: string
      toolName: string
      input: unknown
      reason?: string
    }
  | {
      type: 'permission.resolved'
      turnId: string
      requestId: string
      behavior: 'allow' | 'deny'
      message?: string
      /** For an allow that replaced the tool's input: what the tool runs with instead of Claude's input. */
      updatedInput?: Record<string, unknown>
      /** Who decided: an API client, the session's rules (no interactive approvals), the timeout, or an interrupt. */
      by: 'client' | 'rule' | 'timeout' | 'interrupt'
    }
  | {
      type: 'api.retry'
      turnId: string
      attempt: number
      maxRetries: number
      delayMs: number
      status: number | null
    }
  | { type: 'compacted'; turnId: string; trigger: string; preTokens: number; postTokens?: number }
  /** `/model` switched the CLI process's model; null: back to the CLI's default. */
  | { type: 'model.changed'; turnId: string; model: string | null }
  /**
   * An API client changed the session's settings (they apply from its next turn): each setting whose value
   * changed, by its name (`model`, `agent`, `permissionMode`, ...).
   */
  | { type: 'settings.changed'; changes: Record<string, SettingChange> }
  | { type: 'usage'; turnId: string; model: string; usage: TokenUsage; costUsd: number }
  | {
      type: 'turn.completed'
      turnId: string
      status: TurnStatus
      /** The final assistant text of the turn. */
      result: string
      structuredOutput?: unknown
      stopReason: string | null
      durationMs: number
      /**
       * The time this turn's Claude API calls took, as the CLI reports it; absent when the gateway ended the
       * turn, or when the CLI's running total it is taken from was not known (a resumed process's first turn).
       */
      apiDurationMs?: number
      numTurns: number
      usage: TokenUsage
      costUsd: number
      error?: { code: ErrorCode; message: string }
      /** The slash command Claude Code ran itself, without calling the model (`usage`, `clear`, ...). */
      localCommand?: string
    }
  | { type: 'error'; turnId?: string; code: ErrorCode; message: string; retryAfterMs?: number }

export type EventType = EventBody['type']

/** Every event type: a record, so that the compiler finds a type missing here. */
const EVENT_TYPE_SET: Record<EventType, true> = {
  'session.created': true,
  'session.deleted': true,
  'session.state': true,
  'session.ready': true,
  'conversation.reset': true,
  'turn.started': true,
  'text.delta': true,
  'thinking.delta': true,
  message: true,
  'message.stop': true,
  'tool.call': true,
  'tool.result': true,
  'file.changed': true,
  'permission.requested': true,
  'permission.resolved': true,
  'api.retry': true,
  compacted: true,
  'model.changed': true,
  'settings.changed': true,
  usage: true,
  'turn.completed': true,
  error: true,
}
export const EVENT_TYPES = Object.keys(EVENT_TYPE_SET) as readonly EventType[]

export type GatewayEvent = EventBody & {
  /** Per-session sequence number, from 1, without gaps. */
  seq: number
  /** Milliseconds since the epoch. */
  ts: number
  sessionId: string
}

export type EventOf<T extends EventType> = Extract<GatewayEvent, { type: T }>
