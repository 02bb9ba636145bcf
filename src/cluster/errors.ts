/**
 * What goes wrong between replicas, as the routes see it. The APIs' error handlers give these codes their
 * shape; the statuses are declared here once.
 */

export const CLUSTER_ERROR_STATUS = {
  /** The session's owner could not answer: it is gone, unreachable, or the request would loop. */
  owner_unreachable: 503,
} as const

export type ClusterErrorCode = keyof typeof CLUSTER_ERROR_STATUS

/**
 * Why a forwarded request got no answer from the owner:
 * - `loop`: the request had been forwarded once already (the replicas disagree about the owner for a moment);
 * - `refused`: nothing accepts connections at the owner's address (its process is gone);
 * - `timeout`: no connection, or no answer, within the configured time;
 * - `failed`: the connection broke after the request was sent.
 */
export type UnreachableReason = 'loop' | 'refused' | 'timeout' | 'failed'

export class OwnerUnreachableError extends Error {
  override readonly name = 'OwnerUnreachableError'
  readonly code = 'owner_unreachable' satisfies ClusterErrorCode
  /** Read by Fastify's default error handler. */
  readonly statusCode = CLUSTER_ERROR_STATUS.owner_unreachable

  constructor(
    /** The owner's address the request was (to be) forwarded to. */
    readonly address: string,
    readonly reason: UnreachableReason,
    /**
     * false: the owner never received the request, so it can be sent again, or served here once the
     * session is taken over; true: it may have acted on it (a turn may have started), so it must not be
     * replayed.
     */
    readonly mayHaveArrived: boolean,
    options?: { cause?: unknown },
  ) {
    super(messageFor(reason, address), options)
  }
}

export const isOwnerUnreachable = (error: unknown): error is OwnerUnreachableError =>
  error instanceof OwnerUnreachableError

/** Connecting failed: nothing at the address, or no such address any more (a pod gone with its name). */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'])
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

/**
 * The error for a request to `address` that failed with `cause` (a socket's or undici's error). `connected`:
 * whether a connection was made, when the caller knows; else judged from the cause (only a refused or
 * timed-out connection proves the request never left).
 */
export function unreachableOwner(
  address: string,
  cause: unknown,
  connected?: boolean,
): OwnerUnreachableError {
  const code = (cause as { code?: unknown } | null)?.code
  const reason: UnreachableReason =
    typeof code === 'string' && NOT_CONNECTED.has(code)
      ? 'refused'
      : typeof code === 'string' && TIMEOUTS.has(code)
        ? 'timeout'
        : 'failed'
  const mayHaveArrived = connected ?? (reason !== 'refused' && code !== 'UND_ERR_CONNECT_TIMEOUT')
  return new OwnerUnreachableError(address, reason, mayHaveArrived, { cause })
}

function messageFor(reason: UnreachableReason, address: string): string {
  switch (reason) {
    case 'loop':
      return 'The replica owning this session sent the request back; try again in a moment'
    case 'refused':
      return `The replica owning this session (${address}) is not running; try again once its lease expires`
    case 'timeout':
      return `The replica owning this session (${address}) did not answer in time`
    case 'failed':
      return `The connection to the replica owning this session (${address}) broke during the request`
  }
}
