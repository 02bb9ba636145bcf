/**
 * A `turns` row, whatever database keeps it: a finished turn of a session's main agent with its figures, and
 * the model Claude Code reported for it in the `usage` event just before its end (translate.ts). Pure.
 */
import type { EventOf } from '../events/types.js'

/** A row of `turns` as both stores write it. */
export interface TurnRow {
  session_id: string
  turn_id: string
  seq: number
  agent: string | null
  model: string | null
  status: string
  started_at: number
  duration_ms: number
  input_tokens: number
  output_tokens: number
  cost_usd: number
}

/** The row of a turn's end; `usage`: the turn's `usage` event, if there is one; `agent`: the session's. */
export function turnRow(
  event: EventOf<'turn.completed'>,
  agent: string | null,
  usage: EventOf<'usage'> | undefined,
): TurnRow {
  return {
    session_id: event.sessionId,
    turn_id: event.turnId,
    seq: event.seq,
    agent,
    model: usage?.model || null,
    status: event.status,
    started_at: event.ts - event.durationMs,
    duration_ms: event.durationMs,
    input_tokens: event.usage.inputTokens,
    output_tokens: event.usage.outputTokens,
    cost_usd: event.costUsd,
  }
}
