/**
 * The read models in PostgreSQL (`tool_calls`, `turns`, `file_changes`), derived from appended events in the
 * transaction that writes them, by the rules SQLite's read models follow (../read-models.ts): calls decided
 * by events/tool-calls.ts's `decide`, turns from `turn.completed` and the `usage` before it, changes counted
 * by ../derive-changes.ts. A batch's rows are derived in memory: the rows it can change are read first, in
 * one statement per table, and what changed is written back in one.
 */
import { DECIDING_EVENTS, decide } from '../../events/tool-calls.js'
import type { EventOf, EventType, GatewayEvent } from '../../events/types.js'
import { type CallRow, callRow, LoadedCalls, type StoredCallRow } from '../derive-calls.js'
import type { ChangeRow } from '../derive-changes.js'
import { type TurnRow, turnRow } from '../derive-turns.js'
import type { AgentFigure, AgentFigures, Page, ToolCallQuery, ToolCallRef } from '../types.js'
import { changeRows } from './file-changes.js'
import { readPage } from './page.js'
import type { Queryable } from './pool.js'

/** Events the read models are derived from: those deciding a call's status, a turn's model, code changes. */
export const READ_MODEL_EVENTS: ReadonlySet<EventType> = new Set([
  ...DECIDING_EVENTS,
  'usage',
  'file.changed',
])
const DECIDING = new Set<EventType>(DECIDING_EVENTS)

/** The rows a batch of events derives. */
export interface DerivedRows {
  calls: StoredCallRow[]
  turns: TurnRow[]
  changes: ChangeRow[]
}

/** Each table's columns with their types, as the rows written are read from JSON. */
const COLUMNS = {
  tool_calls: {
    key: ['session_id', 'tool_use_id'],
    columns: `session_id text, tool_use_id text, seq integer, ts bigint, name text, turn_id text, caller text,
      agent text, subagent text, status text, finished_at bigint, duration_ms double precision,
      input_tokens bigint, output_tokens bigint, request_id text, result_error smallint, result_denied smallint,
      resolved_behavior text, resolved_by text, ended text, ended_at bigint, unanswered text, last_seq integer`,
  },
  turns: {
    key: ['session_id', 'turn_id'],
    columns: `session_id text, turn_id text, seq integer, agent text, model text, status text, started_at bigint,
      duration_ms double precision, input_tokens bigint, output_tokens bigint, cost_usd double precision`,
  },
  file_changes: {
    key: ['session_id', 'seq'],
    columns: `session_id text, seq integer, ts bigint, turn_id text, tool_use_id text, tool text, path text,
      kind text, creates boolean, added integer, removed integer, known boolean, size bigint`,
  },
}

/** An upsert of a table's rows given as a JSON array (parameter `$n`): a row already there is replaced. */
function upsert(table: keyof typeof COLUMNS, n: number): string {
  const { key, columns } = COLUMNS[table]
  const names = columns.split(',').map((column) => column.trim().split(' ')[0]!)
  const updated = names.filter((name) => !key.includes(name))
  return `INSERT INTO ${table} (${names.join(', ')})
    SELECT ${names.join(', ')} FROM json_to_recordset($${n}::json) AS r (${columns})
    ON CONFLICT (${key.join(', ')}) DO UPDATE SET (${updated.join(', ')}) = ROW(${updated.map((name) => `excluded.${name}`).join(', ')})`
}

const WRITE = `WITH calls AS (${upsert('tool_calls', 1)}), turns_written AS (${upsert('turns', 2)})
  ${upsert('file_changes', 3)}`

/**
 * Derives the rows of appended events: called in their transaction, after they are written, so that the
 * statements that look back (the `usage` before a turn's end, a file's previous change) find them too.
 */
export async function deriveRows(
  db: Queryable,
  events: readonly GatewayEvent[],
  diffMaxBytes: number,
): Promise<DerivedRows> {
  const deciding = events.filter((event) => DECIDING.has(event.type))
  const turnEnds = events.filter(
    (event): event is EventOf<'turn.completed'> =>
      event.type === 'turn.completed' && event.localCommand === undefined,
  )
  const sessions = [...new Set([...deciding, ...turnEnds].map((event) => event.sessionId))]
  const agents = await sessionAgents(db, sessions)
  const books = await loadCalls(db, deciding, agents)
  const usagesBefore = await storedUsages(db, events)
  const rows: DerivedRows = { calls: [], turns: [], changes: [] }
  const turns = new Map<string, TurnRow>()
  const usages = new Map<string, EventOf<'usage'>>()
  for (const event of events) {
    if (DECIDING.has(event.type)) decide(event, books.get(event.sessionId)!)
    if (event.type === 'usage') usages.set(`${event.sessionId} ${event.turnId}`, event)
    // A slash command Claude Code ran itself called no model: it is no turn of an agent's.
    else if (event.type === 'turn.completed' && event.localCommand === undefined) {
      // Claude Code reports the turn's model in the `usage` event just before it (translate.ts).
      const usage = usages.get(`${event.sessionId} ${event.turnId}`) ?? usagesBefore.get(event)
      turns.set(
        `${event.sessionId} ${event.turnId}`,
        turnRow(event, agents.get(event.sessionId) ?? null, usage),
      )
    }
  }
  for (const [sessionId, book] of books)
    for (const call of book.dirty.values()) rows.calls.push(callRow(sessionId, call))
  rows.turns = [...turns.values()]
  rows.changes = await changeRows(
    db,
    events.filter((event): event is EventOf<'file.changed'> => event.type === 'file.changed'),
    diffMaxBytes,
  )
  return rows
}

/** Writes derived rows, in one statement. */
export async function writeRows(db: Queryable, rows: DerivedRows): Promise<void> {
  await db.query({
    name: 'read-models-write',
    text: WRITE,
    values: [JSON.stringify(rows.calls), JSON.stringify(rows.turns), JSON.stringify(rows.changes)],
  })
}

export const hasRows = (rows: DerivedRows): boolean =>
  rows.calls.length + rows.turns.length + rows.changes.length > 0

/** The main agent of each session named (null: Claude Code's default, or a session without a record). */
async function sessionAgents(
  db: Queryable,
  sessions: readonly string[],
): Promise<Map<string, string | null>> {
  if (sessions.length === 0) return new Map()
  const { rows } = await db.query<{ id: string; agent: string | null }>({
    name: 'read-models-agents',
    text: 'SELECT id, agent FROM sessions WHERE id = ANY($1::text[])',
    values: [sessions],
  })
  return new Map(rows.map((row) => [row.id, row.agent]))
}

/**
 * Each session's calls the events can change, as the decider's book: those still open or unanswered, and
 * those the events name (a result's call, a subagent's `Task`, a permission's call or request).
 */
async function loadCalls(
  db: Queryable,
  deciding: readonly GatewayEvent[],
  agents: ReadonlyMap<string, string | null>,
): Promise<Map<string, LoadedCalls>> {
  const books = new Map<string, LoadedCalls>()
  if (deciding.length === 0) return books
  const sessions = [...new Set(deciding.map((event) => event.sessionId))]
  const ids = new Set<string>()
  const requests = new Set<string>()
  for (const event of deciding) {
    if (event.type === 'tool.call' && event.parentToolUseId !== null) ids.add(event.parentToolUseId)
    else if (event.type === 'tool.result' || event.type === 'permission.requested') ids.add(event.toolUseId)
    else if (event.type === 'permission.resolved') requests.add(event.requestId)
  }
  const { rows } = await db.query<CallRow & { session_id: string }>({
    name: 'read-models-calls',
    text: `SELECT session_id, tool_use_id, seq, ts, name, turn_id, caller, agent, subagent, finished_at, duration_ms,
             input_tokens, output_tokens, request_id, result_error, result_denied, resolved_behavior, resolved_by,
             ended, ended_at, unanswered, last_seq
           FROM tool_calls WHERE session_id = ANY($1::text[]) AND (
             (result_error IS NULL AND ended IS NULL) OR unanswered IS NOT NULL
             OR tool_use_id = ANY($2::text[]) OR request_id = ANY($3::text[]))`,
    values: [sessions, [...ids], [...requests]],
  })
  for (const sessionId of sessions)
    books.set(
      sessionId,
      new LoadedCalls(
        agents.get(sessionId) ?? null,
        rows.filter((row) => row.session_id === sessionId),
      ),
    )
  return books
}

/**
 * The stored `usage` event just before each turn end of the events (its model is the turn's), for the
 * turns whose usage the events do not hold themselves.
 */
async function storedUsages(
  db: Queryable,
  events: readonly GatewayEvent[],
): Promise<Map<GatewayEvent, EventOf<'usage'>>> {
  const found = new Map<GatewayEvent, EventOf<'usage'>>()
  const seen = new Set<string>()
  const wanted: EventOf<'turn.completed'>[] = []
  for (const event of events)
    if (event.type === 'usage') seen.add(`${event.sessionId} ${event.turnId}`)
    else if (
      event.type === 'turn.completed' &&
      event.localCommand === undefined &&
      !seen.has(`${event.sessionId} ${event.turnId}`)
    )
      wanted.push(event)
  if (wanted.length === 0) return found
  const { rows } = await db.query<{ n: number; event: string }>({
    name: 'read-models-usage-before',
    text: `SELECT batch.n, e.event
           FROM unnest($1::text[], $2::integer[]) WITH ORDINALITY AS batch (session_id, seq, n)
           JOIN events e ON e.session_id = batch.session_id AND e.seq = batch.seq AND e.seq > 0 AND e.type = 'usage'`,
    values: [wanted.map((event) => event.sessionId), wanted.map((event) => event.seq - 1)],
  })
  for (const row of rows) {
    const turnEnd = wanted[row.n - 1]!
    const usage = JSON.parse(row.event) as EventOf<'usage'>
    if (usage.turnId === turnEnd.turnId) found.set(turnEnd, usage)
  }
  return found
}

/** Sessions with calls still running as far as their events tell: the reader asks which have a process. */
export async function sessionsWithRunningCalls(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ session_id: string }>({
    name: 'read-models-running',
    text: "SELECT DISTINCT session_id FROM tool_calls WHERE status = 'running'",
  })
  return rows.map((row) => row.session_id)
}

/**
 * The filters of a list of calls that are columns, with the letter that names them in its statements' names
 * (a name must stay under PostgreSQL's 63 bytes).
 */
const CALL_FILTERS = [
  ['name', 'n', (query: ToolCallQuery) => query.name],
  ['session_id', 's', (query: ToolCallQuery) => query.sessionId],
  ['agent', 'a', (query: ToolCallQuery) => query.agent],
  ['caller', 'c', (query: ToolCallQuery) => query.caller],
] as const

/** Tool calls of every session, newest first, filtered as SQLite's ReadModels.toolCalls filters them. */
export async function toolCalls(db: Queryable, query: ToolCallQuery): Promise<Page<ToolCallRef>> {
  const where: string[] = []
  const values: unknown[] = []
  let name = 'calls '
  const bind = (value: unknown) => {
    values.push(value)
    return `$${values.length}`
  }
  for (const [column, letter, filterOf] of CALL_FILTERS) {
    const value = filterOf(query)
    if (value === undefined) continue
    where.push(`${column} = ${bind(value)}`)
    name += letter
  }
  if (query.owner !== undefined) {
    where.push(`session_id IN (SELECT id FROM sessions WHERE owner = ${bind(query.owner)})`)
    name += 'o'
  }
  if (query.since !== undefined) {
    where.push(`ts >= ${bind(query.since)}`)
    name += 't'
  }
  // events/tool-calls.ts's rule for a call without a result: running only while its process is, or if direct.
  const alive = () => `(caller = 'direct' OR session_id = ANY(${bind(query.liveSessions)}::text[]))`
  if (query.status === 'running') {
    where.push(`status = 'running' AND ${alive()}`)
    name += 'r'
  } else if (query.status === 'interrupted') {
    where.push(`(status = 'interrupted' OR (status = 'running' AND NOT ${alive()}))`)
    name += 'i'
  } else if (query.status !== undefined) {
    where.push(`status = ${bind(query.status)}`)
    name += 'u'
  }
  const { rows, total } = await readPage<{
    sessionId: string
    toolUseId: string
    seq: number
    caller: ToolCallRef['caller']
    agent: string | null
    lastSeq: number
  }>(
    db,
    {
      name,
      columns: `session_id AS "sessionId", tool_use_id AS "toolUseId", seq, caller, agent,
        greatest(seq, last_seq) AS "lastSeq"`,
      from: `tool_calls ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}`,
      order: 'ts DESC, seq DESC',
      values,
    },
    query,
  )
  return {
    items: rows.map(({ sessionId, toolUseId, seq, caller, agent, lastSeq }) => ({
      sessionId,
      toolUseId,
      seq,
      caller,
      agent,
      lastSeq,
    })),
    total,
  }
}

/** Turns per main agent and runs per subagent type, since a time, as SQLite's ReadModels.agentFigures. */
export async function agentFigures(db: Queryable, since = 0): Promise<AgentFigures> {
  const main = await figures(
    db,
    'figures-main',
    `SELECT agent, status = 'success' AS ok, duration_ms, input_tokens, output_tokens, cost_usd
     FROM turns WHERE started_at >= $1`,
    since,
  )
  const subagents = await figures(
    db,
    'figures-subagents',
    `SELECT subagent AS agent, status = 'succeeded' AS ok, duration_ms, input_tokens, output_tokens,
       NULL::double precision AS cost_usd
     FROM tool_calls WHERE subagent IS NOT NULL AND status != 'running' AND ts >= $1`,
    since,
  )
  return { main, subagents: subagents.map((figure) => ({ ...figure, agent: figure.agent! })) }
}

/**
 * Totals per agent of `source`'s rows, with their latency's p50 and p95 by nearest rank (percentile_disc:
 * the first duration whose rank reaches the fraction), as SQLite computes them. Agents in byte order,
 * Claude Code's default (null) first, as SQLite sorts them.
 */
async function figures(db: Queryable, name: string, source: string, since: number): Promise<AgentFigure[]> {
  const { rows } = await db.query<AgentFigure>({
    name,
    text: `WITH runs AS (${source})
           SELECT agent, count(*) AS runs, count(*) FILTER (WHERE ok) AS succeeded,
             percentile_disc(0.5) WITHIN GROUP (ORDER BY duration_ms) AS "p50Ms",
             percentile_disc(0.95) WITHIN GROUP (ORDER BY duration_ms) AS "p95Ms",
             sum(input_tokens)::bigint AS "inputTokens", sum(output_tokens)::bigint AS "outputTokens",
             sum(cost_usd) AS "costUsd"
           FROM runs GROUP BY agent ORDER BY runs DESC, agent COLLATE "C" NULLS FIRST`,
    values: [since],
  })
  return rows
}

/** Forgets a deleted session's rows; in the transaction that deletes its events. */
export function forgetRows(db: Queryable, sessionId: string): Promise<unknown> {
  return db.query({
    name: 'read-models-forget',
    text: `WITH calls AS (DELETE FROM tool_calls WHERE session_id = $1),
             turns_deleted AS (DELETE FROM turns WHERE session_id = $1)
           DELETE FROM file_changes WHERE session_id = $1`,
    values: [sessionId],
  })
}
