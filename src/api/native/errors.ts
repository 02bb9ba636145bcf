/**
 * The native API's one error shape: `{"error": {"code", "message", "field"?}}`, with stable codes.
 * docs/api.md lists every code with its status.
 */
import type { FastifyError } from 'fastify'
import { isGatewayError } from '../../engine/errors.js'
import type { ErrorCode } from '../../events/types.js'
import { isStoreError } from '../../store/errors.js'
import type { ToolError } from '../../tools/workspace.js'
import { JsonTooDeepError } from '../json-limits.js'
import { retryAfterSeconds } from '../retry.js'
import { mainIssue, validationPath } from '../validation.js'

export interface ApiErrorBody {
  error: { code: string; message: string; field?: string }
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    /** Seconds, for Retry-After. */
    readonly retryAfter?: number,
  ) {
    super(message)
  }

  get body(): ApiErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.field ? { field: this.field } : {}) } }
  }
}

export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} does not exist`)
export const invalid = (message: string, field?: string) =>
  new ApiError(400, 'validation_error', message, field)

const STATUS: Record<ErrorCode, number> = {
  busy: 429,
  rate_limited: 429,
  session_busy: 409,
  session_paused: 409,
  unavailable: 503,
  start_failed: 503,
  shutting_down: 503,
  overloaded: 503,
  upstream_auth_failed: 401,
  interrupted: 409,
  context_length_exceeded: 422,
  turn_timeout: 504,
  tool_timeout: 504,
  not_found: 404,
  invalid_request: 400,
  process_exited: 502,
  upstream_error: 502,
  max_turns: 422,
  max_budget: 422,
  storage_full: 507,
  storage_unavailable: 503,
  internal: 500,
}

export function fromEngineError(code: ErrorCode, message: string, retryAfterMs?: number): ApiError {
  const status = STATUS[code]
  const retryAfter = retryAfterSeconds(status, retryAfterMs)
  return new ApiError(
    status,
    code === 'invalid_request' ? 'validation_error' : code,
    message,
    undefined,
    retryAfter,
  )
}

/** A direct tool's failure in the native shape, its field named in the request part it came from. */
export function fromToolError(error: ToolError, part: 'body' | 'querystring'): ApiError {
  const field = typeof error.details?.field === 'string' ? `${part}.${error.details.field}` : undefined
  return new ApiError(error.status, error.code, error.message, field)
}

/** Any error a native route can raise, in the native shape. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error
  if (isGatewayError(error) || isStoreError(error))
    return fromEngineError(error.code, error.message, error.retryAfterMs)
  if (error instanceof JsonTooDeepError) return new ApiError(400, 'json_too_deep', error.message)
  const fastify = error as FastifyError
  if (fastify.validation) {
    const issue = mainIssue(fastify.validation)
    const field = issue
      ? validationPath(issue.instancePath, issue.params, fastify.validationContext ?? 'body')
      : undefined
    return new ApiError(
      400,
      'validation_error',
      `${field ?? 'request'} ${issue?.message ?? 'is invalid'}`,
      field,
    )
  }
  switch (fastify.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'payload_too_large', 'Request body too large')
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError(400, 'invalid_json', `The body is not valid JSON: ${fastify.message}`)
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'unsupported_media_type', fastify.message)
  }
  if (fastify.statusCode && fastify.statusCode < 500)
    return new ApiError(fastify.statusCode, 'bad_request', fastify.message)
  return new ApiError(500, 'internal', 'The gateway had an internal error')
}
