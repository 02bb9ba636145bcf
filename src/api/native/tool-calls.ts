/**
 * Tool calls, Claude's own (subagents' included) and the direct ones made through the API: a session's
 * (`GET /api/sessions/{id}/tool-calls`) and every session's, newest first (`GET /api/tool-calls`). They are
 * read back from the sessions' event logs, which stay the one source of truth (events/tool-calls.ts decides each
 * call's status); across sessions, the store's index of calls (store/read-models.ts) finds a page's calls.
 */
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import {
  DECIDING_EVENTS,
  type LoggedToolCall,
  TOOL_CALL_STATUSES,
  TOOL_CALLERS,
  toolCallsOf,
} from '../../events/tool-calls.js'
import type { GatewayEvent } from '../../events/types.js'
import type { GatewayContext } from '../../gateway.js'
import type { ToolCallRef } from '../../store/types.js'
import { ownerFilter } from '../../users/principal.js'
import { Enum, json, Nullable, NullableEnum, ref } from '../responses.js'
import { MAX_INTEGER } from '../validation.js'
import { sessionOrThrow } from './resolve.js'
import { QUERY_ERRORS, QUERY_RESPONSES, sessionResponses } from './responses.js'
import { pageQuery, SessionParams } from './schemas.js'
import { ToolResultContent } from './views.js'

const Status = Type.Optional(
  Type.Union(
    TOOL_CALL_STATUSES.map((status) => Type.Literal(status)),
    { description: 'Only calls with this status.' },
  ),
)

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
    status: Status,
    turn_id: Type.Optional(Type.String({ minLength: 1, description: 'Only calls of this turn.' })),
  },
  { additionalProperties: false },
)

const AllToolCallsQuery = Type.Object(
  {
    ...pageQuery('Calls'),
    name: Type.Optional(Type.String({ minLength: 1, description: 'Only calls of this tool.' })),
    status: Status,
    session_id: Type.Optional(Type.String({ minLength: 1, description: 'Only calls of this session.' })),
    agent: Type.Optional(
      Type.String({ minLength: 1, description: 'Only calls made by this main agent or subagent type.' }),
    ),
    caller: Type.Optional(Type.Union(TOOL_CALLERS.map((caller) => Type.Literal(caller)))),
    since: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_INTEGER,
        description: 'Only calls started at or after this time (ms since the epoch).',
      }),
    ),
  },
  { additionalProperties: false },
)

const ToolCallSchema = Type.Object(
  {
    id: Type.String({ description: 'The tool_use id (`direct_…` for a direct call).' }),
    session_id: Type.String(),
    seq: Type.Integer({ description: 'Sequence number of its `tool.call` event.' }),
    name: Type.String(),
    input: Type.Unknown({ description: 'The input the tool ran with.' }),
    requested_input: Type.Optional(
      Type.Unknown({ description: "Claude's own input, when the client that allowed the call replaced it." }),
    ),
    status: Enum(TOOL_CALL_STATUSES),
    caller: Enum(TOOL_CALLERS, {
      description: "Claude's main conversation, a subagent, or an API client (a direct tool).",
    }),
    agent: Nullable(
      Type.String({
        description: "The main agent or the subagent's type; null: Claude Code's own, or direct.",
      }),
    ),
    parent_tool_use_id: Nullable(Type.String({ description: 'Inside a subagent: the Task call.' })),
    turn_id: Type.String({ description: '`direct-…` for a direct call.' }),
    result: Nullable(
      Type.Object(
        {
          content: ToolResultContent,
          is_error: Type.Boolean(),
          structured: Type.Optional(Type.Unknown({ description: "The tool's own output, when reported." })),
        },
        { description: 'null until the call has one.' },
      ),
    ),
    permission: Nullable(
      Type.Object(
        {
          request_id: Type.String(),
          behavior: NullableEnum(['allow', 'deny']),
          by: NullableEnum(['client', 'rule', 'timeout', 'interrupt']),
          message: Type.Optional(Type.String({ description: "A denial's message." })),
          reason: Type.Optional(Type.String({ description: 'Why Claude Code asked.' })),
        },
        { description: 'null when no permission request was made; `behavior` null while it waits.' },
      ),
    ),
    started_at: Type.String({ format: 'date-time' }),
    finished_at: Nullable(Type.String({ format: 'date-time' })),
    duration_ms: Nullable(Type.Number()),
  },
  { $id: 'ToolCall', description: "One of a session's tool calls, read from its event log." },
)

const ToolCallPageSchema = Type.Object(
  {
    items: Type.Array(ref<Static<typeof ToolCallSchema>>('ToolCall')),
    total: Type.Integer({ description: 'Calls matching the filters, all pages.' }),
    limit: Type.Integer(),
    offset: Type.Integer(),
    building: Type.Optional(
      Type.Boolean({
        description:
          'Every session only: true while the index of calls is still being built from the events of an ' +
          'older database (after an upgrade), and so leaves calls out.',
      }),
    ),
    unreadable: Type.Optional(
      Type.Integer({
        description:
          "Every session only: calls of this page left out of `items` because their events cannot be read back (see the gateway's log).",
      }),
    ),
  },
  { $id: 'ToolCallPage' },
)

export const toolCallRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  const { engine, bus, store } = gateway
  app.addSchema(ToolCallSchema)
  app.addSchema(ToolCallPageSchema)

  app.get<{ Params: Static<typeof SessionParams>; Querystring: Static<typeof ToolCallsQuery> }>(
    '/sessions/:id/tool-calls',
    {
      schema: {
        operationId: 'listToolCalls',
        tags: ['tool-calls'],
        summary: "A session's tool calls",
        description:
          "Claude's tool calls (its subagents' included) and the direct tool calls made through the API, " +
          'with their input, result, status, permission decision, timing and the agent that made them; ' +
          'read from the event log. Filtered by `name`, `status` and `turn_id`, then paged.',
        params: SessionParams,
        querystring: ToolCallsQuery,
        response: sessionResponses({ 200: json('A page of tool calls.', ref('ToolCallPage')) }, QUERY_ERRORS),
      },
    },
    async (request): Promise<Static<typeof ToolCallPageSchema>> => {
      const { id } = request.params
      const { limit, offset, order, name, status, turn_id } = request.query
      const record = await sessionOrThrow(engine, id)
      // The bus adds the events not written yet (published in this tick, or waiting for the storage).
      const calls = toolCallsOf(await bus.read(id, { types: DECIDING_EVENTS }), {
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
        items: calls.slice(offset, offset + limit).map((call) => toolCallView(id, call)),
        total: calls.length,
        limit,
        offset,
      }
    },
  )

  app.get<{ Querystring: Static<typeof AllToolCallsQuery> }>(
    '/tool-calls',
    {
      schema: {
        operationId: 'listAllToolCalls',
        tags: ['tool-calls'],
        summary: "Every session's tool calls",
        description:
          "The tool calls of every session, newest first, in the same shape as a session's; filtered by " +
          '`name`, `status`, `session_id`, `agent` (the main agent or subagent type that made them, as it ' +
          "was then), `caller` and `since`, then paged. A user sees their own sessions' calls only.",
        querystring: AllToolCallsQuery,
        response: {
          200: json('A page of tool calls.', ref('ToolCallPage')),
          ...QUERY_RESPONSES,
        },
      },
    },
    async (request): Promise<Static<typeof ToolCallPageSchema>> => {
      const { limit, offset, name, status, session_id, agent, caller, since } = request.query
      // The index leaves running the calls whose process went away without a word: which ones still run.
      const liveSessions = (await store.sessionsWithRunningCalls()).filter(
        (id) => engine.runnerOf(id) !== null,
      )
      const page = await store.toolCalls({
        limit,
        offset,
        name,
        status,
        sessionId: session_id,
        // A user's own sessions' calls only; admins and viewers see every session's.
        owner: ownerFilter(request.principal),
        agent,
        caller,
        since,
        liveSessions,
      })
      const bySession = new Map<string, ToolCallRef[]>()
      for (const call of page.items) {
        const refs = bySession.get(call.sessionId)
        if (refs) refs.push(call)
        else bySession.set(call.sessionId, [call])
      }
      const found = new Map<string, LoggedToolCall>()
      for (const [sessionId, refs] of bySession) {
        // A call is decided by the events from its own on, up to the last that changed it (as the index
        // has it): the read spans the listed calls' range, not the rest of the session.
        const first = Math.min(...refs.map((call) => call.seq))
        const last = Math.max(...refs.map((call) => call.lastSeq))
        const calls = toolCallsOf(await readRange(bus, sessionId, first, last), {
          mainAgent: null,
          processAlive: engine.runnerOf(sessionId) !== null,
        })
        for (const call of calls) found.set(`${sessionId} ${call.started.toolUseId}`, call)
      }
      const items = page.items.flatMap((indexed) => {
        const call = found.get(`${indexed.sessionId} ${indexed.toolUseId}`)
        if (!call) return []
        // Who made it as the index has it: the subagent's `Task` may come before the events read here.
        return [{ ...toolCallView(indexed.sessionId, call), caller: indexed.caller, agent: indexed.agent }]
      })
      const unreadable = page.items.length - items.length
      return {
        items,
        total: page.total,
        limit,
        offset,
        building: store.readModelsBuilding(),
        ...(unreadable > 0 ? { unreadable } : {}),
      }
    },
  )
}

/** Rows read per page of the bounded read below: token deltas are among them. */
const RANGE_PAGE = 1_000

/** A session's deciding events with sequence numbers from `first` to `last`. */
async function readRange(bus: GatewayContext['bus'], sessionId: string, first: number, last: number) {
  const events: GatewayEvent[] = []
  let afterSeq = first - 1
  for (;;) {
    const page = await bus.readPage(sessionId, { types: DECIDING_EVENTS, afterSeq, limit: RANGE_PAGE })
    events.push(...page.events.filter((event) => event.seq <= last))
    if (page.end || page.last >= last) return events
    afterSeq = page.last
  }
}

function toolCallView(sessionId: string, call: LoggedToolCall): Static<typeof ToolCallSchema> {
  const { started, result, requested, resolved } = call
  const finished = result?.ts ?? call.ended?.ts ?? null
  return {
    id: started.toolUseId,
    session_id: sessionId,
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
