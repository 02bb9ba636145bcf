/**
 * The lease table in PostgreSQL, as numbered steps applied at start (as the store's own are, in
 * src/store/postgres/migrations.ts), with a version table of its own: the lease book and the store open in
 * either order, and a store without replicas never has the table.
 */
import type pg from 'pg'
import { applySteps, schemaLock } from '../store/postgres/migrator.js'

/** A step is never changed once released: a change is a new step. Tables are named bare (search_path). */
const MIGRATIONS: readonly string[] = [
  // 1: one row per session that ever had an owner. Released and expired leases stay (released, or past
  // `expires_at`) so that `epoch`, the holder's fencing token, only ever grows.
  `
  CREATE TABLE session_leases (
    session_id text PRIMARY KEY,
    replica_id text NOT NULL,
    -- the holder's process: a replica restarted under the same name is another incarnation
    incarnation text NOT NULL,
    -- where the other replicas forward the session's requests
    address text NOT NULL,
    epoch bigint NOT NULL,
    acquired_at timestamptz NOT NULL,
    renewed_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    released boolean NOT NULL DEFAULT false,
    -- the replica whose unreleased lease this holding took over (it had expired): its running turn is lost
    taken_from text
  );
  CREATE INDEX session_leases_by_incarnation ON session_leases (incarnation);
  `,
]

/**
 * Brings the lease table of `schema` (a checked name: src/store/postgres/pool.ts) up to date, refusing a
 * database written by a newer gateway. Under the store's own advisory lock of the schema: replicas starting
 * at once, and the store's migration, run one after the other, so the schema is created once.
 */
export function migrateLeases(pool: pg.Pool, schema: string, where: string): Promise<void> {
  return applySteps(pool, schema, {
    steps: MIGRATIONS,
    table: 'cluster_migrations',
    lock: schemaLock(schema),
    refused: `${where} (schema ${schema}) has lease table version`,
  })
}
