/**
 * The OpenAI-compatible API under /v1: what LiteLLM and every OpenAI SDK talk to. Errors always come back
 * in OpenAI's shape with OpenAI's status codes.
 */
import type { FastifyError, FastifyPluginAsync, FastifyReply } from 'fastify'
import { isOwnerUnreachable } from '../../cluster/errors.js'
import { isGatewayError } from '../../engine/errors.js'
import type { GatewayContext } from '../../gateway.js'
import { isStoreError } from '../../store/errors.js'
import { isAccessError } from '../../users/errors.js'
import { auditRequests } from '../audit.js'
import { principalOf } from '../auth.js'
import { JsonTooDeepError } from '../json-limits.js'
import { JSON_TYPE } from '../media-types.js'
import { visibility } from '../native/visibility.js'
import { forwardOwnedElsewhere } from '../ownership.js'
import { validationPath } from '../validation.js'
import { chatRoutes } from './chat.js'
import { fromAccessError, fromEngineError, fromOwnerUnreachable, OpenAIError } from './errors.js'
import { healthRoutes } from './health.js'
import { ModelCatalogue, modelRoutes } from './models.js'
import { OpenAIErrorSchema } from './responses.js'

export const openaiApi: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  const catalogue = new ModelCatalogue(gateway)

  app.addSchema(OpenAIErrorSchema)
  app.setErrorHandler((error, request, reply) => {
    const answer = (to: FastifyReply, failure: Error) => sendError(to, toOpenAIError(failure))
    if (forwardOwnedElsewhere(gateway, request, reply, error, answer)) return reply
    const openAIError = toOpenAIError(error as FastifyError)
    // The original error, stack included: what the answer's generic message leaves out.
    if (openAIError.status >= 500) request.log.error({ err: error }, 'request failed')
    return sendError(reply, openAIError)
  })
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      new OpenAIError(
        404,
        `Unknown request URL: ${request.method} ${request.url}`,
        'invalid_request_error',
        null,
        'unknown_url',
      ),
    ),
  )

  // Health stays open: load balancers and liveness probes carry no key.
  await app.register(healthRoutes, { gateway })
  await app.register(async (authenticated) => {
    // Before the key check: the requests that change something are recorded once answered.
    auditRequests(authenticated, gateway)
    authenticated.addHook('onRequest', async (request, reply) => {
      const principal = await principalOf(gateway, request)
      if (principal) {
        request.principal = principal
        // A streamed completion opened with a store key ends when it is revoked (src/users/stream-watch.ts).
        gateway.users.streams.track(request, reply)
        return
      }
      const message =
        request.headers.authorization || request.headers['x-api-key']
          ? 'Incorrect API key provided.'
          : "You didn't provide an API key. Provide it as 'Authorization: Bearer YOUR_KEY'."
      return sendError(reply, new OpenAIError(401, message, 'invalid_request_error', null, 'invalid_api_key'))
    })
    // Before the routes: a viewer's requests that change something are refused (src/api/native/visibility.ts).
    visibility(authenticated, gateway)
    await authenticated.register(modelRoutes, { catalogue })
    await authenticated.register(chatRoutes, { gateway, catalogue })
  })
}

export function sendError(reply: FastifyReply, error: OpenAIError): FastifyReply {
  if (error.retryAfter !== undefined) reply.header('retry-after', String(error.retryAfter))
  return reply.code(error.status).type(JSON_TYPE).send(error.body)
}

/** Any error a /v1 route can raise, in OpenAI's terms. */
export function toOpenAIError(error: unknown): OpenAIError {
  if (error instanceof OpenAIError) return error
  if (isOwnerUnreachable(error)) return fromOwnerUnreachable(error)
  if (isGatewayError(error))
    return fromEngineError(
      error.code,
      error.message,
      error.retryAfterMs,
      error.field?.replace(/^body\./, '') ?? null,
    )
  if (isStoreError(error)) return fromEngineError(error.code, error.message, error.retryAfterMs)
  if (isAccessError(error)) return fromAccessError(error)
  if (error instanceof JsonTooDeepError)
    return new OpenAIError(400, `${error.message}.`, 'invalid_request_error', null, 'json_too_deep')
  const fastify = error as FastifyError
  if (fastify.validation) {
    const issue = fastify.validation[0]
    const param = issue ? validationPath(issue.instancePath, issue.params) : null
    return new OpenAIError(
      400,
      `Invalid request: ${param ?? 'body'} ${issue?.message ?? 'is invalid'}`,
      'invalid_request_error',
      param,
      'invalid_value',
    )
  }
  switch (fastify.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new OpenAIError(
        413,
        'Request body too large.',
        'invalid_request_error',
        null,
        'request_too_large',
      )
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new OpenAIError(
        400,
        `We could not parse the JSON body of your request. (${fastify.message})`,
        'invalid_request_error',
        null,
        'invalid_json',
      )
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new OpenAIError(
        415,
        'Content-Type must be application/json.',
        'invalid_request_error',
        null,
        'unsupported_media_type',
      )
  }
  if (fastify.statusCode && fastify.statusCode < 500) {
    return new OpenAIError(fastify.statusCode, fastify.message, 'invalid_request_error')
  }
  return new OpenAIError(500, 'The gateway had an internal error.', 'server_error')
}
