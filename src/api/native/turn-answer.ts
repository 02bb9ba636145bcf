/**
 * A turn answered as one JSON result once it ends: its text, thinking, tool calls with their results, usage
 * and cost. Routes that run a turn for their caller (messages, slash commands, /init) answer with it.
 */
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyReply } from 'fastify'
import type { Turn } from '../../engine/sessions.js'
import { TurnFollower } from '../../events/follow.js'
import { Paragraphs } from '../../events/paragraphs.js'
import { TOOL_CALL_STATUSES, toolCallsOf } from '../../events/tool-calls.js'
import type { ErrorCode, EventOf, GatewayEvent } from '../../events/types.js'
import type { GatewayContext } from '../../gateway.js'
import { noteRequest, noteTurnEvent } from '../../observability/request-log.js'
import { interruptOnHangUp } from '../hang-up.js'
import { Enum, Nullable } from '../responses.js'
import { ApiError, fromEngineError } from './errors.js'
import { ToolResultContent, UsageSchema, usageView } from './views.js'

const TurnToolCall = Type.Object({
  id: Type.String({ description: 'The tool_use id.' }),
  name: Type.String(),
  input: Type.Unknown(),
  parent_tool_use_id: Nullable(Type.String({ description: 'Set inside a subagent: the Task call.' })),
  status: Enum(TOOL_CALL_STATUSES, { description: 'As `GET /api/sessions/{id}/tool-calls` gives it.' }),
  result: Type.Optional(ToolResultContent),
  is_error: Type.Optional(Type.Boolean()),
  duration_ms: Type.Optional(Nullable(Type.Number())),
})
type TurnToolCall = Static<typeof TurnToolCall>

/** Registered once by the /api plugin: messages, slash commands and /init answer with it. */
export const TurnResultSchema = Type.Object(
  {
    turn_id: Type.String(),
    status: Enum(['success', 'error', 'interrupted']),
    text: Type.String({ description: "The main thread's text, text blocks separated by a blank line." }),
    result: Type.String({ description: "The CLI's final result text." }),
    thinking: Type.String(),
    tool_calls: Type.Array(TurnToolCall),
    usage: UsageSchema,
    cost_usd: Type.Number(),
    duration_ms: Type.Number(),
    stop_reason: Nullable(Type.String()),
    structured_output: Type.Optional(Type.Unknown()),
    error: Type.Optional(
      Type.Object(
        { code: Type.String(), message: Type.String() },
        { description: 'Why the turn did not succeed (codes of docs/events.md).' },
      ),
    ),
  },
  {
    $id: 'TurnResult',
    description: 'A finished turn (the answer when the request does not accept text/event-stream).',
  },
)

/** Waits for `turn` to end and answers it as one JSON result; a caller who leaves first interrupts it. */
export async function answeredTurn(gateway: GatewayContext, reply: FastifyReply, turn: Turn) {
  noteRequest(reply.request, { sessionId: turn.sessionId })
  const follower = new TurnFollower(gateway.bus, turn.sessionId, turn.id, turn.startSeq)
  const stopWatching = interruptOnHangUp(reply.raw, gateway, turn.sessionId, () => reply.raw.writableFinished)
  try {
    const events: GatewayEvent[] = []
    for await (const event of follower) {
      events.push(event)
      noteTurnEvent(reply.request, event)
    }
    const refused = refusalOf(events)
    if (refused) throw refused
    return turnResult(turn.id, events, gateway.engine.runnerOf(turn.sessionId) !== null)
  } finally {
    stopWatching()
  }
}

/** Claude's API refusing the turn: overloaded or rate limited past Claude Code's retries, or the credentials. */
const REFUSALS = new Set<ErrorCode>(['overloaded', 'rate_limited', 'upstream_auth_failed'])
/** What a turn produced: once there is any, the answer is the turn's result, whatever its outcome. */
const OUTPUT = new Set<GatewayEvent['type']>([
  'text.delta',
  'thinking.delta',
  'message',
  'tool.call',
  'tool.result',
])

/**
 * A turn Claude's API refused before it produced anything: the HTTP error of its code (503, 429, 401) with
 * `Retry-After` as Claude Code or the engine announced it, so that a client can back off or fall back as
 * from any refusal. Undefined for any other turn.
 */
function refusalOf(events: GatewayEvent[]): ApiError | undefined {
  const completed = events.at(-1)
  if (completed?.type !== 'turn.completed' || completed.status !== 'error' || !completed.error)
    return undefined
  if (!REFUSALS.has(completed.error.code) || events.some((event) => OUTPUT.has(event.type))) return undefined
  let retryAfterMs: number | undefined
  for (const event of events) {
    if (event.type === 'api.retry') retryAfterMs = event.delayMs
    if (event.type === 'error' && event.retryAfterMs !== undefined) retryAfterMs = event.retryAfterMs
  }
  const { code, message } = completed.error
  // Credentials do not come right by waiting: no Retry-After then.
  return fromEngineError(code, message, code === 'upstream_auth_failed' ? undefined : retryAfterMs)
}

/** A finished turn as one JSON answer: its text, thinking, tool calls with their results, usage and cost. */
function turnResult(
  turnId: string,
  events: GatewayEvent[],
  processAlive: boolean,
): Static<typeof TurnResultSchema> {
  const completed = events.find((e): e is EventOf<'turn.completed'> => e.type === 'turn.completed')
  if (!completed) throw new ApiError('internal', 'The turn ended without completing')
  let text = ''
  let thinking = ''
  const paragraphs = new Paragraphs()
  const calls = new Map<string, TurnToolCall>()
  for (const event of events) {
    if (
      'parentToolUseId' in event &&
      event.parentToolUseId !== null &&
      event.type !== 'tool.call' &&
      event.type !== 'tool.result'
    )
      continue
    switch (event.type) {
      case 'text.delta':
        text += paragraphs.next(event.text)
        break
      case 'thinking.delta':
        thinking += event.text
        break
      case 'message':
        paragraphs.message(event.content)
        break
      case 'tool.call':
        calls.set(event.toolUseId, {
          id: event.toolUseId,
          name: event.name,
          input: event.input,
          parent_tool_use_id: event.parentToolUseId,
          status: 'running',
        })
        break
      case 'tool.result': {
        const call = calls.get(event.toolUseId)
        if (call) {
          call.result = event.content
          call.is_error = event.isError
          call.duration_ms = event.durationMs
        }
        break
      }
    }
  }
  // Each call's status as /tool-calls gives it, decided in one place.
  for (const logged of toolCallsOf(events, { mainAgent: null, processAlive })) {
    const call = calls.get(logged.started.toolUseId)
    if (call) call.status = logged.status
  }
  return {
    turn_id: turnId,
    status: completed.status,
    text,
    result: completed.result,
    thinking,
    tool_calls: [...calls.values()],
    usage: usageView(completed.usage),
    cost_usd: completed.costUsd,
    duration_ms: completed.durationMs,
    stop_reason: completed.stopReason,
    ...(completed.structuredOutput !== undefined ? { structured_output: completed.structuredOutput } : {}),
    ...(completed.error ? { error: completed.error } : {}),
  }
}
