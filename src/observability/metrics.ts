/**
 * The gateway's one metrics registry: what Prometheus scrapes at /metrics and what the admin dashboard
 * reads at /api/metrics come from the same observations. Turn figures come from the event bus
 * (turn-figures.ts), request figures from the HTTP server's hooks (http.ts), the pool's and the sessions'
 * from reading them when asked (gauges.ts). prom-client's registry is the gateway's own, not the global
 * default, so two gateways in one process (tests) do not mix their figures.
 */
import { collectDefaultMetrics, Registry } from 'prom-client'
import { knownTotal } from '../engine/process-memory.js'
import type { SessionManager } from '../engine/sessions.js'
import type { ProcessCounts } from '../engine/types.js'
import type { EventBus, Subscription } from '../events/bus.js'
import type { Store } from '../store/types.js'
import { scrapedGauges } from './gauges.js'
import { History } from './history.js'
import { ConnectionCounts } from './http.js'
import { type Instruments, instruments } from './instruments.js'
import { SessionCounts, type SessionsByState } from './session-counts.js'
import { TurnFigures } from './turn-figures.js'
import { CountWindow, type Percentiles, SampleWindow } from './window.js'

/** Raw samples kept per window: the percentiles are exact up to this many observations a window. */
const WINDOW_CAPACITY = 20_000
const SAMPLE_EVERY_MS = 1_000

export interface MetricsSources {
  bus: EventBus
  engine: SessionManager
  store: Store
}

export interface MetricsOptions {
  /** The dashboard's sliding window (ms): percentiles, rates and error counts cover it. */
  windowMs?: number
  /** One-second samples kept for the dashboard's charts (metrics.historySeconds). */
  historySeconds: number
}

export interface RunnerCounts {
  busy: number
  idle: number
  spare: number
  starting: number
  max: number
  spare_target: number
}

/** What the scrape-time gauges read (gauges.ts). */
export interface GaugeReadings {
  runners(): RunnerCounts
  queueDepth(): number
  sessions(): Promise<SessionsByState>
  openConnections(): number
  streams(): { sse: number; websocket: number }
  cliMemoryBytes(): number | null
  processCounts(): ProcessCounts
}

/** The dashboard's figures at one moment (GET /api/metrics, and each sample of its history). */
export interface MetricsSnapshot {
  at: number
  window_seconds: number
  requests: { per_second: number; latency_ms: Percentiles }
  turns: {
    per_minute: number
    in_progress: number
    latency_ms: Percentiles
    first_token_ms: Percentiles
  }
  connections: { open: number; streams: { sse: number; websocket: number } }
  sessions: SessionsByState
  runners: RunnerCounts
  queue_depth: number
  errors: Record<string, number>
  memory: {
    gateway_rss_bytes: number
    gateway_heap_used_bytes: number
    cli_bytes: number | null
  }
  cpu_percent: number
  tokens: { input: number; output: number }
  cost_usd: number
}

export interface RequestObservation {
  route: string
  method: string
  statusClass: string
  api: string
  durationMs: number
}

export interface TurnRequestObservation {
  api: string
  streamed: boolean
  /** From the request's arrival to the end of its response. */
  durationMs: number
  /** The time the turn's Claude API calls took, as the CLI reports it. */
  apiDurationMs: number
}

export class GatewayMetrics implements GaugeReadings {
  readonly registry = new Registry()
  readonly connections = new ConnectionCounts()
  private readonly instruments: Instruments
  private readonly windowMs: number
  private readonly requestLatency: SampleWindow
  /** Every request's arrival, streams included: the throughput. */
  private readonly arrivals: CountWindow
  private readonly turnWindow: SampleWindow
  private readonly firstTokenWindow: SampleWindow
  private readonly errorWindow: CountWindow
  private readonly turnFigures: TurnFigures
  private readonly history: History<MetricsSnapshot>
  private readonly subscription: Subscription
  private readonly sampler: NodeJS.Timeout
  private cpu = { usage: process.cpuUsage(), at: performance.now(), percent: 0 }
  private readonly sessionCounts: SessionCounts

  constructor(
    private readonly sources: MetricsSources,
    options: MetricsOptions,
  ) {
    this.windowMs = options.windowMs ?? 60_000
    this.requestLatency = new SampleWindow(WINDOW_CAPACITY, this.windowMs)
    this.arrivals = new CountWindow(this.windowMs)
    this.turnWindow = new SampleWindow(WINDOW_CAPACITY, this.windowMs)
    this.firstTokenWindow = new SampleWindow(WINDOW_CAPACITY, this.windowMs)
    this.errorWindow = new CountWindow(this.windowMs)
    this.instruments = instruments(this.registry)
    this.turnFigures = new TurnFigures(this.instruments, {
      turns: this.turnWindow,
      firstToken: this.firstTokenWindow,
      errors: this.errorWindow,
    })
    collectDefaultMetrics({ register: this.registry })
    scrapedGauges(this.registry, this)
    this.history = new History(Math.max(1, options.historySeconds))
    this.sessionCounts = new SessionCounts(sources.store)
    this.subscription = sources.bus.subscribeAll((event) => {
      this.turnFigures.observe(event)
      this.sessionCounts.observe(event)
    })
    this.sampler = setInterval(() => this.sample(), SAMPLE_EVERY_MS)
    this.sampler.unref()
  }

  /** A response Fastify wrote (not a stream): see http.ts. */
  observeRequest(request: RequestObservation): void {
    const now = Date.now()
    this.instruments.httpDuration
      .labels(request.route, request.method, request.statusClass, request.api)
      .observe(request.durationMs / 1000)
    this.requestLatency.add(request.durationMs, now)
    this.arrivals.add(request.api, now)
  }

  /**
   * A request that ran a turn ended: the gateway's share of its time is what Claude's API calls did not
   * take (never below 0: the CLI and the gateway read different clocks).
   */
  observeTurnRequest(request: TurnRequestObservation): void {
    const addedMs = Math.max(0, request.durationMs - request.apiDurationMs)
    this.instruments.gatewayAdded.labels(request.api, String(request.streamed)).observe(addedMs / 1000)
  }

  /** A server-sent event stream or a WebSocket ended. */
  streamEnded(kind: 'sse' | 'websocket', api: string): void {
    this.instruments.streams.labels(kind, api).inc()
    this.arrivals.add(api)
  }

  /** The Prometheus text exposition of every metric. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() }
  }

  async snapshot(now = Date.now()): Promise<MetricsSnapshot> {
    const windowSeconds = this.windowMs / 1000
    const memory = process.memoryUsage()
    const { inputTokens, outputTokens, costUsd } = this.turnFigures.totals
    return {
      at: now,
      window_seconds: windowSeconds,
      requests: {
        per_second: round(this.arrivals.total(now) / windowSeconds),
        latency_ms: rounded(this.requestLatency.percentiles(now)),
      },
      turns: {
        per_minute: round((this.turnWindow.count(now) * 60) / windowSeconds),
        in_progress: this.turnFigures.inProgress,
        latency_ms: rounded(this.turnWindow.percentiles(now)),
        first_token_ms: rounded(this.firstTokenWindow.percentiles(now)),
      },
      connections: { open: this.openConnections(), streams: this.streams() },
      sessions: await this.sessions(now),
      runners: this.runners(),
      queue_depth: this.queueDepth(),
      errors: this.errorWindow.counts(now),
      memory: {
        gateway_rss_bytes: memory.rss,
        gateway_heap_used_bytes: memory.heapUsed,
        cli_bytes: this.cliMemoryBytes(),
      },
      cpu_percent: this.cpu.percent,
      tokens: { input: inputTokens, output: outputTokens },
      cost_usd: costUsd,
    }
  }

  /** The one-second samples of the last `seconds` (all kept ones when omitted), oldest first. */
  historySince(seconds?: number): MetricsSnapshot[] {
    return this.history.since(seconds)
  }

  runners(): RunnerCounts {
    const { busy, serving, spares, starting, max, spareTarget } = this.sources.engine.processStats
    return { busy, idle: serving - busy, spare: spares, starting, max, spare_target: spareTarget }
  }

  queueDepth(): number {
    return this.sources.engine.processStats.queued
  }

  sessions(now = Date.now()): Promise<SessionsByState> {
    return this.sessionCounts.read(now)
  }

  openConnections(): number {
    return this.connections.connections
  }

  streams(): { sse: number; websocket: number } {
    return this.connections.streams()
  }

  /** Null where no size can be read (not Linux); 0 with no process. */
  cliMemoryBytes(): number | null {
    const { processes } = this.sources.engine.memory()
    return processes.length === 0 ? 0 : knownTotal(processes)
  }

  processCounts(): ProcessCounts {
    return this.sources.engine.processCounts
  }

  close(): void {
    clearInterval(this.sampler)
    this.subscription.close()
  }

  private sample(): void {
    const at = performance.now()
    const usage = process.cpuUsage(this.cpu.usage)
    const elapsedUs = (at - this.cpu.at) * 1000
    const percent = elapsedUs > 0 ? round(((usage.user + usage.system) / elapsedUs) * 100) : 0
    this.cpu = { usage: process.cpuUsage(), at, percent }
    void this.snapshot().then((snapshot) => this.history.push(snapshot))
  }
}

const round = (value: number) => Math.round(value * 100) / 100

const rounded = ({ p50, p95, p99 }: Percentiles): Percentiles => ({
  p50: p50 === null ? null : round(p50),
  p95: p95 === null ? null : round(p95),
  p99: p99 === null ? null : round(p99),
})
