import { randomBytes } from 'node:crypto'
import type { FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify'
import { LogController } from 'fastify'
import type { EventOf, GatewayEvent } from '../events/types.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The level of this route's request line; `debug` for probes that poll every few seconds. */
    requestLogLevel?: 'debug' | 'info'
  }
  interface FastifyRequest {
    /** What the request's line says beyond HTTP, set by the routes that know it (`noteRequest`). */
    ccgw: RequestFigures | null
  }
}

/** The session, model, tokens and cost a request's line carries, where the route knows them. */
export interface RequestFigures {
  sessionId?: string
  /** The model asked for (OpenAI's `model`) or the one that answered (Claude's model id). */
  model?: string
  inputTokens?: number
  outputTokens?: number
  cacheReadTokens?: number
  cacheWriteTokens?: number
  costUsd?: number
  /** The time the turn's Claude API calls took, as the CLI reports it (see `gateway_added_time_seconds`). */
  apiDurationMs?: number
  /** The answer is a text/event-stream (src/api/sse.ts). */
  streamed?: true
}

/** Adds to what the request's line will say. */
export function noteRequest(request: FastifyRequest, figures: RequestFigures): void {
  request.ccgw = request.ccgw ? Object.assign(request.ccgw, figures) : { ...figures }
}

/** The tokens, cost and API time of a finished turn, for its request's line. */
export function turnFigures({ usage, costUsd, apiDurationMs }: EventOf<'turn.completed'>): RequestFigures {
  return {
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
    cacheReadTokens: usage.cacheReadInputTokens,
    cacheWriteTokens: usage.cacheCreationInputTokens,
    costUsd,
    ...(apiDurationMs === undefined ? {} : { apiDurationMs }),
  }
}

/** For a route that follows a turn's events: the model that answered and the finished turn's figures. */
export function noteTurnEvent(request: FastifyRequest, event: GatewayEvent): void {
  if (event.type === 'usage') noteRequest(request, { model: event.model })
  else if (event.type === 'turn.completed') noteRequest(request, turnFigures(event))
}

/**
 * What a caller's `x-request-id` may be to be kept as the request's id: a plain token, like the gateway's own
 * (base 36, `k3x9q-1a`). Anything else (quotes, spaces, control characters) gets a fresh id.
 */
export const REQUEST_ID = /^[\w.:-]{1,128}$/

/**
 * Fastify's request-logging options: short request ids, and Fastify's own per-request lines left to the
 * gateway's one line (`logWhenClosed`). Fastify makes `request.log` a child of the server's logger bound to
 * `reqId`.
 */
export function requestLogging(): Pick<FastifyServerOptions, 'genReqId' | 'logController'> {
  // Request ids are this server's random prefix and a counter, in base 36: short, and unique without a
  // random draw per request.
  const idPrefix = (randomBytes(4).readUInt32BE(0) % 36 ** 5).toString(36).padStart(5, '0')
  let requests = 0
  return {
    // A caller's own request id is kept (so it can correlate logs), anything else gets a fresh one.
    genReqId(raw) {
      const given = raw.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given)
        ? given
        : `${idPrefix}-${(++requests).toString(36)}`
    },
    logController: new QuietLogController(),
  }
}

/**
 * Fastify's own per-request lines (incoming, not found, completed) are the gateway's one line instead.
 * Its lines about failures (errors, broken streams) stay.
 */
class QuietLogController extends LogController {
  override incomingRequest(): void {}
  override routeNotFound(): void {}
  override requestCompleted(): void {}
}

/**
 * Writes the request's line when its response closes: `info` (`error` for a 5xx, the route's
 * `requestLogLevel` if it has one) with `method`, `route`, `status`, `durationMs`, what the route noted
 * (`noteRequest`: session, model, tokens, cost), and `aborted: true` when the client went away before the
 * whole response was written. 'close' rather than Fastify's `onResponse`,
 * which runs on 'finish' only: a response the client abandoned (a stream, a long turn) gets its line too.
 * Called from an `onRequest` hook, and for the requests Fastify refuses before any hook runs.
 */
export function logWhenClosed(request: FastifyRequest, reply: FastifyReply): void {
  reply.raw.once('close', () => {
    const { statusCode: status, writableFinished } = reply.raw
    // No route (and no config) for a URL no route matches or one Fastify refused before routing.
    const { url, config } = request.routeOptions
    const level = status >= 500 ? 'error' : (config?.requestLogLevel ?? 'info')
    const line = {
      method: request.method,
      route: url ?? 'unmatched',
      status,
      durationMs: Math.round(reply.elapsedTime * 100) / 100,
      ...request.ccgw,
    }
    request.log[level](writableFinished ? line : { ...line, aborted: true }, 'request')
  })
}
