/** Seconds for a Retry-After header: the engine's hint, else 1 s for statuses that invite a retry. */
export function retryAfterSeconds(status: number, retryAfterMs?: number): number | undefined {
  if (retryAfterMs !== undefined) return Math.max(1, Math.ceil(retryAfterMs / 1000))
  return status === 429 || status === 503 ? 1 : undefined
}
