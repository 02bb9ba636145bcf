/**
 * A session's tool calls, Claude's own (subagents' included) and the direct ones made through the API:
 * `GET /api/sessions/{id}/tool-calls`. They are read back from the session's event log, which stays the one
 * source of truth (tool-call-log.ts decides each call's status).
 */
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { GatewayContext } from '../../gateway.js'
import { Enum, json, Nullable, NullableEnum, ref } from '../responses.js'
import { sessionOrThrow } from './resolve.js'
import { QUERY_ERRORS, sessionResponses } from './responses.js'
import { pageQuery, SessionParams } from './schemas.js'
import { DECIDING_EVENTS, type LoggedToolCall, TOOL_CALL_STATUSES, toolCallsOf } from './tool-call-log.js'
import { ToolResultContent } from './views.js'

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
        TOOL_CALL_STATUSES.map((status) => Type.Literal(status)),
        { description: 'Only calls with this status.' },
      ),
    ),
    turn_id: Type.Optional(Type.String({ minLength: 1, description: 'Only calls of this turn.' })),
  },
  { additionalProperties: false },
)

const ToolCallSchema = Type.Object(
  {
    id: Type.String({ description: 'The tool_use id (`direct_…` for a direct call).' }),
    seq: Type.Integer({ description: 'Sequence number of its `tool.call` event.' }),
    name: Type.String(),
    input: Type.Unknown({ description: 'The input the tool ran with.' }),
    requested_input: Type.Optional(
      Type.Unknown({ description: "Claude's own input, when the client that allowed the call replaced it." }),
    ),
    status: Enum(TOOL_CALL_STATUSES),
    caller: Enum(['main', 'subagent', 'direct'], {
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
  },
  { $id: 'ToolCallPage' },
)

export const toolCallRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  const { engine, bus } = gateway
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

function toolCallView(call: LoggedToolCall): Static<typeof ToolCallSchema> {
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
