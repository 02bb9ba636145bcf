/**
 * Refusals about who asks: a role or a user's policy that does not allow the request (403 `forbidden`), and
 * each quota, named by its own code (429 with Retry-After). Both APIs translate them into their own shape
 * (src/api/native/errors.ts, src/api/openai/errors.ts).
 */

/** The quota codes, one per limit (src/users/quotas.ts), each answered 429. */
export const QUOTA_CODES = {
  requestsPerMinute: 'requests_per_minute_exceeded',
  concurrentTurns: 'concurrent_turns_exceeded',
  liveSessions: 'live_sessions_exceeded',
  tokensPerDay: 'tokens_per_day_exceeded',
  tokensPerMonth: 'tokens_per_month_exceeded',
  usdPerDay: 'usd_per_day_exceeded',
  usdPerMonth: 'usd_per_month_exceeded',
} as const

export type QuotaName = keyof typeof QUOTA_CODES
export type QuotaCode = (typeof QUOTA_CODES)[QuotaName]
export type AccessErrorCode = 'forbidden' | QuotaCode

export class AccessError extends Error {
  override readonly name = 'AccessError'

  constructor(
    readonly code: AccessErrorCode,
    message: string,
    /** The request field at fault (`body.permission_mode`), when one is. */
    readonly field?: string,
    /** When trying again can succeed (quotas): milliseconds. */
    readonly retryAfterMs?: number,
  ) {
    super(message)
  }
}

export const isAccessError = (error: unknown): error is AccessError => error instanceof AccessError

/** A role that may not do this at all (a viewer sending a message, a user managing keys of others). */
export const forbidden = (message: string, field?: string) => new AccessError('forbidden', message, field)

/** A quota reached: `retryAfterMs` until it frees up. */
export const quotaExceeded = (quota: QuotaName, message: string, retryAfterMs: number) =>
  new AccessError(QUOTA_CODES[quota], message, undefined, Math.max(1_000, retryAfterMs))
