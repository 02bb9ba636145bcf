/**
 * `GET /metrics`: the Prometheus text exposition of the gateway's metrics (src/observability/metrics.ts),
 * behind the API key when keys are configured. On the main port, or, with `metrics.port` set, on a second
 * listener of its own on the same host that serves nothing else (a scraper then needs no route to the API).
 * Registered before the OpenAPI plugin: it is no part of the documented API, and the request hooks it adds
 * must be in place before any route.
 */
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify'
import type { GatewayContext } from '../gateway.js'
import { trackHttp } from '../observability/http.js'
import { hasSecret, presentedKey, principalOf } from './auth.js'
import { ApiError, unauthorized } from './native/errors.js'
import { sendNativeError } from './native/index.js'
import { originGuard } from './origin.js'

export async function registerMetrics(app: FastifyInstance, gateway: GatewayContext): Promise<void> {
  trackHttp(app, gateway.metrics)
  const { enabled, port } = gateway.config.metrics
  if (!enabled) return
  if (port === 0) {
    app.get('/metrics', { config: { requestLogLevel: 'debug' } }, (request, reply) =>
      scrape(gateway, request, reply),
    )
    return
  }
  const own = metricsServer(gateway)
  // Listening when the gateway is ready, so a port in use stops the start; closed with the gateway.
  app.addHook('onReady', async () => {
    await own.listen({ host: gateway.config.server.host, port })
  })
  app.addHook('onClose', async () => {
    await own.close()
  })
}

/** The second listener: /metrics only, with the same Host and Origin checks as the main port. */
function metricsServer(gateway: GatewayContext): FastifyInstance {
  const own = Fastify({
    // No line per request: a scraper calls every few seconds.
    loggerInstance: gateway.log.child({ component: 'metrics' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
  })
  own.addHook('onRequest', originGuard(gateway))
  own.get('/metrics', { config: { requestLogLevel: 'debug' } }, (request, reply) =>
    scrape(gateway, request, reply),
  )
  own.setNotFoundHandler((request, reply) =>
    sendNativeError(reply, new ApiError('not_found', `No route ${request.method} ${request.url}`)),
  )
  return own
}

async function scrape(gateway: GatewayContext, request: FastifyRequest, reply: FastifyReply) {
  // The scrape token lets Prometheus read metrics without holding a key that can run turns and tools; set,
  // it is required even when no API keys are.
  const { token } = gateway.config.metrics
  if (!(token && hasSecret(request, [token]))) {
    const principal =
      token && presentedKey(request) === undefined ? null : await principalOf(gateway, request)
    // Metrics count every user's work: admins and viewers only.
    if (!principal || principal.role === 'user') return sendNativeError(reply, unauthorized())
  }
  const { contentType, body } = await gateway.metrics.exposition()
  return reply.type(contentType).send(body)
}
