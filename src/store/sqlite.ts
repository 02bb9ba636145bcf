import { join } from 'node:path'
import type Database from 'better-sqlite3'
import type { PositionedEvent } from '../events/positions.js'
import type { GatewayEvent } from '../events/types.js'
import { SqliteAccess } from './access-sqlite.js'
import { Checkpointer } from './checkpointer.js'
import { openDatabase } from './database.js'
import { STORE_RETRY_AFTER_MS, StoreError, type StoreHealth, storeErrorOf } from './errors.js'
import { EventLog } from './event-log.js'
import { HealthRecord } from './health.js'
import { ReadModels } from './read-models.js'
import { SessionTable } from './session-table.js'
import type {
  AgentFigures,
  EventPage,
  EventQuery,
  FileChanges,
  Page,
  PositionQuery,
  SessionQuery,
  SessionRecord,
  Store,
  ToolCallQuery,
  ToolCallRef,
} from './types.js'

export interface SqliteStoreOptions {
  /** Told when the checkpoint thread fails (checkpoints then run in this connection again). */
  onCheckpointThreadFailure?: (error: Error) => void
  /** Told about a stored event that cannot be read back (it is left out of what is read). */
  onUnreadableEvent?: (sessionId: string, seq: number, error: Error) => void
  /** The most the database file may grow to, in bytes (0: as large as the disk allows). */
  maxSizeBytes?: number
  /**
   * Told when the read models' rows of some events could not be derived (read-models.ts): the events are
   * kept, and the sessions' rows rebuilt in the background.
   */
  onReadModelError?: (error: Error, sessionIds: readonly string[]) => void
  /** Contents of a code change larger than this many bytes get no line counts (default 1 MiB). */
  changeCountMaxBytes?: number
}

/** SQLite's own size of the write-ahead log that triggers a checkpoint in the committing connection, in pages. */
const CHECKPOINT_PAGES = 1000
/** The same while a checkpoint thread runs: only a backstop, should the thread fall behind. */
const BACKSTOP_CHECKPOINT_PAGES = 16_000

/**
 * SQLite store: one file in the data directory, WAL mode, records kept as JSON beside indexed columns
 * (session-table.ts, event-log.ts, read-models.ts). Every method runs its statements synchronously when
 * called and answers in a resolved promise: a write is done by the time the call returns. A failure of the
 * storage itself (see errors.ts) rejects with a StoreError and is remembered for `health()` until a write
 * succeeds again.
 */
export class SqliteStore implements Store {
  /** The bus numbers the positions (the one gateway writing this file hands them out in publish order). */
  readonly assignsPositions = false
  private readonly db: Database.Database
  readonly file: string
  private readonly onCheckpointThreadFailure: (error: Error) => void
  /** SQLite's own page limit of this build, restored when the size limit is lifted. */
  private readonly defaultMaxPages: number
  private readonly healthRecord = new HealthRecord()
  /** Started with the first events: a gateway that only idles needs no thread. */
  private checkpointer: Checkpointer | null = null
  private checkpointsOnThread = true
  private readonly sessions: SessionTable
  private readonly log: EventLog
  /** The tables derived from the log, written with its events (read-models.ts). */
  private readonly readModels: ReadModels
  /** Users, keys, the audit trail and usage (access-sqlite.ts), through the same guards as the rest. */
  readonly access: SqliteAccess

  /** Opens (or creates) the database in `dataDir`; throws when it cannot be used (database.ts). */
  constructor(dataDir: string, options: SqliteStoreOptions = {}) {
    this.onCheckpointThreadFailure = options.onCheckpointThreadFailure ?? (() => {})
    this.file = join(dataDir, 'gateway.sqlite')
    this.db = openDatabase(dataDir, this.file)
    this.defaultMaxPages = this.db.pragma('max_page_count', { simple: true }) as number
    this.setMaxSize(options.maxSizeBytes ?? 0)
    this.readModels = new ReadModels(this.db, {
      diffMaxBytes: options.changeCountMaxBytes ?? 1024 * 1024,
      onError: options.onReadModelError ?? (() => {}),
    })
    this.sessions = new SessionTable(this.db)
    this.log = new EventLog(this.db, options.onUnreadableEvent ?? (() => {}))
    this.access = new SqliteAccess(this.db, {
      read: (run) => this.guard(run),
      // A failure shows, but only the store's own writes (sessions, events) clear it: a small audit row may fit
      // where the event log cannot grow (a full disk's last free pages), and health would say all is well.
      write: (run) => this.guard(run),
    })
  }

  async insertSession(record: SessionRecord): Promise<void> {
    this.guardWrite(() => this.sessions.insert(record))
  }

  async updateSession(record: SessionRecord): Promise<void> {
    this.guardWrite(() => this.sessions.update(record))
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    return this.guard(() => this.sessions.get(id))
  }

  async listSessions(query: SessionQuery): Promise<Page<SessionRecord>> {
    return this.guard(() => this.sessions.list(query))
  }

  async deleteSession(id: string): Promise<void> {
    this.guardWrite(() =>
      this.db.transaction(() => {
        this.sessions.delete(id)
        this.log.deleteSession(id)
        this.readModels.forget(id)
      })(),
    )
  }

  async countSessions(query?: { owner: string }): Promise<number> {
    return this.guard(() => this.sessions.count(query?.owner))
  }

  async appendEvents(events: readonly GatewayEvent[]): Promise<void> {
    if (!this.checkpointer && this.checkpointsOnThread) this.startCheckpointer()
    this.guardWrite(() =>
      this.db.transaction(() => {
        this.log.append(events)
        this.readModels.apply(events)
      })(),
    )
  }

  async readEvents(sessionId: string, query: EventQuery = {}): Promise<GatewayEvent[]> {
    return this.guard(() => this.log.readPage(sessionId, query)).events
  }

  async readEventPage(sessionId: string, query: EventQuery = {}): Promise<EventPage<GatewayEvent>> {
    return this.guard(() => this.log.readPage(sessionId, query))
  }

  async lastSeq(sessionId: string): Promise<number> {
    return this.guard(() => this.log.lastSeq(sessionId))
  }

  async readEventsAfter(afterPos: number, query: PositionQuery = {}): Promise<EventPage<PositionedEvent>> {
    return this.guard(() => this.log.readAfter(afterPos, query))
  }

  async lastPos(): Promise<number> {
    return this.guard(() => this.log.lastPos())
  }

  async reservedPos(): Promise<number> {
    return this.guard(() => this.log.reservedPos())
  }

  async reservePositions(upTo: number): Promise<void> {
    this.guardWrite(() => this.log.reservePositions(upTo))
  }

  async toolCalls(query: ToolCallQuery): Promise<Page<ToolCallRef>> {
    return this.guard(() => this.readModels.toolCalls(query))
  }

  async sessionsWithRunningCalls(): Promise<string[]> {
    return this.guard(() => this.readModels.sessionsWithRunningCalls())
  }

  async agentFigures(since?: number): Promise<AgentFigures> {
    return this.guard(() => this.readModels.agentFigures(since))
  }

  readModelsBuilding(): boolean {
    return this.readModels.building
  }

  async fileChanges(
    sessionId: string,
    page: { limit: number; offset: number },
    maxBytes: number,
  ): Promise<FileChanges> {
    return this.guard(() => this.readModels.fileChanges(sessionId, page, maxBytes))
  }

  async fileChangeSeqs(sessionId: string, path: string, seq: number) {
    return this.guard(() => this.readModels.fileChangeSeqs(sessionId, path, seq))
  }

  health(): StoreHealth {
    return this.healthRecord.report()
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

  async close(): Promise<void> {
    this.checkpointer?.stop()
    this.readModels.stop()
    this.db.close()
  }

  /** A write: the storage works again once one succeeds. */
  private guardWrite<T>(run: () => T): T {
    const result = this.guard(run)
    this.healthRecord.succeeded()
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
      throw this.healthRecord.failed(failure)
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
