/**
 * The connections of a PostgreSQL store: a pool whose every connection uses the store's schema
 * (`search_path`), names the gateway (`application_name`), and gives up on a statement after the timeout.
 */
import pg from 'pg'

export interface PoolOptions {
  /** The schema holding the tables: lower-case letters, digits and `_` (as `store.schema` allows). */
  schema: string
  /** Connections at most. */
  size: number
  /** How the gateway's connections are named in pg_stat_activity. */
  applicationName: string
  /** The longest a statement may run, waiting for a lock included, before it fails. */
  statementTimeoutMs: number
  /** The longest a connection may take to open. */
  connectTimeoutMs: number
}

/** A schema name used bare in SQL and in the connection's options: only these, so nothing needs quoting. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/

/** Time the client waits for an answer past the server's statement timeout: the server is gone by then. */
const ANSWER_GRACE_MS = 5_000

const INT8 = 20

/**
 * Numbers as JavaScript numbers: bigint columns (positions, times in ms, counts) come back as strings
 * otherwise. Every value the store keeps in them is below 2^53.
 */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8 && format !== 'binary'
      ? (text: string) => Number(text)
      : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
}

export function createPool(url: string, options: PoolOptions): pg.Pool {
  if (!SCHEMA_NAME.test(options.schema))
    throw new Error(
      `store.schema "${options.schema}" is not a plain schema name (lower-case letters, digits and _)`,
    )
  return new pg.Pool({
    connectionString: url,
    max: options.size,
    application_name: options.applicationName,
    statement_timeout: options.statementTimeoutMs,
    query_timeout: options.statementTimeoutMs + ANSWER_GRACE_MS,
    connectionTimeoutMillis: options.connectTimeoutMs,
    keepAlive: true,
    // Every statement names its tables bare: they are the schema's.
    options: `-c search_path=${options.schema}`,
    types,
  })
}

/** The server and database a URL names, without its credentials: what messages may show. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url)
    return `postgres://${parsed.host}${parsed.pathname}`
  } catch {
    return 'postgres://(unparsable URL)'
  }
}

/**
 * Runs `work` in a transaction on one of the pool's connections. A connection that failed (the transaction
 * or the connection itself) is not handed out again.
 */
export async function transaction(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<void>,
): Promise<void> {
  const client = await pool.connect()
  let failure: unknown
  // A connection lost between statements is told to the statement after, not thrown at the process.
  const lost = (error: Error) => {
    failure = error
  }
  client.on('error', lost)
  try {
    await client.query('BEGIN')
    await work(client)
    await client.query('COMMIT')
  } catch (error) {
    failure = error
    await client.query('ROLLBACK').catch(() => {})
    throw error
  } finally {
    client.off('error', lost)
    client.release(failure instanceof Error ? failure : undefined)
  }
}

/** A pool, or one of its connections: what a statement runs on. */
export type Queryable = pg.Pool | pg.PoolClient
