/**
 * The Prometheus instruments the gateway observes into, on its own registry. Names follow the OpenTelemetry
 * GenAI semantic conventions where they exist (gen_ai_*), with their attribute names as labels; the rest are
 * the gateway's own (gateway_*). docs/metrics.md lists each with its labels.
 */
import { Counter, Histogram, type Registry } from 'prom-client'

/** Agent turns run from a second to half an hour: the buckets reach 30 min. */
const TURN_BUCKETS = [0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300, 600, 1200, 1800]
const FIRST_TOKEN_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120]
/** OpenTelemetry's advice for gen_ai.client.token.usage: powers of 4. */
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304]
const TOOL_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800]
/** A plain request answers in ms; a non-streamed turn answers when the turn ends (up to 30 min). */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800]
const WAIT_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120]
/**
 * The gateway's own share is tens of ms with a warm process and seconds with a process start; the CLI's
 * tools (counted in it too) can take as long as a turn: fine at the low end, reaching 30 min.
 */
const ADDED_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300, 600, 1800]

export function instruments(registry: Registry) {
  const registers = [registry]
  return {
    tokenUsage: new Histogram({
      name: 'gen_ai_client_token_usage',
      help: 'Tokens used per turn result, by type (input includes cache reads and writes) and model.',
      labelNames: ['gen_ai_token_type', 'gen_ai_response_model'] as const,
      buckets: TOKEN_BUCKETS,
      registers,
    }),
    timeToFirstToken: new Histogram({
      name: 'gen_ai_server_time_to_first_token_seconds',
      help: "Time from a turn's start to its first text delta.",
      labelNames: ['gen_ai_response_model'] as const,
      buckets: FIRST_TOKEN_BUCKETS,
      registers,
    }),
    turnDuration: new Histogram({
      name: 'gen_ai_server_request_duration_seconds',
      help: "A turn's duration, from turn.started to turn.completed, by model and status.",
      labelNames: ['gen_ai_response_model', 'status'] as const,
      buckets: TURN_BUCKETS,
      registers,
    }),
    toolDuration: new Histogram({
      name: 'gateway_tool_duration_seconds',
      help: 'Tool execution time as Claude Code reports it, by built-in tool name (others: "other").',
      labelNames: ['tool', 'outcome'] as const,
      buckets: TOOL_BUCKETS,
      registers,
    }),
    httpDuration: new Histogram({
      name: 'gateway_http_request_duration_seconds',
      help: 'Plain (not streamed) HTTP responses: time to the last byte, by route pattern.',
      labelNames: ['route', 'method', 'status_class', 'api'] as const,
      buckets: HTTP_BUCKETS,
      registers,
    }),
    streams: new Counter({
      name: 'gateway_streams_total',
      help: 'Streams opened: server-sent event responses and WebSocket connections.',
      labelNames: ['kind', 'api'] as const,
      registers,
    }),
    gatewayAdded: new Histogram({
      name: 'gateway_added_time_seconds',
      help:
        "A turn's request, from its arrival to its response's end, less the time Claude's API calls took " +
        '(duration_api_ms): queue waits, process start or hand-over, the CLI and its tools, translation.',
      labelNames: ['api', 'streamed'] as const,
      buckets: ADDED_BUCKETS,
      registers,
    }),
    processWait: new Histogram({
      name: 'gateway_process_wait_seconds',
      help: 'Time a session waited for a Claude Code process: the pool queue and the process start.',
      buckets: WAIT_BUCKETS,
      registers,
    }),
    turns: new Counter({
      name: 'gateway_turns_total',
      help: 'Turns completed, by status (success, error, interrupted).',
      labelNames: ['status'] as const,
      registers,
    }),
    errors: new Counter({
      name: 'gateway_errors_total',
      help: 'Errors by kind: the code of `error` events and of failed turns that announced none.',
      labelNames: ['kind'] as const,
      registers,
    }),
    cost: new Counter({
      name: 'gateway_cost_usd_total',
      help: 'Cost in USD as Claude Code reports it, by model.',
      labelNames: ['gen_ai_response_model'] as const,
      registers,
    }),
  }
}

export type Instruments = ReturnType<typeof instruments>
