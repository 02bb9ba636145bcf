/**
 * Failures of the storage itself, as opposed to failures of the data given to it. A store throws StoreError
 * when it cannot keep or read anything right now (disk full, read-only, corrupt, I/O error, locked): the
 * request that needed it fails with 507 or 503, the event bus keeps its events for a later attempt, and
 * `/v1/health` reports it until a write succeeds again. Any other error is about one datum.
 */

/** `storage_full`: no space left (507); `storage_unavailable`: read-only, corrupt, I/O error, locked (503). */
export type StoreErrorCode = 'storage_full' | 'storage_unavailable'

/** The store's state as `/v1/health` shows it. */
export type StoreHealth =
  | { ok: true }
  | {
      ok: false
      error: StoreErrorCode
      message: string
      /** When the storage started failing (ms since the epoch): the first failure since the last success. */
      since: number
    }

export class StoreError extends Error {
  override readonly name = 'StoreError'

  constructor(
    readonly code: StoreErrorCode,
    message: string,
    /** How long a client should wait before trying again, in ms (for Retry-After). */
    readonly retryAfterMs: number,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

export const isStoreError = (error: unknown): error is StoreError => error instanceof StoreError

/** How long a client is told to wait before trying again: space or the disk may come back any time. */
export const STORE_RETRY_AFTER_MS = 5_000

/**
 * SQLite's result codes that mean the storage, not the statement, failed; their extended codes
 * (`SQLITE_IOERR_WRITE`, `SQLITE_READONLY_DBMOVED`, ...) count with their primary one.
 */
const UNAVAILABLE = [
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_READONLY',
  'SQLITE_IOERR',
  'SQLITE_CORRUPT',
  'SQLITE_NOTADB',
  'SQLITE_CANTOPEN',
  'SQLITE_PERM',
  'SQLITE_PROTOCOL',
  'SQLITE_NOMEM',
  'SQLITE_NOLFS',
]

/**
 * The StoreError an SQLite failure means, or undefined for an error about the statement or its data
 * (a constraint, a value SQLite cannot take, malformed JSON in one row, ...).
 */
export function storeErrorOf(error: unknown, file: string): StoreError | undefined {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code !== 'string') return undefined
  const message = (error as Error).message
  if (code === 'SQLITE_FULL')
    return new StoreError(
      'storage_full',
      `The gateway's database ${file} is full (no space left on its disk, or store.maxSizeBytes reached): ${message}`,
      STORE_RETRY_AFTER_MS,
      { cause: error },
    )
  if (UNAVAILABLE.some((primary) => code === primary || code.startsWith(`${primary}_`)))
    return new StoreError(
      'storage_unavailable',
      `The gateway's database ${file} is unavailable (${code}): ${message}`,
      STORE_RETRY_AFTER_MS,
      { cause: error },
    )
  return undefined
}
