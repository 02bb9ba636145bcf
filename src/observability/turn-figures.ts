/**
 * Turn, tool, token and error figures from the event bus, the one place they come from: a turn's duration
 * from `turn.started` to `turn.completed`, its time to first token from `turn.started` to its first
 * `text.delta`, tokens and cost from `usage`, tool durations from `tool.result`, errors from `error` events
 * and failed turns that announced none, and the wait for a process from `session.state` (starting → idle).
 */
import type { GatewayEvent } from '../events/types.js'
import type { Instruments } from './instruments.js'
import { BoundedLabel, toolLabel } from './labels.js'
import type { CountWindow, SampleWindow } from './window.js'

/** A turn being run; kept per session (one turn at a time each) until it completes. */
interface RunningTurn {
  turnId: string
  startedAt: number
  firstTokenAt: number | null
  model: string | null
  /** An `error` event said why it fails: its `turn.completed` is not counted as an error again. */
  announced: boolean
}

/** Turns whose completion was never seen are dropped past this many (a bound, not an expected case). */
const MAX_RUNNING = 10_000
/** Distinct model names kept as labels; later ones are "other". */
const MAX_MODELS = 32

export interface TurnWindows {
  turns: SampleWindow
  firstToken: SampleWindow
  errors: CountWindow
}

export interface TurnTotals {
  inputTokens: number
  outputTokens: number
  costUsd: number
}

export class TurnFigures {
  private readonly running = new Map<string, RunningTurn>()
  /** Sessions waiting for a process: since when. */
  private readonly starting = new Map<string, number>()
  private readonly models = new BoundedLabel(MAX_MODELS)
  readonly totals: TurnTotals = { inputTokens: 0, outputTokens: 0, costUsd: 0 }

  constructor(
    private readonly instruments: Instruments,
    private readonly windows: TurnWindows,
  ) {}

  /** Turns started and not completed. */
  get inProgress(): number {
    return this.running.size
  }

  observe(event: GatewayEvent): void {
    switch (event.type) {
      case 'turn.started':
        this.running.delete(event.sessionId)
        if (this.running.size >= MAX_RUNNING) this.running.delete(this.running.keys().next().value!)
        this.running.set(event.sessionId, {
          turnId: event.turnId,
          startedAt: event.ts,
          firstTokenAt: null,
          model: null,
          announced: false,
        })
        return
      case 'text.delta': {
        const turn = this.turnOf(event.sessionId, event.turnId)
        if (turn && turn.firstTokenAt === null) turn.firstTokenAt = event.ts
        return
      }
      case 'usage':
        this.usage(event)
        return
      case 'tool.result':
        if (event.durationMs === null) return
        this.instruments.toolDuration
          .labels(toolLabel(event.name), event.denied ? 'denied' : event.isError ? 'error' : 'success')
          .observe(event.durationMs / 1000)
        return
      case 'error': {
        const turn = event.turnId === undefined ? undefined : this.turnOf(event.sessionId, event.turnId)
        if (turn) turn.announced = true
        this.error(event.code, event.ts)
        return
      }
      case 'turn.completed':
        this.completed(event)
        return
      case 'session.state':
        this.stateChanged(event)
        return
    }
  }

  private usage(event: Extract<GatewayEvent, { type: 'usage' }>): void {
    const model = this.models.of(event.model)
    const turn = this.turnOf(event.sessionId, event.turnId)
    if (turn) turn.model = model
    const { usage } = event
    const input = usage.inputTokens + usage.cacheReadInputTokens + usage.cacheCreationInputTokens
    const { tokenUsage, cost } = this.instruments
    tokenUsage.labels('input', model).observe(input)
    tokenUsage.labels('output', model).observe(usage.outputTokens)
    this.totals.inputTokens += input
    this.totals.outputTokens += usage.outputTokens
    if (event.costUsd > 0) {
      cost.labels(model).inc(event.costUsd)
      this.totals.costUsd += event.costUsd
    }
  }

  private completed(event: Extract<GatewayEvent, { type: 'turn.completed' }>): void {
    const turn = this.turnOf(event.sessionId, event.turnId)
    this.running.delete(event.sessionId)
    const model = turn?.model ?? 'unknown'
    // Measured by the gateway when it saw the start: a turn the gateway ended itself reports 0 ms.
    const durationMs = turn ? event.ts - turn.startedAt : event.durationMs
    const { turnDuration, timeToFirstToken, turns } = this.instruments
    turnDuration.labels(model, event.status).observe(durationMs / 1000)
    this.windows.turns.add(durationMs, event.ts)
    turns.labels(event.status).inc()
    if (turn?.firstTokenAt != null) {
      const firstTokenMs = turn.firstTokenAt - turn.startedAt
      timeToFirstToken.labels(model).observe(firstTokenMs / 1000)
      this.windows.firstToken.add(firstTokenMs, event.ts)
    }
    if (event.status === 'error' && !turn?.announced) this.error(event.error?.code ?? 'internal', event.ts)
  }

  private stateChanged(event: Extract<GatewayEvent, { type: 'session.state' }>): void {
    if (event.state === 'starting') {
      if (this.starting.size >= MAX_RUNNING) this.starting.delete(this.starting.keys().next().value!)
      this.starting.set(event.sessionId, event.ts)
      return
    }
    const since = this.starting.get(event.sessionId)
    if (since === undefined) return
    this.starting.delete(event.sessionId)
    // Anything else than idle: no process was had (the queue was full, the start failed).
    if (event.state === 'idle') this.instruments.processWait.observe((event.ts - since) / 1000)
  }

  private error(kind: string, at: number): void {
    this.instruments.errors.labels(kind).inc()
    this.windows.errors.add(kind, at)
  }

  private turnOf(sessionId: string, turnId: string): RunningTurn | undefined {
    const turn = this.running.get(sessionId)
    return turn?.turnId === turnId ? turn : undefined
  }
}
