import { Ajv, type ValidateFunction } from 'ajv'
import Fastify, { type FastifyInstance, type FastifySchemaCompiler } from 'fastify'
import { nativeApi, sendNativeError } from './api/native/index.js'
import { openaiApi, sendError, toOpenAIError } from './api/openai/index.js'
import { registerOpenApi } from './api/openapi.js'
import type { GatewayContext } from './gateway.js'
import { recordRoute, requestLogging } from './observability/request-log.js'

/** The HTTP application: Fastify with the gateway's API plugins, each encapsulated under its prefix. */
export async function buildServer(gateway: GatewayContext): Promise<FastifyInstance> {
  const { server } = gateway.config
  const app = Fastify({
    ...requestLogging(gateway.log),
    bodyLimit: server.bodyLimitBytes,
    keepAliveTimeout: server.keepAliveTimeoutMs,
    requestTimeout: server.requestTimeoutMs,
    // A URL Fastify cannot decode (`/v1/models/%zz`) is refused before routing: in the API's own error shape.
    frameworkErrors: (error, request, reply) => {
      reply.header('x-request-id', request.id)
      if (request.url.startsWith('/v1/')) sendError(reply, toOpenAIError(error))
      else sendNativeError(reply, error)
    },
  })

  // Bodies are JSON: their types are as sent ("16" is not a number; OpenAI refuses it too). Query strings
  // and path parameters are text, so they are converted to the schema's types.
  const strict = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false })
  const coercing = new Ajv({
    coerceTypes: 'array',
    useDefaults: true,
    removeAdditional: false,
    allErrors: false,
  })
  app.setValidatorCompiler(({ schema, httpPart }) =>
    compileOnFirstUse(httpPart === 'body' ? strict : coercing, schema),
  )

  // A callback, not an async function: every request runs it, and a promise per request is measurable.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    recordRoute(request)
    done()
  })

  // Before the routes: it documents the routes registered after it (GET /api/openapi.json).
  await registerOpenApi(app)
  await app.register(openaiApi, { gateway, prefix: '/v1' })
  await app.register(nativeApi, { gateway, prefix: '/api' })
  return app
}

/**
 * Fastify asks for every route's validators when the server starts; compiling them all then was most of
 * its start-up (about 90 schemas). Each is compiled by the first request that needs it instead.
 */
function compileOnFirstUse(ajv: Ajv, schema: object): ReturnType<FastifySchemaCompiler<unknown>> {
  let validate: ValidateFunction | undefined
  return (data: unknown) => {
    validate ??= ajv.compile(schema)
    // Returned rather than left on `validate.errors`, which this wrapper does not carry.
    return validate(data) ? true : { error: validate.errors ?? [] }
  }
}
