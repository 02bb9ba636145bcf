/**
 * The turn line: a session's turns run one at a time, in order. Here a turn starts, follows Claude Code's
 * events to its end, and ends otherwise when it must: interrupted, timed out, its model API failing past its
 * retry budget (retry-budget.ts), its process gone, or one of its events not kept. A turn ends once, with
 * `turn.completed`.
 */
import { randomUUID } from 'node:crypto'
import type { PermissionResult } from '@anthropic-ai/claude-agent-sdk'
import { clientFunctionName } from '../events/client-tool-names.js'
import type { ContentBlock, ErrorCode, EventBody, GatewayEvent, TokenUsage } from '../events/types.js'
import { isStoreError } from '../store/errors.js'
import type { ClientToolCall, ClientToolResult } from './client-tools.js'
import { clientInput } from './direct-calls.js'
import { GatewayError } from './errors.js'
import type { ActiveTurn, LiveSession, SessionContext, TurnFailure } from './live-session.js'
import { watchRetries } from './retry-budget.js'
import type { PermissionRequest, Runner, RunnerExit } from './runner.js'
import type { RunnerBinding, RunnerListener } from './runners.js'
import { after } from './timers.js'
import { type SendOptions, type Turn, type TurnCompleted, unfinishedTurn } from './types.js'

/** How long Claude Code has to stop after an interrupt before its process is stopped. */
export const INTERRUPT_GRACE_MS = 5_000

export class TurnLine implements RunnerListener {
  constructor(
    private readonly context: SessionContext,
    private readonly runners: RunnerBinding,
  ) {}

  /**
   * Take the session's next place in line (turns and warm-ups run one at a time, in order); the work waits
   * for `live.tail` as it was before, and calls the function returned when it is done.
   */
  holdLine(live: LiveSession): () => void {
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
      const { live: sessions, pool } = this.context
      if (!live.runner && sessions.get(live.record.id) === live) sessions.delete(live.record.id)
      pool.idle(live.runner)
    }
  }

  /**
   * Queue a message behind the session's turns: resolves once its turn has started (see `start`); the line
   * moves on when the turn has ended, or at once when it could not start.
   */
  async enqueue(live: LiveSession, content: string | ContentBlock[], options: SendOptions): Promise<Turn> {
    const previous = live.tail
    const finish = this.holdLine(live)
    try {
      await previous
      const turn = await this.start(live, content, options)
      void turn.done.finally(finish)
      return turn
    } catch (error) {
      finish()
      throw error
    }
  }

  /** Take a place in line to start the session's process now, so that its next message finds it warm. */
  async warmUp(live: LiveSession): Promise<void> {
    const finish = this.holdLine(live)
    try {
      this.runners.armIdle(live, await this.runners.attach(live, this))
    } finally {
      finish()
    }
  }

  async start(live: LiveSession, content: string | ContentBlock[], options: SendOptions): Promise<Turn> {
    const { context } = this
    if (context.closing) throw new GatewayError('shutting_down', 'The gateway is shutting down')
    // It waited in line while another replica took the session over: it is that replica's to run.
    if (live.disowned)
      throw new GatewayError('owned_elsewhere', `Session ${live.record.id} moved to another replica`, 1_000)
    const runner = live.runner ?? (await this.runners.attach(live, this))
    const id = randomUUID()
    // First, so that a message that cannot be kept is refused before the process is taken.
    let started: GatewayEvent
    try {
      started = clientInput(() =>
        context.options.bus.publish(live.record.id, { type: 'turn.started', turnId: id, content }),
      )
    } catch (error) {
      this.runners.armIdle(live, runner)
      throw error
    }
    this.runners.clearIdle(live)
    runner.state = 'busy'
    context.pool.touch(runner)
    live.lastTurnId = id
    context.setState(live, 'running')
    let resolve!: (completed: TurnCompleted) => void
    const done = new Promise<TurnCompleted>((settle) => {
      resolve = settle
    })
    const active: ActiveTurn = {
      id,
      resolve,
      done,
      failure: null,
      timer: after(context.limits.turnTimeoutMs, () => this.timeOut(live, runner)),
      messageUuid: '',
      interrupted: false,
      retryBudgetMs: options.retryBudgetMs ?? context.limits.retryBudgetMs ?? 0,
      waitingSince: Date.now(),
      lastRetry: null,
      retryTimer: null,
      idleTimeoutMs: options.idleTimeoutMs,
    }
    live.active = active
    active.messageUuid = runner.send(content)
    return { id, sessionId: live.record.id, startSeq: started.seq, done }
  }

  /**
   * Stop the running turn and wait until it has ended. True when it ended interrupted; false when no turn
   * was running or it ended otherwise meanwhile. A Claude Code process that does not stop within the grace
   * period is stopped itself, which ends the turn as interrupted too.
   */
  async interrupt(live: LiveSession): Promise<boolean> {
    const active = live.active
    const runner = live.runner
    if (!active || !runner) return false
    const session = live.record.id
    active.interrupted = true
    // Not awaited: what counts is the end of the turn, and a wedged process may never answer the request.
    // A process that exits instead ends the turn through its exit.
    void runner
      .interrupt()
      .catch((error: unknown) =>
        this.context.options.log.warn({ err: error, session, turn: active.id }, 'interrupt failed'),
      )
    let completed = await settledWithin(active.done, INTERRUPT_GRACE_MS)
    if (!completed) {
      this.context.options.log.warn({ session, turn: active.id }, 'Claude Code ignored the interrupt')
      if (!active.failure) {
        const message = `Claude Code did not stop within ${INTERRUPT_GRACE_MS} ms of the interrupt; its process was stopped`
        active.failure = { code: 'interrupted', message }
        this.announce(live, active, active.failure)
      }
      runner.kill()
      completed = await settledWithin(active.done, INTERRUPT_GRACE_MS)
      // Not even its exit ended the turn (the process was gone already): it ends here.
      if (!completed && live.active === active) this.fail(live, active.failure.code, active.failure.message)
      completed = await active.done
    }
    return completed.status === 'interrupted'
  }

  /** One of Claude Code's events, translated: the session keeps what it says, its followers see it. */
  event(live: LiveSession, body: EventBody): void {
    const { record } = live
    if (body.type === 'session.ready' || body.type === 'conversation.reset') {
      record.claudeSessionId = body.claudeSessionId
      this.context.save(live)
    }
    // The live process keeps running with the model `/model` chose; the session keeps it for the next one.
    if (body.type === 'model.changed') {
      record.settings = { ...record.settings, model: body.model }
      this.context.save(live)
    }
    // Every result of the CLI reports its usage, also a late one that ends no turn (background work).
    if (body.type === 'usage') {
      addUsage(record.usage, body.usage)
      record.costUsd += body.costUsd
      // A turn's end saves its usage; a late result has no end of turn to do it.
      if (!live.active) this.context.save(live)
    }
    if (body.type === 'tool.call' && clientFunctionName(body.name) !== undefined)
      live.clientCalls.open(body.toolUseId)
    if (body.type === 'tool.result') live.clientCalls.close(body.toolUseId)
    const active = live.active
    if (active && 'turnId' in body && body.turnId === active.id)
      watchRetries(live, active, body, (runner, failure) => this.abandon(live, runner, failure))
    if (body.type !== 'turn.completed') {
      this.context.publish(live, body)
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
    this.complete(live, completed)
  }

  /**
   * Claude Code is done with the turn's message but answered it with no result: it dropped the message
   * (one it could not use). The turn ends now instead of waiting for its timeout.
   */
  unanswered(live: LiveSession): void {
    const active = live.active
    if (!active) return
    this.context.options.log.warn(
      { session: live.record.id, turn: active.id },
      'Claude Code did not answer the message',
    )
    if (active.failure) this.end(live, active.failure)
    else if (active.interrupted) this.fail(live, 'interrupted', 'The turn was interrupted')
    else this.fail(live, 'upstream_error', 'Claude Code finished with the message without answering it')
  }

  /** The session's process died: a turn the gateway was ending already ends as it said, any other fails. */
  exited(live: LiveSession, exit: RunnerExit): void {
    const failure = live.active?.failure
    if (failure) this.end(live, failure)
    else this.fail(live, 'process_exited', describeExit(exit))
  }

  permission(live: LiveSession, request: PermissionRequest): Promise<PermissionResult> {
    return live.permissions.ask(request, {
      turnId: live.active?.id ?? live.lastTurnId,
      interactive: live.record.settings.askPermissions,
      timeoutMs: this.context.limits.permissionTimeoutMs,
    })
  }

  /**
   * Claude Code runs a client function: wait for the client's result. The client's think time does not
   * count against the turn timeout; the call has its own limit, past which the turn is interrupted.
   */
  clientCall(live: LiveSession, runner: Runner, call: ClientToolCall): Promise<ClientToolResult> {
    const active = live.active
    if (active?.timer) {
      clearTimeout(active.timer)
      active.timer = null
    }
    return live.clientCalls.wait(call, this.context.limits.clientToolTimeoutMs, (message) => {
      if (live.runner !== runner) return false
      this.context.publish(live, { type: 'error', turnId: active?.id, code: 'tool_timeout', message })
      void runner.interrupt().catch(() => undefined)
      return true
    })
  }

  /** Restart the turn's clock once no client call is waiting any more. */
  resumeClock(live: LiveSession): void {
    const active = live.active
    const runner = live.runner
    if (!active || !runner || active.timer) return
    if (live.clientCalls.pending().length > 0) return
    active.timer = after(this.context.limits.turnTimeoutMs, () => this.timeOut(live, runner))
  }

  /** End the running turn from outside the CLI (its process died, the session was deleted, shutdown). */
  fail(live: LiveSession, code: ErrorCode, message: string, retryAfterMs?: number): void {
    const active = live.active
    if (!active) return
    this.announce(live, active, { code, message, retryAfterMs })
    this.end(live, { code, message })
  }

  /**
   * The session's lease was lost (src/engine/ownership.ts): the running turn ends here without a word in
   * the log, which is the new owner's now (it records the turn as interrupted). Those waiting for the
   * turn's end are told so; nothing is published.
   */
  drop(live: LiveSession, message: string): void {
    const active = live.active
    if (!active) return
    if (active.timer) clearTimeout(active.timer)
    if (active.retryTimer) clearTimeout(active.retryTimer)
    live.active = null
    live.clientCalls.releaseAll(message)
    active.resolve({
      ...unfinishedTurn(active.id, { code: 'interrupted', message }),
      // Never published: it has no place in the session's sequence.
      seq: 0,
      ts: Date.now(),
      sessionId: live.record.id,
    })
  }

  /**
   * An event of the session could not be kept: its turn, when still running, fails with the reason (the
   * process is interrupted and its end reports the failure); nothing else is affected.
   */
  eventRejected(live: LiveSession, turnId: string | undefined, error: Error): void {
    const active = live.active
    this.context.options.log.error(
      { err: error, session: live.record.id, turn: turnId ?? null },
      'event not kept; its turn fails',
    )
    if (!active || (turnId !== undefined && turnId !== active.id)) return
    const failure = {
      code: isStoreError(error) ? error.code : ('internal' as const),
      message: `An event of this turn could not be kept: ${error.message}`,
    }
    if (live.runner) this.abandon(live, live.runner, failure)
    else this.fail(live, failure.code, failure.message)
  }

  private complete(live: LiveSession, body: Extract<EventBody, { type: 'turn.completed' }>): void {
    const active = live.active
    // A result that cannot be kept (its structured output nested too deeply, say) ends the turn as failed.
    const event = (this.context.publish(live, body) ??
      this.context.publish(live, {
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
    live.clientCalls.releaseAll('The turn ended')
    const runner = live.runner
    if (runner && live.restartAfterTurn) {
      live.restartAfterTurn = false
      void this.runners.release(live, 'hibernated')
    } else if (runner) {
      runner.state = 'ready'
      this.context.setState(live, 'idle')
      this.runners.armIdle(live, runner, active.idleTimeoutMs)
    }
    active.resolve(event)
  }

  /** Tell the turn's followers at once why it fails (its `turn.completed` says it again when it ends). */
  private announce(live: LiveSession, active: ActiveTurn, failure: TurnFailure): void {
    const { code, message, retryAfterMs } = failure
    this.context.publish(live, {
      type: 'error',
      turnId: active.id,
      code,
      message,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    })
  }

  /** End the running turn without Claude Code's result, as failed (its failure already announced). */
  private end(live: LiveSession, { code, message }: TurnFailure): void {
    const active = live.active
    if (!active) return
    this.complete(live, unfinishedTurn(active.id, { code, message }))
  }

  private timeOut(live: LiveSession, runner: Runner): void {
    const active = live.active
    if (!active) return
    this.context.options.log.warn({ session: live.record.id, turn: active.id }, 'turn timed out')
    const message = `The turn did not finish within ${this.context.limits.turnTimeoutMs} ms`
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
