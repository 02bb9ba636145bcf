/**
 * The dashboard's figures (src/api/native/metrics.ts), mirrored by hand.
 */
import type { SessionState } from './sessions.js'

/** p50/p95/p99 over the metrics window, ms; null when the window holds no sample. */
export interface Percentiles {
  p50: number | null
  p95: number | null
  p99: number | null
}

/** `MetricsSnapshot` of src/api/native/metrics.ts: GET /api/metrics, and each sample of /metrics/history. */
export interface MetricsSnapshot {
  /** When the figures were taken, ms since the epoch. */
  at: number
  window_seconds: number
  requests: { per_second: number; latency_ms: Percentiles }
  turns: { per_minute: number; in_progress: number; latency_ms: Percentiles; first_token_ms: Percentiles }
  connections: { open: number; streams: { sse: number; websocket: number } }
  sessions: Record<SessionState, number>
  runners: { busy: number; idle: number; spare: number; starting: number; max: number; spare_target: number }
  queue_depth: number
  /** Errors in the window by kind; kinds not seen are absent. */
  errors: Record<string, number>
  memory: { gateway_rss_bytes: number; gateway_heap_used_bytes: number; cli_bytes: number | null }
  cpu_percent: number
  /** Since the gateway started. */
  tokens: { input: number; output: number }
  cost_usd: number
}

/** GET /api/metrics/history: one snapshot a second, oldest first. */
export interface MetricsHistory {
  interval_seconds: number
  samples: MetricsSnapshot[]
}
