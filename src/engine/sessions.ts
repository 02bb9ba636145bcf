/**
 * The session manager: the engine's one entry point. Sessions are durable records; a live session borrows a
 * runner from the pool for as long as it is in use, hibernates when idle and resumes with Claude's own
 * session id. Turns of one session never interleave: a second message waits for the first (bounded).
 *
 * This is the front door (sessions' CRUD, pause and resume, shutdown); its parts do the work: the turn line
 * (turns.ts), runner binding (runners.ts), the client's replies to a turn (client-replies.ts), the permission
 * broker (permissions.ts), the client-call mailbox (client-calls.ts), new records and settings
 * (new-session.ts, session-settings.ts), record saving (records.ts), CLI capabilities (capabilities.ts), the
 * processes' log and counts (process-log.ts), direct calls (direct-calls.ts), the sessions in memory and
 * what they share (live-session.ts).
 */
import type { AgentInfo, ModelInfo } from '@anthropic-ai/claude-agent-sdk'
import type { ReportedCommand } from '../commands/index.js'
import type { ContentBlock } from '../events/types.js'
import type { Page, SessionQuery, SessionRecord, SessionSettings } from '../store/types.js'
import {
  isToolName,
  type RunToolOptions,
  runTool as runDirectTool,
  validateToolInput,
} from '../tools/index.js'
import { CliCapabilities } from './capabilities.js'
import type { ClaudeCliInfo } from './claude-cli.js'
import { claudeConfigDir } from './claude-home.js'
import { ClientReplies } from './client-replies.js'
import { contentProblem } from './content.js'
import { fileChangesOf, recordDirectCall } from './direct-calls.js'
import { GatewayError } from './errors.js'
import { type LiveSession, LiveSessions } from './live-session.js'
import { newSessionRecord } from './new-session.js'
import { ProcessPool } from './pool.js'
import { ProcessLog } from './process-log.js'
import type { ProcessMemory } from './process-memory.js'
import { RecordSaver } from './records.js'
import { liveProcesses } from './runner.js'
import { RunnerBinding } from './runners.js'
import { patchedRecord, settingsChanges, settingsOf } from './session-settings.js'
import { TurnLine } from './turns.js'
import type {
  EngineOptions,
  FileChange,
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
  /** Sessions in the store, counted once and then kept up to date (health is polled often). */
  private sessionCount: number | undefined
  private readonly records: RecordSaver
  private readonly sessions: LiveSessions
  private readonly capabilities: CliCapabilities
  private readonly runners: RunnerBinding
  private readonly turns: TurnLine
  private readonly replies: ClientReplies

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
    )
    this.runners = new RunnerBinding(this.sessions)
    this.turns = new TurnLine(this.sessions, this.runners)
    this.replies = new ClientReplies(this.sessions, this.turns)
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
        this.records.save(record)
      }
    }
    if (this.options.cli.usable)
      this.pool.setSpareProfile(this.runners.profile(settingsOf({}, this.options.defaults), null))
  }

  /** Apply reloaded settings: limits now, host options and defaults to processes started from now on. */
  reconfigure(update: Pick<EngineOptions, 'limits' | 'host' | 'defaults'>): void {
    this.sessions.limits = update.limits
    this.options.host = update.host
    this.options.defaults = update.defaults
    this.runners.hostChanged()
    this.pool.updateLimits(update.limits)
    if (this.options.cli.usable)
      this.pool.setSpareProfile(this.runners.profile(settingsOf({}, this.options.defaults), null))
  }

  /** No warm spare while Claude Code cannot serve a turn (not logged in); see ProcessPool.holdSpares. */
  holdSpares(held: boolean): void {
    this.pool.holdSpares(held)
  }

  stats() {
    this.sessionCount ??= this.options.store.countSessions()
    return {
      sessions: this.sessionCount,
      activeSessions: this.sessions.live.size,
      processes: this.pool.stats,
    }
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

  createSession(input: NewSession): SessionRecord {
    const record = newSessionRecord(input, this.options.defaults, this.claudeConfigDir)
    this.options.store.insertSession(record)
    if (this.sessionCount !== undefined) this.sessionCount++
    const { workspace, agent } = record.settings
    this.options.bus.publish(record.id, { type: 'session.created', title: record.title, workspace, agent })
    return record
  }

  getSession(id: string): SessionRecord | undefined {
    return this.sessions.live.get(id)?.record ?? this.records.read(id)
  }

  listSessions(query: SessionQuery): Page<SessionRecord> {
    return this.options.store.listSessions(query)
  }

  /**
   * Change a session's settings. Claude Code takes most of them only at start, so a live runner is let go
   * (now if idle, else when its turn ends) and the next message resumes the conversation with them.
   */
  updateSettings(sessionId: string, patch: Partial<SessionSettings>): SessionRecord {
    const { record } = this.found(sessionId)
    const updated = patchedRecord(record, patch)
    // Stored first: a change the store refuses (507, 503) is not made either, nor published.
    this.options.store.updateSession(updated)
    const changes = settingsChanges(record.settings, updated.settings)
    Object.assign(record, updated)
    if (Object.keys(changes).length > 0)
      this.options.bus.publish(sessionId, { type: 'settings.changed', changes })
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
      (workspace) => runDirectTool(name, workspace, input, this.sessions.limits.tools, options),
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
    const { record } = this.found(sessionId)
    return recordDirectCall(this.options.bus, record, name, input, work, changes)
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
    const live = this.open(sessionId)
    if (live.pending > this.sessions.limits.sessionQueueSize) {
      throw new GatewayError('session_busy', `Session ${sessionId} is busy with ${live.pending} turns`, 1_000)
    }
    return this.turns.enqueue(live, content, options)
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
  async resume(sessionId: string): Promise<SessionRecord> {
    this.checkCanStart()
    const stored = this.found(sessionId)
    if (stored.record.state === 'paused')
      this.sessions.setState(
        stored.live ?? this.sessions.wrap(stored.record),
        stored.record.claudeSessionId ? 'hibernated' : 'new',
      )
    const live = this.open(sessionId)
    if (live.runner || live.pending > 0) return live.record
    await this.turns.warmUp(live)
    return live.record
  }

  /**
   * Pause a session: its process stops and it takes no message until it is resumed. Refused while a turn
   * runs or waits (interrupt it first). The state is stored: a paused session stays paused across restarts.
   */
  async pause(sessionId: string): Promise<SessionRecord> {
    const { live, record } = this.found(sessionId)
    if (record.state === 'paused') return record
    if (live && live.pending > 0) {
      throw new GatewayError(
        'session_busy',
        `Session ${sessionId} has a turn under way; interrupt it first`,
        1_000,
      )
    }
    if (live) await this.runners.release(live, 'paused')
    else this.sessions.setState(this.sessions.wrap(record), 'paused')
    return record
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
  async deleteSession(sessionId: string, purge: boolean): Promise<boolean> {
    const record = this.getSession(sessionId)
    if (!record) return false
    const live = this.sessions.live.get(sessionId)
    if (live) {
      if (live.active) this.turns.fail(live, 'interrupted', 'The session was deleted')
      await this.runners.release(live, 'closed')
      this.sessions.live.delete(sessionId)
    }
    if (purge) {
      // The store first: when it refuses, the session's events are still there to purge next time.
      this.options.store.deleteSession(sessionId)
      this.options.bus.forget(sessionId)
      // Kept after its session's other events: how a client replaying every session learns of the purge.
      this.options.bus.publish(sessionId, { type: 'session.deleted' })
      this.records.forget(sessionId)
      if (this.sessionCount !== undefined) this.sessionCount--
    } else if (record.state !== 'closed') {
      this.sessions.setState(live ?? this.sessions.wrap(record), 'closed')
    }
    return true
  }

  /** Finish running turns (up to `graceMs`), then stop every process. */
  async shutdown(graceMs: number): Promise<void> {
    this.sessions.closing = true
    const running = [...this.sessions.live.values()].filter((live) => live.active)
    const drained = Promise.all(running.map((live) => live.tail))
    let timer: NodeJS.Timeout | undefined
    await Promise.race([drained, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))])
    clearTimeout(timer)
    for (const live of this.sessions.live.values()) {
      live.permissions.settleAll('The gateway is shutting down')
      if (live.active) this.turns.fail(live, 'shutting_down', 'The gateway is shutting down')
      live.runner = null
      this.runners.clearIdle(live)
      this.sessions.setState(live, live.record.claudeSessionId ? 'hibernated' : 'new')
    }
    this.processes.close()
    await this.pool.close()
    for (const child of liveProcesses) child.kill('SIGKILL')
    this.options.bus.flush()
    // The store closes next: what it could not take by now is lost with the process.
    this.records.stop()
  }

  /** Claude Code's config folder as the CLI processes see it (their environment's CLAUDE_CONFIG_DIR). */
  get claudeConfigDir(): string {
    return claudeConfigDir(this.options.host.env)
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

  /** A session about to run: its live state, created from the store when it has none. */
  private open(sessionId: string): LiveSession {
    const { live: existing, record } = this.found(sessionId)
    if (record.state === 'paused')
      throw new GatewayError('session_paused', `Session ${sessionId} is paused; resume it first`)
    if (existing) return existing
    const live = this.sessions.wrap(record)
    this.sessions.live.set(sessionId, live)
    return live
  }

  /** A session that is not closed: its record, and its live state when it has one. */
  private found(sessionId: string): { live: LiveSession | undefined; record: SessionRecord } {
    const live = this.sessions.live.get(sessionId)
    const record = live?.record ?? this.records.read(sessionId)
    if (!record || record.state === 'closed')
      throw new GatewayError('not_found', `Session ${sessionId} does not exist`)
    return { live, record }
  }

  /** Refuse work that would need a Claude Code process the gateway cannot start. */
  private checkCanStart(): void {
    if (this.sessions.closing) throw new GatewayError('shutting_down', 'The gateway is shutting down')
    if (!this.options.cli.usable)
      throw new GatewayError('unavailable', this.options.cli.reason ?? 'Claude Code CLI is unavailable')
  }
}
