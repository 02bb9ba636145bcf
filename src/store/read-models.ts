/**
 * Read models derived from the event log, written in the same transaction as the events they come from: an
 * index of every tool call (`tool_calls`, tool-call-index.ts), a row per finished turn (`turns`) and each code
 * change with its line counts (`file_changes`, file-changes.ts). The event log stays the one source of truth:
 * these tables only make questions across sessions (tool calls of every session, figures per agent) and over
 * long sessions answerable without reading their events, and are rebuilt from it.
 */
import type Database from 'better-sqlite3'
import { DECIDING_EVENTS, decide } from '../events/tool-calls.js'
import type { EventOf, EventType, GatewayEvent } from '../events/types.js'
import { turnRow } from './derive-turns.js'
import { STORE_RETRY_AFTER_MS, storeErrorOf } from './errors.js'
import { FileChangeModel } from './file-changes.js'
import { FilteredList, type ListParams } from './filtered-list.js'
import { IndexedCalls, type IndexStatements, prepareIndex } from './tool-call-index.js'
import type { AgentFigure, AgentFigures, FileChanges, Page, ToolCallQuery, ToolCallRef } from './types.js'

/** Events the read models are derived from: those deciding a call's status, a turn's model, code changes. */
const READ_MODEL_EVENTS: readonly EventType[] = [...DECIDING_EVENTS, 'usage', 'file.changed']
const DECIDING = new Set<EventType>(DECIDING_EVENTS)
/** Sequence numbers of a session a background build step reads at most: the work between two yields. */
const BUILD_CHUNK = 2_000

interface IndexRow {
  session_id: string
  tool_use_id: string
  seq: number
  caller: ToolCallRef['caller']
  agent: string | null
  last_seq: number
}

export interface ReadModelOptions {
  /** Contents of a code change larger than this are not compared: its line counts are unknown. */
  diffMaxBytes: number
  /** Told when rows could not be derived: the events are kept and the sessions' rows rebuilt. */
  onError: (error: Error, sessionIds: readonly string[]) => void
}

/**
 * Keeps the read models of one database. `apply` runs inside the transaction that appends the events (after
 * their rows are written), so the tables never disagree with the log; each event changes only the rows it
 * names. A failure to derive rows must not lose events: it rolls back the derived rows alone (a savepoint),
 * and queues the sessions for a rebuild. The queue (`read_model_builds`, filled by schema step 5 for the
 * events of an older database) is worked off in the background, a chunk at a time, after the store opens;
 * appends leave a queued session to it.
 */
export class ReadModels {
  private readonly statements
  private readonly index: IndexStatements
  private readonly files: FileChangeModel
  private readonly calls: FilteredList<IndexRow>
  /** Sessions queued for a build, as `read_model_builds` has them. */
  private readonly queued: Set<string>
  private timer: NodeJS.Immediate | NodeJS.Timeout | null = null
  private stopped = false

  constructor(
    private readonly db: Database.Database,
    private readonly options: ReadModelOptions,
  ) {
    this.index = prepareIndex(db)
    this.files = new FileChangeModel(db, options.diffMaxBytes)
    this.calls = new FilteredList(
      db,
      'tool_calls',
      'session_id, tool_use_id, seq, caller, agent, last_seq',
      'ts DESC, seq DESC',
    )
    this.statements = {
      sessionAgent: db.prepare<[string], { agent: string | null }>('SELECT agent FROM sessions WHERE id = ?'),
      usageBefore: db.prepare<[string, number], { event: string }>(
        'SELECT event FROM events WHERE session_id = ? AND seq = ?',
      ),
      upsertTurn: db.prepare(
        `INSERT OR REPLACE INTO turns (session_id, turn_id, seq, agent, model, status, started_at, duration_ms, input_tokens, output_tokens, cost_usd)
         VALUES (@session_id, @turn_id, @seq, @agent, @model, @status, @started_at, @duration_ms, @input_tokens, @output_tokens, @cost_usd)`,
      ),
      deleteCalls: db.prepare('DELETE FROM tool_calls WHERE session_id = ?'),
      deleteTurns: db.prepare('DELETE FROM turns WHERE session_id = ?'),
      runningSessions: db.prepare<[], { session_id: string }>(
        "SELECT DISTINCT session_id FROM tool_calls WHERE status = 'running'",
      ),
      queue: db.prepare('INSERT OR REPLACE INTO read_model_builds (session_id, next_seq) VALUES (?, 0)'),
      queued: db.prepare<[], { session_id: string }>('SELECT session_id FROM read_model_builds'),
      nextBuild: db.prepare<[], { session_id: string; next_seq: number }>(
        'SELECT session_id, next_seq FROM read_model_builds LIMIT 1',
      ),
      advance: db.prepare('UPDATE read_model_builds SET next_seq = ? WHERE session_id = ?'),
      dequeue: db.prepare('DELETE FROM read_model_builds WHERE session_id = ?'),
      // Rows whose type SQLite could not read (NULL) are passed on: JS checks their type.
      eventsBetween: db.prepare<[string, number, number, string], { event: string }>(
        'SELECT event FROM events WHERE session_id = ? AND seq >= ? AND seq < ? AND (type IS NULL OR type IN (SELECT value FROM json_each(?))) ORDER BY seq',
      ),
      lastSeq: db.prepare<[string], { seq: number | null }>(
        'SELECT max(seq) AS seq FROM events WHERE session_id = ?',
      ),
    }
    this.queued = new Set(this.statements.queued.all().map((row) => row.session_id))
    this.schedule()
  }

  /** Whether sessions' rows are still being built: lists and figures leave their calls out until then. */
  get building(): boolean {
    return this.queued.size > 0
  }

  /** Derives the rows of appended events; called in their transaction, after their rows are written. */
  apply(events: readonly GatewayEvent[]): void {
    const fresh = events.filter((event) => !this.queued.has(event.sessionId))
    if (fresh.length === 0) return
    const failure = this.deriveGuarded(fresh)
    if (!failure) return
    const sessions = [...new Set(fresh.map((event) => event.sessionId))]
    for (const id of sessions) {
      this.statements.queue.run(id)
      this.queued.add(id)
    }
    this.options.onError(failure, sessions)
    this.schedule()
  }

  /** Forgets a deleted session's rows; in the transaction that deletes its events. */
  forget(sessionId: string): void {
    this.forgetRows(sessionId)
    this.statements.dequeue.run(sessionId)
    this.queued.delete(sessionId)
  }

  /** Stops the background build (the database is closing); the queue is resumed at the next open. */
  stop(): void {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer as NodeJS.Timeout)
    if (this.timer) clearImmediate(this.timer as NodeJS.Immediate)
    this.timer = null
  }

  /**
   * Builds the next chunk of a queued session's rows, in a transaction of its own; false when the queue is
   * empty. A session is done (and left to appends again) once a chunk reaches its last event.
   */
  buildChunk(): boolean {
    const next = this.statements.nextBuild.get()
    if (!next) return false
    const { session_id: sessionId, next_seq: from } = next
    this.db.transaction(() => {
      if (from === 0) this.forgetRows(sessionId)
      const to = from + BUILD_CHUNK
      const events = this.statements.eventsBetween
        .all(sessionId, from, to, JSON.stringify(READ_MODEL_EVENTS))
        .flatMap(({ event }) => readable(event))
      // A failing event is left out of the rows (and told), the others are derived one by one around it.
      if (this.deriveGuarded(events))
        for (const event of events) {
          const failure = this.deriveGuarded([event])
          if (failure) this.options.onError(failure, [sessionId])
        }
      if (to > (this.statements.lastSeq.get(sessionId)?.seq ?? 0)) {
        this.statements.dequeue.run(sessionId)
        this.queued.delete(sessionId)
      } else this.statements.advance.run(to, sessionId)
    })()
    return true
  }

  /** Sessions with calls still running as far as their events tell: the reader asks which have a process. */
  sessionsWithRunningCalls(): string[] {
    return this.statements.runningSessions.all().map((row) => row.session_id)
  }

  toolCalls(query: ToolCallQuery): Page<ToolCallRef> {
    const where: string[] = []
    const params: ListParams = {
      limit: query.limit,
      offset: query.offset,
      live: JSON.stringify(query.liveSessions),
    }
    for (const [column, value] of [
      ['name', query.name],
      ['session_id', query.sessionId],
      ['agent', query.agent],
      ['caller', query.caller],
    ] as const) {
      if (value === undefined) continue
      where.push(`${column} = @${column}`)
      params[column] = value
    }
    if (query.owner !== undefined) {
      where.push('session_id IN (SELECT id FROM sessions WHERE owner = @owner)')
      params.owner = query.owner
    }
    if (query.since !== undefined) {
      where.push('ts >= @since')
      params.since = query.since
    }
    // events/tool-calls.ts's rule for a call without a result: running only while its process is, or if direct.
    const alive = "(caller = 'direct' OR session_id IN (SELECT value FROM json_each(@live)))"
    if (query.status === 'running') where.push(`status = 'running' AND ${alive}`)
    else if (query.status === 'interrupted')
      where.push(`(status = 'interrupted' OR (status = 'running' AND NOT ${alive}))`)
    else if (query.status !== undefined) {
      where.push('status = @status')
      params.status = query.status
    }
    const { rows, total } = this.calls.page(where, params)
    return {
      items: rows.map((row) => ({
        sessionId: row.session_id,
        toolUseId: row.tool_use_id,
        seq: row.seq,
        caller: row.caller,
        agent: row.agent,
        lastSeq: Math.max(row.seq, row.last_seq),
      })),
      total,
    }
  }

  fileChanges(sessionId: string, page: { limit: number; offset: number }, maxBytes: number): FileChanges {
    return this.files.changes(sessionId, page, maxBytes)
  }

  fileChangeSeqs(sessionId: string, path: string, seq: number) {
    return this.files.seqs(sessionId, path, seq)
  }

  agentFigures(since = 0): AgentFigures {
    const main = this.figures(
      `SELECT agent, status = 'success' AS ok, duration_ms, input_tokens, output_tokens, cost_usd
       FROM turns WHERE started_at >= ?`,
      since,
    )
    const subagents = this.figures(
      `SELECT subagent AS agent, status = 'succeeded' AS ok, duration_ms, input_tokens, output_tokens, NULL AS cost_usd
       FROM tool_calls WHERE subagent IS NOT NULL AND status != 'running' AND ts >= ?`,
      since,
    )
    return { main, subagents: subagents.map((figure) => ({ ...figure, agent: figure.agent! })) }
  }

  /** Totals per agent of `source`'s rows, with their latency's p50 and p95 (nearest rank). */
  private figures(source: string, since: number): AgentFigure[] {
    return this.db
      .prepare<[number], AgentFigure>(
        `WITH runs AS (${source}),
         ranked AS (
           SELECT agent, duration_ms, row_number() OVER (PARTITION BY agent ORDER BY duration_ms) AS pos,
             count(duration_ms) OVER (PARTITION BY agent) AS n
           FROM runs WHERE duration_ms IS NOT NULL
         )
         SELECT agent, count(*) AS runs, sum(ok) AS succeeded,
           (SELECT duration_ms FROM ranked r WHERE r.agent IS runs.agent AND r.pos = (r.n * 50 + 99) / 100) AS p50Ms,
           (SELECT duration_ms FROM ranked r WHERE r.agent IS runs.agent AND r.pos = (r.n * 95 + 99) / 100) AS p95Ms,
           sum(input_tokens) AS inputTokens, sum(output_tokens) AS outputTokens, sum(cost_usd) AS costUsd
         FROM runs GROUP BY agent ORDER BY runs DESC, agent`,
      )
      .all(since)
  }

  /**
   * Derives the events' rows in a savepoint: a failure about the data (a row a table refuses, an event of
   * an unexpected shape) rolls back these rows alone and is returned; a failure of the storage is thrown
   * (it fails the whole write).
   */
  private deriveGuarded(events: readonly GatewayEvent[]): Error | undefined {
    try {
      this.db.transaction(() => this.derive(events))()
      return undefined
    } catch (error) {
      if (storeErrorOf(error, 'read models') || !this.db.inTransaction) throw error
      return error instanceof Error ? error : new Error(String(error))
    }
  }

  private derive(events: readonly GatewayEvent[]): void {
    const books = new Map<string, IndexedCalls>()
    const usages = new Map<string, EventOf<'usage'>>()
    for (const event of events) {
      if (DECIDING.has(event.type)) {
        let book = books.get(event.sessionId)
        if (!book) {
          const agent = this.statements.sessionAgent.get(event.sessionId)?.agent ?? null
          book = new IndexedCalls(this.index, event.sessionId, agent)
          books.set(event.sessionId, book)
        }
        decide(event, book)
      }
      if (event.type === 'file.changed') this.files.apply(event)
      else if (event.type === 'usage') usages.set(`${event.sessionId} ${event.turnId}`, event)
      // A slash command Claude Code ran itself called no model: it is no turn of an agent's.
      else if (event.type === 'turn.completed' && event.localCommand === undefined)
        this.addTurn(event, usages.get(`${event.sessionId} ${event.turnId}`))
    }
  }

  private forgetRows(sessionId: string): void {
    this.statements.deleteCalls.run(sessionId)
    this.statements.deleteTurns.run(sessionId)
    this.files.forget(sessionId)
  }

  /** Works the build queue off a chunk at a time, yielding to the event loop between chunks. */
  private schedule(): void {
    if (this.stopped || this.timer || this.queued.size === 0) return
    this.timer = setImmediate(() => {
      this.timer = null
      if (this.stopped) return
      try {
        if (this.buildChunk()) this.schedule()
      } catch (error) {
        // The storage failed: the chunk is tried again later (the queue is kept in the database).
        this.options.onError(error as Error, [])
        this.timer = setTimeout(() => {
          this.timer = null
          this.schedule()
        }, STORE_RETRY_AFTER_MS).unref()
      }
    })
    this.timer.unref()
  }

  private addTurn(event: EventOf<'turn.completed'>, usage: EventOf<'usage'> | undefined): void {
    // Claude Code reports the turn's model in the `usage` event just before it (translate.ts).
    let turnUsage = usage
    if (!usage) {
      const before = this.statements.usageBefore.get(event.sessionId, event.seq - 1)
      const previous = before ? (JSON.parse(before.event) as GatewayEvent) : undefined
      if (previous?.type === 'usage' && previous.turnId === event.turnId) turnUsage = previous
    }
    const agent = this.statements.sessionAgent.get(event.sessionId)?.agent ?? null
    this.statements.upsertTurn.run(turnRow(event, agent, turnUsage))
  }
}

/** A stored event the build can read, of the types it derives rows from (unreadable rows are left out). */
function readable(text: string): GatewayEvent[] {
  try {
    const event = JSON.parse(text) as GatewayEvent
    return READ_MODEL_EVENTS.includes(event.type) ? [event] : []
  } catch {
    return []
  }
}
