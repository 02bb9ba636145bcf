import type { Page, SessionQuery, SessionRecord } from '../types.js'
import { readPage } from './page.js'
import type { Queryable } from './pool.js'

interface SessionRow {
  record: string
}

/** The filters of a list, as columns of `sessions`. */
const FILTERS = [
  ['owner', (query: SessionQuery) => query.owner],
  ['state', (query: SessionQuery) => query.state],
  ['workspace', (query: SessionQuery) => query.workspace],
  ['agent', (query: SessionQuery) => query.agent],
] as const

/**
 * The `sessions` table: each record kept as JSON text beside the columns it is listed by, as SQLite keeps
 * it (../session-table.ts). Storage failures and transactions are the caller's (store.ts).
 */
export class SessionTable {
  insert(db: Queryable, record: SessionRecord): Promise<unknown> {
    return db.query({
      name: 'sessions-insert',
      text: 'INSERT INTO sessions (id, state, workspace, agent, owner, created_at, updated_at, record) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
      values: [...columns(record), record.createdAt, record.updatedAt, JSON.stringify(record)],
    })
  }

  update(db: Queryable, record: SessionRecord): Promise<unknown> {
    return db.query({
      name: 'sessions-update',
      text: 'UPDATE sessions SET state = $2, workspace = $3, agent = $4, owner = $5, updated_at = $6, record = $7 WHERE id = $1',
      values: [...columns(record), record.updatedAt, JSON.stringify(record)],
    })
  }

  async get(db: Queryable, id: string): Promise<SessionRecord | undefined> {
    // PostgreSQL's text holds no NUL, and no id has one: a request naming one names no session.
    if (id.includes('\u0000')) return undefined
    const { rows } = await db.query<SessionRow>({
      name: 'sessions-get',
      text: 'SELECT record FROM sessions WHERE id = $1',
      values: [id],
    })
    return rows[0] ? (JSON.parse(rows[0].record) as SessionRecord) : undefined
  }

  delete(db: Queryable, id: string): Promise<unknown> {
    return db.query({ name: 'sessions-delete', text: 'DELETE FROM sessions WHERE id = $1', values: [id] })
  }

  /** Every session; with `owner`, that user's that are not closed. */
  async count(db: Queryable, owner?: string): Promise<number> {
    const { rows } = await db.query<{ n: number }>(
      owner === undefined
        ? { name: 'sessions-count', text: 'SELECT count(*) AS n FROM sessions' }
        : {
            name: 'sessions-count-live',
            text: "SELECT count(*) AS n FROM sessions WHERE owner = $1 AND state <> 'closed'",
            values: [owner],
          },
    )
    return rows[0]!.n
  }

  /** A page, newest update first (ties by id, in byte order as SQLite's), with the filtered total. */
  async list(db: Queryable, query: SessionQuery): Promise<Page<SessionRecord>> {
    const columns: string[] = []
    const values: string[] = []
    for (const [column, filterOf] of FILTERS) {
      const value = filterOf(query)
      if (value === undefined || (value === '' && column !== 'owner')) continue
      columns.push(column)
      values.push(value)
    }
    const where = columns.map((column, i) => `${column} = $${i + 1}`)
    const { rows, total } = await readPage<SessionRow>(
      db,
      {
        name: `sessions ${columns.join(' ')}`,
        columns: 'record',
        from: `sessions ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}`,
        order: 'updated_at DESC, id COLLATE "C"',
        values,
      },
      query,
    )
    return { items: rows.map((row) => JSON.parse(row.record) as SessionRecord), total }
  }
}

/** The id and the columns a record is listed by, as the statements take them ($1 to $5). */
function columns(record: SessionRecord): [string, string, string, string | null, string | null] {
  return [record.id, record.state, record.settings.workspace, record.settings.agent, record.owner ?? null]
}
