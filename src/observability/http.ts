/**
 * Request figures from the HTTP server: plain responses from Fastify's `onResponse` hook (which runs for the
 * responses Fastify writes itself), streams when their connection closes. A server-sent event stream is a
 * hijacked reply (src/api/sse.ts, which notes it `streamed`): its headers go out, and it lasts until the
 * gateway ends it (Fastify's `onResponse` then runs, and leaves it alone) or its client goes. A WebSocket is
 * an upgraded request: it lasts as long as its socket.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { apiFamily, methodLabel, statusClass } from './labels.js'
import type { GatewayMetrics } from './metrics.js'

/** Open connections and streams, as the HTTP server has them now. */
export class ConnectionCounts {
  /** TCP connections to the server (keep-alive ones between requests too). */
  connections = 0
  /** Requests being answered: a stream is one whose answer started and has not ended. */
  readonly inFlight = new Set<FastifyReply>()
  /** Upgrade requests whose socket is open: WebSockets, once accepted (see followUpgrade). */
  readonly upgrades = new Set<FastifyReply>()

  /** Open streams by kind. */
  streams(): { sse: number; websocket: number } {
    let sse = 0
    for (const reply of this.inFlight) if (isOpenStream(reply)) sse++
    let websocket = 0
    for (const reply of this.upgrades) if (!reply.raw.headersSent) websocket++
    return { sse, websocket }
  }
}

/** Fastify marks nothing public on a hijacked reply: its headers are out but Fastify never answered. */
const answered = new WeakSet<FastifyReply>()
const isOpenStream = (reply: FastifyReply) =>
  !answered.has(reply) && reply.raw.headersSent && !reply.raw.writableEnded

/** Hooks on the root instance, so every route of every API is observed. */
export function trackHttp(app: FastifyInstance, metrics: GatewayMetrics): void {
  const counts = metrics.connections
  app.server.on('connection', (socket) => {
    counts.connections++
    socket.once('close', () => counts.connections--)
  })
  // Callbacks, not async functions: every request runs them.
  app.addHook('onRequest', (request, reply, done) => {
    if (isUpgrade(request)) followUpgrade(request, reply, metrics)
    else followReply(request, reply, metrics)
    done()
  })
  app.addHook('onResponse', (request, reply, done) => {
    // A text/event-stream the gateway ended itself (a streamed turn's last event) finishes like a plain
    // response, and Fastify runs this hook for it: it is a stream all the same, counted when it closes.
    if (request.ccgw?.streamed) return done()
    answered.add(reply)
    metrics.observeRequest({
      route: routeOf(request),
      method: methodLabel(request.method),
      statusClass: statusClass(reply.statusCode),
      api: apiFamily(request.url),
      durationMs: reply.elapsedTime,
    })
    done()
  })
}

function followReply(request: FastifyRequest, reply: FastifyReply, metrics: GatewayMetrics): void {
  const { inFlight } = metrics.connections
  inFlight.add(reply)
  reply.raw.once('close', () => {
    inFlight.delete(reply)
    const api = apiFamily(request.url)
    // Answered by Fastify (seen in onResponse), or abandoned by the client before any answer: no stream.
    if (!answered.has(reply) && reply.raw.headersSent) metrics.streamEnded('sse', api)
    // A route that ran a turn noted its API time with the turn's figures (request-log.ts, `turnFigures`).
    const figures = request.ccgw
    if (figures?.apiDurationMs !== undefined)
      metrics.observeTurnRequest({
        api,
        streamed: figures.streamed === true,
        durationMs: reply.elapsedTime,
        apiDurationMs: figures.apiDurationMs,
      })
  })
}

/**
 * A WebSocket counts from the upgrade until its socket closes. One refused with an HTTP answer (a key, an
 * origin) has its headers written and never opened; an accepted one is written by the WebSocket server on
 * the socket itself, never through the reply.
 */
function followUpgrade(request: FastifyRequest, reply: FastifyReply, metrics: GatewayMetrics): void {
  const { upgrades } = metrics.connections
  upgrades.add(reply)
  request.raw.socket.once('close', () => {
    upgrades.delete(reply)
    if (!reply.raw.headersSent) metrics.streamEnded('websocket', apiFamily(request.url))
  })
}

// Node marks the requests it hands to 'upgrade' listeners (a field @types/node does not declare).
const isUpgrade = (request: FastifyRequest) => (request.raw as { upgrade?: boolean }).upgrade === true

/** The route's pattern (`/api/sessions/:id`), never the URL: ids must not become labels. */
const routeOf = (request: FastifyRequest) => request.routeOptions.url ?? 'unmatched'
