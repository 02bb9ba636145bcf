/**
 * PostgresStore's access tables (src/store/postgres/access.ts) against a real server, with the same checks
 * as SQLite's (support/access-fixtures.ts run on both, so both stores give the same answers): users, keys,
 * the audit trail, usage, owner filters; plus what replicas sharing the database rely on (usage added at
 * once by several stores adds up), the schema step on a database of version 1, and StoreErrors. Each test
 * has a schema of its own, dropped after it. Skipped, saying why, when no server answers at
 * TEST_POSTGRES_URL, but in CI (CI=true).
 */
import assert from 'node:assert/strict'
import { describe, type TestContext, test } from 'node:test'
import { isStoreError } from '../../src/store/errors.js'
import { SCHEMA_VERSION } from '../../src/store/postgres/migrations.js'
import { openPostgresStore } from '../../src/store/postgres/store.js'
import type { Store } from '../../src/store/types.js'
import { ACCESS_CHECKS } from '../support/access-checks.js'
import { auditEntry, checkKeys, keyRecord, userRecord } from '../support/access-fixtures.js'
import { postgresSchemas } from '../support/postgres-schemas.js'
import { POSTGRES_URL, servicesSkip } from '../support/services.js'
import { listedRecord, openTempStore } from '../support/store-fixtures.js'

const skip = await servicesSkip('PostgreSQL access store tests', { postgres: true })

const { admin, schemaFor, openStore: open } = postgresSchemas('ccgw_access')

/** The same check on an empty SQLite store and an empty PostgreSQL store. */
async function onBoth(t: TestContext, check: (store: Store) => Promise<void>): Promise<void> {
  await check(openTempStore(t))
  await check(await open(t))
}

describe('PostgreSQL access store', { skip }, () => {
  for (const { covers, check } of ACCESS_CHECKS) test(`as SQLite: ${covers}`, (t) => onBoth(t, check))

  test('replicas adding usage and audit entries at once: every addition counts', async (t) => {
    const schema = schemaFor(t)
    const replicas = [await open(t, schema), await open(t, schema), await open(t, schema)]
    await Promise.all(
      replicas.flatMap((store, r) =>
        Array.from({ length: 20 }, (_, i) =>
          Promise.all([
            store.access.addUsage('alice', '2026-05-01', {
              inputTokens: 1,
              outputTokens: 2,
              costUsd: 0.5,
              turns: 1,
            }),
            store.access.appendAudit([auditEntry(r * 100 + i), auditEntry(r * 100 + i)]),
          ]),
        ),
      ),
    )
    assert.deepEqual(await replicas[1]!.access.usage('alice', '2026-05-01', '2026-05-01'), {
      inputTokens: 60,
      outputTokens: 120,
      costUsd: 30,
      turns: 60,
    })
    const entries = await replicas[2]!.access.readAudit({ limit: 1_000 })
    assert.equal(entries.length, 120)
    assert.equal(new Set(entries.map((entry) => entry.id)).size, 120)
    // One batch is written together, in its order.
    await replicas[0]!.access.appendAudit([
      auditEntry(1, { action: 'first' }),
      auditEntry(2, { action: 'second' }),
    ])
    const [second, first] = await replicas[0]!.access.readAudit({ limit: 2 })
    assert.deepEqual([first!.action, second!.action, second!.id - first!.id], ['first', 'second', 1])
  })

  test('a schema of version 1 gains the access tables; its sessions have no owner', async (t) => {
    const schema = schemaFor(t)
    const seed = await openPostgresStore(POSTGRES_URL, { schema })
    await seed.insertSession(listedRecord('legacy'))
    await seed.close()
    // Back to version 1 as an older gateway left it.
    await admin.query(`
      DROP TABLE ${schema}.users, ${schema}.api_keys, ${schema}.audit, ${schema}.usage;
      ALTER TABLE ${schema}.sessions DROP COLUMN owner;
      DELETE FROM ${schema}.schema_migrations WHERE version > 1;
    `)
    const store = await open(t, schema)
    const { rows } = await admin.query(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`)
    assert.deepEqual(
      rows.map((row) => row.version),
      Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
    )
    assert.deepEqual((await admin.query(`SELECT id, owner FROM ${schema}.sessions`)).rows, [
      { id: 'legacy', owner: null },
    ])
    assert.equal((await store.listSessions({ limit: 10, offset: 0, owner: 'alice' })).total, 0)
    assert.equal((await store.listSessions({ limit: 10, offset: 0 })).total, 1)
    await checkKeys(store)
  })

  test('a closed store: access calls reject with a StoreError', async (t) => {
    const store = await open(t)
    await store.access.insertUser(userRecord('alice'))
    await store.close()
    for (const call of [
      () => store.access.getUser('alice'),
      () => store.access.insertUser(userRecord('bob')),
      () => store.access.updateUser(userRecord('alice')),
      () => store.access.insertKey(keyRecord('k', 'alice', 1)),
      () => store.access.deleteUser('alice'),
      () => store.access.appendAudit([auditEntry(1)]),
      () => store.access.usage('alice', '2026-01-01', '2026-01-01'),
      () => store.countSessions({ owner: 'alice' }),
    ])
      await assert.rejects(
        call(),
        (error: Error) => isStoreError(error) && error.code === 'storage_unavailable',
      )
  })

  test('a data error is not a storage failure: health() stays ok', async (t) => {
    const store = await open(t)
    await store.access.insertKey(keyRecord('k1', 'alice', 1))
    await assert.rejects(
      store.access.insertKey(keyRecord('k2', 'alice', 2, { hash: keyRecord('k1', 'alice', 1).hash })),
      (error: Error) => !isStoreError(error) && /unique|duplicate/i.test(error.message),
    )
    assert.deepEqual(store.health(), { ok: true })
  })
})
