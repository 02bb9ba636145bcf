/**
 * The native Claude Code API under /api: sessions, turns, events. Errors always come back in the one
 * native shape (`{"error": {"code", "message", "field"?}}`).
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import type { GatewayContext } from '../../gateway.js'
import { auditRequests } from '../audit.js'
import { principalOf } from '../auth.js'
import { JSON_TYPE } from '../media-types.js'
import { openapiRoutes } from '../openapi.js'
import { forwardOwnedElsewhere } from '../ownership.js'
import { agentStatsRoutes } from './agent-stats.js'
import { agentRoutes } from './agents.js'
import { auditRoutes } from './audit.js'
import { changeRoutes } from './changes.js'
import { commandRoutes } from './commands.js'
import { ApiError, toApiError, unauthorized } from './errors.js'
import { eventStreamRoutes } from './event-stream.js'
import { fileRoutes } from './files.js'
import { historyRoutes } from './history.js'
import { lifecycleRoutes } from './lifecycle.js'
import { memoryRoutes } from './memory.js'
import { metricsRoutes } from './metrics.js'
import { permissionRoutes } from './permissions.js'
import { projectRoutes } from './project.js'
import { NativeErrorSchema } from './responses.js'
import { sessionRoutes } from './sessions.js'
import { toolCallRoutes } from './tool-calls.js'
import { toolRoutes } from './tools.js'
import { TurnResultSchema } from './turn-answer.js'
import { usageRoutes } from './usage.js'
import { userRoutes } from './users.js'
import { VIEW_SCHEMAS } from './views.js'
import { visibility } from './visibility.js'
import { websocketRoutes } from './ws.js'

export const nativeApi: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  for (const schema of [NativeErrorSchema, ...VIEW_SCHEMAS, TurnResultSchema]) app.addSchema(schema)
  app.setErrorHandler((error, request, reply) => {
    const answer = (to: FastifyReply, failure: Error) => send(to, toApiError(failure))
    if (forwardOwnedElsewhere(gateway, request, reply, error, answer)) return reply
    const apiError = toApiError(error)
    if (apiError.status >= 500) request.log.error({ err: error }, 'request failed')
    return send(reply, apiError)
  })
  app.setNotFoundHandler((request, reply) =>
    send(reply, new ApiError('not_found', `No route ${request.method} ${request.url}`)),
  )
  // Before the key check: the requests that change something are recorded once answered (../audit.ts).
  auditRequests(app, gateway)
  app.addHook('onRequest', async (request, reply) => {
    const principal = await principalOf(gateway, request)
    if (!principal) return send(reply, unauthorized())
    request.principal = principal
    // Streams opened with a store key end when it is revoked (src/users/stream-watch.ts).
    gateway.users.streams.track(request, reply)
  })
  // Before the routes: it guards each as it is registered (who may see which session, and do what).
  visibility(app, gateway)
  await app.register(sessionRoutes, { gateway })
  await app.register(eventStreamRoutes, { gateway })
  await app.register(lifecycleRoutes, { gateway })
  await app.register(toolRoutes, { gateway })
  await app.register(toolCallRoutes, { gateway })
  await app.register(changeRoutes, { gateway })
  await app.register(agentStatsRoutes, { gateway })
  await app.register(permissionRoutes, { gateway })
  await app.register(agentRoutes, { gateway, builtinAgents: () => gateway.engine.builtinAgents })
  await app.register(historyRoutes, { gateway })
  await app.register(memoryRoutes, { gateway })
  await app.register(metricsRoutes, { gateway })
  await app.register(commandRoutes, { gateway })
  await app.register(fileRoutes, { gateway })
  await app.register(projectRoutes, { gateway })
  await app.register(userRoutes, { gateway })
  await app.register(usageRoutes, { gateway })
  await app.register(auditRoutes, { gateway })
  await app.register(openapiRoutes, { gateway })
  await app.register(websocketRoutes, { gateway })
}

/** Any error, in the native shape: for requests Fastify refuses before routing them (src/server.ts). */
export const sendNativeError = (reply: FastifyReply, error: unknown): FastifyReply =>
  send(reply, toApiError(error))

function send(reply: FastifyReply, error: ApiError): FastifyReply {
  if (error.retryAfter !== undefined) reply.header('retry-after', String(error.retryAfter))
  return reply.code(error.status).type(JSON_TYPE).send(error.body)
}
