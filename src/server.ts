import { Ajv, type AnySchema, type ValidateFunction } from 'ajv'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifySchemaCompiler,
} from 'fastify'
import { adminUi } from './api/admin.js'
import { admission } from './api/admission.js'
import { answerClientError } from './api/client-errors.js'
import { healthProbes } from './api/health.js'
import { limitedJsonBodyParser } from './api/json-limits.js'
import { registerMetrics } from './api/metrics.js'
import { nativeApi, sendNativeError } from './api/native/index.js'
import { openaiApi, sendError, toOpenAIError } from './api/openai/index.js'
import { registerOpenApi } from './api/openapi.js'
import { originGuard } from './api/origin.js'
import { ownedRoutes } from './api/ownership.js'
import type { GatewayContext } from './gateway.js'
import { logWhenClosed, requestLogging } from './observability/request-log.js'
import type { Principal } from './users/principal.js'

/** The HTTP application: Fastify with the gateway's API plugins, each encapsulated under its prefix. */
export async function buildServer(gateway: GatewayContext): Promise<FastifyInstance> {
  const { server } = gateway.config
  const logging = requestLogging()
  const validator = requestValidator()
  const app = Fastify({
    // For every plugin: set with app.setValidatorCompiler instead, it is lost in a plugin that adds shared
    // schemas (app.addSchema), which Fastify gives its default Ajv (that one strips unknown properties).
    // Typed for Ajv's own validate functions, Fastify takes any schema compiler here as it does there.
    schemaController: { compilersFactory: { buildValidator: () => validator as never } },
    // As Fastify's base logger type, which the plugins and routes are typed with.
    loggerInstance: gateway.log as FastifyBaseLogger,
    ...logging,
    bodyLimit: server.bodyLimitBytes,
    keepAliveTimeout: server.keepAliveTimeoutMs,
    requestTimeout: server.requestTimeoutMs,
    // A URL Fastify cannot decode (`/v1/models/%zz`) is refused before routing: in the API's own error shape.
    frameworkErrors: (error, request, reply) => {
      reply.header('x-request-id', request.id)
      // No hook runs for these: the request line is arranged here.
      logWhenClosed(request, reply)
      if (request.url.startsWith('/v1/')) sendError(reply, toOpenAIError(error))
      else sendNativeError(reply, error)
      // No hook runs for these: a WebSocket upgrade refused here is released now (see releaseRefusedUpgrade).
      releaseRefusedUpgrade(request, reply)
    },
    // A request Node's HTTP parser refuses (a CR or LF inside a header value, a control byte in a header,
    // headers too large) never reaches Fastify: it is answered on the socket, in the API's own error shape.
    clientErrorHandler: (error, socket) => answerClientError(error, socket, logging, gateway.log),
  })

  // Every JSON body is checked for nesting depth before it is parsed (src/api/json-limits.ts).
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string' },
    limitedJsonBodyParser(app, () => gateway.config.server.maxJsonDepth),
  )

  // What the routes note for the request's line (src/observability/request-log.ts): declared up front, so
  // every request object has the same shape.
  app.decorateRequest('ccgw', null)
  app.decorateRequest('principal', null as unknown as Principal)
  // A callback, not an async function: every request runs it, and a promise per request is measurable.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    logWhenClosed(request, reply)
    done()
  })
  // Before any route or key check: DNS rebinding and cross-site pages are refused (src/api/origin.ts).
  app.addHook('onRequest', originGuard(gateway))
  // A successful upgrade is hijacked and never gets here.
  app.addHook('onResponse', (request, reply, done) => {
    releaseRefusedUpgrade(request, reply)
    done()
  })

  // Before every route and the OpenAPI plugin: its hooks see every route, and /metrics is not documented.
  await registerMetrics(app, gateway)
  // The admin UI's pages are not API routes: registered before the OpenAPI document starts collecting.
  await app.register(adminUi, { enabled: gateway.config.admin.enabled, prefix: '/admin' })
  // Probes, not API routes (GET /livez, GET /readyz): undocumented like /metrics, open like /v1/health.
  await healthProbes(app, gateway)
  // Before the APIs: it guards their turn routes as they are registered (src/api/admission.ts).
  admission(app, gateway)
  // Before the APIs too: with replicas, their session routes are answered by the session's owner.
  await ownedRoutes(app, gateway)
  // Before the routes: it documents the routes registered after it (GET /api/openapi.json).
  await registerOpenApi(app)
  await app.register(openaiApi, { gateway, prefix: '/v1' })
  await app.register(nativeApi, { gateway, prefix: '/api' })
  return app
}

/**
 * Bodies are JSON: their types are as sent ("16" is not a number; OpenAI refuses it too). Query strings
 * and path parameters are text, so they are converted to the schema's types. Compiled as Fastify asks, when
 * the routes are ready: a schema Ajv refuses stops the start, not a request.
 */
function requestValidator(): FastifySchemaCompiler<AnySchema> {
  const strict = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false })
  const coercing = new Ajv({
    coerceTypes: 'array',
    useDefaults: true,
    removeAdditional: false,
    allErrors: false,
  })
  return ({ schema, httpPart }) =>
    httpPart === 'body' ? strict.compile(schema) : finiteOnly(coercing.compile(schema))
}

/**
 * Ajv's coercion turns the text `1e400` or `Infinity` into a number that is not finite after its type check,
 * and its `minimum`/`maximum` keywords let non-finite numbers through: `?limit=1e400` would reach SQLite as
 * Infinity. A query string, path or header value that coerces to one is refused here, naming it. (JSON bodies
 * are checked by Ajv itself: its integer and number types require finite numbers.)
 */
function finiteOnly(validate: ValidateFunction): ReturnType<FastifySchemaCompiler<unknown>> {
  return (data: unknown) => {
    // Returned rather than left on `validate.errors`, which this wrapper does not carry.
    if (!validate(data)) return { error: validate.errors ?? [] }
    if (typeof data !== 'object' || data === null) return true
    // Coerced parts are flat: names with a value, or a list of values for a repeated name.
    for (const name in data) {
      const value = (data as Record<string, unknown>)[name]
      if (isNonFinite(value) || (Array.isArray(value) && value.some(isNonFinite))) {
        return {
          error: [
            {
              keyword: 'type',
              instancePath: `/${name}`,
              schemaPath: '#/type',
              params: { type: 'number' },
              message: 'must be a finite number',
            },
          ],
        }
      }
    }
    return true
  }
}

const isNonFinite = (value: unknown) => typeof value === 'number' && !Number.isFinite(value)

/**
 * A WebSocket upgrade answered with an HTTP error (a refused Host, Origin or key, a URL that cannot be
 * decoded) is on a socket Node no longer manages, and @fastify/websocket closes it only if its own hooks ran
 * before the refusal: left open (half-closed once the client leaves), it would hold a descriptor and keep
 * the server from closing. It is destroyed once the answer is written.
 */
function releaseRefusedUpgrade(request: FastifyRequest, reply: FastifyReply): void {
  // Node marks the requests it hands to 'upgrade' listeners (a field @types/node does not declare).
  if ((request.raw as { upgrade?: boolean }).upgrade !== true) return
  const release = () => request.raw.socket.destroy()
  if (reply.raw.writableFinished) release()
  else reply.raw.once('finish', release)
}
