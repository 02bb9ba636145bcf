/**
 * What the PostgreSQL suites share: a pool outside every store (`admin`: dropping schemas, holding locks,
 * looking at the tables), ended when the suite ends, a schema of its own per test, dropped after it, and
 * stores opened on such a schema.
 */
import { after, type TestContext } from 'node:test'
import pg from 'pg'
import {
  openPostgresStore,
  type PostgresStore,
  type PostgresStoreOptions,
} from '../../src/store/postgres/store.js'
import { POSTGRES_URL } from './services.js'

/** Schemas named `prefix`, the pid and a count, so that suites running at once never share one. */
export function postgresSchemas(prefix: string, { connections = 2 } = {}) {
  const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: connections })
  admin.on('error', () => {})
  after(() => admin.end())
  let schemas = 0
  /** A schema for this test only, dropped after it. */
  function schemaFor(t: TestContext): string {
    const schema = `${prefix}_${process.pid}_${++schemas}`
    t.after(() => admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))
    return schema
  }
  /** A store on `schema` (by default a new one for this test), closed after the test. */
  async function openStore(
    t: TestContext,
    schema = schemaFor(t),
    options: PostgresStoreOptions = {},
    url = POSTGRES_URL,
  ): Promise<PostgresStore> {
    const store = await openPostgresStore(url, { schema, ...options })
    t.after(() => store.close())
    return store
  }
  return { admin, schemaFor, openStore }
}
