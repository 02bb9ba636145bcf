/**
 * The `tool_calls` read model kept up to date one event at a time: each of a session's rows holds the facts
 * events/tool-calls.ts decides a call's status from (CallFacts), so an event changes only the few rows it
 * names (a call by id, the open calls of a turn, the open calls of the session), never re-reading the log.
 */
import type Database from 'better-sqlite3'
import type { CallBook, CallFacts } from '../events/tool-calls.js'
import type { EventOf, GatewayEvent } from '../events/types.js'
import { type CallRow, callOf, callRow, type IndexedCall, recordChange, startedCall } from './derive-calls.js'

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
       VALUES (@session_id, @tool_use_id, @seq, @ts, @name, @turn_id, @caller, @agent, @subagent, 'running', 0, 0, @seq)`,
    ),
    update: db.prepare(
      `UPDATE tool_calls SET status = @status, finished_at = @finished_at, duration_ms = @duration_ms,
         input_tokens = @input_tokens, output_tokens = @output_tokens, request_id = @request_id,
         result_error = @result_error, result_denied = @result_denied, resolved_behavior = @resolved_behavior,
         resolved_by = @resolved_by, ended = @ended, ended_at = @ended_at, unanswered = @unanswered, last_seq = @last_seq
       WHERE session_id = @session_id AND tool_use_id = @tool_use_id`,
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
    this.statements.insert.run(callRow(this.session, startedCall(event, who)))
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
    recordChange(call, cause)
    this.statements.update.run(callRow(this.session, call))
  }

  private one(statement: Database.Statement<Record<string, string>, CallRow>, id: string) {
    const row = statement.get({ session: this.session, id })
    return row ? callOf(row) : undefined
  }
}
