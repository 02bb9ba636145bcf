import { CLUSTER_ERROR_STATUS, type OwnerUnreachableError } from '../../cluster/errors.js'
import type { ErrorCode } from '../../events/types.js'
import type { Refusal } from '../../lifecycle/readiness.js'
import type { AccessError } from '../../users/errors.js'
import { retryAfterSeconds } from '../retry.js'

/** OpenAI's error body: `{"error": {"message", "type", "param", "code"}}`. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null }
}

/** An error answered in OpenAI's format, with OpenAI's status code. */
export class OpenAIError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    /** Seconds, for the Retry-After header. */
    readonly retryAfter?: number,
  ) {
    super(message)
  }

  get body(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } }
  }
}

export const invalidRequest = (message: string, param: string | null = null, code: string | null = null) =>
  new OpenAIError(400, message, 'invalid_request_error', param, code)

/**
 * Why a turn may not start now (src/api/admission.ts). Not logged in is a 503 `claude_not_authenticated`
 * (not a 401, which would blame the caller's key) that a router such as LiteLLM takes as "try another".
 */
export function fromRefusal(refusal: Refusal): OpenAIError {
  return refusal.code === 'shutting_down'
    ? fromEngineError('shutting_down', refusal.message, refusal.retryAfterMs)
    : new OpenAIError(503, refusal.message, 'server_error', null, 'claude_not_authenticated')
}

interface Mapping {
  status: number
  type: string
  code: string | null
}

const MAPPINGS: Record<ErrorCode, Mapping> = {
  busy: { status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded' },
  rate_limited: { status: 429, type: 'rate_limit_error', code: 'rate_limit_exceeded' },
  session_busy: { status: 409, type: 'invalid_request_error', code: 'conversation_busy' },
  session_paused: { status: 409, type: 'invalid_request_error', code: 'conversation_paused' },
  unavailable: { status: 503, type: 'server_error', code: 'service_unavailable' },
  start_failed: { status: 503, type: 'server_error', code: 'service_unavailable' },
  shutting_down: { status: 503, type: 'server_error', code: 'service_unavailable' },
  owned_elsewhere: { status: 409, type: 'invalid_request_error', code: 'conversation_elsewhere' },
  session_pinned: { status: 503, type: 'server_error', code: 'session_pinned' },
  overloaded: { status: 503, type: 'server_error', code: 'overloaded' },
  upstream_auth_failed: { status: 401, type: 'authentication_error', code: 'upstream_auth_failed' },
  interrupted: { status: 503, type: 'server_error', code: 'interrupted' },
  context_length_exceeded: { status: 400, type: 'invalid_request_error', code: 'context_length_exceeded' },
  turn_timeout: { status: 504, type: 'server_error', code: 'timeout' },
  tool_timeout: { status: 504, type: 'server_error', code: 'tool_call_timeout' },
  not_found: { status: 404, type: 'invalid_request_error', code: 'not_found' },
  invalid_request: { status: 400, type: 'invalid_request_error', code: null },
  process_exited: { status: 502, type: 'server_error', code: 'upstream_process_exited' },
  upstream_error: { status: 502, type: 'server_error', code: 'upstream_error' },
  max_turns: { status: 500, type: 'server_error', code: 'max_turns' },
  max_budget: { status: 500, type: 'server_error', code: 'max_budget' },
  storage_full: { status: 507, type: 'server_error', code: 'storage_full' },
  storage_unavailable: { status: 503, type: 'server_error', code: 'storage_unavailable' },
  internal: { status: 500, type: 'server_error', code: null },
}

/**
 * The replica owning the conversation could not be reached: worth trying again (Retry-After) unless it may
 * have acted on the request already.
 */
export function fromOwnerUnreachable(error: OwnerUnreachableError): OpenAIError {
  const status = CLUSTER_ERROR_STATUS.owner_unreachable
  const retryAfter = error.mayHaveArrived ? undefined : retryAfterSeconds(status)
  return new OpenAIError(status, error.message, 'server_error', null, 'owner_unreachable', retryAfter)
}

/** An engine failure as OpenAI would report it; context-length errors get OpenAI's wording (LiteLLM reads it). */
export function fromEngineError(
  code: ErrorCode,
  message: string,
  retryAfterMs?: number,
  param: string | null = null,
): OpenAIError {
  const { status, type, code: openAICode } = MAPPINGS[code]
  const text = code === 'context_length_exceeded' ? contextLengthMessage(message) : message
  return new OpenAIError(status, text, type, param, openAICode, retryAfterSeconds(status, retryAfterMs))
}

function contextLengthMessage(message: string): string {
  const numbers = /~?([\d,]+) tokens[^\d]*(?:limit|>|maximum)[^\d]*([\d,]+)/i.exec(message)
  const parse = (value: string | undefined) => (value ? Number(value.replaceAll(',', '')) : undefined)
  const used = parse(numbers?.[1])
  const limit = parse(numbers?.[2])
  if (used !== undefined && limit !== undefined) {
    return `This model's maximum context length is ${limit} tokens. However, your messages resulted in ${used} tokens. Please reduce the length of the messages.`
  }
  return `This model's maximum context length is exceeded by your messages. Please reduce the length of the messages. (${message})`
}

/**
 * A refusal about who asks, as OpenAI words its own: 403 `permission_error`; a rate limit (requests per
 * minute, concurrent turns, live sessions) 429 `rate_limit_error`; a spending limit (tokens, USD) 429
 * `insufficient_quota`. The code names the limit either way.
 */
export function fromAccessError(error: AccessError): OpenAIError {
  if (error.code === 'forbidden')
    return new OpenAIError(403, error.message, 'permission_error', error.field ?? null, 'forbidden')
  const spending = /^(tokens|usd)_/.test(error.code)
  return new OpenAIError(
    429,
    error.message,
    spending ? 'insufficient_quota' : 'rate_limit_error',
    null,
    error.code,
    retryAfterSeconds(429, error.retryAfterMs),
  )
}
