/**
 * Applies numbered schema steps to a PostgreSQL schema, each recorded in a version table, so that a database
 * written by an older gateway is brought up to date and one written by a newer gateway is refused (an older
 * gateway must not write a schema it does not know). The store (migrations.ts), the transcripts
 * (../transcripts/postgres.ts) and the lease table (src/cluster/lease-schema.ts) each keep their own steps
 * and version table, so each may be present without the others.
 */
import type pg from 'pg'
import { transaction } from './pool.js'

/** One set of steps and where its progress is kept. */
export interface SchemaSteps {
  /** The steps in order, from version 1: a step is never changed once released, a change is a new step. */
  steps: readonly string[]
  /** The table recording each step applied: bare under the pool's search_path, or qualified. */
  table: string
  /** The advisory lock held while the steps run: sets that share one run one after the other. */
  lock: string
  /** How a newer database is refused: `${refused} <its version>, newer than this gateway's <ours>: …`. */
  refused: string
}

/** The advisory lock of the gateway store's schema, which the lease table's steps share. */
export const schemaLock = (schema: string): string => `claude-code-gateway ${schema}`

/** The longest wait a timer allows (about 24 days): no timeout, as node-postgres takes no 0 for one. */
const NO_TIMEOUT_MS = 2 ** 31 - 1

/**
 * Brings `schema` (created when missing) to the last of `set.steps`, in one transaction holding the set's
 * advisory lock: replicas starting at once migrate one after the other, so the first migrates and the others
 * find it done.
 */
export function applySteps(pool: pg.Pool, schema: string, set: SchemaSteps): Promise<void> {
  return transaction(pool, async (client) => {
    // A step may take longer than a statement may, and a replica waits for another's steps as long: neither
    // the server's statement timeout nor the client's wait for an answer applies here.
    const run = (text: string, values: unknown[] = []) =>
      client.query({ text, values, query_timeout: NO_TIMEOUT_MS } as pg.QueryConfig)
    await run('SET LOCAL statement_timeout = 0')
    await run('SELECT pg_advisory_xact_lock(hashtext($1))', [set.lock])
    // Created only when missing: a role allowed its tables need not be allowed to create schemas. The name is
    // checked (pool.ts): bare in SQL, it needs no quoting.
    const exists = await run('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])
    if (exists.rowCount === 0) await run(`CREATE SCHEMA ${schema}`)
    await run(
      `CREATE TABLE IF NOT EXISTS ${set.table} (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    )
    const { rows } = await run(`SELECT coalesce(max(version), 0) AS version FROM ${set.table}`)
    const current = (rows[0] as { version: number }).version
    if (current > set.steps.length)
      throw new Error(
        `${set.refused} ${current}, newer than this gateway's ${set.steps.length}: upgrade the gateway`,
      )
    for (let version = current + 1; version <= set.steps.length; version++) {
      await run(set.steps[version - 1]!)
      await run(`INSERT INTO ${set.table} (version) VALUES ($1)`, [version])
    }
  })
}
