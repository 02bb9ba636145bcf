import type Database from 'better-sqlite3'
import { eventJson } from '../events/json.js'
import { type PositionedEvent, positionOf } from '../events/positions.js'
import type { GatewayEvent } from '../events/types.js'
import {
  type EventRow,
  type PositionedRow,
  positionPage,
  sessionPage,
  type UnreadableEvent,
} from './event-page.js'
import type { EventPage, EventQuery, PositionQuery } from './types.js'

/**
 * The parameters of the statements that find the positions of a filtered `readAfter`: `key` is the
 * session or type whose index is walked, the other filter (a JSON array, null: any) is checked on each row.
 */
interface PositionParams {
  key: string | null
  after: number
  sessions: string | null
  types: string | null
  limit: number
}

/** The mark of the positions handed out, in the `meta` table. */
const RESERVED_POS = 'reserved_pos'

/**
 * The `events` table: each session's events by `seq`, every event by global position, and the mark of the
 * positions reserved. Storage failures are the caller's to handle (sqlite.ts guards every call), and so are
 * transactions: `append` and `deleteSession` run inside the one that writes the read models too.
 */
export class EventLog {
  private readonly statements

  constructor(
    private readonly db: Database.Database,
    private readonly onUnreadableEvent: UnreadableEvent,
  ) {
    this.statements = {
      append: db.prepare('INSERT INTO events (session_id, seq, event, pos, type) VALUES (?, ?, ?, ?, ?)'),
      deleteSession: db.prepare('DELETE FROM events WHERE session_id = ?'),
      readEvents: db.prepare<[string, number, number], EventRow>(
        'SELECT seq, event FROM events WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?',
      ),
      // Events of other types are skipped by their type column, without being parsed in JS. A row without
      // one (SQLite's JSON could not read it when the column was filled: nested deeper than its limit of
      // 1000) is passed on to JS, which reads deeper and checks the type itself.
      readEventsOfTypes: db.prepare<[string, number, string, number], EventRow>(
        'SELECT seq, event FROM events WHERE session_id = ? AND seq > ? AND (type IS NULL OR type IN (SELECT value FROM json_each(?))) ORDER BY seq LIMIT ?',
      ),
      lastSeq: db.prepare<[string], { seq: number | null }>(
        'SELECT max(seq) AS seq FROM events WHERE session_id = ?',
      ),
      readEventsAfter: db.prepare<[number, number], PositionedRow>(
        'SELECT pos, session_id, seq, event FROM events WHERE pos > ? ORDER BY pos LIMIT ?',
      ),
      // A filtered read takes the first positions of each session (or type) from its index, in order,
      // then reads the rows of the first of them all: it never walks the events it does not select.
      positionsOfSession: db.prepare<PositionParams, { pos: number }>(
        'SELECT pos FROM events WHERE session_id = @key AND pos > @after AND (@types IS NULL OR type IS NULL OR type IN (SELECT value FROM json_each(@types))) ORDER BY pos LIMIT @limit',
      ),
      positionsOfType: db.prepare<PositionParams, { pos: number }>(
        'SELECT pos FROM events WHERE type IS @key AND pos > @after AND (@sessions IS NULL OR session_id IN (SELECT value FROM json_each(@sessions))) ORDER BY pos LIMIT @limit',
      ),
      eventsAt: db.prepare<[string], PositionedRow>(
        'SELECT pos, session_id, seq, event FROM events WHERE pos IN (SELECT value FROM json_each(?)) ORDER BY pos',
      ),
      lastPos: db.prepare<[], { pos: number | null }>('SELECT max(pos) AS pos FROM events'),
      reservedPos: db.prepare<[], { value: number }>(`SELECT value FROM meta WHERE key = '${RESERVED_POS}'`),
      reservePositions: db.prepare<[number]>(
        `INSERT INTO meta (key, value) VALUES ('${RESERVED_POS}', ?) ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)`,
      ),
    }
  }

  append(events: readonly GatewayEvent[]): void {
    for (const event of events)
      this.statements.append.run(
        event.sessionId,
        event.seq,
        eventJson(event),
        positionOf(event) ?? null,
        event.type,
      )
  }

  deleteSession(sessionId: string): void {
    this.statements.deleteSession.run(sessionId)
  }

  readPage(sessionId: string, query: EventQuery): EventPage<GatewayEvent> {
    const { afterSeq = 0, limit = -1, types } = query
    const rows = types
      ? this.statements.readEventsOfTypes.all(sessionId, afterSeq, JSON.stringify(types), limit)
      : this.statements.readEvents.all(sessionId, afterSeq, limit)
    return sessionPage(sessionId, rows, query, this.onUnreadableEvent)
  }

  lastSeq(sessionId: string): number {
    return this.statements.lastSeq.get(sessionId)?.seq ?? 0
  }

  readAfter(afterPos: number, query: PositionQuery): EventPage<PositionedEvent> {
    const rows =
      query.sessionIds || query.types
        ? this.filteredRowsAfter(afterPos, query)
        : this.statements.readEventsAfter.all(afterPos, query.limit ?? -1)
    return positionPage(afterPos, rows, query, this.onUnreadableEvent)
  }

  /**
   * The rows `readAfter` selects with a filter: the first `limit` positions of each session named (or each
   * type, whichever list is shorter, the other filter checked on the way), merged; the first `limit` of
   * them all are the first of the log.
   */
  private filteredRowsAfter(after: number, query: PositionQuery): PositionedRow[] {
    const { sessionIds, types, limit = -1 } = query
    // Rows without a type column (see readEventsOfTypes) are one more key of the type index.
    const typeKeys = types && [...types, null]
    const bySession = sessionIds !== undefined && (!typeKeys || sessionIds.length <= typeKeys.length)
    const statement = bySession ? this.statements.positionsOfSession : this.statements.positionsOfType
    const params: PositionParams = {
      key: null,
      after,
      sessions: sessionIds ? JSON.stringify(sessionIds) : null,
      types: types ? JSON.stringify(types) : null,
      limit,
    }
    const positions: number[] = []
    for (const key of new Set(bySession ? sessionIds : typeKeys)) {
      params.key = key
      for (const { pos } of statement.all(params)) positions.push(pos)
    }
    positions.sort((a, b) => a - b)
    if (limit >= 0) positions.length = Math.min(positions.length, limit)
    return positions.length > 0 ? this.statements.eventsAt.all(JSON.stringify(positions)) : []
  }

  lastPos(): number {
    return this.statements.lastPos.get()?.pos ?? 0
  }

  reservedPos(): number {
    return this.statements.reservedPos.get()?.value ?? 0
  }

  reservePositions(upTo: number): void {
    // Synced like a checkpoint, unlike the events' commits (synchronous = NORMAL): a mark lost with the
    // last commits of a power cut would let the positions of events lost with them be handed out again.
    this.db.pragma('synchronous = FULL')
    try {
      this.statements.reservePositions.run(upTo)
    } finally {
      this.db.pragma('synchronous = NORMAL')
    }
  }
}
