/**
 * What the PostgreSQL suites share: a pool outside every store (`admin`: dropping schemas, holding locks,
 * looking at the tables), ended when the suite ends, and a schema of its own per test, dropped after it.
 */
import { after, type TestContext } from 'node:test'
import pg from 'pg'
import { POSTGRES_URL } from './services.js'

/** Schemas named `prefix`, the pid and a count, so that suites running at once never share one. */
export function postgresSchemas(prefix: string, { connections = 2 } = {}) {
  const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: connections })
  admin.on('error', () => {})
  after(() => admin.end())
  let schemas = 0
  return {
    admin,
    /** A schema for this test only, dropped after it. */
    schemaFor(t: TestContext): string {
      const schema = `${prefix}_${process.pid}_${++schemas}`
      t.after(() => admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))
      return schema
    },
  }
}
