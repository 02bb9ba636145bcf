import type Database from 'better-sqlite3'

/**
 * The SQLite schema as numbered steps, applied in order at open; `PRAGMA user_version` records the last one
 * applied, so a database written by an older gateway is brought up to date and a newer one is refused
 * (an older gateway must not write a schema it does not know). A step is never changed once released:
 * a change is a new step.
 */
const MIGRATIONS: readonly string[] = [
  // 1: sessions and their event log (the schema of every release before versions were recorded).
  `
  CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    workspace TEXT NOT NULL,
    agent TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    record TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS sessions_by_update ON sessions (updated_at DESC);
  CREATE TABLE IF NOT EXISTS events (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
  ) WITHOUT ROWID;
  `,
]

export const SCHEMA_VERSION = MIGRATIONS.length

/** Brings the database to SCHEMA_VERSION, each step in a transaction of its own. */
export function migrate(db: Database.Database, file: string): void {
  const current = db.pragma('user_version', { simple: true }) as number
  if (current > SCHEMA_VERSION)
    throw new Error(
      `${file} has schema version ${current}, newer than this gateway's ${SCHEMA_VERSION}: upgrade the gateway`,
    )
  for (let version = current + 1; version <= SCHEMA_VERSION; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version - 1]!)
      db.pragma(`user_version = ${version}`)
    })()
  }
}
