/** SQLite databases as an older gateway left them, and the store that upgrades them (store, access-store). */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import Database from 'better-sqlite3'
import { SCHEMA_VERSION } from '../../src/store/migrations.js'
import type { SqliteStore } from '../../src/store/sqlite.js'
import { openTempStore } from './store-fixtures.js'

/**
 * The database in `dir` at schema `version`: `shape` builds its tables from nothing or takes the newer ones
 * away, as that version had them.
 */
export function writeOldDatabase(dir: string, version: number, shape: (db: Database.Database) => void): void {
  const old = new Database(join(dir, 'gateway.sqlite'))
  shape(old)
  old.pragma(`user_version = ${version}`)
  old.close()
}

/**
 * The store opened on the old database in `dir`, which it upgrades to the current version, and a read-only
 * connection to look at the file with (closed after the test).
 */
export function openUpgraded(t: TestContext, dir: string): { store: SqliteStore; file: Database.Database } {
  const store = openTempStore(t, dir)
  const file = new Database(store.file, { readonly: true })
  t.after(() => file.close())
  assert.equal(file.pragma('user_version', { simple: true }), SCHEMA_VERSION)
  return { store, file }
}
