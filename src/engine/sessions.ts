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
import type { EventBus } from '../events/bus.js'
import type { ContentBlock, EventBody, EventOf, SessionState, TokenUsage } from '../events/types.js'
import type { Page, SessionQuery, SessionRecord, SessionSettings, Store } from '../store/types.js'
import { type RunToolOptions, runTool as runDirectTool, type ToolLimits } from '../tools/index.js'
import type { ClaudeCliInfo } from './claude-cli.js'
import { type ClientToolCall, type ClientToolResult, clientFunctionName } from './client-tools.js'
import { GatewayError } from './errors.js'
import { type HostOptions, runnerProfile } from './options.js'
import { type PoolLimits, type ProcessLifecycle, ProcessPool } from './pool.js'
import { liveProcesses, type PermissionRequest, type Runner, type RunnerExit } from './runner.js'
import { after } from './timers.js'
import { adoptTranscript, claudeConfigDir, type SeedTurn, seedTranscript } from './transcript.js'
import { Translator } from './translate.js'

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
  timer: NodeJS.Timeout | null
  timedOut: boolean
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
        store.updateSession(record)
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
    return this.live.get(id)?.record ?? this.options.store.getSession(id)
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
    const record = live?.record ?? this.options.store.getSession(sessionId)
    if (!record || record.state === 'closed')
      throw new GatewayError('not_found', `Session ${sessionId} does not exist`)
    const workspace = patch.workspace ? resolveWorkspace(patch.workspace) : record.settings.workspace
    if (patch.agent === null && record.settings.agent) record.clearAgentOnResume = true
    record.settings = { ...record.settings, ...patch, workspace }
    record.updatedAt = Date.now()
    this.options.store.updateSession(record)
    this.restartRunner(sessionId)
    return record
  }

  /**
   * Run one of the gateway's direct tools in a session's workspace, on the API client's behalf, recorded
   * as a direct call (with `file.changed` for writes and edits).
   */
  runTool(sessionId: string, name: string, input: unknown, options: RunToolOptions = {}): Promise<unknown> {
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
    publish({ type: 'tool.call', turnId, toolUseId, name, input, parentToolUseId: null })
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
  async send(sessionId: string, content: string | ContentBlock[]): Promise<Turn> {
    this.checkCanStart()
    const live = this.open(sessionId)
    if (live.pending > this.limits.sessionQueueSize) {
      throw new GatewayError('session_busy', `Session ${sessionId} is busy with ${live.pending} turns`, 1_000)
    }
    const previous = live.tail
    const finish = this.holdLine(live)
    try {
      await previous
      const turn = await this.startTurn(live, content)
      void turn.done.finally(finish)
      return turn
    } catch (error) {
      finish()
      throw error
    }
  }

  /** Stop the running turn (it completes with status `interrupted`); false when nothing is running. */
  async interrupt(sessionId: string): Promise<boolean> {
    const live = this.live.get(sessionId)
    if (!live?.active || !live.runner) return false
    await live.runner.interrupt()
    return true
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
    const record = live?.record ?? this.options.store.getSession(sessionId)
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
      this.options.bus.forget(sessionId)
      this.options.store.deleteSession(sessionId)
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
  }

  /** A session about to run: its live state, created from the store when it has none. */
  private open(sessionId: string): LiveSession {
    const existing = this.live.get(sessionId)
    const record = existing?.record ?? this.options.store.getSession(sessionId)
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

  private async startTurn(live: LiveSession, content: string | ContentBlock[]): Promise<Turn> {
    if (this.closing) throw new GatewayError('shutting_down', 'The gateway is shutting down')
    const runner = live.runner ?? (await this.attachRunner(live))
    this.clearIdle(live)
    runner.state = 'busy'
    this.pool.touch(runner)
    const id = randomUUID()
    live.lastTurnId = id
    const started = this.publish(live, { type: 'turn.started', turnId: id, content })
    this.setState(live, 'running')
    const done = new Promise<TurnCompleted>((resolve) => {
      live.active = {
        id,
        resolve,
        timedOut: false,
        timer: after(this.limits.turnTimeoutMs, () => this.timeOut(live, runner)),
      }
    })
    runner.send(content)
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
    if (body.type !== 'turn.completed') {
      this.publish(live, body)
      return
    }
    // A turn ends once: a result that comes with no turn under way ends and counts none.
    const active = live.active
    if (!active) return
    const completed: EventBody = active.timedOut
      ? { ...body, status: 'error', error: { code: 'turn_timeout', message: this.timeoutMessage() } }
      : body
    record.turns++
    this.completeTurn(live, completed)
  }

  private completeTurn(live: LiveSession, body: Extract<EventBody, { type: 'turn.completed' }>): void {
    const active = live.active
    const event = this.publish(live, body) as TurnCompleted
    if (!active) return
    if (active.timer) clearTimeout(active.timer)
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
  private failTurn(
    live: LiveSession,
    code: 'process_exited' | 'turn_timeout' | 'interrupted' | 'shutting_down',
    message: string,
  ): void {
    const active = live.active
    if (!active) return
    this.publish(live, { type: 'error', turnId: active.id, code, message })
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
    if (live.active) {
      const timedOut = live.active.timedOut
      this.failTurn(
        live,
        timedOut ? 'turn_timeout' : 'process_exited',
        timedOut ? this.timeoutMessage() : describeExit(exit),
      )
    }
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
    }) as EventOf<'permission.requested'>
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
    active.timedOut = true
    this.options.log.warn({ session: live.record.id, turn: active.id }, 'turn timed out')
    void runner.interrupt().catch(() => undefined)
    // A process that does not stop within the grace period is killed; the exit fails the turn.
    setTimeout(() => {
      if (live.active === active) runner.kill()
    }, INTERRUPT_GRACE_MS).unref()
  }

  private timeoutMessage(): string {
    return `The turn did not finish within ${this.limits.turnTimeoutMs} ms`
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
    this.options.store.updateSession(live.record)
  }

  private publish(live: LiveSession, body: EventBody) {
    return this.options.bus.publish(live.record.id, body)
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
