/**
 * The session manager: the engine's one entry point. Sessions are durable records; a live session borrows a
 * runner from the pool for as long as it is in use, hibernates when idle and resumes with Claude's own
 * session id. Turns of one session never interleave: a second message waits for the first (bounded).
 *
 * This is the front door (sessions' CRUD, sending, the engine's facts); its parts do the work: a session's
 * creation, finding, opening, warm-up, pause, deletion and loss (session-lifecycle.ts), the turn line
 * (turns.ts), runner binding (runners.ts), the client's replies to a turn (client-replies.ts), the permission
 * broker (permissions.ts), the client-call mailbox (client-calls.ts), new records and settings changes
 * (new-session.ts, session-settings.ts), record saving (records.ts), CLI capabilities (capabilities.ts), the
 * processes' log and counts (process-log.ts), direct calls (direct-calls.ts), the sessions in memory and
 * what they share (live-session.ts), shutdown (shutdown.ts).
 */
import type { AgentInfo, ModelInfo, SessionStore } from '@anthropic-ai/claude-agent-sdk'
import type { ReportedCommand } from '../commands/index.js'
import type { ContentBlock } from '../events/types.js'
import type { Page, SessionQuery, SessionRecord, SessionSettings } from '../store/types.js'
import type { RunToolOptions } from '../tools/index.js'
import { CliCapabilities } from './capabilities.js'
import type { ClaudeCliInfo } from './claude-cli.js'
import { claudeConfigDir } from './claude-home.js'
import { ClientReplies } from './client-replies.js'
import { contentProblem } from './content.js'
import { type DirectCallArgs, directToolCall, recordDirectCall } from './direct-calls.js'
import { GatewayError } from './errors.js'
import { LiveSessions } from './live-session.js'
import { SessionOwnership } from './ownership.js'
import { ProcessPool } from './pool.js'
import { ProcessLog } from './process-log.js'
import type { ProcessMemory } from './process-memory.js'
import { RecordSaver } from './records.js'
import { RunnerBinding } from './runners.js'
import { SessionLifecycle } from './session-lifecycle.js'
import { changeSettings, settingsOf } from './session-settings.js'
import { shutDown } from './shutdown.js'
import { TurnLine } from './turns.js'
import type {
  EngineOptions,
  NewSession,
  PermissionAnswer,
  ProcessCounts,
  SendOptions,
  ToolResultInput,
  Turn,
  WaitingPermission,
} from './types.js'

export type {
  EngineDefaults,
  EngineLimits,
  EngineOptions,
  FileChange,
  NewSession,
  PermissionAnswer,
  SendOptions,
  ToolResultInput,
  Turn,
  TurnCompleted,
  WaitingPermission,
} from './types.js'

export class SessionManager {
  private readonly pool: ProcessPool
  /** Each process's life logged, and counted for the metrics. */
  private readonly processes: ProcessLog
  private readonly options: EngineOptions
  private readonly records: RecordSaver
  private readonly sessions: LiveSessions
  private readonly capabilities: CliCapabilities
  private readonly runners: RunnerBinding
  private readonly turns: TurnLine
  private readonly replies: ClientReplies
  private readonly lifecycle: SessionLifecycle
  /** With replicas: which sessions this one runs (ownership.ts); null for a single gateway. */
  private readonly ownership: SessionOwnership | null

  constructor(options: EngineOptions) {
    this.options = { ...options }
    this.records = new RecordSaver(options.store, options.log)
    this.capabilities = new CliCapabilities(() => this.claudeConfigDir)
    this.pool = new ProcessPool(
      options.limits,
      {
        evict: (runner) => this.runners.evict(runner),
        lifecycle: (event, runner, detail) => {
          if (runner && (event === 'ready' || event === 'spare')) this.capabilities.learnFrom(runner)
          this.processes.record(event, runner, detail)
        },
      },
      options.log,
    )
    this.processes = new ProcessLog(options.log, this.pool)
    this.sessions = new LiveSessions(
      this.options,
      options.limits,
      this.pool,
      this.records,
      (live, turnId, error) => this.turns.eventRejected(live, turnId, error),
      (sessionId) => this.ownership?.settle(sessionId),
    )
    this.runners = new RunnerBinding(this.sessions)
    this.turns = new TurnLine(this.sessions, this.runners)
    this.replies = new ClientReplies(this.sessions, this.turns)
    this.ownership = options.ownership
      ? new SessionOwnership(options.ownership, {
          bus: options.bus,
          records: this.records,
          log: options.log,
          inUse: (sessionId) => this.sessions.live.has(sessionId),
        })
      : null
    this.lifecycle = new SessionLifecycle(
      this.sessions,
      this.records,
      this.runners,
      this.turns,
      this.ownership,
    )
  }

  get cli(): ClaudeCliInfo {
    return this.options.cli
  }

  /**
   * Sessions that had a runner when the gateway stopped are hibernated now (with replicas, those another
   * replica runs are left alone); warm spares start.
   */
  async start(): Promise<void> {
    const { store } = this.options
    for (const state of ['starting', 'idle', 'running'] as const) {
      for (const record of (await store.listSessions({ state, limit: 1_000_000, offset: 0 })).items) {
        if (await this.ownership?.elsewhere(record.id)) continue
        record.state = record.claudeSessionId ? 'hibernated' : 'new'
        this.records.save(record)
      }
    }
    await this.defaultSpares()
  }

  /** Apply reloaded settings: limits now, host options and defaults to processes started from now on. */
  reconfigure(update: Pick<EngineOptions, 'limits' | 'host' | 'defaults'>): void {
    this.sessions.limits = update.limits
    this.options.host = update.host
    this.options.defaults = update.defaults
    this.runners.hostChanged()
    this.pool.updateLimits(update.limits)
    this.defaultSpares().catch((err: unknown) =>
      this.options.log.warn({ err }, 'warm spares not restarted with the new settings'),
    )
  }

  /**
   * Spares for the operator's new conversations with the default settings; those kept for other accounts
   * are dropped (after a reload they were started with the old host options).
   */
  private async defaultSpares(): Promise<void> {
    if (!this.options.cli.usable) return
    const account = await this.sessions.account(null)
    this.pool.resetSpareProfiles(this.runners.profile(settingsOf({}, this.options.defaults), null, account))
  }

  /** No warm spare while Claude Code cannot serve a turn (not logged in); see ProcessPool.holdSpares. */
  holdSpares(held: boolean): void {
    this.pool.holdSpares(held)
  }

  async stats() {
    return {
      sessions: await this.lifecycle.count(),
      activeSessions: this.sessions.live.size,
      processes: this.processStats,
    }
  }

  /** The pool's counts now (read at every metrics sample: no store involved). */
  get processStats() {
    return this.pool.stats
  }

  /** Process starts, failed starts, start retries and crashes since start (metrics). */
  get processCounts(): ProcessCounts {
    return this.processes.counts
  }

  /**
   * What the gateway's processes hold in memory now: its own resident size and each Claude Code process's
   * (~190 MB each). Read from /proc on Linux; null elsewhere.
   */
  memory(): { gatewayRssBytes: number; processes: ProcessMemory[] } {
    return { gatewayRssBytes: process.memoryUsage.rss(), processes: this.pool.memory() }
  }

  createSession(input: NewSession): Promise<SessionRecord> {
    return this.lifecycle.create(input)
  }

  getSession(id: string): Promise<SessionRecord | undefined> {
    return this.lifecycle.record(id)
  }

  listSessions(query: SessionQuery): Promise<Page<SessionRecord>> {
    return this.options.store.listSessions(query)
  }

  /**
   * Change a session's settings. Claude Code takes most of them only at start, so a live runner is let go
   * (now if idle, else when its turn ends) and the next message resumes the conversation with them.
   */
  updateSettings(sessionId: string, patch: Partial<SessionSettings>): Promise<SessionRecord> {
    return this.owned(sessionId, async () => {
      const { record } = await this.lifecycle.found(sessionId)
      await changeSettings(this.sessions, record, patch)
      this.restartRunner(sessionId)
      return record
    })
  }

  /**
   * Run one of the gateway's direct tools in a session's workspace, on the API client's behalf, recorded
   * as a direct call (with `file.changed` for writes and edits).
   */
  async runTool(
    sessionId: string,
    name: string,
    input: unknown,
    options: RunToolOptions = {},
  ): Promise<unknown> {
    // Its input is checked first: a call refused for it is not recorded (see direct-calls.ts).
    const { work, changes } = directToolCall(name, input, () => this.sessions.limits.tools, options)
    return this.recordDirectCall(sessionId, name, input, work, changes)
  }

  /**
   * Do `work` in a session's workspace on the API client's behalf. The call and its result go into the
   * session's events like Claude's own tool calls, with a `file.changed` for each change `changes` reads
   * from the result; a failed call is recorded too and then thrown.
   */
  async recordDirectCall<R>(sessionId: string, ...call: DirectCallArgs<R>): Promise<R> {
    return this.owned(sessionId, async () => {
      const { record } = await this.lifecycle.found(sessionId)
      return recordDirectCall(this.options.bus, record, ...call)
    })
  }

  /** Live runner facts for a session, for APIs that show them. */
  runnerOf(id: string): { pid: number | null; busy: boolean } | null {
    const runner = this.sessions.live.get(id)?.runner
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
    return this.owned(sessionId, async () => {
      const live = await this.lifecycle.open(sessionId)
      if (live.pending > this.sessions.limits.sessionQueueSize) {
        throw new GatewayError(
          'session_busy',
          `Session ${sessionId} is busy with ${live.pending} turns`,
          1_000,
        )
      }
      return this.turns.enqueue(live, content, options)
    })
  }

  /**
   * Stop the running turn and wait until it has ended. True when it ended interrupted; false when no turn
   * was running or it ended otherwise meanwhile. A Claude Code process that does not stop within the grace
   * period is stopped itself, which ends the turn as interrupted too (the session resumes on its next
   * message), so that the session is free for the messages waiting behind the turn either way.
   */
  async interrupt(sessionId: string): Promise<boolean> {
    const live = this.sessions.live.get(sessionId)
    return live ? this.turns.interrupt(live) : false
  }

  /**
   * Start the session's Claude Code process now, resuming its conversation, so that its next message goes
   * straight to a live process; a paused session is un-paused first. Nothing starts when the session has a
   * process already, or a turn under way (which gets one).
   */
  resume(sessionId: string): Promise<SessionRecord> {
    this.checkCanStart()
    return this.owned(sessionId, () => this.lifecycle.warmUp(sessionId))
  }

  /**
   * Pause a session: its process stops and it takes no message until it is resumed. Refused while a turn
   * runs or waits (interrupt it first). The state is stored: a paused session stays paused across restarts.
   */
  pause(sessionId: string): Promise<SessionRecord> {
    return this.owned(sessionId, () => this.lifecycle.pause(sessionId))
  }

  /** Results of client functions for the running turn, which goes on with them (see client-replies.ts). */
  submitToolResults(
    sessionId: string,
    results: readonly ToolResultInput[],
  ): { turnId: string; afterSeq: number } {
    return this.replies.submitToolResults(sessionId, results)
  }

  /** Tool_use ids of the running turn's client function calls that still wait for a result. */
  pendingClientCalls(sessionId: string): string[] {
    return this.replies.pendingClientCalls(sessionId)
  }

  /** Answer a pending permission request; false when there is none with that id. */
  answerPermission(sessionId: string, requestId: string, answer: PermissionAnswer): boolean {
    return this.replies.answerPermission(sessionId, requestId, answer)
  }

  /** The session's permission requests that wait for an answer, oldest first. */
  pendingPermissions(sessionId: string): WaitingPermission[] {
    return this.replies.pendingPermissions(sessionId)
  }

  /** Stop a session's runner; the record (and transcript) is kept unless `purge`. */
  deleteSession(sessionId: string, purge: boolean): Promise<boolean> {
    return this.owned(sessionId, () => this.lifecycle.delete(sessionId, purge))
  }

  /** Finish running turns (up to `graceMs`), then stop every process (see shutdown.ts). */
  shutdown(graceMs: number): Promise<void> {
    const { sessions, turns, runners, processes, pool, records, ownership } = this
    return shutDown({ sessions, turns, runners, processes, pool, records, ownership }, graceMs)
  }

  /**
   * The session's lease was lost (LeaseBook's `onLost`): another replica took it over, or this one could
   * not confirm it for longer than its TTL. Its process stops at once, its running turn ends here without
   * a word (the log is the new owner's), and its state here is dropped; nothing more of it is written.
   */
  ownershipLost(sessionId: string): void {
    this.lifecycle.lost(sessionId)
  }

  /** Whether the session is in this engine's memory: its turns run here, if any run. */
  holds(sessionId: string): boolean {
    return this.sessions.live.has(sessionId)
  }

  /** Where Claude Code's transcripts are mirrored (replicas); undefined: the config folder alone. */
  get transcripts(): SessionStore | undefined {
    return this.options.host.transcripts
  }

  /**
   * Claude Code's config folder as the host's CLI processes see it (their environment's CLAUDE_CONFIG_DIR):
   * the operator's sessions' and those of users without an account of their own (see `configDirOf`).
   */
  get claudeConfigDir(): string {
    return claudeConfigDir(this.options.host.env)
  }

  /**
   * Claude Code's config folder of an owner's sessions (null: the operator's): their own when their Claude
   * account names one. Their transcripts, user-scope agents, commands and memory are there.
   */
  async configDirOf(owner: string | null): Promise<string> {
    return this.sessions.configDirOf(await this.sessions.account(owner))
  }

  /** Let a session's process go so that its next turn starts fresh (files it read at start changed). */
  restartRunner(sessionId: string): void {
    const live = this.sessions.live.get(sessionId)
    if (live) this.runners.restart(live)
  }

  /** Claude Code's built-in agents, learned from the first process that started (empty until then). */
  get builtinAgents(): readonly AgentInfo[] {
    return this.capabilities.builtinAgents
  }

  /** The models the CLI reports, learned from the first process that started (empty until then). */
  get models(): readonly ModelInfo[] {
    return this.capabilities.supportedModels
  }

  /**
   * Claude Code's own slash commands (built-in, plugins', MCP servers'), learned from the first process that
   * started; null until then.
   */
  get cliCommands(): readonly ReportedCommand[] | null {
    return this.capabilities.cliCommands
  }

  /** Work that may start the session's process or write its events: see SessionLifecycle.owned. */
  private owned<T>(sessionId: string, work: () => Promise<T>): Promise<T> {
    return this.lifecycle.owned(sessionId, work)
  }

  /** Refuse work that would need a Claude Code process the gateway cannot start. */
  private checkCanStart(): void {
    if (this.sessions.closing) throw new GatewayError('shutting_down', 'The gateway is shutting down')
    if (!this.options.cli.usable)
      throw new GatewayError('unavailable', this.options.cli.reason ?? 'Claude Code CLI is unavailable')
  }
}
