import type Database from 'better-sqlite3'
import { FilteredList, type ListParams } from './filtered-list.js'
import type { Page, SessionQuery, SessionRecord } from './types.js'

interface SessionRow {
  record: string
}

/**
 * The `sessions` table: each record kept as JSON beside the columns it is listed by. Storage failures and
 * transactions are the caller's (sqlite.ts).
 */
export class SessionTable {
  private readonly statements
  private readonly lists

  constructor(db: Database.Database) {
    this.lists = new FilteredList<SessionRow>(db, 'sessions', 'record', 'updated_at DESC, id')
    this.statements = {
      insert: db.prepare(
        'INSERT INTO sessions (id, owner, state, workspace, agent, created_at, updated_at, record) VALUES (@id, @owner, @state, @workspace, @agent, @createdAt, @updatedAt, @record)',
      ),
      update: db.prepare(
        'UPDATE sessions SET owner = @owner, state = @state, workspace = @workspace, agent = @agent, updated_at = @updatedAt, record = @record WHERE id = @id',
      ),
      get: db.prepare<[string], SessionRow>('SELECT record FROM sessions WHERE id = ?'),
      delete: db.prepare('DELETE FROM sessions WHERE id = ?'),
      count: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM sessions'),
      countLive: db.prepare<[string], { n: number }>(
        "SELECT count(*) AS n FROM sessions WHERE owner = ? AND state != 'closed'",
      ),
    }
  }

  insert(record: SessionRecord): void {
    this.statements.insert.run(row(record))
  }

  update(record: SessionRecord): void {
    this.statements.update.run(row(record))
  }

  get(id: string): SessionRecord | undefined {
    const found = this.statements.get.get(id)
    return found ? (JSON.parse(found.record) as SessionRecord) : undefined
  }

  delete(id: string): void {
    this.statements.delete.run(id)
  }

  /** Every session; with `owner`, that user's that are not closed. */
  count(owner?: string): number {
    return (owner === undefined ? this.statements.count.get() : this.statements.countLive.get(owner))!.n
  }

  list(query: SessionQuery): Page<SessionRecord> {
    const where: string[] = []
    const params: ListParams = { limit: query.limit, offset: query.offset }
    if (query.owner !== undefined) {
      where.push('owner = @owner')
      params.owner = query.owner
    }
    if (query.state) {
      where.push('state = @state')
      params.state = query.state
    }
    if (query.workspace) {
      where.push('workspace = @workspace')
      params.workspace = query.workspace
    }
    if (query.agent) {
      where.push('agent = @agent')
      params.agent = query.agent
    }
    const { rows, total } = this.lists.page(where, params)
    return { items: rows.map((r) => JSON.parse(r.record) as SessionRecord), total }
  }
}

/** The columns of a record, beside its JSON. */
function row(record: SessionRecord) {
  return {
    id: record.id,
    owner: record.owner ?? null,
    state: record.state,
    workspace: record.settings.workspace,
    agent: record.settings.agent,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    record: JSON.stringify(record),
  }
}
