/**
 * The native API's one error shape, `{"error": {"code", "message", "field"?}}`, and every code it answers
 * with, each declared once with its HTTP status (as Fastify's lib/errors.js declares its own). docs/api.md's
 * error table lists the same codes with the same statuses; test/unit/native-errors.test.ts keeps them in step.
 */
import type { FastifyError } from 'fastify'
import { CLUSTER_ERROR_STATUS, isOwnerUnreachable, type OwnerUnreachableError } from '../../cluster/errors.js'
import { isGatewayError } from '../../engine/errors.js'
import type { ErrorCode } from '../../events/types.js'
import type { Refusal } from '../../lifecycle/readiness.js'
import { isStoreError } from '../../store/errors.js'
import type { TOOL_ERROR_STATUS, ToolError } from '../../tools/confinement.js'
import { type AccessErrorCode, isAccessError } from '../../users/errors.js'
import { JsonTooDeepError } from '../json-limits.js'
import { retryAfterSeconds } from '../retry.js'
import { mainIssue, validationPath } from '../validation.js'

export const ERROR_STATUS = {
  // The request itself
  validation_error: 400,
  invalid_json: 400,
  json_too_deep: 400,
  invalid_input: 400,
  /** Any other malformed request; Fastify's own refusals keep the 4xx Fastify gives them. */
  bad_request: 400,
  request_timeout: 408,
  headers_too_large: 431,
  payload_too_large: 413,
  too_large: 413,
  unsupported_media_type: 415,
  upgrade_required: 426,
  // Who may ask, and for what
  unauthorized: 401,
  path_outside_workspace: 403,
  path_outside_scope: 403,
  permission_denied: 403,
  /** The caller's role or their user's policy does not allow it (src/users/errors.ts). */
  forbidden: 403,
  host_not_allowed: 403,
  origin_not_allowed: 403,
  not_found: 404,
  // The state of what the request names
  session_busy: 409,
  session_paused: 409,
  session_closed: 409,
  conflict: 409,
  already_exists: 409,
  ambiguous: 409,
  agent_unavailable: 409,
  /** Another replica runs the session, and the request could not be sent there (a WebSocket's command). */
  owned_elsewhere: 409,
  command_unavailable: 409,
  not_unique: 422,
  no_match: 422,
  invalid_agent_file: 422,
  // Turn outcomes, should one ever fail a request
  interrupted: 409,
  context_length_exceeded: 422,
  max_turns: 422,
  max_budget: 422,
  process_exited: 502,
  upstream_error: 502,
  turn_timeout: 504,
  tool_timeout: 504,
  // Capacity, upstream and the gateway itself
  busy: 429,
  rate_limited: 429,
  // Each of a user's quotas (src/users/quotas.ts), named by its own code
  requests_per_minute_exceeded: 429,
  concurrent_turns_exceeded: 429,
  live_sessions_exceeded: 429,
  tokens_per_day_exceeded: 429,
  tokens_per_month_exceeded: 429,
  usd_per_day_exceeded: 429,
  usd_per_month_exceeded: 429,
  upstream_auth_failed: 401,
  /** Claude Code is not logged in on the gateway's host (src/lifecycle/readiness.ts): an operator must act. */
  claude_not_authenticated: 503,
  unavailable: 503,
  start_failed: 503,
  overloaded: 503,
  shutting_down: 503,
  /** The replica owning the session could not be reached (src/cluster/errors.ts). */
  owner_unreachable: CLUSTER_ERROR_STATUS.owner_unreachable,
  /** Its workspace is on another replica's disk only (`cluster.workspaces: pinned`), which does not run it. */
  session_pinned: 503,
  storage_unavailable: 503,
  storage_full: 507,
  timeout: 504,
  internal: 500,
} as const

export type ApiErrorCode = keyof typeof ERROR_STATUS

// Compile-time proofs that the engine's codes (its `invalid_request` is answered as `validation_error`) and
// the direct tools' codes, with the tools' own statuses, are all declared above.
const engineCodes: Record<Exclude<ErrorCode, 'invalid_request'>, number> = ERROR_STATUS
const toolCodes: typeof TOOL_ERROR_STATUS = ERROR_STATUS
const accessCodes: Record<AccessErrorCode, number> = ERROR_STATUS
void engineCodes
void toolCodes
void accessCodes

/**
 * Codes that exist only inside streams, never as an HTTP status (docs/api.md, "Errors"): `slow_consumer` ends
 * the stream of a subscriber that stopped reading; `read_only` answers a message on the tool-status WebSocket.
 */
export const STREAM_ERROR_CODES = ['slow_consumer', 'read_only'] as const
export type StreamErrorCode = (typeof STREAM_ERROR_CODES)[number]

export interface ApiErrorBody {
  error: { code: string; message: string; field?: string }
}

export interface ApiErrorOptions {
  /** The request field at fault: `body.workspace`, `params.id`, ... */
  field?: string | undefined
  /** Seconds, for Retry-After. */
  retryAfter?: number | undefined
  /** Only for a `bad_request` Fastify refused with a 4xx of its own; every other code has its declared one. */
  status?: number | undefined
}

export class ApiError extends Error {
  readonly status: number
  readonly field: string | undefined
  readonly retryAfter: number | undefined

  constructor(
    readonly code: ApiErrorCode,
    message: string,
    options: ApiErrorOptions = {},
  ) {
    super(message)
    this.status = options.status ?? ERROR_STATUS[code]
    this.field = options.field
    this.retryAfter = options.retryAfter
  }

  get body(): ApiErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.field ? { field: this.field } : {}) } }
  }
}

export const notFound = (what: string, field?: string) =>
  new ApiError('not_found', `${what} does not exist`, { field })
/** A request without one of the configured API keys (or, on /metrics, the scrape token). */
export const unauthorized = () =>
  new ApiError('unauthorized', 'A valid API key is required (Authorization: Bearer KEY)')
export const invalid = (message: string, field?: string) =>
  new ApiError('validation_error', message, { field })

export function fromEngineError(
  code: ErrorCode,
  message: string,
  retryAfterMs?: number,
  field?: string,
): ApiError {
  const apiCode = code === 'invalid_request' ? 'validation_error' : code
  const retryAfter = retryAfterSeconds(ERROR_STATUS[apiCode], retryAfterMs)
  return new ApiError(apiCode, message, { retryAfter, field })
}

/** Why a turn may not start now (draining, not logged in), in the native shape: src/api/admission.ts. */
export function fromRefusal(refusal: Refusal): ApiError {
  return refusal.code === 'shutting_down'
    ? fromEngineError('shutting_down', refusal.message, refusal.retryAfterMs)
    : new ApiError('claude_not_authenticated', refusal.message)
}

/** A direct tool's failure in the native shape, its field named in the request part it came from. */
export function fromToolError(error: ToolError, part: 'body' | 'querystring'): ApiError {
  const field = typeof error.details?.field === 'string' ? `${part}.${error.details.field}` : undefined
  return new ApiError(error.code, error.message, { field })
}

/**
 * The session's owner could not be reached. Worth trying again (Retry-After) unless the owner may have
 * acted on the request: a message sent twice would run twice.
 */
export const fromOwnerUnreachable = (error: OwnerUnreachableError): ApiError =>
  new ApiError('owner_unreachable', error.message, {
    retryAfter: error.mayHaveArrived ? undefined : retryAfterSeconds(ERROR_STATUS.owner_unreachable),
  })

/** Any error a native route can raise, in the native shape. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error
  if (isOwnerUnreachable(error)) return fromOwnerUnreachable(error)
  if (isGatewayError(error))
    return fromEngineError(error.code, error.message, error.retryAfterMs, error.field)
  if (isStoreError(error)) return fromEngineError(error.code, error.message, error.retryAfterMs)
  if (isAccessError(error))
    return new ApiError(error.code, error.message, {
      field: error.field,
      retryAfter: retryAfterSeconds(ERROR_STATUS[error.code], error.retryAfterMs),
    })
  if (error instanceof JsonTooDeepError) return new ApiError('json_too_deep', error.message)
  const fastify = error as FastifyError
  if (fastify.validation) {
    const issue = mainIssue(fastify.validation)
    const field = issue
      ? validationPath(issue.instancePath, issue.params, fastify.validationContext ?? 'body')
      : undefined
    return invalid(`${field ?? 'request'} ${issue?.message ?? 'is invalid'}`, field)
  }
  switch (fastify.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('payload_too_large', 'Request body too large')
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('invalid_json', `The body is not valid JSON: ${fastify.message}`)
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('unsupported_media_type', fastify.message)
  }
  if (fastify.statusCode && fastify.statusCode < 500)
    return new ApiError('bad_request', fastify.message, { status: fastify.statusCode })
  return new ApiError('internal', 'The gateway had an internal error')
}
