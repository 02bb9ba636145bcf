/**
 * The session manager: the engine's one entry point. Sessions are durable records; a live session borrows a
 * runner from the pool for as long as it is in use, hibernates when idle and resumes with Claude's own
 * session id. Turns of one session never interleave: a second message waits for the first (bounded).
 */
import { randomUUID } from 'node:crypto'
import { realpathSync, statSync } from 'node:fs'
import type { AgentInfo, ModelInfo, PermissionResult } from '@anthropic-ai/claude-agent-sdk'
import type { Logger } from 'pino'
import { builtinAgentsOf, clearTranscriptAgent } from '../agents/index.js'
import { type ReportedCommand, reportedCommandsOf } from '../commands/index.js'
import { type EventBus, EventRejectedError } from '../events/bus.js'
import type {
  ContentBlock,
  ErrorCode,
  EventBody,
  EventOf,
  GatewayEvent,
  SessionState,
  TokenUsage,
} from '../events/types.js'
import { isStoreError } from '../store/errors.js'
import type { Page, SessionQuery, SessionRecord, SessionSettings, Store } from '../store/types.js'
import {
  isToolName,
  type RunToolOptions,
  runTool as runDirectTool,
  type ToolLimits,
  validateToolInput,
} from '../tools/index.js'
import type { ClaudeCliInfo } from './claude-cli.js'
import { type ClientToolCall, type ClientToolResult, clientFunctionName } from './client-tools.js'
import { contentProblem } from './content.js'
import { GatewayError } from './errors.js'
import { type HostOptions, runnerProfile } from './options.js'
import { type PoolLimits, type ProcessLifecycle, ProcessPool } from './pool.js'
import {
  finishedCommand,
  liveProcesses,
  type PermissionRequest,
  type Runner,
  type RunnerExit,
} from './runner.js'
import { after } from './timers.js'
import { adoptTranscript, claudeConfigDir, type SeedTurn, seedTranscript } from './transcript.js'
import { isAuthFailure, Translator } from './translate.js'

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

interface ActiveTurn {
  id: string
  resolve(completed: TurnCompleted): void
  /** Settles when the turn has ended, with its `turn.completed` event. */
  done: Promise<TurnCompleted>
  timer: NodeJS.Timeout | null
  /**
   * Why the turn failed although Claude Code goes on (one of its events could not be kept, it ran too long,
   * Claude's API refused it): it ends so, whatever Claude Code reports once it has stopped.
   */
  failure: TurnFailure | null
  /** The uuid the user message went to Claude Code with: Claude Code says when it is done with it. */
  messageUuid: string
  /** A client asked to interrupt the turn. */
  interrupted: boolean
  /** How long Claude Code's retries may hold the turn without progress (0: as long as they take). */
  retryBudgetMs: number
  /** Since when the turn has been waiting for the model: its start, or its last progress. */
  waitingSince: number
  /** Claude Code's last retry of the model call the turn waits for (null once the model answered). */
  lastRetry: Extract<EventBody, { type: 'api.retry' }> | null
  /** Ends the turn when the retries outlast the budget. */
  retryTimer: NodeJS.Timeout | null
}

interface TurnFailure {
  code: ErrorCode
  message: string
  /** When trying again later can succeed: how much later. */
  retryAfterMs?: number
}

interface LiveSession {
  record: SessionRecord
  runner: Runner | null
  active: ActiveTurn | null
  /** Turns started or waiting for this session; the chain below serialises them. */
  pending: number
  tail: Promise<void>
  idleTimer: NodeJS.Timeout | null
  lastTurnId: string
  /** Permission requests waiting for an answer, by request id. */
  permissions: Map<string, PendingPermission>
  /** Calls of client-executed functions in the running turn that have no result yet, by tool_use id. */
  clientCalls: Map<string, ClientCallSlot>
  /** The settings changed while a turn ran: the runner restarts with them once the turn ends. */
  restartAfterTurn: boolean
}

/** A permission request that waits for an answer. */
export interface WaitingPermission {
  requested: EventOf<'permission.requested'>
  /** When it is denied for want of an answer (ms since the epoch); null: it waits as long as it takes. */
  expiresAt: number | null
}

interface PendingPermission extends WaitingPermission {
  settle(answer: PermissionAnswer, by: 'client' | 'timeout' | 'interrupt'): void
}

/** A client function call's mailbox: its result may arrive before or after Claude Code asks for it. */
interface ClientCallSlot {
  result: Promise<ClientToolResult>
  deliver(result: ClientToolResult): void
  delivered: boolean
  waiting: boolean
}

const INTERRUPT_GRACE_MS = 5_000
/** How soon session records the store refused are written again (SQLite answers at once either way). */
const UNSAVED_RETRY_MS = 1_000
const EMPTY_USAGE: TokenUsage = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadInputTokens: 0,
  cacheCreationInputTokens: 0,
  thinkingTokens: 0,
}

export class SessionManager {
  private readonly live = new Map<string, LiveSession>()
  private readonly byRunner = new Map<Runner, LiveSession>()
  private readonly pool: ProcessPool
  private readonly options: EngineOptions
  private limits: EngineLimits
  /** Bumped when host options change, so processes started before no longer match new sessions. */
  private hostGeneration = 0
  private closing = false
  private knownModels: ModelInfo[] = []
  private knownAgents: AgentInfo[] = []
  private knownCommands: ReportedCommand[] | null = null
  /** Processes of sessions being stopped, by session: a restart waits for the old one to be gone. */
  private readonly retiring = new Map<string, Promise<void>>()
  /** Sessions in the store, counted once and then kept up to date (health is polled often). */
  private sessionCount: number | undefined
  /**
   * Records the store could not take (its disk was full, say), kept here and read from here until a later
   * save succeeds: a session that leaves memory meanwhile must not fall back to its stale stored record.
   */
  private readonly unsaved = new Map<string, SessionRecord>()
  private unsavedTimer: NodeJS.Timeout | null = null
  private modelsAsked = false

  constructor(options: EngineOptions) {
    this.options = { ...options }
    this.limits = options.limits
    this.pool = new ProcessPool(
      options.limits,
      {
        evict: (runner) => this.evict(runner),
        lifecycle: (event, runner, detail) => this.lifecycle(event, runner, detail),
      },
      options.log,
    )
    // An event the store refused was seen live but is not kept: its turn fails, saying so.
    options.bus.onEventRejected((event, error) => {
      const live = this.live.get(event.sessionId)
      if (live) this.eventRejected(live, 'turnId' in event ? event.turnId : undefined, error)
      else
        this.options.log.error({ err: error, session: event.sessionId, seq: event.seq }, 'event not stored')
    })
  }

  get cli(): ClaudeCliInfo {
    return this.options.cli
  }

  /** Sessions that had a runner when the gateway stopped are hibernated now; warm spares start. */
  start(): void {
    const { store } = this.options
    for (const state of ['starting', 'idle', 'running'] as const) {
      for (const record of store.listSessions({ state, limit: 1_000_000, offset: 0 }).items) {
        record.state = record.claudeSessionId ? 'hibernated' : 'new'
        this.saveRecord(record)
      }
    }
    if (this.options.cli.usable) this.pool.setSpareProfile(this.profileFor(this.settings({}), null))
  }

  /** Apply reloaded settings: limits now, host options and defaults to processes started from now on. */
  reconfigure(update: Pick<EngineOptions, 'limits' | 'host' | 'defaults'>): void {
    this.limits = update.limits
    this.options.host = update.host
    this.options.defaults = update.defaults
    this.hostGeneration++
    this.pool.updateLimits(update.limits)
    if (this.options.cli.usable) this.pool.setSpareProfile(this.profileFor(this.settings({}), null))
  }

  stats() {
    this.sessionCount ??= this.options.store.countSessions()
    return {
      sessions: this.sessionCount,
      activeSessions: this.live.size,
      processes: this.pool.stats,
    }
  }

  createSession(input: NewSession): SessionRecord {
    const now = Date.now()
    const settings = this.settings(input)
    const record: SessionRecord = {
      id: randomUUID(),
      title: input.title ?? null,
      settings,
      claudeSessionId:
        input.resume ?? (input.history?.length ? this.seed(settings.workspace, input.history) : null),
      state: 'new',
      createdAt: now,
      updatedAt: now,
      usage: { ...EMPTY_USAGE },
      costUsd: 0,
      turns: 0,
    }
    this.options.store.insertSession(record)
    if (this.sessionCount !== undefined) this.sessionCount++
    return record
  }

  /** Write the history as a Claude Code transcript; the session's first runner resumes it. */
  private seed(cwd: string, turns: SeedTurn[]): string {
    return seedTranscript({ configDir: claudeConfigDir(this.options.host.env), cwd, turns }).sessionId
  }

  getSession(id: string): SessionRecord | undefined {
    return this.live.get(id)?.record ?? this.stored(id)
  }

  /** A session's record as last saved (or waiting to be saved). */
  private stored(id: string): SessionRecord | undefined {
    return this.unsaved.get(id) ?? this.options.store.getSession(id)
  }

  listSessions(query: SessionQuery): Page<SessionRecord> {
    return this.options.store.listSessions(query)
  }

  /**
   * Change a session's settings. Claude Code takes most of them only at start, so a live runner is let go
   * (now if idle, else when its turn ends) and the next message resumes the conversation with them.
   */
  updateSettings(sessionId: string, patch: Partial<SessionSettings>): SessionRecord {
    const live = this.live.get(sessionId)
    const record = live?.record ?? this.stored(sessionId)
    if (!record || record.state === 'closed')
      throw new GatewayError('not_found', `Session ${sessionId} does not exist`)
    const workspace = patch.workspace ? resolveWorkspace(patch.workspace) : record.settings.workspace
    const updated: SessionRecord = {
      ...record,
      settings: { ...record.settings, ...patch, workspace },
      updatedAt: Date.now(),
      ...(patch.agent === null && record.settings.agent ? { clearAgentOnResume: true } : {}),
    }
    // Stored first: a change the store refuses (507, 503) is not made either.
    this.options.store.updateSession(updated)
    Object.assign(record, updated)
    this.restartRunner(sessionId)
    return record
  }

  /**
   * Run one of the gateway's direct tools in a session's workspace, on the API client's behalf, recorded
   * as a direct call (with `file.changed` for writes and edits).
   */
  runTool(sessionId: string, name: string, input: unknown, options: RunToolOptions = {}): Promise<unknown> {
    // A call refused for its input is not a call: it is refused before anything is recorded.
    if (isToolName(name)) validateToolInput(name, input)
    return this.recordDirectCall(
      sessionId,
      name,
      input,
      (workspace) => runDirectTool(name, workspace, input, this.limits.tools, options),
      (result) => fileChangesOf(name, result),
    )
  }

  /**
   * Do `work` in a session's workspace on the API client's behalf. The call and its result go into the
   * session's events like Claude's own tool calls, with a `file.changed` for each change `changes` reads
   * from the result; a failed call is recorded too and then thrown.
   */
  async recordDirectCall<R>(
    sessionId: string,
    name: string,
    input: unknown,
    work: (workspace: string) => Promise<R>,
    changes: (result: R) => FileChange[],
  ): Promise<R> {
    const record = this.getSession(sessionId)
    if (!record || record.state === 'closed')
      throw new GatewayError('not_found', `Session ${sessionId} does not exist`)
    const turnId = `direct-${randomUUID()}`
    const toolUseId = `direct_${randomUUID()}`
    const publish = (body: EventBody) => this.options.bus.publish(sessionId, body)
    clientInput(() => publish({ type: 'tool.call', turnId, toolUseId, name, input, parentToolUseId: null }))
    const started = Date.now()
    const done = (isError: boolean, content: string, structured?: unknown) =>
      publish({
        type: 'tool.result',
        turnId,
        toolUseId,
        name,
        isError,
        content,
        structured,
        durationMs: Date.now() - started,
        parentToolUseId: null,
      })
    let result: R
    try {
      result = await work(record.settings.workspace)
    } catch (error) {
      done(true, (error as Error).message)
      throw error
    }
    done(false, JSON.stringify(result), result)
    for (const change of changes(result))
      publish({ type: 'file.changed', turnId, toolUseId, tool: name, ...change })
    return result
  }

  /** Live runner facts for a session, for APIs that show them. */
  runnerOf(id: string): { pid: number | null; busy: boolean } | null {
    const runner = this.live.get(id)?.runner
    return runner ? { pid: runner.pid, busy: runner.state === 'busy' } : null
  }

  /**
   * Send a user message. Resolves once the turn has started (a runner holds the message); its events follow
   * on the bus and `done` settles when it ends. Rejects with a GatewayError when it cannot start.
   */
  async send(sessionId: string, content: string | ContentBlock[], options: SendOptions = {}): Promise<Turn> {
    // Claude Code drops a message it cannot use without a word, and the turn would wait for nothing.
    const problem = contentProblem(content)
    if (problem)
      throw new GatewayError(
        'invalid_request',
        `The message cannot be sent: ${problem.field} ${problem.problem}`,
      )
    this.checkCanStart()
    const live = this.open(sessionId)
    if (live.pending > this.limits.sessionQueueSize) {
      throw new GatewayError('session_busy', `Session ${sessionId} is busy with ${live.pending} turns`, 1_000)
    }
    const previous = live.tail
    const finish = this.holdLine(live)
    try {
      await previous
      const turn = await this.startTurn(live, content, options)
      void turn.done.finally(finish)
      return turn
    } catch (error) {
      finish()
      throw error
    }
  }

  /**
   * Stop the running turn and wait until it has ended. True when it ended interrupted; false when no turn
   * was running or it ended otherwise meanwhile. A Claude Code process that does not stop within the grace
   * period is stopped itself, which ends the turn as interrupted too (the session resumes on its next
   * message), so that the session is free for the messages waiting behind the turn either way.
   */
  async interrupt(sessionId: string): Promise<boolean> {
    const live = this.live.get(sessionId)
    const active = live?.active
    const runner = live?.runner
    if (!live || !active || !runner) return false
    active.interrupted = true
    // Not awaited: what counts is the end of the turn, and a wedged process may never answer the request.
    // A process that exits instead ends the turn through its exit.
    void runner
      .interrupt()
      .catch((error: unknown) =>
        this.options.log.warn({ err: error, session: sessionId, turn: active.id }, 'interrupt failed'),
      )
    let completed = await settledWithin(active.done, INTERRUPT_GRACE_MS)
    if (!completed) {
      this.options.log.warn({ session: sessionId, turn: active.id }, 'Claude Code ignored the interrupt')
      if (!active.failure) {
        const message = `Claude Code did not stop within ${INTERRUPT_GRACE_MS} ms of the interrupt; its process was stopped`
        active.failure = { code: 'interrupted', message }
        this.announce(live, active, active.failure)
      }
      runner.kill()
      completed = await settledWithin(active.done, INTERRUPT_GRACE_MS)
      // Not even its exit ended the turn (the process was gone already): it ends here.
      if (!completed && live.active === active)
        this.failTurn(live, active.failure.code, active.failure.message)
      completed = await active.done
    }
    return completed.status === 'interrupted'
  }

  /**
   * Start the session's Claude Code process now, resuming its conversation, so that its next message goes
   * straight to a live process; a paused session is un-paused first. Nothing starts when the session has a
   * process already, or a turn under way (which gets one).
   */
  async resume(sessionId: string): Promise<SessionRecord> {
    this.checkCanStart()
    const stored = this.getSession(sessionId)
    if (!stored || stored.state === 'closed')
      throw new GatewayError('not_found', `Session ${sessionId} does not exist`)
    if (stored.state === 'paused') {
      const paused = this.live.get(sessionId) ?? this.wrap(stored)
      this.setState(paused, stored.claudeSessionId ? 'hibernated' : 'new')
    }
    const live = this.open(sessionId)
    if (live.runner || live.pending > 0) return live.record
    const finish = this.holdLine(live)
    try {
      this.armIdle(live, await this.attachRunner(live))
    } finally {
      finish()
    }
    return live.record
  }

  /**
   * Pause a session: its process stops and it takes no message until it is resumed. Refused while a turn
   * runs or waits (interrupt it first). The state is stored: a paused session stays paused across restarts.
   */
  async pause(sessionId: string): Promise<SessionRecord> {
    const live = this.live.get(sessionId)
    const record = live?.record ?? this.stored(sessionId)
    if (!record || record.state === 'closed')
      throw new GatewayError('not_found', `Session ${sessionId} does not exist`)
    if (record.state === 'paused') return record
    if (live && live.pending > 0) {
      throw new GatewayError(
        'session_busy',
        `Session ${sessionId} has a turn under way; interrupt it first`,
        1_000,
      )
    }
    if (live) await this.release(live, 'paused')
    else this.setState(this.wrap(record), 'paused')
    return record
  }

  /**
   * Results of client-executed function calls of the running turn: the turn goes on with them. Returns the
   * turn and the sequence number to follow it from. Fails when a call is not waiting (wrong id, timed out).
   */
  submitToolResults(
    sessionId: string,
    results: readonly ToolResultInput[],
  ): { turnId: string; afterSeq: number } {
    const live = this.live.get(sessionId)
    const active = live?.active
    if (!live || !active) {
      throw new GatewayError('invalid_request', 'No turn of this session is waiting for function results')
    }
    for (const result of results) {
      const slot = live.clientCalls.get(result.toolUseId)
      if (!slot || slot.delivered) {
        throw new GatewayError(
          'invalid_request',
          `No function call '${result.toolUseId}' is waiting for a result`,
        )
      }
    }
    const afterSeq = this.options.bus.currentSeq(sessionId)
    for (const result of results) {
      const slot = live.clientCalls.get(result.toolUseId)!
      slot.delivered = true
      slot.deliver({ content: result.content, isError: result.isError })
    }
    this.armTurnTimer(live)
    return { turnId: active.id, afterSeq }
  }

  /** Tool_use ids of the running turn's client function calls that still wait for a result. */
  pendingClientCalls(sessionId: string): string[] {
    const live = this.live.get(sessionId)
    return live ? [...live.clientCalls].filter(([, slot]) => !slot.delivered).map(([id]) => id) : []
  }

  /** Answer a pending permission request; false when there is none with that id. */
  answerPermission(sessionId: string, requestId: string, answer: PermissionAnswer): boolean {
    const pending = this.live.get(sessionId)?.permissions.get(requestId)
    if (!pending) return false
    pending.settle(answer, 'client')
    return true
  }

  /** The session's permission requests that wait for an answer, oldest first. */
  pendingPermissions(sessionId: string): WaitingPermission[] {
    const pending = this.live.get(sessionId)?.permissions.values() ?? []
    return [...pending].map(({ requested, expiresAt }) => ({ requested, expiresAt }))
  }

  /** Stop a session's runner; the record (and transcript) is kept unless `purge`. */
  async deleteSession(sessionId: string, purge: boolean): Promise<boolean> {
    const record = this.getSession(sessionId)
    if (!record) return false
    const live = this.live.get(sessionId)
    if (live) {
      if (live.active) this.failTurn(live, 'interrupted', 'The session was deleted')
      await this.release(live, 'closed')
      this.live.delete(sessionId)
    }
    if (purge) {
      // The store first: when it refuses, the session's events are still there to purge next time.
      this.options.store.deleteSession(sessionId)
      this.options.bus.forget(sessionId)
      this.unsaved.delete(sessionId)
      if (this.sessionCount !== undefined) this.sessionCount--
    } else if (record.state !== 'closed') {
      this.setState(live ?? this.wrap(record), 'closed')
    }
    return true
  }

  /** Finish running turns (up to `graceMs`), then stop every process. */
  async shutdown(graceMs: number): Promise<void> {
    this.closing = true
    const running = [...this.live.values()].filter((live) => live.active)
    const drained = Promise.all(running.map((live) => live.tail))
    let timer: NodeJS.Timeout | undefined
    await Promise.race([drained, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))])
    clearTimeout(timer)
    for (const live of this.live.values()) {
      this.settlePermissions(live, 'The gateway is shutting down')
      if (live.active) this.failTurn(live, 'shutting_down', 'The gateway is shutting down')
      live.runner = null
      this.clearIdle(live)
      this.setState(live, live.record.claudeSessionId ? 'hibernated' : 'new')
    }
    await this.pool.close()
    for (const child of liveProcesses) child.kill('SIGKILL')
    this.options.bus.flush()
    // The store closes next: what it could not take by now is lost with the process.
    if (this.unsavedTimer) clearTimeout(this.unsavedTimer)
    this.unsavedTimer = null
  }

  /** A session about to run: its live state, created from the store when it has none. */
  private open(sessionId: string): LiveSession {
    const existing = this.live.get(sessionId)
    const record = existing?.record ?? this.stored(sessionId)
    if (!record || record.state === 'closed')
      throw new GatewayError('not_found', `Session ${sessionId} does not exist`)
    if (record.state === 'paused')
      throw new GatewayError('session_paused', `Session ${sessionId} is paused; resume it first`)
    if (existing) return existing
    const live = this.wrap(record)
    this.live.set(sessionId, live)
    return live
  }

  private wrap(record: SessionRecord): LiveSession {
    return {
      record,
      runner: null,
      active: null,
      pending: 0,
      tail: Promise.resolve(),
      idleTimer: null,
      lastTurnId: '',
      permissions: new Map(),
      clientCalls: new Map(),
      restartAfterTurn: false,
    }
  }

  /** Refuse work that would need a Claude Code process the gateway cannot start. */
  private checkCanStart(): void {
    if (this.closing) throw new GatewayError('shutting_down', 'The gateway is shutting down')
    if (!this.options.cli.usable)
      throw new GatewayError('unavailable', this.options.cli.reason ?? 'Claude Code CLI is unavailable')
  }

  /**
   * Take the session's next place in line (turns and warm-ups run one at a time, in order); the work waits
   * for `live.tail` as it was before, and calls the function returned when it is done.
   */
  private holdLine(live: LiveSession): () => void {
    live.pending++
    let release!: () => void
    live.tail = new Promise((resolve) => {
      release = resolve
    })
    return () => {
      live.pending--
      release()
      if (live.pending > 0) return
      // Only sessions holding a runner stay in memory; the store has the rest.
      if (!live.runner && this.live.get(live.record.id) === live) this.live.delete(live.record.id)
      this.pool.idle(live.runner)
    }
  }

  private async startTurn(
    live: LiveSession,
    content: string | ContentBlock[],
    options: SendOptions,
  ): Promise<Turn> {
    if (this.closing) throw new GatewayError('shutting_down', 'The gateway is shutting down')
    const runner = live.runner ?? (await this.attachRunner(live))
    const id = randomUUID()
    // First, so that a message that cannot be kept is refused before the process is taken.
    let started: GatewayEvent
    try {
      started = clientInput(() =>
        this.options.bus.publish(live.record.id, { type: 'turn.started', turnId: id, content }),
      )
    } catch (error) {
      this.armIdle(live, runner)
      throw error
    }
    this.clearIdle(live)
    runner.state = 'busy'
    this.pool.touch(runner)
    live.lastTurnId = id
    this.setState(live, 'running')
    let resolve!: (completed: TurnCompleted) => void
    const done = new Promise<TurnCompleted>((settle) => {
      resolve = settle
    })
    const active: ActiveTurn = {
      id,
      resolve,
      done,
      failure: null,
      timer: after(this.limits.turnTimeoutMs, () => this.timeOut(live, runner)),
      messageUuid: '',
      interrupted: false,
      retryBudgetMs: options.retryBudgetMs ?? this.limits.retryBudgetMs ?? 0,
      waitingSince: Date.now(),
      lastRetry: null,
      retryTimer: null,
    }
    live.active = active
    active.messageUuid = runner.send(content)
    return { id, sessionId: live.record.id, startSeq: started.seq, done }
  }

  private async attachRunner(live: LiveSession): Promise<Runner> {
    const { record } = live
    const resume = record.claudeSessionId
    // The previous process must be gone before its transcript is touched or resumed.
    await this.retiring.get(record.id)
    // Claude Code keeps transcripts by working directory: a session that moved takes its transcript along.
    if (resume) {
      const location = { configDir: this.claudeConfigDir, cwd: record.settings.workspace, sessionId: resume }
      await adoptTranscript(location).catch((error: unknown) =>
        this.options.log.warn(
          { err: error, session: record.id },
          'transcript not moved to the new workspace',
        ),
      )
    }
    if (resume && record.clearAgentOnResume) {
      await clearTranscriptAgent({
        configDir: this.claudeConfigDir,
        cwd: record.settings.workspace,
        sessionId: resume,
      })
      record.clearAgentOnResume = false
      this.save(live)
    }
    const profile = this.profileFor(record.settings, resume)
    if (!resume) this.pool.setSpareProfile(profile)
    const before = record.state
    this.setState(live, 'starting')
    let runner: Runner
    try {
      runner = await this.pool.acquire(profile, !resume)
    } catch (error) {
      this.setState(live, before === 'starting' ? 'new' : before)
      const failure = error as GatewayError
      this.publish(live, {
        type: 'error',
        code: failure.code ?? 'internal',
        message: failure.message,
        retryAfterMs: failure.retryAfterMs,
      })
      throw error
    }
    const translator = new Translator(resume ? record.costUsd : 0)
    live.runner = runner
    this.byRunner.set(runner, live)
    runner.attach({
      onMessage: (message) => {
        if (live.runner !== runner) return
        for (const body of translator.translate(message, live.active?.id ?? live.lastTurnId))
          this.onEvent(live, body)
        // Claude Code reports the end of a message's turn after its result: no result came.
        const finished = finishedCommand(message)
        if (finished !== undefined && live.active?.messageUuid === finished) this.unanswered(live)
      },
      onExit: (exit) => this.onExit(live, runner, exit),
      onPermission: (request) => this.askPermission(live, request),
      onClientTool: (call) => this.awaitClient(live, runner, call),
    })
    this.setState(live, 'idle')
    return runner
  }

  private onEvent(live: LiveSession, body: EventBody): void {
    const { record } = live
    if (body.type === 'session.ready' || body.type === 'conversation.reset') {
      record.claudeSessionId = body.claudeSessionId
      this.save(live)
    }
    // The live process keeps running with the model `/model` chose; the session keeps it for the next one.
    if (body.type === 'model.changed') {
      record.settings = { ...record.settings, model: body.model }
      this.save(live)
    }
    // Every result of the CLI reports its usage, also a late one that ends no turn (background work).
    if (body.type === 'usage') {
      addUsage(record.usage, body.usage)
      record.costUsd += body.costUsd
      // A turn's end saves its usage; a late result has no end of turn to do it.
      if (!live.active) this.save(live)
    }
    if (body.type === 'tool.call' && clientFunctionName(body.name) !== undefined)
      this.clientSlot(live, body.toolUseId)
    if (body.type === 'tool.result') live.clientCalls.delete(body.toolUseId)
    const active = live.active
    if (active && 'turnId' in body && body.turnId === active.id) this.watchRetries(live, active, body)
    if (body.type !== 'turn.completed') {
      this.publish(live, body)
      return
    }
    // A turn ends once: a result that comes with no turn under way ends and counts none.
    if (!active) return
    const { failure } = active
    const completed: EventBody = failure
      ? {
          ...body,
          status: failure.code === 'interrupted' ? 'interrupted' : 'error',
          error: { code: failure.code, message: failure.message },
        }
      : body
    record.turns++
    this.completeTurn(live, completed)
  }

  private completeTurn(live: LiveSession, body: Extract<EventBody, { type: 'turn.completed' }>): void {
    const active = live.active
    // A result that cannot be kept (its structured output nested too deeply, say) ends the turn as failed.
    const event = (this.publish(live, body) ??
      this.publish(live, {
        ...body,
        status: 'error',
        result: '',
        structuredOutput: undefined,
        error: active?.failure
          ? { code: active.failure.code, message: active.failure.message }
          : { code: 'internal', message: 'The result of the turn could not be kept' },
      })) as TurnCompleted
    if (!active) return
    if (active.timer) clearTimeout(active.timer)
    if (active.retryTimer) clearTimeout(active.retryTimer)
    live.active = null
    this.releaseClientCalls(live, 'The turn ended')
    const runner = live.runner
    if (runner && live.restartAfterTurn) {
      live.restartAfterTurn = false
      void this.release(live, 'hibernated')
    } else if (runner) {
      runner.state = 'ready'
      this.setState(live, 'idle')
      this.armIdle(live, runner)
    }
    active.resolve(event)
  }

  /** End the running turn from outside the CLI (its process died, the session was deleted, shutdown). */
  private failTurn(live: LiveSession, code: ErrorCode, message: string, retryAfterMs?: number): void {
    const active = live.active
    if (!active) return
    this.announce(live, active, { code, message, retryAfterMs })
    this.endTurn(live, { code, message })
  }

  /** Tell the turn's followers at once why it fails (its `turn.completed` says it again when it ends). */
  private announce(live: LiveSession, active: ActiveTurn, failure: TurnFailure): void {
    const { code, message, retryAfterMs } = failure
    this.publish(live, {
      type: 'error',
      turnId: active.id,
      code,
      message,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    })
  }

  /** End the running turn without Claude Code's result, as failed (its failure already announced). */
  private endTurn(live: LiveSession, { code, message }: TurnFailure): void {
    const active = live.active
    if (!active) return
    this.completeTurn(live, {
      type: 'turn.completed',
      turnId: active.id,
      status: code === 'interrupted' ? 'interrupted' : 'error',
      result: '',
      stopReason: null,
      durationMs: 0,
      numTurns: 0,
      usage: { ...EMPTY_USAGE },
      costUsd: 0,
      error: { code, message },
    })
  }

  private onExit(live: LiveSession, runner: Runner, exit: RunnerExit): void {
    this.byRunner.delete(runner)
    this.pool.exited(runner)
    if (live.runner !== runner) return
    this.lifecycle('crash', runner, {
      session: live.record.id,
      code: exit.code,
      signal: exit.signal,
      turn: live.active?.id,
    })
    live.runner = null
    this.clearIdle(live)
    this.settlePermissions(live, 'Claude Code exited')
    // A turn the gateway was ending already (timeout, interrupt, Claude's API) ends as it said.
    const failure = live.active?.failure
    if (failure) this.endTurn(live, failure)
    else this.failTurn(live, 'process_exited', describeExit(exit))
    this.setState(live, live.record.claudeSessionId ? 'hibernated' : 'new', 'process exited')
  }

  private askPermission(live: LiveSession, request: PermissionRequest): Promise<PermissionResult> {
    const turnId = live.active?.id ?? live.lastTurnId
    const requestId = request.requestId ?? randomUUID()
    const requested = this.publish(live, {
      type: 'permission.requested',
      turnId,
      requestId,
      toolUseId: request.toolUseID,
      toolName: request.toolName,
      input: request.input,
      ...(request.decisionReason || request.title ? { reason: request.decisionReason ?? request.title } : {}),
    }) as EventOf<'permission.requested'> | null
    // A request that cannot be kept cannot be answered either: its turn is failing (see `publish`).
    if (!requested) return Promise.resolve({ behavior: 'deny', message: 'The request could not be kept' })
    if (!live.record.settings.askPermissions) {
      const message = `${request.toolName} needs approval and this session does not take interactive approvals`
      this.publish(live, {
        type: 'permission.resolved',
        turnId,
        requestId,
        behavior: 'deny',
        message,
        by: 'rule',
      })
      return Promise.resolve({ behavior: 'deny', message })
    }
    return new Promise((resolve) => {
      const settle = (answer: PermissionAnswer, by: 'client' | 'timeout' | 'interrupt') => {
        if (!live.permissions.delete(requestId)) return
        if (timer) clearTimeout(timer)
        request.signal.removeEventListener('abort', onAbort)
        if (answer.behavior === 'allow') {
          const { updatedInput } = answer
          this.publish(live, {
            type: 'permission.resolved',
            turnId,
            requestId,
            behavior: 'allow',
            by,
            ...(updatedInput ? { updatedInput } : {}),
          })
          resolve({ behavior: 'allow', updatedInput: updatedInput ?? request.input })
          return
        }
        const message = answer.message || `The user denied ${request.toolName}`
        this.publish(live, { type: 'permission.resolved', turnId, requestId, behavior: 'deny', message, by })
        resolve({ behavior: 'deny', message })
      }
      const onAbort = () => settle({ behavior: 'deny', message: 'The turn was interrupted' }, 'interrupt')
      const limit = this.limits.permissionTimeoutMs
      const timer = after(limit, () =>
        settle({ behavior: 'deny', message: `No answer within ${limit} ms` }, 'timeout'),
      )
      request.signal.addEventListener('abort', onAbort, { once: true })
      live.permissions.set(requestId, { requested, expiresAt: timer ? requested.ts + limit : null, settle })
    })
  }

  private clientSlot(live: LiveSession, toolUseId: string): ClientCallSlot {
    let slot = live.clientCalls.get(toolUseId)
    if (!slot) {
      let deliver!: (result: ClientToolResult) => void
      const result = new Promise<ClientToolResult>((resolve) => {
        deliver = resolve
      })
      slot = { result, deliver, delivered: false, waiting: false }
      live.clientCalls.set(toolUseId, slot)
    }
    return slot
  }

  /**
   * Claude Code runs a client function: wait for the client's result. The client's think time does not
   * count against the turn timeout; the call has its own limit, past which the turn is interrupted.
   */
  private async awaitClient(
    live: LiveSession,
    runner: Runner,
    call: ClientToolCall,
  ): Promise<ClientToolResult> {
    const slot = this.clientSlot(live, call.toolUseId)
    slot.waiting = true
    const active = live.active
    if (active?.timer) {
      clearTimeout(active.timer)
      active.timer = null
    }
    const limit = this.limits.clientToolTimeoutMs
    const timer = after(limit, () => {
      if (slot.delivered || live.runner !== runner) return
      const message = `The client did not return the result of ${call.name} within ${limit} ms`
      this.publish(live, { type: 'error', turnId: active?.id, code: 'tool_timeout', message })
      slot.delivered = true
      slot.deliver({ content: message, isError: true })
      void runner.interrupt().catch(() => undefined)
    })
    const aborted = new Promise<ClientToolResult>((resolve) => {
      call.signal.addEventListener(
        'abort',
        () => resolve({ content: 'The call was cancelled', isError: true }),
        { once: true },
      )
    })
    try {
      return await Promise.race([slot.result, aborted])
    } finally {
      if (timer) clearTimeout(timer)
      slot.waiting = false
    }
  }

  /** Let go of every client function call of the turn (it ended, or its process did). */
  private releaseClientCalls(live: LiveSession, reason: string): void {
    for (const slot of live.clientCalls.values())
      if (!slot.delivered) slot.deliver({ content: reason, isError: true })
    live.clientCalls.clear()
  }

  /** Restart the turn's clock once no client call is waiting any more. */
  private armTurnTimer(live: LiveSession): void {
    const active = live.active
    const runner = live.runner
    if (!active || !runner || active.timer) return
    if ([...live.clientCalls.values()].some((slot) => !slot.delivered)) return
    active.timer = after(this.limits.turnTimeoutMs, () => this.timeOut(live, runner))
  }

  /** Deny every open permission request of a session that lets its runner go. */
  private settlePermissions(live: LiveSession, message: string): void {
    for (const { settle } of live.permissions.values()) settle({ behavior: 'deny', message }, 'interrupt')
  }

  private timeOut(live: LiveSession, runner: Runner): void {
    const active = live.active
    if (!active) return
    this.options.log.warn({ session: live.record.id, turn: active.id }, 'turn timed out')
    const message = `The turn did not finish within ${this.limits.turnTimeoutMs} ms`
    this.abandon(live, runner, { code: 'turn_timeout', message })
  }

  /**
   * The gateway ends the running turn itself: it fails with `failure` (announced now), Claude Code is
   * interrupted, and a process that does not stop within the grace period is killed (its exit ends the
   * turn). A turn failing already keeps its first reason.
   */
  private abandon(live: LiveSession, runner: Runner, failure: TurnFailure): void {
    const active = live.active
    if (!active || active.failure) return
    active.failure = failure
    if (active.retryTimer) clearTimeout(active.retryTimer)
    active.retryTimer = null
    this.announce(live, active, failure)
    void runner.interrupt().catch(() => undefined)
    setTimeout(() => {
      if (live.active === active) runner.kill()
    }, INTERRUPT_GRACE_MS).unref()
  }

  /**
   * Follow Claude Code's retries of the model API for the turn. Claude's API refusing the credentials
   * cannot be fixed by retrying: the turn ends at the first such retry. Other failures (overload, rate
   * limits, 5xx) are retried by Claude Code for minutes; the turn gives them its retry budget, counted from
   * its start or its last progress, and is abandoned past it. Any other event of the turn is progress.
   */
  private watchRetries(live: LiveSession, active: ActiveTurn, body: EventBody): void {
    if (body.type !== 'api.retry') {
      if (active.retryTimer) clearTimeout(active.retryTimer)
      active.retryTimer = null
      active.lastRetry = null
      active.waitingSince = Date.now()
      return
    }
    active.lastRetry = body
    const runner = live.runner
    if (!runner || active.failure) return
    if (isAuthFailure(body.status)) {
      this.abandon(live, runner, {
        code: 'upstream_auth_failed',
        message: `Claude's API refused the credentials Claude Code runs with (HTTP ${body.status}): check the API key or login of the gateway's Claude Code`,
      })
      return
    }
    if (active.retryBudgetMs <= 0 || active.retryTimer) return
    const budget = active.retryBudgetMs
    active.retryTimer = setTimeout(
      () => {
        active.retryTimer = null
        const last = active.lastRetry
        if (live.active !== active || live.runner !== runner || !last) return
        const limited = last.status === 429
        this.abandon(live, runner, {
          code: limited ? 'rate_limited' : 'overloaded',
          message: `Claude's API is ${limited ? 'rate limited' : 'overloaded'} (HTTP ${last.status ?? 'error'}); Claude Code's retries did not succeed within ${budget} ms`,
          retryAfterMs: last.delayMs,
        })
      },
      Math.max(0, active.waitingSince + budget - Date.now()),
    )
  }

  /**
   * Claude Code is done with the turn's message but answered it with no result: it dropped the message
   * (one it could not use). The turn ends now instead of waiting for its timeout.
   */
  private unanswered(live: LiveSession): void {
    const active = live.active
    if (!active) return
    this.options.log.warn(
      { session: live.record.id, turn: active.id },
      'Claude Code did not answer the message',
    )
    if (active.failure) this.endTurn(live, active.failure)
    else if (active.interrupted) this.failTurn(live, 'interrupted', 'The turn was interrupted')
    else this.failTurn(live, 'upstream_error', 'Claude Code finished with the message without answering it')
  }

  private armIdle(live: LiveSession, runner: Runner): void {
    this.clearIdle(live)
    live.idleTimer = after(this.limits.idleTimeoutMs, () => {
      if (live.runner === runner && !live.active && live.pending <= 1) void this.release(live, 'hibernated')
    })
    live.idleTimer?.unref()
  }

  private clearIdle(live: LiveSession): void {
    if (live.idleTimer) clearTimeout(live.idleTimer)
    live.idleTimer = null
  }

  /** Let a session's runner go (idle timeout, delete, pause). */
  private async release(live: LiveSession, state: SessionState): Promise<void> {
    const runner = live.runner
    live.runner = null
    this.settlePermissions(live, `The session was ${state}`)
    this.clearIdle(live)
    this.setState(live, state === 'hibernated' && !live.record.claudeSessionId ? 'new' : state)
    if (runner) {
      this.byRunner.delete(runner)
      if (state === 'hibernated') this.lifecycle('hibernate', runner, { session: live.record.id })
      await this.retire(live.record.id, this.pool.retire(runner))
    }
    if ((state === 'hibernated' || state === 'paused') && live.pending === 0) this.live.delete(live.record.id)
  }

  /** Note a session's process as being stopped until `stopping` settles (see `attachRunner`). */
  private async retire(sessionId: string, stopping: Promise<unknown>): Promise<void> {
    const retired = stopping.then(
      () => undefined,
      () => undefined,
    )
    this.retiring.set(sessionId, retired)
    await retired
    if (this.retiring.get(sessionId) === retired) this.retiring.delete(sessionId)
  }

  /** The pool wants this runner's slot: allowed only when its session is not using it. */
  private evict(runner: Runner): boolean {
    const live = this.byRunner.get(runner)
    if (!live) return true
    if (live.active || live.pending > 0) return false
    this.byRunner.delete(runner)
    live.runner = null
    this.clearIdle(live)
    // The pool stops the process; the session's next turn must not resume before it is gone.
    void this.retire(live.record.id, runner.exited)
    this.lifecycle('hibernate', runner, { session: live.record.id, reason: 'evicted' })
    this.setState(live, live.record.claudeSessionId ? 'hibernated' : 'new', 'evicted')
    this.live.delete(live.record.id)
    return true
  }

  /** Claude Code's config folder as the CLI processes see it (their environment's CLAUDE_CONFIG_DIR). */
  get claudeConfigDir(): string {
    return claudeConfigDir(this.options.host.env)
  }

  /** Let a session's process go so that its next turn starts fresh (files it read at start changed). */
  restartRunner(sessionId: string): void {
    const live = this.live.get(sessionId)
    if (!live?.runner) return
    if (live.active || live.pending > 0) live.restartAfterTurn = true
    else void this.release(live, 'hibernated')
  }

  /** Claude Code's built-in agents, learned from the first process that started (empty until then). */
  get builtinAgents(): readonly AgentInfo[] {
    return this.knownAgents
  }

  /** The models the CLI reports, learned from the first process that started (empty until then). */
  get models(): readonly ModelInfo[] {
    return this.knownModels
  }

  /**
   * Claude Code's own slash commands (built-in, plugins', MCP servers'), learned from the first process that
   * started; null until then.
   */
  get cliCommands(): readonly ReportedCommand[] | null {
    return this.knownCommands
  }

  private lifecycle(event: ProcessLifecycle, runner: Runner | null, detail?: object): void {
    if (runner && (event === 'ready' || event === 'spare') && !this.modelsAsked) {
      this.modelsAsked = true
      runner
        .supportedAgents()
        .then((agents) => builtinAgentsOf(agents, { configDir: this.claudeConfigDir, workspace: runner.cwd }))
        .then(
          (agents) => {
            this.knownAgents = agents
          },
          () => undefined,
        )
      runner
        .supportedCommands()
        .then((commands) =>
          reportedCommandsOf(commands, { configDir: this.claudeConfigDir, workspace: runner.cwd }),
        )
        .then(
          (commands) => {
            this.knownCommands = commands
          },
          () => undefined,
        )
      runner.supportedModels().then(
        (models) => {
          this.knownModels = models
        },
        () => {
          this.modelsAsked = false
        },
      )
    }
    // `cliPid`: pino's own `pid` field is the gateway's.
    const line = { process: event, runner: runner?.id, cliPid: runner?.pid ?? undefined, ...detail }
    if (event === 'crash') this.options.log.warn(line, `claude process ${event}`)
    else this.options.log.info(line, `claude process ${event}`)
  }

  private setState(live: LiveSession, state: SessionState, reason?: string): void {
    const previous = live.record.state
    if (previous === state) return
    live.record.state = state
    this.save(live)
    this.publish(live, { type: 'session.state', state, previous, ...(reason ? { reason } : {}) })
  }

  private save(live: LiveSession): void {
    live.record.updatedAt = Date.now()
    this.saveRecord(live.record)
  }

  /**
   * Store a record the engine changed on its own (a state, usage, Claude's session id). This runs in
   * runner callbacks and timers, where a thrown store error would stop the gateway: it never throws.
   */
  private saveRecord(record: SessionRecord): void {
    this.unsaved.set(record.id, record)
    this.saveUnsaved()
  }

  /**
   * Write the records in `unsaved`. What the storage cannot take now stays there (and is read from there)
   * and is written again with the next save, or after UNSAVED_RETRY_MS, so the store catches up by itself
   * once it works again.
   */
  private saveUnsaved(): void {
    for (const [id, record] of this.unsaved) {
      try {
        this.options.store.updateSession(record)
      } catch (error) {
        if (isStoreError(error)) {
          if (!this.unsavedTimer) {
            this.options.log.error({ err: error }, 'session records cannot be saved; they are kept in memory')
            this.unsavedTimer = setTimeout(() => {
              this.unsavedTimer = null
              this.saveUnsaved()
            }, UNSAVED_RETRY_MS)
            this.unsavedTimer.unref()
          }
          return
        }
        // Not the storage: this record itself cannot be stored (and never will be); it stays in memory.
        this.options.log.error({ err: error, session: id }, 'session record cannot be saved')
      }
      this.unsaved.delete(id)
    }
  }

  /**
   * Publish an event of a session's own doing (Claude Code's output, a state change). One that cannot be
   * kept fails its turn instead of the caller: null then.
   */
  private publish(live: LiveSession, body: EventBody): GatewayEvent | null {
    try {
      return this.options.bus.publish(live.record.id, body)
    } catch (error) {
      if (!(error instanceof EventRejectedError) && !isStoreError(error)) throw error
      this.eventRejected(live, 'turnId' in body ? body.turnId : undefined, error)
      return null
    }
  }

  /**
   * An event of the session could not be kept: its turn, when still running, fails with the reason (the
   * process is interrupted and its end reports the failure); nothing else is affected.
   */
  private eventRejected(live: LiveSession, turnId: string | undefined, error: Error): void {
    const active = live.active
    this.options.log.error(
      { err: error, session: live.record.id, turn: turnId ?? null },
      'event not kept; its turn fails',
    )
    if (!active || (turnId !== undefined && turnId !== active.id)) return
    const failure = {
      code: isStoreError(error) ? error.code : ('internal' as const),
      message: `An event of this turn could not be kept: ${error.message}`,
    }
    if (live.runner) this.abandon(live, live.runner, failure)
    else this.failTurn(live, failure.code, failure.message)
  }

  private settings(input: NewSession): SessionSettings {
    const { defaults } = this.options
    return {
      workspace: resolveWorkspace(input.workspace ?? defaults.workspace),
      model: input.model ?? defaults.model,
      agent: input.agent ?? null,
      permissionMode: input.permissionMode ?? defaults.permissionMode,
      tools: input.tools ?? null,
      allowedTools: input.allowedTools ?? [],
      disallowedTools: input.disallowedTools ?? [],
      systemPrompt: input.systemPrompt ?? null,
      appendSystemPrompt: input.appendSystemPrompt ?? null,
      thinking: input.thinking ?? null,
      effort: input.effort ?? null,
      outputSchema: input.outputSchema ?? null,
      maxOutputTokens: input.maxOutputTokens ?? null,
      maxTurns: input.maxTurns ?? null,
      clientTools: input.clientTools ?? null,
      additionalDirectories: input.additionalDirectories ?? [],
      askPermissions: input.askPermissions ?? false,
    }
  }

  private profileFor(settings: SessionSettings, resume: string | null) {
    return runnerProfile(settings, resume, this.options.host, this.hostGeneration)
  }
}

/** Publishes an event made of the client's input: one that cannot be serialised is the client's error. */
function clientInput<T>(publish: () => T): T {
  try {
    return publish()
  } catch (error) {
    if (error instanceof EventRejectedError) throw new GatewayError('invalid_request', error.message)
    throw error
  }
}

/** What a direct write or edit changed, for the `file.changed` event. */
function fileChangesOf(tool: string, result: unknown): FileChange[] {
  if (tool !== 'write' && tool !== 'edit') return []
  const out = result as {
    type: 'create' | 'update'
    filePath: string
    originalFile: string | null
    updatedFile?: string
  }
  return [
    {
      path: out.filePath,
      kind: out.type === 'create' ? 'created' : 'modified',
      before: out.originalFile,
      ...(out.updatedFile !== undefined ? { after: out.updatedFile } : {}),
    },
  ]
}

function resolveWorkspace(path: string): string {
  let real: string
  try {
    real = realpathSync(path)
  } catch {
    throw new GatewayError('invalid_request', `Workspace ${path} does not exist`)
  }
  if (!statSync(real).isDirectory())
    throw new GatewayError('invalid_request', `Workspace ${path} is not a directory`)
  return real
}

/** What `promise` settled with, or null when it has not within `ms`. */
async function settledWithin<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms)
  })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

function addUsage(total: TokenUsage, turn: TokenUsage): void {
  total.inputTokens += turn.inputTokens
  total.outputTokens += turn.outputTokens
  total.cacheReadInputTokens += turn.cacheReadInputTokens
  total.cacheCreationInputTokens += turn.cacheCreationInputTokens
  total.thinkingTokens += turn.thinkingTokens
}

function describeExit(exit: RunnerExit): string {
  const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`
  const detail = exit.stderr
    ? `: ${exit.stderr.split('\n').slice(-3).join(' | ')}`
    : exit.error
      ? `: ${exit.error.message}`
      : ''
  return `Claude Code exited unexpectedly (${how}) during the turn${detail}`
}
