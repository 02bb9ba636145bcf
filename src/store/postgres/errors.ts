/**
 * Which PostgreSQL failures are failures of the storage (StoreError, ../errors.ts) rather than of the data
 * given: the server cannot be reached or went away, refuses writes, ran out of space or resources, or did
 * not answer in time. Anything else (a constraint, a value the column refuses) is the caller's.
 */
import { STORE_RETRY_AFTER_MS, StoreError } from '../errors.js'

/** SQLSTATE classes that are all the storage's: connection exception, insufficient resources, system error. */
const UNAVAILABLE_CLASSES = ['08', '53', '58']

/** Single SQLSTATEs that are the storage's (the rest of their class is about the statement). */
const UNAVAILABLE_STATES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down, in recovery)
  '57P05', // idle_session_timeout
  '57014', // query_canceled: statement_timeout
  '55P03', // lock_not_available: lock_timeout
  '25006', // read_only_sql_transaction: a standby, or default_transaction_read_only
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  'XX001', // data_corrupted
  'XX002', // index_corrupted
  '3D000', // invalid_catalog_name: the database is gone
  '28000', // invalid_authorization_specification
  '28P01', // invalid_password
])

/** Node's errors of a socket that cannot connect or was cut. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
])

/**
 * node-postgres's own failures, which carry no code: a connection that timed out, ended or broke, a query
 * the server did not answer within query_timeout, a pool that was ended.
 */
const DRIVER_MESSAGES = [
  /timeout exceeded when trying to connect/i,
  /Connection terminated/i,
  /Query read timeout/i,
  /not queryable/i,
  /Cannot use a pool after calling end/i,
]

/** The StoreError a PostgreSQL failure means, or undefined for an error about the statement or its data. */
export function storeErrorOf(error: unknown, where: string): StoreError | undefined {
  if (!(error instanceof Error)) return undefined
  const code = String((error as { code?: unknown }).code ?? '')
  const message = `${error.message}${causeOf(error)}`
  if (code === '53100')
    return new StoreError(
      'storage_full',
      `The gateway's database ${where} is full (no space left on its disk): ${message}`,
      STORE_RETRY_AFTER_MS,
      { cause: error },
    )
  const unavailable =
    UNAVAILABLE_STATES.has(code) ||
    (code.length === 5 && UNAVAILABLE_CLASSES.includes(code.slice(0, 2))) ||
    SOCKET_CODES.has(code) ||
    (code === '' && DRIVER_MESSAGES.some((pattern) => pattern.test(error.message)))
  if (!unavailable) return undefined
  return new StoreError(
    'storage_unavailable',
    `The gateway's database ${where} is unavailable${code ? ` (${code})` : ''}: ${message}`,
    STORE_RETRY_AFTER_MS,
    { cause: error },
  )
}

/** The cause node-postgres wraps a connection failure around (an AggregateError of each address tried). */
function causeOf(error: Error): string {
  const { cause } = error as { cause?: unknown }
  return cause instanceof Error && cause.message && cause.message !== error.message
    ? ` (${cause.message})`
    : ''
}
