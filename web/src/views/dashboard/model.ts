/**
 * The dashboard's state and how the gateway's answers change it: the samples of the last minutes (the
 * history fetched once at open, then a snapshot a second), the alerts they raise, and the charts' series
 * assembled from them. Pure functions over plain data (no React, no DOM), checked by node:test.
 */
import type { MetricsSnapshot, Percentiles } from '../../api/types/metrics.js'
import { SESSION_STATES } from '../../api/types/sessions.js'
import { type Alert, alertsOf, type Thresholds, type Unit } from './figures.js'

/** How far back the charts reach. */
export const SPAN_SECONDS = 600
/** A longer silence than this (the tab was hidden, the gateway unreachable) is filled from the history. */
export const GAP_MS = 3_000

export interface DashboardState {
  /** Oldest first, one a second, within SPAN_SECONDS of the newest. */
  samples: readonly MetricsSnapshot[]
  /** When the page last received figures, by its own clock (the gateway's may differ). */
  receivedAt: number | null
  alerts: readonly Alert[]
}

export const EMPTY: DashboardState = { samples: [], receivedAt: null, alerts: [] }

export const latestOf = (state: DashboardState): MetricsSnapshot | undefined => state.samples.at(-1)

/**
 * How many seconds of history to fetch before the next snapshot: all the charts show at first, the missed
 * stretch after a silence longer than GAP_MS, or null when the samples are current.
 */
export function historyWanted(state: DashboardState, now: number, span = SPAN_SECONDS): number | null {
  if (state.receivedAt === null) return span
  const silence = now - state.receivedAt
  return silence > GAP_MS ? Math.min(span, Math.ceil(silence / 1000) + 1) : null
}

/**
 * The state with `incoming` figures (a history, or one snapshot): only samples newer than the newest kept
 * are added (a history overlaps what the page has), older ones fall out of the span, and the alerts
 * follow the newest sample.
 */
export function addSamples(
  state: DashboardState,
  incoming: readonly MetricsSnapshot[],
  receivedAt: number,
  thresholds: Thresholds,
  span = SPAN_SECONDS,
): DashboardState {
  let newest = latestOf(state)?.at ?? -Infinity
  const added: MetricsSnapshot[] = []
  for (const sample of [...incoming].sort((a, b) => a.at - b.at)) {
    if (sample.at <= newest) continue
    added.push(sample)
    newest = sample.at
  }
  if (added.length === 0) return { ...state, receivedAt }
  const from = newest - span * 1000
  const samples = [...state.samples, ...added].filter((sample) => sample.at > from)
  return { samples, receivedAt, alerts: alertsOf(state.alerts, samples.at(-1)!, thresholds) }
}

/** The alerts again under new thresholds. */
export function withThresholds(state: DashboardState, thresholds: Thresholds): DashboardState {
  const latest = latestOf(state)
  return { ...state, alerts: latest ? alertsOf(state.alerts, latest, thresholds) : [] }
}

export interface Series {
  label: string
  read: (snapshot: MetricsSnapshot) => number | null
}

export interface Chart {
  id: string
  title: string
  unit: Unit
  /** The lines to draw; some depend on what the samples hold (the kinds of errors seen). */
  series: (samples: readonly MetricsSnapshot[]) => Series[]
}

const MB = 1024 * 1024

const fixed = (series: Series[]) => (): Series[] => series

/** The p50, p95 and p99 lines of one latency figure. */
const percentiles = (figure: (snapshot: MetricsSnapshot) => Percentiles) =>
  fixed((['p50', 'p95', 'p99'] as const).map((label) => ({ label, read: (s) => figure(s)[label] })))

export const CHARTS: readonly Chart[] = [
  {
    id: 'turn-latency',
    title: 'Turn latency',
    unit: 'ms',
    series: percentiles((s) => s.turns.latency_ms),
  },
  {
    id: 'first-token',
    title: 'Time to first token',
    unit: 'ms',
    series: percentiles((s) => s.turns.first_token_ms),
  },
  {
    id: 'request-latency',
    title: 'Request latency',
    unit: 'ms',
    series: percentiles((s) => s.requests.latency_ms),
  },
  {
    id: 'throughput',
    title: 'Throughput',
    unit: 'count',
    series: fixed([
      { label: 'Requests/s', read: (s) => s.requests.per_second },
      { label: 'Turns/min', read: (s) => s.turns.per_minute },
      { label: 'Turns in progress', read: (s) => s.turns.in_progress },
    ]),
  },
  {
    id: 'connections',
    title: 'Connections and streams',
    unit: 'count',
    series: fixed([
      { label: 'Connections', read: (s) => s.connections.open },
      { label: 'Event streams', read: (s) => s.connections.streams.sse },
      { label: 'WebSockets', read: (s) => s.connections.streams.websocket },
    ]),
  },
  {
    id: 'processes',
    title: 'Claude Code processes and queue',
    unit: 'count',
    series: fixed([
      { label: 'Busy', read: (s) => s.runners.busy },
      { label: 'Idle', read: (s) => s.runners.idle },
      { label: 'Spare', read: (s) => s.runners.spare },
      { label: 'Starting', read: (s) => s.runners.starting },
      { label: 'Queued', read: (s) => s.queue_depth },
    ]),
  },
  {
    id: 'sessions',
    title: 'Sessions by state',
    unit: 'count',
    series: fixed(
      SESSION_STATES.filter((state) => state !== 'closed').map((state) => ({
        label: state,
        read: (s: MetricsSnapshot) => s.sessions[state],
      })),
    ),
  },
  {
    id: 'errors',
    title: 'Errors in the last minute, by kind',
    unit: 'count',
    series: (samples) =>
      errorKinds(samples).map((kind) => ({ label: kind, read: (s: MetricsSnapshot) => s.errors[kind] ?? 0 })),
  },
  {
    id: 'memory',
    title: 'Memory',
    unit: 'mb',
    series: fixed([
      { label: 'Gateway RSS', read: (s) => s.memory.gateway_rss_bytes / MB },
      { label: 'Gateway heap', read: (s) => s.memory.gateway_heap_used_bytes / MB },
      { label: 'CLI processes', read: (s) => (s.memory.cli_bytes === null ? null : s.memory.cli_bytes / MB) },
    ]),
  },
  {
    id: 'cpu',
    title: 'Gateway CPU',
    unit: 'percent',
    series: fixed([{ label: 'CPU', read: (s) => s.cpu_percent }]),
  },
  {
    id: 'tokens',
    title: 'Tokens since start',
    unit: 'count',
    series: fixed([
      { label: 'Input', read: (s) => s.tokens.input },
      { label: 'Output', read: (s) => s.tokens.output },
    ]),
  },
  {
    id: 'cost',
    title: 'Cost since start',
    unit: 'usd',
    series: fixed([{ label: 'Cost', read: (s) => s.cost_usd }]),
  },
]

/** Every kind of error the samples saw, sorted: one line each in the errors chart. */
export function errorKinds(samples: readonly MetricsSnapshot[]): string[] {
  const kinds = new Set<string>()
  for (const sample of samples) for (const kind of Object.keys(sample.errors)) kinds.add(kind)
  return [...kinds].sort()
}

/** uPlot's data: x in seconds since the epoch, then one array per series (null: no value, a gap). */
export type ChartData = [number[], ...(number | null)[][]]

/**
 * The columns uPlot draws. Where samples are missing for longer than GAP_MS (the gateway was unreachable),
 * a row of nulls breaks the lines rather than drawing a slope across the silence.
 */
export function chartData(samples: readonly MetricsSnapshot[], series: readonly Series[]): ChartData {
  const xs: number[] = []
  const ys: (number | null)[][] = series.map(() => [])
  let previous: number | undefined
  for (const sample of samples) {
    if (previous !== undefined && sample.at - previous > GAP_MS) {
      xs.push((previous + 1000) / 1000)
      for (const column of ys) column.push(null)
    }
    xs.push(sample.at / 1000)
    for (const [index, { read }] of series.entries()) ys[index]!.push(read(sample))
    previous = sample.at
  }
  return [xs, ...ys]
}
