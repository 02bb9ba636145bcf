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
  /** A gauge of one figure, absent from the scrape while `value` is null. */
  const figure = (name: string, help: string, value: () => number | null) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const current = value()
        if (current === null) this.reset()
        else this.set(current)
      },
    })
  /** A gauge of figures by one label (`state`, `kind`): `figures` gives the figure of each of its values. */
  const byLabel = (
    name: string,
    help: string,
    label: string,
    figures: () => Record<string, number> | Promise<Record<string, number>>,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: [label],
      registers,
      async collect() {
        for (const [value, n] of Object.entries(await figures())) this.set({ [label]: value }, n)
      },
    })
  byLabel(
    'gateway_runners',
    'Claude Code processes by state: busy (in a turn), idle (a session holds it), spare, starting.',
    'state',
    () => {
      const { busy, idle, spare, starting } = read.runners()
      return { busy, idle, spare, starting }
    },
  )
  figure(
    'gateway_runners_max',
    'How many Claude Code processes may live at once (pool.maxRunners, or fewer under the memory budget).',
    () => read.runners().max,
  )
  figure(
    'gateway_spare_target',
    'How many warm spares the pool keeps now.',
    () => read.runners().spare_target,
  )
  figure('gateway_queue_depth', 'Requests waiting for a Claude Code process.', () => read.queueDepth())
  byLabel('gateway_sessions', 'Sessions in the store by state.', 'state', () => read.sessions())
  figure('gateway_open_connections', 'Open TCP connections to the HTTP server.', () => read.openConnections())
  byLabel(
    'gateway_open_streams',
    'Open streams: server-sent event responses (sse) and WebSocket connections (websocket).',
    'kind',
    () => {
      const { sse, websocket } = read.streams()
      return { sse, websocket }
    },
  )
  figure(
    'gateway_cli_resident_memory_bytes',
    'Resident memory of every live Claude Code process together (Linux /proc; absent elsewhere).',
    () => read.cliMemoryBytes(),
  )
  for (const [key, name, help] of PROCESS_TOTALS) processTotal(registry, name, help, read, key)
}

/** The pool's running totals, each exported as a counter: the total, its counter's name and help. */
const PROCESS_TOTALS: readonly [keyof ProcessCounts, string, string][] = [
  ['starts', 'gateway_cli_starts_total', 'Claude Code processes launched.'],
  ['startFailures', 'gateway_cli_start_failures_total', 'Claude Code processes that failed to start.'],
  ['startRetries', 'gateway_cli_restarts_total', 'Starts retried after a failed start (pool.startRetries).'],
  [
    'crashes',
    'gateway_cli_crashes_total',
    'Claude Code processes that ended by themselves while serving a session.',
  ],
  [
    'reuses',
    'gateway_cli_reuses_total',
    'Claude Code processes a session gave back that became spares for new conversations (pool.reuseProcesses).',
  ],
]

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
