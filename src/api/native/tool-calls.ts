/**
 * A session's tool calls, Claude's own (subagents' included) and the direct ones made through the API:
 * `GET /api/sessions/{id}/tool-calls`. They are read back from the session's event log, which stays the one
 * source of truth: a call's status is what followed its `tool.call` (its result, a permission decision, the
 * end of its turn or of the process that ran it).
 */
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import { clientFunctionName } from '../../engine/client-tools.js'
import type { EventOf, EventType, GatewayEvent, SessionState } from '../../events/types.js'
import type { GatewayContext } from '../../gateway.js'
import { sessionOrThrow } from './resolve.js'
import { pageQuery, SessionParams } from './schemas.js'

const STATUSES = ['running', 'succeeded', 'failed', 'denied', 'interrupted', 'timeout'] as const
type ToolCallStatus = (typeof STATUSES)[number]

/** Every event that can decide a call's status; the store skips the rest (token deltas above all). */
const DECIDING_EVENTS = [
  'tool.call',
  'tool.result',
  'permission.requested',
  'permission.resolved',
  'message.stop',
  'turn.completed',
  'error',
  'session.state',
] as const satisfies readonly EventType[]

/** States a session enters when its Claude Code process is gone, taking the calls it was running along. */
const PROCESS_GONE = new Set<SessionState>(['hibernated', 'new', 'paused', 'closed'])

/** What a subagent started without `subagent_type` is (Claude Code's default). */
const DEFAULT_SUBAGENT = 'general-purpose'

const ToolCallsQuery = Type.Object(
  {
    ...pageQuery('Calls'),
    order: Type.Union([Type.Literal('asc'), Type.Literal('desc')], {
      default: 'asc',
      description: '`asc`: oldest call first; `desc`: newest first.',
    }),
    name: Type.Optional(
      Type.String({ minLength: 1, description: 'Only calls of this tool (`Bash`, `read`).' }),
    ),
    status: Type.Optional(
      Type.Union(
        STATUSES.map((status) => Type.Literal(status)),
        { description: 'Only calls with this status.' },
      ),
    ),
    turn_id: Type.Optional(Type.String({ minLength: 1, description: 'Only calls of this turn.' })),
  },
  { additionalProperties: false },
)

export const toolCallRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  const { engine, bus } = gateway

  app.get<{ Params: Static<typeof SessionParams>; Querystring: Static<typeof ToolCallsQuery> }>(
    '/sessions/:id/tool-calls',
    {
      schema: {
        summary: "A session's tool calls",
        description:
          "Claude's tool calls (its subagents' included) and the direct tool calls made through the API, " +
          'with their input, result, status, permission decision, timing and the agent that made them; ' +
          'read from the event log. Filtered by `name`, `status` and `turn_id`, then paged.',
        params: SessionParams,
        querystring: ToolCallsQuery,
      },
    },
    async (request) => {
      const { id } = request.params
      const { limit, offset, order, name, status, turn_id } = request.query
      const record = sessionOrThrow(engine, id)
      // The bus adds the events not written yet (published in this tick, or waiting for the storage).
      const calls = toolCallsOf(bus.read(id, { types: DECIDING_EVENTS }), {
        mainAgent: record.settings.agent,
        processAlive: engine.runnerOf(id) !== null,
      }).filter(
        (call) =>
          (name === undefined || call.started.name === name) &&
          (status === undefined || call.status === status) &&
          (turn_id === undefined || call.started.turnId === turn_id),
      )
      if (order === 'desc') calls.reverse()
      return {
        items: calls.slice(offset, offset + limit).map(toolCallView),
        total: calls.length,
        limit,
        offset,
      }
    },
  )
}

interface ToolCall {
  started: EventOf<'tool.call'>
  /**
   * Who made it: the main conversation (`agent`: the session's main agent, null for Claude Code's default),
   * a subagent (`agent`: the `subagent_type` of the `Task` call that started it), or an API client.
   */
  caller: 'main' | 'subagent' | 'direct'
  agent: string | null
  result?: EventOf<'tool.result'>
  requested?: EventOf<'permission.requested'>
  resolved?: EventOf<'permission.resolved'>
  /** It ended without a result of its own: cut off by an interrupt, its process, or the client's timeout. */
  ended?: { status: 'interrupted' | 'timeout'; ts: number }
  status: ToolCallStatus
}

interface Context {
  /** The session's main agent; null: Claude Code's default. */
  mainAgent: string | null
  /** Whether a Claude Code process serves the session now: without one, none of Claude's calls runs. */
  processAlive: boolean
}

/** Every tool call in the events, oldest first, with its status and caller. */
function toolCallsOf(events: readonly GatewayEvent[], { mainAgent, processAlive }: Context): ToolCall[] {
  const calls = new Map<string, ToolCall>()
  const byRequest = new Map<string, ToolCall>()
  /** Calls with no result yet. */
  const open = new Set<ToolCall>()
  /** Failed calls the model has not answered yet, by thread (subagent `Task` call, '' the main one). */
  const unanswered = new Map<string, ToolCall[]>()
  const end = (call: ToolCall, status: 'interrupted' | 'timeout', ts: number) => {
    call.ended ??= { status, ts }
    open.delete(call)
  }

  for (const event of events) {
    switch (event.type) {
      case 'tool.call': {
        const call: ToolCall = { started: event, ...callerOf(event, calls, mainAgent), status: 'running' }
        calls.set(event.toolUseId, call)
        open.add(call)
        break
      }
      case 'tool.result': {
        const call = calls.get(event.toolUseId)
        if (!call) break
        call.result = event
        open.delete(call)
        if (event.isError) {
          const thread = event.parentToolUseId ?? ''
          const failed = unanswered.get(thread)
          if (failed) failed.push(call)
          else unanswered.set(thread, [call])
        }
        break
      }
      case 'permission.requested': {
        const call = calls.get(event.toolUseId)
        if (!call) break
        call.requested = event
        byRequest.set(event.requestId, call)
        break
      }
      case 'permission.resolved': {
        const call = byRequest.get(event.requestId)
        if (!call) break
        call.resolved = event
        if (event.by === 'interrupt') end(call, 'interrupted', event.ts)
        break
      }
      case 'message.stop':
        // The model went on after the failures of its thread: they were failures, not the interrupt's doing.
        unanswered.delete(event.parentToolUseId ?? '')
        break
      case 'turn.completed': {
        if (event.status === 'success') break
        // A call still running when its turn failed was cut off; so was one whose (error) result is the
        // interrupt's own answer, which the model never got to see.
        const cutOff = [...open].filter((call) => call.started.turnId === event.turnId)
        if (event.status === 'interrupted') {
          for (const [thread, failed] of unanswered) {
            cutOff.push(...failed.filter((call) => call.started.turnId === event.turnId))
            unanswered.set(
              thread,
              failed.filter((call) => call.started.turnId !== event.turnId),
            )
          }
        }
        for (const call of cutOff) end(call, 'interrupted', event.ts)
        break
      }
      case 'error':
        // The API client did not return a client function's result in time: the engine gave up on it.
        if (event.code !== 'tool_timeout') break
        for (const call of open)
          if (call.started.turnId === event.turnId && clientFunctionName(call.started.name) !== undefined)
            end(call, 'timeout', event.ts)
        break
      case 'session.state':
        if (!PROCESS_GONE.has(event.state)) break
        for (const call of open) if (!isDirect(call.started)) end(call, 'interrupted', event.ts)
        break
    }
  }
  for (const call of calls.values()) call.status = statusOf(call, processAlive)
  return [...calls.values()]
}

function statusOf(call: ToolCall, processAlive: boolean): ToolCallStatus {
  if (call.ended?.status === 'timeout') return 'timeout'
  if (call.resolved?.behavior === 'deny' && call.resolved.by !== 'interrupt') return 'denied'
  if (call.ended) return 'interrupted'
  const { result } = call
  if (!result) return processAlive || isDirect(call.started) ? 'running' : 'interrupted'
  if (!result.isError) return 'succeeded'
  // Claude Code's own rules and mode refuse calls without asking the gateway: only the result tells.
  return result.denied ? 'denied' : 'failed'
}

/** A direct tool call, made by an API client (`POST /api/sessions/{id}/tools/{name}`), not by Claude. */
const isDirect = (call: EventOf<'tool.call'>) => call.turnId.startsWith('direct-')

/** The `Task` call that started a subagent comes before the subagent's own calls. */
function callerOf(
  call: EventOf<'tool.call'>,
  earlier: ReadonlyMap<string, ToolCall>,
  mainAgent: string | null,
): Pick<ToolCall, 'caller' | 'agent'> {
  if (isDirect(call)) return { caller: 'direct', agent: null }
  if (call.parentToolUseId === null) return { caller: 'main', agent: mainAgent }
  const task = earlier.get(call.parentToolUseId)?.started
  if (!task) return { caller: 'subagent', agent: null }
  const type = (task.input as { subagent_type?: unknown } | null)?.subagent_type
  return { caller: 'subagent', agent: typeof type === 'string' ? type : DEFAULT_SUBAGENT }
}

function toolCallView(call: ToolCall) {
  const { started, result, requested, resolved } = call
  const finished = result?.ts ?? call.ended?.ts ?? null
  return {
    id: started.toolUseId,
    seq: started.seq,
    name: started.name,
    // What the tool ran with: a client that allowed the call may have replaced Claude's input.
    input: resolved?.updatedInput ?? started.input,
    ...(resolved?.updatedInput ? { requested_input: started.input } : {}),
    status: call.status,
    caller: call.caller,
    agent: call.agent,
    parent_tool_use_id: started.parentToolUseId,
    turn_id: started.turnId,
    result: result
      ? {
          content: result.content,
          is_error: result.isError,
          ...(result.structured !== undefined ? { structured: result.structured } : {}),
        }
      : null,
    permission: requested
      ? {
          request_id: requested.requestId,
          behavior: resolved?.behavior ?? null,
          by: resolved?.by ?? null,
          ...(resolved?.message !== undefined ? { message: resolved.message } : {}),
          ...(requested.reason !== undefined ? { reason: requested.reason } : {}),
        }
      : null,
    started_at: new Date(started.ts).toISOString(),
    finished_at: finished === null ? null : new Date(finished).toISOString(),
    duration_ms: result?.durationMs ?? (finished === null ? null : finished - started.ts),
  }
}
