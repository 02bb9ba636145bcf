import { randomUUID } from 'node:crypto'
import { Ajv } from 'ajv'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { nativeApi } from './api/native/index.js'
import { openaiApi } from './api/openai/index.js'
import { registerOpenApi } from './api/openapi.js'
import type { GatewayContext } from './gateway.js'
import { RequestLogController } from './observability/request-log.js'

const REQUEST_ID = /^[\w.:-]{1,128}$/

/** The HTTP application: Fastify with the gateway's API plugins, each encapsulated under its prefix. */
export async function buildServer(gateway: GatewayContext): Promise<FastifyInstance> {
  const { server } = gateway.config
  const app = Fastify({
    loggerInstance: gateway.log as FastifyBaseLogger,
    logController: new RequestLogController(),
    bodyLimit: server.bodyLimitBytes,
    keepAliveTimeout: server.keepAliveTimeoutMs,
    requestTimeout: server.requestTimeoutMs,
    // A caller's own request id is kept (so it can correlate logs), anything else gets a fresh one.
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
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
    (httpPart === 'body' ? strict : coercing).compile(schema),
  )

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })

  // Before the routes: it documents the routes registered after it (GET /api/openapi.json).
  await registerOpenApi(app)
  await app.register(openaiApi, { gateway, prefix: '/v1' })
  await app.register(nativeApi, { gateway, prefix: '/api' })
  return app
}
