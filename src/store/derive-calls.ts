/**
 * A `tool_calls` row and the facts the decider (events/tool-calls.ts) reads and changes in it, whatever
 * database keeps it: what a row says of its call (`callOf`), what a call's row holds (`callRow`), and the
 * figures an event that changed a call derives (`recordChange`). Pure: the stores read and write the rows.
 */
import { type CallBook, type CallFacts, statusOf, type ToolCallStatus } from '../events/tool-calls.js'
import type { EventOf, GatewayEvent } from '../events/types.js'

/** A row of `tool_calls` as the decider sees it, with the figures the row derives from its events. */
export interface IndexedCall extends CallFacts {
  finishedAt: number | null
  durationMs: number | null
  inputTokens: number
  outputTokens: number
  /** The last event that changed it: its view is read from its `tool.call` up to there. */
  lastSeq: number
}

/** The columns of a `tool_calls` row, as both schemas name them (flags as 0/1). */
export interface CallRow {
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

/** A row as it is written: with its session and the status its facts decide (the process taken as alive). */
export interface StoredCallRow extends CallRow {
  session_id: string
  status: ToolCallStatus
}

/** The call a row holds. */
export function callOf(row: CallRow): IndexedCall {
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

/** The row a call of `sessionId` is kept in. */
export function callRow(sessionId: string, call: IndexedCall): StoredCallRow {
  return {
    session_id: sessionId,
    tool_use_id: call.started.toolUseId,
    seq: call.started.seq,
    ts: call.started.ts,
    name: call.started.name,
    turn_id: call.started.turnId,
    caller: call.caller,
    agent: call.agent,
    subagent: call.subagent,
    status: statusOf(call, true),
    finished_at: call.finishedAt,
    duration_ms: call.durationMs,
    input_tokens: call.inputTokens,
    output_tokens: call.outputTokens,
    request_id: call.requested?.requestId ?? null,
    result_error: call.result ? Number(call.result.isError) : null,
    result_denied: call.result?.denied ? 1 : null,
    resolved_behavior: call.resolved?.behavior ?? null,
    resolved_by: call.resolved?.by ?? null,
    ended: call.ended?.status ?? null,
    ended_at: call.ended?.ts ?? null,
    unanswered: call.unanswered ?? null,
    last_seq: call.lastSeq,
  }
}

/** A call just started, as its row is first written: running, no figures yet. */
export function startedCall(
  event: EventOf<'tool.call'>,
  who: Pick<CallFacts, 'caller' | 'agent' | 'subagent'>,
): IndexedCall {
  return {
    started: {
      toolUseId: event.toolUseId,
      turnId: event.turnId,
      name: event.name,
      ts: event.ts,
      seq: event.seq,
    },
    ...who,
    finishedAt: null,
    durationMs: null,
    inputTokens: 0,
    outputTokens: 0,
    lastSeq: event.seq,
  }
}

/** The figures of a call the decider changed, from the event that changed it (`CallBook.changed`). */
export function recordChange(call: IndexedCall, cause: GatewayEvent): void {
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
}

/**
 * One session's calls that a batch of events can change, loaded from their rows before it is decided, as
 * the decider's book: the calls still open or unanswered, and those the batch names (by id, parent or
 * permission request). The store writes back the rows of `dirty` once the batch is decided. Answers as the
 * SQLite index's queries do (store/tool-call-index.ts): candidates in the order of their `tool.call`.
 */
export class LoadedCalls implements CallBook<IndexedCall> {
  private readonly calls = new Map<string, IndexedCall>()
  /** The calls added or changed, by id: the rows to write. */
  readonly dirty = new Map<string, IndexedCall>()

  constructor(
    readonly mainAgent: string | null,
    rows: readonly CallRow[],
  ) {
    for (const row of rows) this.calls.set(row.tool_use_id, callOf(row))
  }

  add(event: EventOf<'tool.call'>, who: Pick<CallFacts, 'caller' | 'agent' | 'subagent'>): void {
    // Replaces a call with the same id, as the row's INSERT OR REPLACE does.
    const call = startedCall(event, who)
    this.calls.set(event.toolUseId, call)
    this.dirty.set(event.toolUseId, call)
  }

  get(toolUseId: string): IndexedCall | undefined {
    return this.calls.get(toolUseId)
  }

  byRequest(requestId: string): IndexedCall | undefined {
    return this.inOrder().find((call) => call.requested?.requestId === requestId)
  }

  open(turnId?: string): IndexedCall[] {
    return this.inOrder().filter(
      (call) => !call.result && !call.ended && (turnId === undefined || call.started.turnId === turnId),
    )
  }

  unanswered(where: { thread: string } | { turnId: string }): IndexedCall[] {
    return this.inOrder().filter(
      (call) =>
        call.unanswered !== undefined &&
        ('thread' in where ? call.unanswered === where.thread : call.started.turnId === where.turnId),
    )
  }

  changed(call: IndexedCall, cause: GatewayEvent): void {
    recordChange(call, cause)
    this.dirty.set(call.started.toolUseId, call)
  }

  private inOrder(): IndexedCall[] {
    return [...this.calls.values()].sort((a, b) => a.started.seq - b.started.seq)
  }
}
