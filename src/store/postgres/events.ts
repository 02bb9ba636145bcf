import { eventJson } from '../../events/json.js'
import type { PositionedEvent } from '../../events/positions.js'
import type { GatewayEvent } from '../../events/types.js'
import {
  type EventRow,
  type PositionedRow,
  positionPage,
  sessionPage,
  type UnreadableEvent,
} from '../event-page.js'
import type { EventPage, EventQuery, PositionQuery } from '../types.js'
import type { Queryable } from './pool.js'

/** The statements of `readAfter`, by the filters it has: each has the plan of its own indexes. */
const AFTER = {
  all: 'SELECT pos, session_id, seq, event FROM events WHERE pos > $1 ORDER BY pos LIMIT $2',
  sessions:
    'SELECT pos, session_id, seq, event FROM events WHERE pos > $1 AND session_id = ANY($3::text[]) ORDER BY pos LIMIT $2',
  types:
    'SELECT pos, session_id, seq, event FROM events WHERE pos > $1 AND type = ANY($3::text[]) ORDER BY pos LIMIT $2',
  both: 'SELECT pos, session_id, seq, event FROM events WHERE pos > $1 AND session_id = ANY($3::text[]) AND type = ANY($4::text[]) ORDER BY pos LIMIT $2',
}

/**
 * The `events` table: each session's events by `seq`, every event by global position, which `append`
 * hands out. Storage failures and transactions are the caller's (store.ts): `append` runs in the
 * transaction that writes the read models too.
 */
export class EventLog {
  constructor(private readonly onUnreadableEvent: UnreadableEvent) {}

  /**
   * Writes the events with the positions after the last one handed out, and returns the first. The counter's
   * row stays locked until the transaction ends, so the writes of every replica commit one after another,
   * each with positions above those committed before it: a reader following the positions never finds a
   * lower one committed after a higher one it has read. (The row lock is the transaction-level lock an
   * advisory lock would be, in the statement that needs it.)
   */
  async append(db: Queryable, events: readonly GatewayEvent[]): Promise<number> {
    const { rows } = await db
      .query<{ last: number }>({
        name: 'events-append',
        text: `WITH counter AS (UPDATE positions SET last = last + cardinality($1::text[]) RETURNING last),
             written AS (
               INSERT INTO events (pos, session_id, seq, type, event)
               SELECT counter.last - cardinality($1::text[]) + batch.n, batch.session_id, batch.seq, batch.type, batch.event
               FROM counter, unnest($1::text[], $2::integer[], $3::text[], $4::text[]) WITH ORDINALITY
                 AS batch (session_id, seq, type, event, n)
             )
             SELECT last FROM counter`,
        values: [
          events.map((event) => event.sessionId),
          events.map((event) => event.seq),
          events.map((event) => event.type),
          events.map((event) => eventJson(event)),
        ],
      })
      .catch((error: unknown) => {
        throw duplicateOf(error) ?? error
      })
    return rows[0]!.last - events.length + 1
  }

  deleteSession(db: Queryable, sessionId: string): Promise<unknown> {
    return db.query({
      name: 'events-delete-session',
      text: 'DELETE FROM events WHERE session_id = $1',
      values: [sessionId],
    })
  }

  async readPage(db: Queryable, sessionId: string, query: EventQuery): Promise<EventPage<GatewayEvent>> {
    const { afterSeq = 0, limit = -1, types } = query
    // `seq > 0` lets the unique index of the sequence answer (events outside it are never read by seq).
    const { rows } = await db.query<EventRow>(
      types
        ? {
            name: 'events-page-types',
            text: 'SELECT seq, event FROM events WHERE session_id = $1 AND seq > 0 AND seq > $2 AND type = ANY($4::text[]) ORDER BY seq LIMIT $3',
            values: [sessionId, afterSeq, limitOf(limit), types],
          }
        : {
            name: 'events-page',
            text: 'SELECT seq, event FROM events WHERE session_id = $1 AND seq > 0 AND seq > $2 ORDER BY seq LIMIT $3',
            values: [sessionId, afterSeq, limitOf(limit)],
          },
    )
    return sessionPage(sessionId, rows, query, this.onUnreadableEvent)
  }

  async lastSeq(db: Queryable, sessionId: string): Promise<number> {
    const { rows } = await db.query<{ seq: number }>({
      name: 'events-last-seq',
      text: 'SELECT coalesce(max(seq), 0) AS seq FROM events WHERE session_id = $1 AND seq > 0',
      values: [sessionId],
    })
    return rows[0]!.seq
  }

  async readAfter(
    db: Queryable,
    afterPos: number,
    query: PositionQuery,
  ): Promise<EventPage<PositionedEvent>> {
    const { sessionIds, types, limit = -1 } = query
    const filters = sessionIds && types ? 'both' : sessionIds ? 'sessions' : types ? 'types' : 'all'
    const { rows } = await db.query<PositionedRow>({
      name: `events-after-${filters}`,
      text: AFTER[filters],
      values: [afterPos, limitOf(limit), ...(sessionIds ? [sessionIds] : []), ...(types ? [types] : [])],
    })
    return positionPage(afterPos, rows, query, this.onUnreadableEvent)
  }

  async lastPos(db: Queryable): Promise<number> {
    const { rows } = await db.query<{ pos: number }>({
      name: 'events-last-pos',
      text: 'SELECT coalesce(max(pos), 0) AS pos FROM events',
    })
    return rows[0]!.pos
  }

  /** The last position handed out: none at or below it is handed out again. */
  async handedOut(db: Queryable): Promise<number> {
    const { rows } = await db.query<{ last: number }>({
      name: 'positions-last',
      text: 'SELECT last FROM positions',
    })
    return rows[0]!.last
  }
}

/** An event numbered as one already stored: the error says which, not only the index that refused it. */
function duplicateOf(error: unknown): Error | undefined {
  const { code, constraint, detail } = error as { code?: unknown; constraint?: unknown; detail?: unknown }
  if (code !== '23505' || constraint !== 'events_session_seq') return undefined
  return new Error(`An event with this session and sequence number is stored already: ${String(detail)}`, {
    cause: error,
  })
}

/** A query's limit as SQL takes it: negative (as SQLite's -1) is none, which LIMIT NULL means. */
const limitOf = (limit: number): number | null => (limit < 0 ? null : limit)
