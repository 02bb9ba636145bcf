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
import type { AgentInfo, ModelInfo, SessionStore } from '@anthropic-ai/claude-agent-sdk'
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
import { mcpServersOf } from './options.js'
import { SessionOwnership } from './ownership.js'
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
    this.sessionCount ??= await this.options.store.countSessions()
    return {
      sessions: this.sessionCount,
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

  async createSession(input: NewSession): Promise<SessionRecord> {
    const account = await this.sessions.account(input.owner ?? null)
    // Refused now rather than at its first message: an MCP server its owner may not start.
    if (input.mcpServers?.length) mcpServersOf(input.mcpServers, account)
    const record = await newSessionRecord(
      input,
      this.options.defaults,
      this.sessions.configDirOf(account),
      this.options.host.transcripts,
    )
    await this.options.store.insertSession(record)
    if (this.sessionCount !== undefined) this.sessionCount++
    return this.owned(record.id, async () => {
      // With replicas, its first lease names this one: in pinned mode, the one whose disk has the workspace.
      await this.ownership?.claim(record.id)
      // A new session has no events: its sequence starts at 0, read now for the events that follow.
      await this.options.bus.loadSeq(record.id)
      const { workspace, agent } = record.settings
      this.options.bus.publish(record.id, { type: 'session.created', title: record.title, workspace, agent })
      return record
    })
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    return this.sessions.live.get(id)?.record ?? (await this.records.read(id))
  }

  listSessions(query: SessionQuery): Promise<Page<SessionRecord>> {
    return this.options.store.listSessions(query)
  }

  /**
   * Change a session's settings. Claude Code takes most of them only at start, so a live runner is let go
   * (now if idle, else when its turn ends) and the next message resumes the conversation with them.
   */
  updateSettings(sessionId: string, patch: Partial<SessionSettings>): Promise<SessionRecord> {
    return this.owned(sessionId, () => this.changeSettings(sessionId, patch))
  }

  private async changeSettings(sessionId: string, patch: Partial<SessionSettings>): Promise<SessionRecord> {
    const { record } = await this.found(sessionId)
    if (patch.mcpServers?.length)
      mcpServersOf(patch.mcpServers, await this.sessions.account(record.owner ?? null))
    const updated = patchedRecord(record, patch)
    // Stored first: a change the store refuses (507, 503) is not made either, nor published.
    await this.options.store.updateSession(updated)
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
  async runTool(
    sessionId: string,
    name: string,
    input: unknown,
    options: RunToolOptions = {},
  ): Promise<unknown> {
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
    return this.owned(sessionId, async () => {
      const { record } = await this.found(sessionId)
      return recordDirectCall(this.options.bus, record, name, input, work, changes)
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
      const live = await this.open(sessionId)
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
    return this.owned(sessionId, () => this.warmUp(sessionId))
  }

  private async warmUp(sessionId: string): Promise<SessionRecord> {
    const stored = await this.found(sessionId)
    if (stored.record.state === 'paused')
      this.sessions.setState(
        stored.live ?? this.sessions.wrap(stored.record),
        stored.record.claudeSessionId ? 'hibernated' : 'new',
      )
    const live = await this.open(sessionId)
    if (live.runner || live.pending > 0) return live.record
    await this.turns.warmUp(live)
    return live.record
  }

  /**
   * Pause a session: its process stops and it takes no message until it is resumed. Refused while a turn
   * runs or waits (interrupt it first). The state is stored: a paused session stays paused across restarts.
   */
  pause(sessionId: string): Promise<SessionRecord> {
    return this.owned(sessionId, () => this.pauseNow(sessionId))
  }

  private async pauseNow(sessionId: string): Promise<SessionRecord> {
    const { live, record } = await this.found(sessionId)
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
  deleteSession(sessionId: string, purge: boolean): Promise<boolean> {
    return this.owned(sessionId, () => this.deleteNow(sessionId, purge))
  }

  private async deleteNow(sessionId: string, purge: boolean): Promise<boolean> {
    let record = await this.getSession(sessionId)
    if (!record) return false
    if (this.ownership) {
      await this.ownership.claim(sessionId)
      record = (await this.getSession(sessionId)) ?? record
    }
    await this.options.bus.loadSeq(sessionId)
    const live = this.sessions.live.get(sessionId)
    if (live) {
      if (live.active) this.turns.fail(live, 'interrupted', 'The session was deleted')
      await this.runners.release(live, 'closed')
      this.sessions.live.delete(sessionId)
    }
    if (purge) {
      // The store first: when it refuses, the session's events are still there to purge next time. None is
      // written after it (the bus runs it between its writes and then drops those still waiting).
      await this.options.bus.purge(sessionId, () => this.options.store.deleteSession(sessionId))
      // Kept after its session's other events: how a client replaying every session learns of the purge.
      this.options.bus.publish(sessionId, { type: 'session.deleted' })
      this.records.forget(sessionId)
      await this.ownership?.forget(sessionId)
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
    // Gone before the gateway says it stopped (bounded): a process still dying may write in Claude's folder.
    const gone = [...liveProcesses].map((child) => new Promise((resolve) => child.once('exit', resolve)))
    for (const child of liveProcesses) child.kill('SIGKILL')
    await Promise.race([Promise.all(gone), new Promise((resolve) => setTimeout(resolve, 2_000).unref())])
    await this.options.bus.flush()
    // The store closes next: what it could not take by now is lost with the process.
    await this.records.stop()
    // Written: the other replicas may take the sessions at once.
    await this.ownership?.releaseAll()
  }

  /**
   * The session's lease was lost (LeaseBook's `onLost`): another replica took it over, or this one could
   * not confirm it for longer than its TTL. Its process stops at once, its running turn ends here without
   * a word (the log is the new owner's), and its state here is dropped; nothing more of it is written.
   */
  ownershipLost(sessionId: string): void {
    const live = this.sessions.live.get(sessionId)
    if (!live) return
    this.options.log.warn({ session: sessionId }, 'session lease lost: its process stops here')
    live.disowned = true
    this.turns.drop(live, 'The session moved to another replica')
    const runner = live.runner
    void this.runners.release(live, 'hibernated')
    runner?.kill()
    this.sessions.live.delete(sessionId)
    this.options.bus.disown(sessionId)
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

  /** A session about to run: its live state, created from the store when it has none. */
  private async open(sessionId: string): Promise<LiveSession> {
    const { live: existing, record } = await this.found(sessionId)
    if (record.state === 'paused')
      throw new GatewayError('session_paused', `Session ${sessionId} is paused; resume it first`)
    if (existing) return existing
    // Another caller may have opened it while this one read the store.
    const opened = this.sessions.live.get(sessionId)
    if (opened) return opened
    const live = this.sessions.wrap(record)
    this.sessions.live.set(sessionId, live)
    return live
  }

  /**
   * A session that is not closed: its record, and its live state when it has one. Its sequence is loaded
   * too (`EventBus.loadSeq`): whatever the caller does next may publish for it.
   */
  private async found(sessionId: string): Promise<{ live: LiveSession | undefined; record: SessionRecord }> {
    const inMemory = this.sessions.live.get(sessionId)
    let record = inMemory?.record ?? (await this.records.read(sessionId))
    if (record && record.state !== 'closed' && this.ownership) {
      await this.ownership.claim(sessionId)
      // Read again once owned: its previous owner (or a takeover) may have changed it meanwhile.
      if (!this.sessions.live.has(sessionId)) record = await this.records.read(sessionId)
    }
    if (!record || record.state === 'closed')
      throw new GatewayError('not_found', `Session ${sessionId} does not exist`)
    await this.options.bus.loadSeq(sessionId)
    // Read after the awaits: the session may have come into memory meanwhile (the one to act on then).
    const live = this.sessions.live.get(sessionId)
    return { live, record: live?.record ?? record }
  }

  /**
   * Run work that may start the session's process or write its events: with replicas, as a user of the
   * session's lease (taken by `found`), which stays until the work is done and the session left memory.
   */
  private owned<T>(sessionId: string, work: () => Promise<T>): Promise<T> {
    return this.ownership ? this.ownership.use(sessionId, work) : work()
  }

  /** Refuse work that would need a Claude Code process the gateway cannot start. */
  private checkCanStart(): void {
    if (this.sessions.closing) throw new GatewayError('shutting_down', 'The gateway is shutting down')
    if (!this.options.cli.usable)
      throw new GatewayError('unavailable', this.options.cli.reason ?? 'Claude Code CLI is unavailable')
  }
}
