/**
 * A page of stored events as both stores' event logs read it (event-log.ts, postgres/events.ts): the rows
 * their statement selected, parsed, with how far the read went. A row left out (unreadable, or not of the
 * types asked for) still counts towards the page, so a short page is not the end.
 */
import type { PositionedEvent } from '../events/positions.js'
import type { GatewayEvent } from '../events/types.js'
import type { EventPage, EventQuery, PositionQuery } from './types.js'

export interface EventRow {
  seq: number
  event: string
}

export interface PositionedRow extends EventRow {
  pos: number
  session_id: string
}

/** Told about a stored event that cannot be read back (it is left out of what is read). */
export type UnreadableEvent = (sessionId: string, seq: number, error: Error) => void

/** A page of a session's events, from the rows selected for `query`. */
export function sessionPage(
  sessionId: string,
  rows: readonly EventRow[],
  query: EventQuery,
  onUnreadable: UnreadableEvent,
): EventPage<GatewayEvent> {
  const { afterSeq = 0, limit = -1, types } = query
  const events: GatewayEvent[] = []
  for (const { seq, event } of rows) {
    const parsed = parse(sessionId, seq, event, types, onUnreadable)
    if (parsed) events.push(parsed)
  }
  return { events, last: rows.at(-1)?.seq ?? afterSeq, end: limit < 0 || rows.length < limit }
}

/** A page of the log after position `afterPos`, from the rows selected for `query`. */
export function positionPage(
  afterPos: number,
  rows: readonly PositionedRow[],
  query: PositionQuery,
  onUnreadable: UnreadableEvent,
): EventPage<PositionedEvent> {
  const { limit = -1, types } = query
  const events: PositionedEvent[] = []
  for (const row of rows) {
    const event = parse(row.session_id, row.seq, row.event, types, onUnreadable)
    if (event) events.push({ pos: row.pos, event })
  }
  return { events, last: rows.at(-1)?.pos ?? afterPos, end: limit < 0 || rows.length < limit }
}

/** A stored event, or undefined for a row left out: unreadable, or not of `types`. */
function parse(
  sessionId: string,
  seq: number,
  text: string,
  types: readonly string[] | undefined,
  onUnreadable: UnreadableEvent,
): GatewayEvent | undefined {
  let parsed: GatewayEvent
  try {
    parsed = JSON.parse(text) as GatewayEvent
  } catch (error) {
    // One unreadable row must not make the session's whole history unreadable: it is left out.
    onUnreadable(sessionId, seq, error as Error)
    return undefined
  }
  // A row whose type the database could not read (SQLite's readEventsOfTypes) was passed on whatever its type.
  return types && !types.includes(parsed.type) ? undefined : parsed
}
