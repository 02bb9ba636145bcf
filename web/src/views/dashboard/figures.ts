/**
 * The dashboard's figures that can have a threshold, the thresholds themselves (defaults, kept in
 * localStorage) and the alerts they raise. Pure: no React, no DOM (storage is passed in), so node:test
 * checks it.
 */
import type { MetricsSnapshot, Percentiles } from '../../api/types/metrics.js'
import { formatBytes, formatCost, formatDuration } from '../../ui/format.js'

export type Unit = 'ms' | 'mb' | 'percent' | 'count' | 'usd'

const MB = 1024 * 1024

export interface Figure {
  id: string
  /** What a person reads: "Turn latency p95". */
  label: string
  unit: Unit
  /** The figure in `unit`; null when there is none now (no turn in the window). */
  read: (snapshot: MetricsSnapshot) => number | null
  /** The threshold it starts with; null: none until the user sets one. */
  threshold: number | null
}

const sumOf = (counts: Record<string, number>) => Object.values(counts).reduce((sum, n) => sum + n, 0)

/**
 * Figures of one latency's percentiles, in the order given, each with its threshold: `turn` and
 * `{ p95: 120_000 }` make `turn_p95`, "Turn latency p95".
 */
const latencies = (
  name: string,
  label: string,
  read: (snapshot: MetricsSnapshot) => Percentiles,
  thresholds: Partial<Record<keyof Percentiles, number | null>>,
): Figure[] =>
  Object.entries(thresholds).map(([percentile, threshold]) => ({
    id: `${name}_${percentile}`,
    label: `${label} ${percentile}`,
    unit: 'ms',
    read: (s) => read(s)[percentile as keyof Percentiles],
    threshold,
  }))

/** In the order the thresholds dialog and the alerts list show them. */
export const FIGURES: readonly Figure[] = [
  // Plain requests include non-streamed turns, which last as long as the turn.
  ...latencies('request', 'Request latency', (s) => s.requests.latency_ms, { p95: 5_000, p99: null }),
  ...latencies('turn', 'Turn latency', (s) => s.turns.latency_ms, { p50: null, p95: 120_000, p99: null }),
  ...latencies('first_token', 'Time to first token', (s) => s.turns.first_token_ms, {
    p95: 10_000,
    p99: null,
  }),
  // Any request waiting for a process means the pool is short.
  { id: 'queue_depth', label: 'Queue depth', unit: 'count', read: (s) => s.queue_depth, threshold: 0 },
  {
    id: 'errors',
    label: 'Errors in the last minute',
    unit: 'count',
    read: (s) => sumOf(s.errors),
    threshold: 0,
  },
  {
    id: 'busy_percent',
    label: 'Processes busy',
    unit: 'percent',
    read: (s) => (s.runners.max > 0 ? (s.runners.busy / s.runners.max) * 100 : null),
    threshold: 90,
  },
  { id: 'cpu', label: 'Gateway CPU', unit: 'percent', read: (s) => s.cpu_percent, threshold: 80 },
  {
    id: 'gateway_memory',
    label: 'Gateway memory (RSS)',
    unit: 'mb',
    read: (s) => s.memory.gateway_rss_bytes / MB,
    threshold: 1_024,
  },
  {
    id: 'cli_memory',
    label: 'Claude Code processes memory',
    unit: 'mb',
    read: (s) => (s.memory.cli_bytes === null ? null : s.memory.cli_bytes / MB),
    threshold: 4_096,
  },
  {
    id: 'connections',
    label: 'Open connections',
    unit: 'count',
    read: (s) => s.connections.open,
    threshold: null,
  },
]

/** A threshold per figure id; null: that figure has none. */
export type Thresholds = Readonly<Record<string, number | null>>

export const DEFAULT_THRESHOLDS: Thresholds = Object.fromEntries(FIGURES.map((f) => [f.id, f.threshold]))

export const STORAGE_KEY = 'ccgw.dashboard.thresholds'

/**
 * What was saved, figure by figure: a figure missing or unreadable there keeps its default, and figures
 * this version no longer has are dropped (so an old or hand-edited entry never breaks the page).
 */
export function parseThresholds(saved: string | null): Thresholds {
  let parsed: unknown
  try {
    parsed = saved === null ? {} : JSON.parse(saved)
  } catch {
    return DEFAULT_THRESHOLDS
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return DEFAULT_THRESHOLDS
  const values = parsed as Record<string, unknown>
  return Object.fromEntries(
    FIGURES.map(({ id, threshold }) => {
      const value = values[id]
      return [id, value === null || isThreshold(value) ? value : threshold]
    }),
  )
}

const isThreshold = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0

/** localStorage's part these use (node:test passes a Map-backed one). */
export interface KeyValueStorage {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
}

export const loadThresholds = (storage: KeyValueStorage): Thresholds =>
  parseThresholds(storage.getItem(STORAGE_KEY))

export function saveThresholds(storage: KeyValueStorage, thresholds: Thresholds): void {
  storage.setItem(STORAGE_KEY, JSON.stringify(thresholds))
}

/** What an input of the thresholds form holds: empty is "none"; undefined when it is not a threshold. */
export function thresholdOf(input: string): number | null | undefined {
  const text = input.trim()
  if (text === '') return null
  const value = Number(text)
  return isThreshold(value) ? value : undefined
}

/** A figure is over when it is above its threshold (a threshold of 0 flags any occurrence). */
export const isOver = (value: number | null, threshold: number | null | undefined): boolean =>
  value !== null && threshold !== null && threshold !== undefined && value > threshold

export interface Alert {
  figure: string
  label: string
  unit: Unit
  value: number
  threshold: number
  /** When the figure went over, ms since the epoch (the snapshot's clock). */
  since: number
}

/**
 * The figures of `snapshot` over their threshold, in FIGURES order. One still over since `previous` keeps
 * its `since`; one that went back under and over again starts anew.
 */
export function alertsOf(
  previous: readonly Alert[],
  snapshot: MetricsSnapshot,
  thresholds: Thresholds,
): Alert[] {
  const before = new Map(previous.map((alert) => [alert.figure, alert]))
  const alerts: Alert[] = []
  for (const { id, label, unit, read } of FIGURES) {
    const value = read(snapshot)
    const threshold = thresholds[id]
    if (value === null || threshold === null || threshold === undefined || !isOver(value, threshold)) continue
    alerts.push({ figure: id, label, unit, value, threshold, since: before.get(id)?.since ?? snapshot.at })
  }
  return alerts
}

/** A figure as the tiles, the alerts and the charts' legends show it. */
export function formatValue(unit: Unit, value: number | null): string {
  if (value === null) return '—'
  switch (unit) {
    case 'ms':
      return formatDuration(value)
    case 'mb':
      return formatBytes(value * MB)
    case 'percent':
      return `${Number(value.toFixed(value < 10 ? 1 : 0))}%`
    case 'usd':
      return formatCost(value)
    case 'count':
      return Number.isInteger(value)
        ? value.toLocaleString('en')
        : Number(value.toFixed(2)).toLocaleString('en')
  }
}

/** The unit a threshold is typed in. */
export const UNIT_NAMES: Record<Unit, string> = { ms: 'ms', mb: 'MB', percent: '%', count: '', usd: 'USD' }
