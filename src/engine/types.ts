/**
 * The engine's vocabulary: what the session manager takes and gives. The api layer imports these from
 * `sessions.ts`, which re-exports them; the parts of the manager import them from here.
 */
import type { Logger } from 'pino'
import type { EventBus } from '../events/bus.js'
import type { EventOf, TokenUsage } from '../events/types.js'
import type { SessionSettings, Store } from '../store/types.js'
import type { ToolLimits } from '../tools/index.js'
import type { ClaudeCliInfo } from './claude-cli.js'
import type { SeedTurn } from './claude-home.js'
import type { HostOptions } from './options.js'
import type { PoolLimits } from './pool.js'

export interface EngineLimits extends PoolLimits {
  idleTimeoutMs: number
  turnTimeoutMs: number
  /** Messages that may wait behind a session's running turn before `session_busy`. */
  sessionQueueSize: number
  /** How long a permission request waits for an answer (0: no limit). */
  permissionTimeoutMs: number
  /** How long a call of a client-executed function waits for its result (0: no limit). */
  clientToolTimeoutMs: number
  /** Limits of the direct tools (`runTool`). */
  tools: Partial<ToolLimits>
  /**
   * How long Claude Code's retries of a failing model API (overloaded, rate-limited, 5xx) may hold a turn
   * that shows no progress before the turn is abandoned with `overloaded` or `rate_limited` (0 or absent:
   * as long as they take). A turn may bring its own (`SendOptions`).
   */
  retryBudgetMs?: number
}

export interface SendOptions {
  /** This turn's retry budget instead of the engine's `retryBudgetMs`. */
  retryBudgetMs?: number
}

export interface ToolResultInput {
  toolUseId: string
  content: string
  isError?: boolean
}

export type PermissionAnswer =
  | { behavior: 'allow'; updatedInput?: Record<string, unknown> }
  | { behavior: 'deny'; message?: string }

/** A permission request that waits for an answer. */
export interface WaitingPermission {
  requested: EventOf<'permission.requested'>
  /** When it is denied for want of an answer (ms since the epoch); null: it waits as long as it takes. */
  expiresAt: number | null
}

export interface EngineDefaults {
  workspace: string
  model: string | null
  permissionMode: SessionSettings['permissionMode']
}

export interface EngineOptions {
  store: Store
  bus: EventBus
  log: Logger
  cli: ClaudeCliInfo
  host: HostOptions
  limits: EngineLimits
  defaults: EngineDefaults
}

export type NewSession = Partial<SessionSettings> & {
  title?: string | null
  /** Earlier turns of the conversation: Claude sees them as real turns when the session starts. */
  history?: SeedTurn[]
  /** A Claude Code session (its transcript in the workspace) that the session's first runner resumes. */
  resume?: string
}

export type TurnCompleted = EventOf<'turn.completed'>

/** A file a direct call changed, as its `file.changed` event tells it. */
export type FileChange = Pick<EventOf<'file.changed'>, 'path' | 'kind' | 'before' | 'after'>

export interface Turn {
  id: string
  sessionId: string
  /** Sequence number of the turn's `turn.started` event: replay from `startSeq - 1` to see all of it. */
  startSeq: number
  done: Promise<TurnCompleted>
}

export const EMPTY_USAGE: TokenUsage = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadInputTokens: 0,
  cacheCreationInputTokens: 0,
  thinkingTokens: 0,
}
