/**
 * Figures read at scrape time rather than observed: the pool's processes by state, sessions by state, open
 * connections and streams, the CLI processes' memory, and the pool's running totals of process starts,
 * failures, retries and crashes. prom-client calls `collect` on each scrape.
 */
import { Counter, Gauge, type Registry } from 'prom-client'
import type { ProcessCounts } from '../engine/types.js'
import type { GaugeReadings } from './metrics.js'

export function scrapedGauges(registry: Registry, read: GaugeReadings): void {
  const registers = [registry]
  new Gauge({
    name: 'gateway_runners',
    help: 'Claude Code processes by state: busy (in a turn), idle (a session holds it), spare, starting.',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const runners = read.runners()
      for (const state of ['busy', 'idle', 'spare', 'starting'] as const) this.set({ state }, runners[state])
    },
  })
  new Gauge({
    name: 'gateway_runners_max',
    help: 'How many Claude Code processes may live at once (pool.maxRunners, or fewer under the memory budget).',
    registers,
    collect() {
      this.set(read.runners().max)
    },
  })
  new Gauge({
    name: 'gateway_spare_target',
    help: 'How many warm spares the pool keeps now.',
    registers,
    collect() {
      this.set(read.runners().spare_target)
    },
  })
  new Gauge({
    name: 'gateway_queue_depth',
    help: 'Requests waiting for a Claude Code process.',
    registers,
    collect() {
      this.set(read.queueDepth())
    },
  })
  new Gauge({
    name: 'gateway_sessions',
    help: 'Sessions in the store by state.',
    labelNames: ['state'] as const,
    registers,
    async collect() {
      for (const [state, n] of Object.entries(await read.sessions())) this.set({ state }, n)
    },
  })
  new Gauge({
    name: 'gateway_open_connections',
    help: 'Open TCP connections to the HTTP server.',
    registers,
    collect() {
      this.set(read.openConnections())
    },
  })
  new Gauge({
    name: 'gateway_open_streams',
    help: 'Open streams: server-sent event responses (sse) and WebSocket connections (websocket).',
    labelNames: ['kind'] as const,
    registers,
    collect() {
      const streams = read.streams()
      this.set({ kind: 'sse' }, streams.sse)
      this.set({ kind: 'websocket' }, streams.websocket)
    },
  })
  new Gauge({
    name: 'gateway_cli_resident_memory_bytes',
    help: 'Resident memory of every live Claude Code process together (Linux /proc; absent elsewhere).',
    registers,
    collect() {
      const bytes = read.cliMemoryBytes()
      if (bytes === null) this.reset()
      else this.set(bytes)
    },
  })
  processTotal(registry, 'gateway_cli_starts_total', 'Claude Code processes launched.', read, 'starts')
  processTotal(
    registry,
    'gateway_cli_start_failures_total',
    'Claude Code processes that failed to start.',
    read,
    'startFailures',
  )
  processTotal(
    registry,
    'gateway_cli_restarts_total',
    'Starts retried after a failed start (pool.startRetries).',
    read,
    'startRetries',
  )
  processTotal(
    registry,
    'gateway_cli_crashes_total',
    'Claude Code processes that ended by themselves while serving a session.',
    read,
    'crashes',
  )
  processTotal(
    registry,
    'gateway_cli_reuses_total',
    'Claude Code processes a session gave back that became spares for new conversations (pool.reuseProcesses).',
    read,
    'reuses',
  )
}

/** A counter following one of the pool's running totals: it is moved on by what was added since. */
function processTotal(
  registry: Registry,
  name: string,
  help: string,
  read: GaugeReadings,
  key: keyof ProcessCounts,
): void {
  let counted = 0
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const total = read.processCounts()[key]
      if (total > counted) this.inc(total - counted)
      counted = total
    },
  })
}
