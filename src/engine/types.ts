/**
 * The engine's vocabulary: what the session manager takes and gives. The api layer imports these from
 * `sessions.ts`, which re-exports them; the parts of the manager import them from here.
 */
import type { McpServerConfig, Options } from '@anthropic-ai/claude-agent-sdk'
import type { Logger } from 'pino'
import type { EventBus } from '../events/bus.js'
import type { ErrorCode, EventBody, EventOf, TokenUsage } from '../events/types.js'
import type { ClientToolSpec, SessionSettings, Store } from '../store/types.js'
import type { ToolLimits } from '../tools/index.js'
import type { ClaudeCliInfo } from './claude-cli.js'
import type { SeedTurn } from './claude-home.js'
import type { HostOptions } from './options.js'
import type { SessionLeases } from './ownership.js'
import type { Runner } from './runner.js'

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
  /**
   * How long the session keeps its process after this turn when no other message comes, instead of the
   * engine's `idleTimeoutMs` (0: no limit); it then hibernates and a later message resumes it with its full
   * context. For sessions that may well never hear again (an OpenAI conversation's first answer): their
   * processes are free for others sooner. A client that sends the turn's tool results has followed up:
   * the turn keeps the engine's `idleTimeoutMs` then.
   */
  idleTimeoutMs?: number
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
  /**
   * The session leases of replicas sharing the store (src/cluster/leases.ts): a session runs on one replica
   * at a time (src/engine/ownership.ts). Absent for a single gateway.
   */
  ownership?: SessionLeases
  /**
   * The Claude Code a session's owner runs with (src/users/credentials.ts): their config folder, environment
   * and MCP servers. Absent, or null for an owner: the host's Claude Code, without MCP servers.
   */
  account?: (owner: string | null) => Promise<ClaudeAccount | null>
}

/**
 * A credential set: what a session's CLI processes start with besides the host's options. Secrets: only
 * `key` may be logged or compared, never the rest.
 */
export interface ClaudeAccount {
  /**
   * A digest of everything below, stable while it does not change: processes (warm spares among them) are
   * handed only to sessions of the same key, so never from one credential set to another.
   */
  key: string
  /** Their own Claude Code config folder (CLAUDE_CONFIG_DIR); null: the host's. */
  configDir: string | null
  /** Set over the host's environment (`claude.env` included). */
  env: Record<string, string>
  /** The approved MCP servers as this owner starts them (their credentials merged in), by name. */
  mcpServers: Record<string, McpServerConfig>
}

export type NewSession = Partial<SessionSettings> & {
  title?: string | null
  /** The user it belongs to (src/users/); null or absent: the operator's. */
  owner?: string | null
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

/**
 * The end of a turn Claude Code never finished (it failed, was interrupted, or was lost with its process):
 * no result and no figures, only why. Interrupted when that is the reason, failed otherwise.
 */
export function unfinishedTurn(
  turnId: string,
  error: { code: ErrorCode; message: string },
): Extract<EventBody, { type: 'turn.completed' }> {
  return {
    type: 'turn.completed',
    turnId,
    status: error.code === 'interrupted' ? 'interrupted' : 'error',
    result: '',
    stopReason: null,
    durationMs: 0,
    numTurns: 0,
    usage: { ...EMPTY_USAGE },
    costUsd: 0,
    error,
  }
}

// ---- The process pool's (pool.ts) -----------------------------------------------------------------------

export interface PoolLimits {
  maxRunners: number
  warmSpares: number
  queueSize: number
  queueTimeoutMs: number
  startTimeoutMs: number
  startRetries: number
  /** Warm each spare up with a blocked prompt before it serves (see priming.ts); on unless false. */
  primeSpares?: boolean
  /**
   * With every slot taken and a spare missing, the session idle the longest gives its process up for the
   * spare once idle this long (it resumes on its next message); 0: never.
   */
  spareReclaimIdleMs?: number
  /**
   * Most spares kept when new conversations come in bursts: the target follows their recent arrivals from
   * `warmSpares` up to this (absent or below `warmSpares`: always `warmSpares`).
   */
  maxSpares?: number
  /**
   * Most spares started at once (0 or absent: half the CPUs, at least one). Started together, spares share
   * the CPU with each other and with the turns running: fewer at a time have the first ready sooner and
   * leave the turns their CPU (docs/PERFORMANCE.md, session 11).
   */
  spareStarts?: number
  /**
   * A process its session gives back becomes a missing spare of its profile after `/clear`, instead of
   * stopping, when it only talked (process-reuse.ts); on unless false.
   */
  reuseProcesses?: boolean
  /** A process holding more resident memory than this (MB) is not reused (absent: no bound). */
  reuseMaxRssMb?: number
  /** How far back arrivals of new conversations count for the spare target (absent: two minutes). */
  spareDemandWindowMs?: number
  /**
   * Most memory the processes may hold together, in MB: fewer slots than `maxRunners` when their measured
   * size says so (at least one). 0 or absent: the count alone.
   */
  memoryBudgetMb?: number
}

/** Start-up options of a process, with the key that says which sessions it can serve. */
export interface RunnerProfile {
  key: string
  /** The credential set's key (`ClaudeAccount.key`; '' the host's): spares are kept per account. */
  account?: string
  options: Options
  /** Functions the API client executes, served to this process by the gateway. */
  clientTools: ClientToolSpec[] | null
  niceness: number
}

export interface PoolHooks {
  /**
   * The pool needs the slot of this idle runner: the session it serves must let it go (hibernate).
   * Returns false when the runner is no longer idle.
   */
  evict(runner: Runner): boolean
  /** A runner started, failed to start, crashed or stopped; for logs and metrics (process-log.ts). */
  lifecycle(event: ProcessLifecycle, runner: Runner | null, detail?: ProcessDetail): void
}

/**
 * The life of a CLI process: started, failed to start, initialised, parked as a spare, given back by its
 * session and parked as a spare after `/clear` (process-reuse.ts), given up by its session, ended by itself
 * while serving one, gone.
 */
export type ProcessLifecycle = 'spawn' | 'fail' | 'ready' | 'spare' | 'reuse' | 'hibernate' | 'crash' | 'exit'

/** What a lifecycle line says besides the event (`attempt`: a session's start, 0 the first). */
export type ProcessDetail = { attempt?: number } & Record<string, unknown>

/** Running totals of the pool's processes (src/observability): they only grow. */
export interface ProcessCounts {
  /** Processes launched, for sessions and as spares. */
  starts: number
  startFailures: number
  /** Launches for a session after its previous attempt failed (pool.startRetries). */
  startRetries: number
  /** Processes that ended by themselves while serving a session. */
  crashes: number
  /** Processes a session gave back that became spares for new conversations (process-reuse.ts). */
  reuses: number
}

export type RunnerLauncher = (profile: RunnerProfile, timeoutMs: number, prime: boolean) => Promise<Runner>
