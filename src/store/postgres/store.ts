import type pg from 'pg'
import { type PositionedEvent, setPosition } from '../../events/positions.js'
import type { GatewayEvent } from '../../events/types.js'
import { STORE_RETRY_AFTER_MS, StoreError, type StoreHealth } from '../errors.js'
import { HealthRecord } from '../health.js'
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
} from '../types.js'
import { PostgresAccess } from './access.js'
import { storeErrorOf } from './errors.js'
import { EventLog } from './events.js'
import { changeSeqs, readChanges } from './file-changes.js'
import { migrate } from './migrations.js'
import { createPool, describeUrl } from './pool.js'
import {
  agentFigures,
  deriveRows,
  forgetRows,
  hasRows,
  READ_MODEL_EVENTS,
  sessionsWithRunningCalls,
  toolCalls,
  writeRows,
} from './read-models.js'
import { SessionTable } from './sessions.js'

export interface PostgresStoreOptions {
  /** The schema holding the tables, created when missing (default `public`). */
  schema?: string
  /** Connections at most (default 10). */
  poolSize?: number
  /** How the connections are named in pg_stat_activity (default `claude-code-gateway`). */
  applicationName?: string
  /** The longest a statement may run, waiting for locks included (default 10 s). */
  statementTimeoutMs?: number
  /** The longest a connection may take to open (default 5 s). */
  connectTimeoutMs?: number
  /** Contents of a code change larger than this many bytes get no line counts (default 1 MiB). */
  changeCountMaxBytes?: number
  /** Told about a stored event that cannot be read back (it is left out of what is read). */
  onUnreadableEvent?: (sessionId: string, seq: number, error: Error) => void
  /** Told when the read models' rows of some events could not be derived: the events are kept without them. */
  onReadModelError?: (error: Error, sessionIds: readonly string[]) => void
}

/**
 * Opens the store at `url`: connects, and brings the schema up to date (migrations.ts). Rejects with a
 * StoreError when the server cannot be reached, with an Error when the database cannot be used (a schema
 * newer than this gateway's, a refused statement); the URL's credentials are in neither.
 */
export async function openPostgresStore(
  url: string,
  options: PostgresStoreOptions = {},
): Promise<PostgresStore> {
  const where = describeUrl(url)
  const schema = options.schema ?? 'public'
  const pool = createPool(url, {
    schema,
    size: options.poolSize ?? 10,
    applicationName: options.applicationName ?? 'claude-code-gateway',
    statementTimeoutMs: options.statementTimeoutMs ?? 10_000,
    connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
  })
  // An idle connection the server closed (a restart): the next statement opens another.
  pool.on('error', () => {})
  try {
    await migrate(pool, schema, where)
  } catch (error) {
    await pool.end().catch(() => {})
    throw (
      storeErrorOf(error, where) ??
      new Error(`Cannot open the gateway's database ${where}: ${(error as Error).message}`, { cause: error })
    )
  }
  return new PostgresStore(pool, where, options)
}

/**
 * PostgreSQL store, which several replicas share: one pool of connections, the tables in one schema, the
 * records and events kept as JSON text beside indexed columns (sessions.ts, events.ts, read-models.ts).
 * It numbers the events' global positions itself, in the order its writes commit. A failure of the
 * storage (see errors.ts) is thrown as a StoreError and remembered for `health()` until a write succeeds.
 */
export class PostgresStore implements Store {
  readonly assignsPositions = true
  private readonly sessions = new SessionTable()
  private readonly log: EventLog
  private readonly diffMaxBytes: number
  private readonly onReadModelError: (error: Error, sessionIds: readonly string[]) => void
  private readonly healthRecord = new HealthRecord()
  private closed = false
  /** Users, keys, the audit trail and usage (access.ts), through the same guards as the rest. */
  readonly access: PostgresAccess

  constructor(
    private readonly pool: pg.Pool,
    /** The database as messages name it, without credentials. */
    private readonly where: string,
    options: PostgresStoreOptions = {},
  ) {
    this.log = new EventLog(options.onUnreadableEvent ?? (() => {}))
    this.diffMaxBytes = options.changeCountMaxBytes ?? 1024 * 1024
    this.onReadModelError = options.onReadModelError ?? (() => {})
    this.access = new PostgresAccess(pool, {
      read: (run) => this.guard(run),
      // A failure shows, but only the store's own writes (sessions, events) clear it: a small audit row may fit
      // where the event log cannot grow (a full disk's last free pages), and health would say all is well.
      write: (run) => this.guard(run),
      transaction: (run) => this.transaction(run),
    })
  }

  insertSession(record: SessionRecord): Promise<void> {
    return this.guardWrite(async () => {
      await this.sessions.insert(this.pool, record)
    })
  }

  updateSession(record: SessionRecord): Promise<void> {
    return this.guardWrite(async () => {
      await this.sessions.update(this.pool, record)
    })
  }

  getSession(id: string): Promise<SessionRecord | undefined> {
    return this.guard(() => this.sessions.get(this.pool, id))
  }

  listSessions(query: SessionQuery): Promise<Page<SessionRecord>> {
    return this.guard(() => this.sessions.list(this.pool, query))
  }

  deleteSession(id: string): Promise<void> {
    return this.guardWrite(() =>
      this.transaction(async (client) => {
        await this.sessions.delete(client, id)
        await this.log.deleteSession(client, id)
        await forgetRows(client, id)
      }),
    )
  }

  countSessions(query?: { owner: string }): Promise<number> {
    return this.guard(() => this.sessions.count(this.pool, query?.owner))
  }

  async appendEvents(events: readonly GatewayEvent[]): Promise<void> {
    if (events.length === 0) return
    const derives = events.some((event) => READ_MODEL_EVENTS.has(event.type))
    const first = await this.guardWrite(() =>
      derives
        ? this.transaction(async (client) => {
            const first = await this.log.append(client, events)
            await this.deriveReadModels(client, events)
            return first
          })
        : // Token deltas and the like: one statement, its own transaction.
          this.log.append(this.pool, events),
    )
    // Once committed: a position is the event's only when its write is.
    for (const [i, event] of events.entries()) setPosition(event, first + i)
  }

  async readEvents(sessionId: string, query: EventQuery = {}): Promise<GatewayEvent[]> {
    return (await this.readEventPage(sessionId, query)).events
  }

  readEventPage(sessionId: string, query: EventQuery = {}): Promise<EventPage<GatewayEvent>> {
    return this.guard(() => this.log.readPage(this.pool, sessionId, query))
  }

  lastSeq(sessionId: string): Promise<number> {
    return this.guard(() => this.log.lastSeq(this.pool, sessionId))
  }

  readEventsAfter(afterPos: number, query: PositionQuery = {}): Promise<EventPage<PositionedEvent>> {
    return this.guard(() => this.log.readAfter(this.pool, afterPos, query))
  }

  lastPos(): Promise<number> {
    return this.guard(() => this.log.lastPos(this.pool))
  }

  /** The last position handed out: this store reserves none ahead, it hands each out as it commits. */
  reservedPos(): Promise<number> {
    return this.guard(() => this.log.handedOut(this.pool))
  }

  /** Nothing to reserve: positions are handed out in the transaction that writes their events. */
  async reservePositions(_upTo: number): Promise<void> {}

  toolCalls(query: ToolCallQuery): Promise<Page<ToolCallRef>> {
    return this.guard(() => toolCalls(this.pool, query))
  }

  sessionsWithRunningCalls(): Promise<string[]> {
    return this.guard(() => sessionsWithRunningCalls(this.pool))
  }

  agentFigures(since?: number): Promise<AgentFigures> {
    return this.guard(() => agentFigures(this.pool, since))
  }

  /** Never: the rows are derived as their events are written, and the schema began with the read models. */
  readModelsBuilding(): boolean {
    return false
  }

  fileChanges(
    sessionId: string,
    page: { limit: number; offset: number },
    maxBytes: number,
  ): Promise<FileChanges> {
    return this.guard(() => readChanges(this.pool, sessionId, page, maxBytes))
  }

  fileChangeSeqs(sessionId: string, path: string, seq: number) {
    return this.guard(() => changeSeqs(this.pool, sessionId, path, seq))
  }

  health(): StoreHealth {
    return this.healthRecord.report()
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.pool.end()
  }

  /**
   * Derives and writes the read models' rows of appended events, in their transaction. A failure to derive
   * them must not lose the events: it rolls back these rows alone (a savepoint) and is told; a failure of
   * the storage fails the whole write.
   */
  private async deriveReadModels(client: pg.PoolClient, events: readonly GatewayEvent[]): Promise<void> {
    const relevant = events.filter((event) => READ_MODEL_EVENTS.has(event.type))
    if (relevant.length === 0) return
    await client.query('SAVEPOINT read_models')
    try {
      const rows = await deriveRows(client, relevant, this.diffMaxBytes)
      if (hasRows(rows)) await writeRows(client, rows)
    } catch (error) {
      if (storeErrorOf(error, this.where)) throw error
      await client.query('ROLLBACK TO SAVEPOINT read_models')
      this.onReadModelError(error instanceof Error ? error : new Error(String(error)), [
        ...new Set(relevant.map((event) => event.sessionId)),
      ])
    }
  }

  /** Runs `run` in a transaction on one connection; a connection the storage failed on is not reused. */
  private async transaction<T>(run: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect()
    let broken: Error | undefined
    // A connection lost between statements (while a batch's rows are derived, say) is told here rather than
    // thrown at the process; the next statement fails with it.
    const lost = (error: Error) => {
      broken = error
    }
    client.on('error', lost)
    try {
      await client.query('BEGIN')
      const result = await run(client)
      await client.query('COMMIT')
      return result
    } catch (error) {
      if (storeErrorOf(error, this.where)) broken = error as Error
      else await client.query('ROLLBACK').catch((failure: Error) => (broken = failure))
      throw error
    } finally {
      client.off('error', lost)
      client.release(broken)
    }
  }

  /** A write: the storage works again once one succeeds. */
  private async guardWrite<T>(run: () => Promise<T>): Promise<T> {
    const result = await this.guard(run)
    this.healthRecord.succeeded()
    return result
  }

  /** Runs statements, turning a failure of the storage into a StoreError (and remembering it). */
  private async guard<T>(run: () => Promise<T>): Promise<T> {
    if (this.closed)
      throw new StoreError(
        'storage_unavailable',
        `The gateway's database ${this.where} is closed`,
        STORE_RETRY_AFTER_MS,
      )
    try {
      return await run()
    } catch (error) {
      const failure = storeErrorOf(error, this.where)
      if (!failure) throw error
      throw this.healthRecord.failed(failure)
    }
  }
}
