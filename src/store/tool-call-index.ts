/**
 * The `tool_calls` read model kept up to date one event at a time: each of a session's rows holds the facts
 * events/tool-calls.ts decides a call's status from (CallFacts), so an event changes only the few rows it
 * names (a call by id, the open calls of a turn, the open calls of the session), never re-reading the log.
 */
import type Database from 'better-sqlite3'
import { type CallBook, type CallFacts, statusOf } from '../events/tool-calls.js'
import type { EventOf, GatewayEvent } from '../events/types.js'

/** A row of `tool_calls` as the decider sees it, with the figures the row derives from its events. */
interface IndexedCall extends CallFacts {
  finishedAt: number | null
  durationMs: number | null
  inputTokens: number
  outputTokens: number
  /** The last event that changed it: its view is read from its `tool.call` up to there. */
  lastSeq: number
}

interface CallRow {
  tool_use_id: string
  seq: number
  ts: number
  name: string
  turn_id: string
  caller: CallFacts['caller']
  agent: string | null
  subagent: string | null
  finished_at: number | null
  duration_ms: number | null
  input_tokens: number
  output_tokens: number
  request_id: string | null
  result_error: number | null
  result_denied: number | null
  resolved_behavior: 'allow' | 'deny' | null
  resolved_by: NonNullable<CallFacts['resolved']>['by'] | null
  ended: 'interrupted' | 'timeout' | null
  ended_at: number | null
  unanswered: string | null
  last_seq: number
}

const COLUMNS = `tool_use_id, seq, ts, name, turn_id, caller, agent, subagent, finished_at, duration_ms, input_tokens,
  output_tokens, request_id, result_error, result_denied, resolved_behavior, resolved_by, ended, ended_at, unanswered, last_seq`
/** Matches the partial indexes of schema step 5: only the few rows still open or unanswered are searched. */
const OPEN = 'session_id = @session AND result_error IS NULL AND ended IS NULL'
const UNANSWERED = 'session_id = @session AND unanswered IS NOT NULL'

export type IndexStatements = ReturnType<typeof prepareIndex>

export function prepareIndex(db: Database.Database) {
  const rows = (where: string) =>
    db.prepare<Record<string, string>, CallRow>(
      `SELECT ${COLUMNS} FROM tool_calls WHERE ${where} ORDER BY seq`,
    )
  return {
    get: rows('session_id = @session AND tool_use_id = @id'),
    byRequest: rows('session_id = @session AND request_id = @id AND request_id IS NOT NULL'),
    openOfSession: rows(OPEN),
    openOfTurn: rows(`${OPEN} AND turn_id = @id`),
    unansweredOfThread: rows(`${UNANSWERED} AND unanswered = @id`),
    unansweredOfTurn: rows(`${UNANSWERED} AND turn_id = @id`),
    insert: db.prepare(
      `INSERT OR REPLACE INTO tool_calls (session_id, tool_use_id, seq, ts, name, turn_id, caller, agent, subagent,
         status, input_tokens, output_tokens, last_seq)
       VALUES (@session, @toolUseId, @seq, @ts, @name, @turnId, @caller, @agent, @subagent, 'running', 0, 0, @seq)`,
    ),
    update: db.prepare(
      `UPDATE tool_calls SET status = @status, finished_at = @finishedAt, duration_ms = @durationMs,
         input_tokens = @inputTokens, output_tokens = @outputTokens, request_id = @requestId,
         result_error = @resultError, result_denied = @resultDenied, resolved_behavior = @resolvedBehavior,
         resolved_by = @resolvedBy, ended = @ended, ended_at = @endedAt, unanswered = @unanswered, last_seq = @lastSeq
       WHERE session_id = @session AND tool_use_id = @toolUseId`,
    ),
  }
}

/**
 * One session's rows as the decider's book. Statuses are decided as if the process were alive: a call
 * `running` here whose session has no process any more is `interrupted` (the list applies statusOf's rule
 * with the engine's facts).
 */
export class IndexedCalls implements CallBook<IndexedCall> {
  constructor(
    private readonly statements: IndexStatements,
    private readonly session: string,
    readonly mainAgent: string | null,
  ) {}

  add(event: EventOf<'tool.call'>, who: Pick<CallFacts, 'caller' | 'agent' | 'subagent'>): void {
    this.statements.insert.run({
      session: this.session,
      toolUseId: event.toolUseId,
      seq: event.seq,
      ts: event.ts,
      name: event.name,
      turnId: event.turnId,
      ...who,
    })
  }

  get(toolUseId: string): IndexedCall | undefined {
    return this.one(this.statements.get, toolUseId)
  }

  byRequest(requestId: string): IndexedCall | undefined {
    return this.one(this.statements.byRequest, requestId)
  }

  open(turnId?: string): IndexedCall[] {
    return turnId === undefined
      ? this.statements.openOfSession.all({ session: this.session }).map(callOf)
      : this.statements.openOfTurn.all({ session: this.session, id: turnId }).map(callOf)
  }

  unanswered(where: { thread: string } | { turnId: string }): IndexedCall[] {
    return 'thread' in where
      ? this.statements.unansweredOfThread.all({ session: this.session, id: where.thread }).map(callOf)
      : this.statements.unansweredOfTurn.all({ session: this.session, id: where.turnId }).map(callOf)
  }

  changed(call: IndexedCall, cause: GatewayEvent): void {
    if (cause.type === 'tool.result') {
      call.finishedAt = cause.ts
      call.durationMs = cause.durationMs ?? cause.ts - call.started.ts
      // A subagent's run reports the tokens it spent in its result (Claude Code's AgentOutput `usage`).
      const spent =
        call.subagent === null
          ? undefined
          : (cause.structured as { usage?: { input_tokens?: unknown; output_tokens?: unknown } } | undefined)
              ?.usage
      call.inputTokens = typeof spent?.input_tokens === 'number' ? spent.input_tokens : 0
      call.outputTokens = typeof spent?.output_tokens === 'number' ? spent.output_tokens : 0
    } else if (call.ended && !call.result) {
      call.finishedAt = call.ended.ts
      call.durationMs = call.ended.ts - call.started.ts
    }
    call.lastSeq = Math.max(call.lastSeq, cause.seq)
    this.statements.update.run({
      session: this.session,
      toolUseId: call.started.toolUseId,
      status: statusOf(call, true),
      finishedAt: call.finishedAt,
      durationMs: call.durationMs,
      inputTokens: call.inputTokens,
      outputTokens: call.outputTokens,
      requestId: call.requested?.requestId ?? null,
      resultError: call.result ? Number(call.result.isError) : null,
      resultDenied: call.result?.denied ? 1 : null,
      resolvedBehavior: call.resolved?.behavior ?? null,
      resolvedBy: call.resolved?.by ?? null,
      ended: call.ended?.status ?? null,
      endedAt: call.ended?.ts ?? null,
      unanswered: call.unanswered ?? null,
      lastSeq: call.lastSeq,
    })
  }

  private one(statement: Database.Statement<Record<string, string>, CallRow>, id: string) {
    const row = statement.get({ session: this.session, id })
    return row ? callOf(row) : undefined
  }
}

function callOf(row: CallRow): IndexedCall {
  return {
    started: { toolUseId: row.tool_use_id, turnId: row.turn_id, name: row.name, ts: row.ts, seq: row.seq },
    caller: row.caller,
    agent: row.agent,
    subagent: row.subagent,
    ...(row.result_error === null
      ? {}
      : {
          result: {
            isError: row.result_error === 1,
            ...(row.result_denied ? { denied: true as const } : {}),
          },
        }),
    ...(row.request_id === null ? {} : { requested: { requestId: row.request_id } }),
    ...(row.resolved_behavior === null || row.resolved_by === null
      ? {}
      : { resolved: { behavior: row.resolved_behavior, by: row.resolved_by } }),
    ...(row.ended === null ? {} : { ended: { status: row.ended, ts: row.ended_at ?? row.ts } }),
    ...(row.unanswered === null ? {} : { unanswered: row.unanswered }),
    finishedAt: row.finished_at,
    durationMs: row.duration_ms,
    inputTokens: row.input_tokens,
    outputTokens: row.output_tokens,
    lastSeq: row.last_seq,
  }
}
