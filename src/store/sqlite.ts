import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { eventJson } from '../events/json.js'
import type { GatewayEvent } from '../events/types.js'
import { Checkpointer } from './checkpointer.js'
import type { EventQuery, Page, SessionQuery, SessionRecord, Store } from './types.js'

const SCHEMA = `
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
`

interface SessionRow {
  record: string
}

/** SQLite's own size of the write-ahead log that triggers a checkpoint in the committing connection, in pages. */
const CHECKPOINT_PAGES = 1000
/** The same while a checkpoint thread runs: only a backstop, should the thread fall behind. */
const BACKSTOP_CHECKPOINT_PAGES = 16_000

/** SQLite store: one file in the data directory, WAL mode, records kept as JSON beside indexed columns. */
export class SqliteStore implements Store {
  private readonly db: Database.Database
  private readonly file: string
  /** Started with the first events: a gateway that only idles needs no thread. */
  private checkpointer: Checkpointer | null = null
  private checkpointsOnThread = true
  private readonly statements
  private readonly listCache = new Map<
    string,
    {
      rows: Database.Statement<Record<string, string | number>, SessionRow>
      count: Database.Statement<Record<string, string | number>, { n: number }>
    }
  >()

  constructor(
    dataDir: string,
    /** Told when the checkpoint thread fails (checkpoints then run in this connection again). */
    private readonly onCheckpointThreadFailure: (error: Error) => void = () => {},
  ) {
    mkdirSync(dataDir, { recursive: true })
    this.file = join(dataDir, 'gateway.sqlite')
    this.db = new Database(this.file)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = NORMAL')
    this.db.exec(SCHEMA)
    this.statements = {
      insert: this.db.prepare(
        'INSERT INTO sessions (id, state, workspace, agent, created_at, updated_at, record) VALUES (@id, @state, @workspace, @agent, @createdAt, @updatedAt, @record)',
      ),
      update: this.db.prepare(
        'UPDATE sessions SET state = @state, workspace = @workspace, agent = @agent, updated_at = @updatedAt, record = @record WHERE id = @id',
      ),
      get: this.db.prepare<[string], SessionRow>('SELECT record FROM sessions WHERE id = ?'),
      delete: this.db.prepare('DELETE FROM sessions WHERE id = ?'),
      deleteEvents: this.db.prepare('DELETE FROM events WHERE session_id = ?'),
      count: this.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM sessions'),
      appendEvent: this.db.prepare('INSERT INTO events (session_id, seq, event) VALUES (?, ?, ?)'),
      readEvents: this.db.prepare<[string, number, number], { event: string }>(
        'SELECT event FROM events WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?',
      ),
      // The type is read in SQLite, so events of other types are skipped without being parsed in JS.
      readEventsOfTypes: this.db.prepare<[string, number, string, number], { event: string }>(
        "SELECT event FROM events WHERE session_id = ? AND seq > ? AND json_extract(event, '$.type') IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT ?",
      ),
      lastSeq: this.db.prepare<[string], { seq: number | null }>(
        'SELECT max(seq) AS seq FROM events WHERE session_id = ?',
      ),
    }
  }

  insertSession(record: SessionRecord): void {
    this.statements.insert.run(row(record))
  }

  updateSession(record: SessionRecord): void {
    this.statements.update.run(row(record))
  }

  getSession(id: string): SessionRecord | undefined {
    const found = this.statements.get.get(id)
    return found ? (JSON.parse(found.record) as SessionRecord) : undefined
  }

  listSessions(query: SessionQuery): Page<SessionRecord> {
    const where: string[] = []
    const params: Record<string, string | number> = { limit: query.limit, offset: query.offset }
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
    const { rows: pageOf, count } = this.listStatements(
      where.length > 0 ? `WHERE ${where.join(' AND ')}` : '',
    )
    const rows = pageOf.all(params)
    const { n } = count.get(params)!
    return { items: rows.map((r) => JSON.parse(r.record) as SessionRecord), total: n }
  }

  /** The two statements of a filtered list, prepared once per filter (there are eight filters at most). */
  private listStatements(filter: string) {
    let statements = this.listCache.get(filter)
    if (!statements) {
      statements = {
        rows: this.db.prepare<Record<string, string | number>, SessionRow>(
          `SELECT record FROM sessions ${filter} ORDER BY updated_at DESC, id LIMIT @limit OFFSET @offset`,
        ),
        count: this.db.prepare<Record<string, string | number>, { n: number }>(
          `SELECT count(*) AS n FROM sessions ${filter}`,
        ),
      }
      this.listCache.set(filter, statements)
    }
    return statements
  }

  deleteSession(id: string): void {
    this.db.transaction(() => {
      this.statements.delete.run(id)
      this.statements.deleteEvents.run(id)
    })()
  }

  countSessions(): number {
    return this.statements.count.get()!.n
  }

  appendEvents(events: readonly GatewayEvent[]): void {
    if (!this.checkpointer && this.checkpointsOnThread) this.startCheckpointer()
    this.db.transaction(() => {
      for (const event of events)
        this.statements.appendEvent.run(event.sessionId, event.seq, eventJson(event))
    })()
  }

  readEvents(sessionId: string, query: EventQuery = {}): GatewayEvent[] {
    const { afterSeq = 0, limit = -1, types } = query
    const rows = types
      ? this.statements.readEventsOfTypes.all(sessionId, afterSeq, JSON.stringify(types), limit)
      : this.statements.readEvents.all(sessionId, afterSeq, limit)
    return rows.map((r) => JSON.parse(r.event) as GatewayEvent)
  }

  lastSeq(sessionId: string): number {
    return this.statements.lastSeq.get(sessionId)?.seq ?? 0
  }

  close(): void {
    this.checkpointer?.stop()
    this.db.close()
  }

  private startCheckpointer(): void {
    this.db.pragma(`wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`)
    this.checkpointer = new Checkpointer(this.file, (error) => {
      this.onCheckpointThreadFailure(error)
      // Back to SQLite's own checkpoints, in this connection.
      this.checkpointsOnThread = false
      this.checkpointer = null
      if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${CHECKPOINT_PAGES}`)
    })
  }
}

function row(record: SessionRecord) {
  return {
    id: record.id,
    state: record.state,
    workspace: record.settings.workspace,
    agent: record.settings.agent,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    record: JSON.stringify(record),
  }
}
