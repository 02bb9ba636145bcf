import type { ErrorCode } from '../events/types.js'

/**
 * An engine failure the API layers translate into their own wire format (OpenAI error objects, the native
 * error shape). `code` is stable; `retryAfterMs` is set when trying again later can succeed.
 */
export class GatewayError extends Error {
  override readonly name = 'GatewayError'

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly retryAfterMs?: number,
    /** The request field at fault (`body.mcp_servers`), when one is: the API names it in its answer. */
    readonly field?: string,
  ) {
    super(message)
  }
}

export const isGatewayError = (error: unknown): error is GatewayError => error instanceof GatewayError
