/**
 * The admin dashboard's figures: `GET /api/metrics` now, `GET /api/metrics/history` one sample a second
 * over the last minutes. The same observations Prometheus scrapes at /metrics (src/observability), turned
 * into what a person reads: percentiles over a sliding window, rates, counts by state.
 */
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import { SESSION_STATES } from '../../events/types.js'
import type { GatewayContext } from '../../gateway.js'
import { json, Nullable, ref } from '../responses.js'
import { NATIVE_COMMON, nativeErrors, QUERY_RESPONSES } from './responses.js'

const Millis = (description: string) => Nullable(Type.Number({ description }))

const Percentiles = (what: string) =>
  Type.Object(
    {
      p50: Millis(`Median ${what} in the window, ms; null when there was none.`),
      p95: Millis(`95th percentile ${what}, ms.`),
      p99: Millis(`99th percentile ${what}, ms.`),
    },
    { additionalProperties: false },
  )

const Counts = (names: readonly string[], description: string) =>
  Type.Object(Object.fromEntries(names.map((name) => [name, Type.Integer()])), {
    description,
    additionalProperties: false,
  })

const MetricsSnapshotSchema = Type.Object(
  {
    at: Type.Integer({ description: 'When the figures were taken, ms since the epoch.' }),
    window_seconds: Type.Number({ description: 'The sliding window percentiles, rates and errors cover.' }),
    requests: Type.Object({
      per_second: Type.Number({ description: 'HTTP requests a second over the window, streams included.' }),
      latency_ms: Percentiles('response time of plain (not streamed) requests'),
    }),
    turns: Type.Object({
      per_minute: Type.Number({ description: 'Turns completed a minute over the window.' }),
      in_progress: Type.Integer({ description: 'Turns started and not completed.' }),
      latency_ms: Percentiles('turn duration'),
      first_token_ms: Percentiles("time from a turn's start to its first text"),
    }),
    connections: Type.Object({
      open: Type.Integer({ description: 'Open TCP connections to the HTTP server.' }),
      streams: Counts(['sse', 'websocket'], 'Open server-sent event streams and WebSockets.'),
    }),
    sessions: Counts(SESSION_STATES, 'Sessions in the store by state.'),
    runners: Type.Object(
      {
        busy: Type.Integer({ description: 'Claude Code processes running a turn.' }),
        idle: Type.Integer({ description: 'Processes a session holds between turns.' }),
        spare: Type.Integer({ description: 'Warm spares waiting for a new conversation.' }),
        starting: Type.Integer({ description: 'Processes starting or stopping.' }),
        max: Type.Integer({ description: 'How many may live at once.' }),
        spare_target: Type.Integer({ description: 'How many spares the pool keeps now.' }),
      },
      { additionalProperties: false },
    ),
    queue_depth: Type.Integer({ description: 'Requests waiting for a Claude Code process.' }),
    errors: Type.Record(Type.String(), Type.Integer(), {
      description: 'Errors in the window by kind (an `error` event code); kinds not seen are absent.',
    }),
    memory: Type.Object({
      gateway_rss_bytes: Type.Integer(),
      gateway_heap_used_bytes: Type.Integer(),
      cli_bytes: Nullable(
        Type.Integer({
          description: 'All live Claude Code processes together; null where unknown (not Linux).',
        }),
      ),
    }),
    cpu_percent: Type.Number({
      description: "The gateway process's CPU over the last second (100: one core).",
    }),
    tokens: Type.Object({
      input: Type.Integer({ description: 'Input tokens since start, cache reads and writes included.' }),
      output: Type.Integer({ description: 'Output tokens since start.' }),
    }),
    cost_usd: Type.Number({ description: 'Cost since start, as Claude Code reports it.' }),
  },
  { $id: 'MetricsSnapshot' },
)

const HistoryQuery = Type.Object(
  {
    seconds: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 86_400,
        description: 'How far back; absent: every sample kept (metrics.historySeconds).',
      }),
    ),
  },
  { additionalProperties: false },
)

const MetricsHistory = Type.Object({
  interval_seconds: Type.Integer({ description: 'Time between two samples.' }),
  samples: Type.Array(ref('MetricsSnapshot'), { description: 'Oldest first.' }),
})

export const metricsRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  app.addSchema(MetricsSnapshotSchema)

  app.get(
    '/metrics',
    {
      config: { requestLogLevel: 'debug' },
      schema: {
        operationId: 'getMetrics',
        tags: ['health'],
        summary: "The dashboard's figures now",
        description:
          'Latency percentiles, throughput and errors over a sliding window (60 s), and the current ' +
          'connections, sessions, processes, memory, CPU, tokens and cost. Prometheus reads the same ' +
          'observations at GET /metrics (docs/metrics.md).',
        response: { 200: json('The figures.', ref('MetricsSnapshot')), ...nativeErrors(NATIVE_COMMON) },
      },
    },
    async () => gateway.metrics.snapshot(),
  )

  app.get<{ Querystring: Static<typeof HistoryQuery> }>(
    '/metrics/history',
    {
      config: { requestLogLevel: 'debug' },
      schema: {
        operationId: 'getMetricsHistory',
        tags: ['health'],
        summary: "The dashboard's figures over time",
        description: 'One sample a second, as GET /api/metrics answers, kept for `metrics.historySeconds`.',
        querystring: HistoryQuery,
        response: {
          200: json('The samples.', MetricsHistory),
          ...QUERY_RESPONSES,
        },
      },
    },
    async (request) => ({
      interval_seconds: 1,
      samples: gateway.metrics.historySince(request.query.seconds),
    }),
  )
}
