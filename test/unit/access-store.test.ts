/**
 * The SQLite store's access tables (src/store/access-sqlite.ts): users, keys, the audit trail, usage, the
 * owner filters of sessions and tool calls, the schema step that adds them to an older database, and
 * storage failures as StoreErrors. integration/postgres-access runs the same checks on PostgreSQL.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isStoreError } from '../../src/store/errors.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import { ACCESS_CHECKS } from '../support/access-checks.js'
import { auditEntry, checkUsers, keyRecord, userRecord } from '../support/access-fixtures.js'
import { openUpgraded, writeOldDatabase } from '../support/old-sqlite.js'
import { listedRecord, openTempStore as openStore } from '../support/store-fixtures.js'
import { tempDir } from '../support/temp-dir.js'

for (const { covers, check } of ACCESS_CHECKS) test(covers, (t) => check(openStore(t)))

test('everything written is there after reopening', async (t) => {
  const dir = tempDir(t)
  const first = new SqliteStore(dir)
  await first.access.insertUser(userRecord('alice'))
  await first.access.insertKey(keyRecord('k1', 'alice', 1))
  await first.access.appendAudit([auditEntry(1)])
  await first.access.addUsage('alice', '2026-01-01', {
    inputTokens: 1,
    outputTokens: 2,
    costUsd: 3,
    turns: 1,
  })
  await first.insertSession({ ...listedRecord('s'), owner: 'alice' })
  await first.close()

  const store = openStore(t, dir)
  assert.deepEqual(await store.access.getUser('alice'), userRecord('alice'))
  assert.deepEqual(await store.access.listKeys(), [keyRecord('k1', 'alice', 1)])
  assert.equal((await store.access.readAudit({ limit: 5 })).length, 1)
  assert.equal((await store.access.usage('alice', '2026-01-01', '2026-01-01')).costUsd, 3)
  assert.equal(await store.countSessions({ owner: 'alice' }), 1)
})

test('a database of schema version 5 gains the access tables; its sessions have no owner', async (t) => {
  const dir = tempDir(t)
  const seed = new SqliteStore(dir)
  await seed.insertSession(listedRecord('legacy'))
  await seed.close()
  // Back to version 5 as an older gateway left it: no owner column, no access tables.
  writeOldDatabase(dir, 5, (old) =>
    old.exec(`
      DROP INDEX sessions_by_owner;
      ALTER TABLE sessions DROP COLUMN owner;
      DROP TABLE users; DROP TABLE api_keys; DROP TABLE audit; DROP TABLE usage;
    `),
  )

  const { store, file } = openUpgraded(t, dir)
  assert.deepEqual(file.prepare('SELECT id, owner FROM sessions').all(), [{ id: 'legacy', owner: null }])
  assert.equal((await store.listSessions({ limit: 10, offset: 0 })).total, 1)
  assert.equal((await store.listSessions({ limit: 10, offset: 0, owner: 'alice' })).total, 0)
  await checkUsers(store)
})

test('a closed database: every access call rejects with a StoreError and health() tells', async (t) => {
  const store = openStore(t)
  await store.close()
  const calls: (() => Promise<unknown>)[] = [
    () => store.access.listUsers(),
    () => store.access.getUser('a'),
    () => store.access.insertUser(userRecord('a')),
    () => store.access.updateUser(userRecord('a')),
    () => store.access.deleteUser('a'),
    () => store.access.insertKey(keyRecord('k', 'a', 1)),
    () => store.access.listKeys(),
    () => store.access.keyByHash('h'),
    () => store.access.revokeKey('k', 1),
    () => store.access.touchKey('k', 1),
    () => store.access.appendAudit([auditEntry(1)]),
    () => store.access.readAudit({ limit: 1 }),
    () => store.access.pruneAudit(1),
    () => store.access.addUsage('a', '2026-01-01', { inputTokens: 0, outputTokens: 0, costUsd: 0, turns: 0 }),
    () => store.access.usage('a', '2026-01-01', '2026-01-01'),
    () => store.countSessions({ owner: 'a' }),
  ]
  for (const call of calls)
    await assert.rejects(
      call(),
      (error: Error) => isStoreError(error) && error.code === 'storage_unavailable',
    )
  const health = store.health()
  assert.equal(health.ok, false)
})

test('a full database: access writes fail with storage_full until there is room again; only session and event writes clear it', async (t) => {
  const store = openStore(t)
  await store.access.insertUser(userRecord('alice'))
  store.setMaxSize(1)
  const big = Array.from({ length: 200 }, (_, i) => auditEntry(i, { detail: { pad: 'x'.repeat(2_000) } }))
  await assert.rejects(
    store.access.appendAudit(big),
    (error: Error) => isStoreError(error) && error.code === 'storage_full',
  )
  assert.equal(store.health().ok, false)
  assert.deepEqual(await store.access.readAudit({ limit: 1 }), [], 'the batch is written whole or not at all')
  store.setMaxSize(0)
  await store.access.appendAudit(big)
  // A small row fits where the event log cannot grow: only the store's own writes say it works again.
  assert.equal(store.health().ok, false)
  await store.insertSession(listedRecord('s-after-full'))
  assert.deepEqual(store.health(), { ok: true })
  assert.equal((await store.access.readAudit({ limit: 500 })).length, 200)
})
