import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { eventJson } from '../events/json.js'
import type { GatewayEvent } from '../events/types.js'
import { Checkpointer } from './checkpointer.js'
import {
  STORE_RETRY_AFTER_MS,
  StoreError,
  type StoreErrorCode,
  type StoreHealth,
  storeErrorOf,
} from './errors.js'
import { migrate, SCHEMA_VERSION } from './migrations.js'
import type { EventQuery, Page, SessionQuery, SessionRecord, Store } from './types.js'

interface SessionRow {
  record: string
}

interface EventRow {
  seq: number
  event: string
}

export interface SqliteStoreOptions {
  /** Told when the checkpoint thread fails (checkpoints then run in this connection again). */
  onCheckpointThreadFailure?: (error: Error) => void
  /** Told about a stored event that cannot be read back (it is left out of what is read). */
  onUnreadableEvent?: (sessionId: string, seq: number, error: Error) => void
  /** The most the database file may grow to, in bytes (0: as large as the disk allows). */
  maxSizeBytes?: number
}

/** SQLite's own size of the write-ahead log that triggers a checkpoint in the committing connection, in pages. */
const CHECKPOINT_PAGES = 1000
/** The same while a checkpoint thread runs: only a backstop, should the thread fall behind. */
const BACKSTOP_CHECKPOINT_PAGES = 16_000

/**
 * SQLite store: one file in the data directory, WAL mode, records kept as JSON beside indexed columns.
 * A failure of the storage itself (see errors.ts) is thrown as a StoreError and remembered for `health()`
 * until a write succeeds again.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database
  readonly file: string
  private readonly onCheckpointThreadFailure: (error: Error) => void
  private readonly onUnreadableEvent: (sessionId: string, seq: number, error: Error) => void
  /** SQLite's own page limit of this build, restored when the size limit is lifted. */
  private readonly defaultMaxPages: number
  private failure: { error: StoreErrorCode; message: string; since: number } | null = null
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

  /**
   * Opens (or creates) the database in `dataDir`. Throws an error naming the file and the cause when it
   * cannot be used: a folder that cannot be created, a file that is not a database, or one that cannot be
   * written (read-only file or file system); SQLite itself would only find the last out at the first write.
   */
  constructor(dataDir: string, options: SqliteStoreOptions = {}) {
    this.onCheckpointThreadFailure = options.onCheckpointThreadFailure ?? (() => {})
    this.onUnreadableEvent = options.onUnreadableEvent ?? (() => {})
    this.file = join(dataDir, 'gateway.sqlite')
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
    try {
      this.db = new Database(this.file)
    } catch (error) {
      throw openError(this.file, error)
    }
    try {
      this.db.pragma('journal_mode = WAL')
      this.db.pragma('synchronous = NORMAL')
      migrate(this.db, this.file)
      // A write, to find out now whether the file can be written: rewriting the header's user version.
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`)
    } catch (error) {
      this.db.close()
      throw openError(this.file, error)
    }
    this.defaultMaxPages = this.db.pragma('max_page_count', { simple: true }) as number
    this.setMaxSize(options.maxSizeBytes ?? 0)
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
      readEvents: this.db.prepare<[string, number, number], EventRow>(
        'SELECT seq, event FROM events WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?',
      ),
      // The type is read in SQLite, so events of other types are skipped without being parsed in JS. A row
      // SQLite's JSON cannot read (nested deeper than its limit of 1000) would fail the whole query: it is
      // passed on to JS, which reads deeper and checks the type itself.
      readEventsOfTypes: this.db.prepare<[string, number, string, number], EventRow>(
        "SELECT seq, event FROM events WHERE session_id = ? AND seq > ? AND CASE WHEN json_valid(event) THEN json_extract(event, '$.type') IN (SELECT value FROM json_each(?)) ELSE 1 END ORDER BY seq LIMIT ?",
      ),
      lastSeq: this.db.prepare<[string], { seq: number | null }>(
        'SELECT max(seq) AS seq FROM events WHERE session_id = ?',
      ),
    }
  }

  insertSession(record: SessionRecord): void {
    const values = row(record)
    this.guardWrite(() => this.statements.insert.run(values))
  }

  updateSession(record: SessionRecord): void {
    const values = row(record)
    this.guardWrite(() => this.statements.update.run(values))
  }

  getSession(id: string): SessionRecord | undefined {
    const found = this.guard(() => this.statements.get.get(id))
    return found ? (JSON.parse(found.record) as SessionRecord) : undefined
  }

  listSessions(query: SessionQuery): Page<SessionRecord> {
    return this.guard(() => this.listSessionsNow(query))
  }

  private listSessionsNow(query: SessionQuery): Page<SessionRecord> {
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
    this.guardWrite(() =>
      this.db.transaction(() => {
        this.statements.delete.run(id)
        this.statements.deleteEvents.run(id)
      })(),
    )
  }

  countSessions(): number {
    return this.guard(() => this.statements.count.get()!.n)
  }

  appendEvents(events: readonly GatewayEvent[]): void {
    if (!this.checkpointer && this.checkpointsOnThread) this.startCheckpointer()
    this.guardWrite(() =>
      this.db.transaction(() => {
        for (const event of events)
          this.statements.appendEvent.run(event.sessionId, event.seq, eventJson(event))
      })(),
    )
  }

  readEvents(sessionId: string, query: EventQuery = {}): GatewayEvent[] {
    const { afterSeq = 0, limit = -1, types } = query
    const rows = this.guard(() =>
      types
        ? this.statements.readEventsOfTypes.all(sessionId, afterSeq, JSON.stringify(types), limit)
        : this.statements.readEvents.all(sessionId, afterSeq, limit),
    )
    const events: GatewayEvent[] = []
    for (const { seq, event } of rows) {
      let parsed: GatewayEvent
      try {
        parsed = JSON.parse(event) as GatewayEvent
      } catch (error) {
        // One unreadable row must not make the session's whole history unreadable: it is left out.
        this.onUnreadableEvent(sessionId, seq, error as Error)
        continue
      }
      // A row SQLite could not read was passed on whatever its type (see readEventsOfTypes).
      if (types && !types.includes(parsed.type)) continue
      events.push(parsed)
    }
    return events
  }

  lastSeq(sessionId: string): number {
    return this.guard(() => this.statements.lastSeq.get(sessionId)?.seq ?? 0)
  }

  health(): StoreHealth {
    return this.failure ? { ok: false, ...this.failure } : { ok: true }
  }

  /**
   * Cap the database file's size (0: no cap but the disk's). Past it, writes fail with `storage_full` as
   * on a full disk; raising it lets them succeed again. SQLite never shrinks the cap below the file's size.
   */
  setMaxSize(bytes: number): void {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number
    const pages = bytes > 0 ? Math.max(1, Math.floor(bytes / pageSize)) : this.defaultMaxPages
    this.db.pragma(`max_page_count = ${Math.min(pages, this.defaultMaxPages)}`)
  }

  close(): void {
    this.checkpointer?.stop()
    this.db.close()
  }

  /** A write: the storage works again once one succeeds. */
  private guardWrite<T>(run: () => T): T {
    const result = this.guard(run)
    this.failure = null
    return result
  }

  /** Runs a statement, turning a failure of the storage into a StoreError (and remembering it). */
  private guard<T>(run: () => T): T {
    try {
      return run()
    } catch (error) {
      const failure = this.db.open
        ? storeErrorOf(error, this.file)
        : new StoreError(
            'storage_unavailable',
            `The gateway's database ${this.file} is closed`,
            STORE_RETRY_AFTER_MS,
          )
      if (!failure) throw error
      this.failure = {
        error: failure.code,
        message: failure.message,
        since: this.failure?.since ?? Date.now(),
      }
      throw failure
    }
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
