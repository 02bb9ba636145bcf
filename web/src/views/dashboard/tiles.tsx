/**
 * The dashboard's figures as numbers, grouped in tiles. A figure over its threshold turns red and says so
 * in words ("over 2 s"), since colour alone is not a signal everyone sees.
 */
import { useId } from 'react'
import type { MetricsSnapshot, Percentiles } from '../../api/types/metrics.js'
import { SESSION_STATES } from '../../api/types/sessions.js'
import { formatBytes, formatCost, formatTokens } from '../../ui/format.js'
import { type Alert, formatValue, type Unit } from './figures.js'

interface Stat {
  label: string
  value: string
  /** The figure of figures.ts this is, when it can have a threshold. */
  figure?: string
}

interface TileSpec {
  title: string
  stats: Stat[]
  note?: string
}

const count = (value: number) => formatValue('count', value)

const percentiles = (prefix: string, { p50, p95, p99 }: Percentiles): Stat[] => [
  { label: 'p50', value: formatValue('ms', p50), figure: `${prefix}_p50` },
  { label: 'p95', value: formatValue('ms', p95), figure: `${prefix}_p95` },
  { label: 'p99', value: formatValue('ms', p99), figure: `${prefix}_p99` },
]

function tilesOf(s: MetricsSnapshot): TileSpec[] {
  const window = `last ${s.window_seconds} s`
  const errors = Object.entries(s.errors).sort(([a], [b]) => a.localeCompare(b))
  const busyShare = s.runners.max > 0 ? (s.runners.busy / s.runners.max) * 100 : null
  return [
    { title: 'Turn latency', stats: percentiles('turn', s.turns.latency_ms), note: window },
    { title: 'Time to first token', stats: percentiles('first_token', s.turns.first_token_ms), note: window },
    {
      title: 'Request latency',
      stats: percentiles('request', s.requests.latency_ms),
      note: `${window}, not streams`,
    },
    {
      title: 'Throughput',
      stats: [
        { label: 'Requests/s', value: count(s.requests.per_second) },
        { label: 'Turns/min', value: count(s.turns.per_minute) },
        { label: 'In progress', value: count(s.turns.in_progress) },
      ],
      note: window,
    },
    {
      title: 'Connections',
      stats: [
        { label: 'Open', value: count(s.connections.open), figure: 'connections' },
        { label: 'Event streams', value: count(s.connections.streams.sse) },
        { label: 'WebSockets', value: count(s.connections.streams.websocket) },
      ],
    },
    {
      title: 'Claude Code processes',
      stats: [
        { label: 'Busy', value: count(s.runners.busy) },
        { label: 'Idle', value: count(s.runners.idle) },
        { label: 'Spare', value: `${s.runners.spare} / ${s.runners.spare_target}` },
        { label: 'Starting', value: count(s.runners.starting) },
        { label: 'Busy of max', value: formatValue('percent', busyShare), figure: 'busy_percent' },
        { label: 'Queued', value: count(s.queue_depth), figure: 'queue_depth' },
      ],
      note: `at most ${s.runners.max}; spares: warm / target`,
    },
    {
      title: 'Sessions',
      stats: SESSION_STATES.map((state) => ({ label: state, value: count(s.sessions[state]) })),
    },
    {
      title: 'Errors',
      stats: [
        { label: 'All kinds', value: count(errors.reduce((sum, [, n]) => sum + n, 0)), figure: 'errors' },
        ...errors.map(([kind, n]) => ({ label: kind, value: count(n) })),
      ],
      note: errors.length === 0 ? `none in the ${window}` : window,
    },
    {
      title: 'Resources',
      stats: [
        { label: 'CPU', value: formatValue('percent', s.cpu_percent), figure: 'cpu' },
        { label: 'Gateway RSS', value: formatBytes(s.memory.gateway_rss_bytes), figure: 'gateway_memory' },
        { label: 'Heap', value: formatBytes(s.memory.gateway_heap_used_bytes) },
        {
          label: 'CLI processes',
          value: s.memory.cli_bytes === null ? 'unknown' : formatBytes(s.memory.cli_bytes),
          figure: 'cli_memory',
        },
      ],
      note: 'CPU: 100% is one core',
    },
    {
      title: 'Usage since start',
      stats: [
        { label: 'Input tokens', value: formatTokens(s.tokens.input) },
        { label: 'Output tokens', value: formatTokens(s.tokens.output) },
        { label: 'Cost', value: formatCost(s.cost_usd) },
      ],
    },
  ]
}

export function Tiles({ snapshot, over }: { snapshot: MetricsSnapshot; over: ReadonlyMap<string, Alert> }) {
  return (
    <div className="tiles">
      {tilesOf(snapshot).map((tile) => (
        <Tile key={tile.title} tile={tile} over={over} />
      ))}
    </div>
  )
}

function Tile({ tile, over }: { tile: TileSpec; over: ReadonlyMap<string, Alert> }) {
  const id = useId()
  return (
    <section className="tile" aria-labelledby={id}>
      <h3 id={id}>{tile.title}</h3>
      <dl>
        {tile.stats.map((stat) => {
          const alert = stat.figure ? over.get(stat.figure) : undefined
          return (
            <div
              key={stat.label}
              className="stat"
              data-figure={stat.figure}
              data-over={alert ? 'true' : undefined}
            >
              <dt className="stat-label">{stat.label}</dt>
              <dd className="stat-value">
                {stat.value}
                {alert && <Over unit={alert.unit} threshold={alert.threshold} />}
              </dd>
            </div>
          )
        })}
      </dl>
      {tile.note && <p className="tile-note">{tile.note}</p>}
    </section>
  )
}

const Over = ({ unit, threshold }: { unit: Unit; threshold: number }) => (
  <span className="stat-over">over {formatValue(unit, threshold)}</span>
)
