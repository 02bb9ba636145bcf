import { mkdirSync } from 'node:fs'
import Database from 'better-sqlite3'
import { migrate, SCHEMA_VERSION } from './migrations.js'

/**
 * Opens (or creates) the database `file` in `dataDir`, in WAL mode and migrated to the current schema.
 * Throws an error naming the file and the cause when it cannot be used: a folder that cannot be created, a
 * file that is not a database, or one that cannot be written (read-only file or file system); SQLite itself
 * would only find the last out at the first write.
 */
export function openDatabase(dataDir: string, file: string): Database.Database {
  try {
    mkdirSync(dataDir, { recursive: true })
  } catch (error) {
    throw new Error(
      `Cannot create the data directory ${dataDir} (store.dataDir): ${(error as Error).message}`,
      {
        cause: error,
      },
    )
  }
  let db: Database.Database
  try {
    db = new Database(file)
  } catch (error) {
    throw openError(file, error)
  }
  try {
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    migrate(db, file)
    // A write, to find out now whether the file can be written: rewriting the header's user version.
    db.pragma(`user_version = ${SCHEMA_VERSION}`)
  } catch (error) {
    db.close()
    throw openError(file, error)
  }
  return db
}

/** Why the database cannot be opened, naming the file, the cause and what to do. */
function openError(file: string, error: unknown): Error {
  const code = String((error as { code?: unknown }).code ?? '')
  const cause = (error as Error).message
  const hint =
    code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')
      ? 'It is not a usable SQLite database (corrupt, or another kind of file): move it away to start with an empty store.'
      : code.startsWith('SQLITE_READONLY') ||
          code.startsWith('SQLITE_CANTOPEN') ||
          code.startsWith('SQLITE_PERM')
        ? 'The gateway must be able to write it and its folder: check their permissions and that the file system is writable.'
        : code === 'SQLITE_FULL'
          ? 'Its disk is full.'
          : ''
  return new Error(`Cannot open the gateway's database ${file}: ${cause}.${hint ? ` ${hint}` : ''}`, {
    cause: error,
  })
}
