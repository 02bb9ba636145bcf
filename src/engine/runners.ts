/**
 * Runner binding: a live session borrows a Claude Code process from the pool for as long as it is in use,
 * hands it back when idle (hibernates), and gives it up when the pool needs the slot (evicted). A session's
 * next process waits for its previous one to be gone: both would write the same transcript.
 */
import type { PermissionResult } from '@anthropic-ai/claude-agent-sdk'
import type { EventBody, SessionState } from '../events/types.js'
import type { SessionSettings } from '../store/types.js'
import { adoptTranscript } from './claude-home.js'
import type { ClientToolCall, ClientToolResult } from './client-tools.js'
import type { GatewayError } from './errors.js'
import type { LiveSession, SessionContext } from './live-session.js'
import { runnerProfile } from './options.js'
import { logLifecycle } from './process-log.js'
import { finishedCommand, type PermissionRequest, type Runner, type RunnerExit } from './runner.js'
import { after } from './timers.js'
import { clearAgentEverywhere } from './transcript-mirror.js'
import { Translator } from './translate.js'
import type { ClaudeAccount, RunnerProfile } from './types.js'

/** Who hears what a session's process says and does (the turn line). */
export interface RunnerListener {
  /** One of the process's events, translated. */
  event(live: LiveSession, body: EventBody): void
  /** The process is done with the turn's message without a result. */
  unanswered(live: LiveSession): void
  /** The process died while it served the session. */
  exited(live: LiveSession, exit: RunnerExit): void
  permission(live: LiveSession, request: PermissionRequest): Promise<PermissionResult>
  clientCall(live: LiveSession, runner: Runner, call: ClientToolCall): Promise<ClientToolResult>
}

export class RunnerBinding {
  private readonly byRunner = new Map<Runner, LiveSession>()
  /** Processes of sessions being stopped, by session: a restart waits for the old one to be gone. */
  private readonly retiring = new Map<string, Promise<void>>()
  /** Bumped when host options change, so processes started before no longer match new sessions. */
  private hostGeneration = 0

  constructor(private readonly context: SessionContext) {}

  /**
   * Start-up options of a process for these settings (`resume`: the conversation it resumes), with the
   * credential set of the session's owner.
   */
  profile(settings: SessionSettings, resume: string | null, account: ClaudeAccount | null): RunnerProfile {
    return runnerProfile(settings, resume, this.context.options.host, this.hostGeneration, account)
  }

  /** The host options changed: processes started from now on differ from those before. */
  hostChanged(): void {
    this.hostGeneration++
  }

  /** Borrow a process for the session, resuming its conversation; `listener` hears what it says. */
  async attach(live: LiveSession, listener: RunnerListener): Promise<Runner> {
    const { context } = this
    const { record } = live
    const resume = record.claudeSessionId
    // The previous process must be gone before its transcript is touched or resumed.
    await this.retiring.get(record.id)
    // Read at each start: credentials changed meanwhile apply to the session's next process.
    const account = await context.account(record.owner ?? null)
    const configDir = context.configDirOf(account)
    // Claude Code keeps transcripts by working directory: a session that moved takes its transcript along.
    if (resume) {
      const location = {
        configDir,
        cwd: record.settings.workspace,
        sessionId: resume,
      }
      await adoptTranscript(location).catch((error: unknown) =>
        context.options.log.warn(
          { err: error, session: record.id },
          'transcript not moved to the new workspace',
        ),
      )
    }
    if (resume && record.clearAgentOnResume) {
      await clearAgentEverywhere(context.options.host.transcripts, {
        configDir,
        cwd: record.settings.workspace,
        sessionId: resume,
      })
      record.clearAgentOnResume = false
      context.save(live)
    }
    const profile = this.profile(record.settings, resume, account)
    if (!resume) context.pool.setSpareProfile(profile)
    const before = record.state
    context.setState(live, 'starting')
    let runner: Runner
    try {
      runner = await context.pool.acquire(profile, !resume)
    } catch (error) {
      context.setState(live, before === 'starting' ? 'new' : before)
      const failure = error as GatewayError
      context.publish(live, {
        type: 'error',
        code: failure.code ?? 'internal',
        message: failure.message,
        retryAfterMs: failure.retryAfterMs,
      })
      throw error
    }
    const translator = new Translator(resume ? record.costUsd : 0, resume !== null, runner.apiMs)
    live.runner = runner
    this.byRunner.set(runner, live)
    runner.attach({
      sessionId: live.record.id,
      onMessage: (message) => {
        if (live.runner !== runner) return
        for (const body of translator.translate(message, live.active?.id ?? live.lastTurnId))
          listener.event(live, body)
        // Claude Code reports the end of a message's turn after its result: no result came.
        const finished = finishedCommand(message)
        if (finished !== undefined && live.active?.messageUuid === finished) listener.unanswered(live)
      },
      onExit: (exit) => this.exited(live, runner, exit, listener),
      onPermission: (request) => listener.permission(live, request),
      onClientTool: (call) => listener.clientCall(live, runner, call),
    })
    context.setState(live, 'idle')
    return runner
  }

  /** Hibernate the session once its runner has been idle for `idleMs` (by default the idle timeout). */
  armIdle(live: LiveSession, runner: Runner, idleMs = this.context.limits.idleTimeoutMs): void {
    this.clearIdle(live)
    live.idleTimer = after(idleMs, () => {
      if (live.runner === runner && !live.active && live.pending <= 1) void this.release(live, 'hibernated')
    })
    live.idleTimer?.unref()
  }

  clearIdle(live: LiveSession): void {
    if (live.idleTimer) clearTimeout(live.idleTimer)
    live.idleTimer = null
  }

  /** Let a session's runner go (idle timeout, delete, pause, new settings). */
  async release(live: LiveSession, state: SessionState): Promise<void> {
    const { context } = this
    const runner = live.runner
    live.runner = null
    live.permissions.settleAll(`The session was ${state}`)
    this.clearIdle(live)
    context.setState(live, state === 'hibernated' && !live.record.claudeSessionId ? 'new' : state)
    if (runner) {
      this.byRunner.delete(runner)
      if (state === 'hibernated')
        logLifecycle(context.options.log, 'hibernate', runner, { session: live.record.id })
      await this.retire(live.record.id, context.pool.retire(runner))
    }
    if ((state === 'hibernated' || state === 'paused') && live.pending === 0)
      context.live.delete(live.record.id)
  }

  /** Let a session's process go so that its next turn starts fresh: now when idle, else after its turn. */
  restart(live: LiveSession): void {
    if (!live.runner) return
    if (live.active || live.pending > 0) live.restartAfterTurn = true
    else void this.release(live, 'hibernated')
  }

  /** The pool wants this runner's slot: allowed only when its session is not using it. */
  evict(runner: Runner): boolean {
    const { context } = this
    const live = this.byRunner.get(runner)
    if (!live) return true
    if (live.active || live.pending > 0) return false
    this.byRunner.delete(runner)
    live.runner = null
    this.clearIdle(live)
    // The pool stops or clears the process; the session's next turn must not resume before it has left
    // the conversation.
    void this.retire(live.record.id, runner.conversationEnded)
    logLifecycle(context.options.log, 'hibernate', runner, { session: live.record.id, reason: 'evicted' })
    context.setState(live, live.record.claudeSessionId ? 'hibernated' : 'new', 'evicted')
    context.live.delete(live.record.id)
    return true
  }

  private exited(live: LiveSession, runner: Runner, exit: RunnerExit, listener: RunnerListener): void {
    const { context } = this
    this.byRunner.delete(runner)
    // The pool announces a crash (logged, counted) if the runner still served the session.
    const detail = { session: live.record.id, code: exit.code, signal: exit.signal, turn: live.active?.id }
    context.pool.exited(runner, detail)
    if (live.runner !== runner) return
    live.runner = null
    this.clearIdle(live)
    live.permissions.settleAll('Claude Code exited')
    listener.exited(live, exit)
    context.setState(live, live.record.claudeSessionId ? 'hibernated' : 'new', 'process exited')
  }

  /** Note a session's process as being stopped until `stopping` settles (see `attach`). */
  private async retire(sessionId: string, stopping: Promise<unknown>): Promise<void> {
    const retired = stopping.then(
      () => undefined,
      () => undefined,
    )
    this.retiring.set(sessionId, retired)
    await retired
    if (this.retiring.get(sessionId) === retired) this.retiring.delete(sessionId)
  }
}
