/**
 * Sessions and their turns: create, list, read, delete, change their context, send messages (answered
 * when the turn ends, or streamed as events), interrupt, and follow a session's events with replay.
 */
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { SessionManager } from '../../engine/sessions.js'
import { TurnFollower } from '../../events/follow.js'
import { Paragraphs } from '../../events/paragraphs.js'
import type { ContentBlock, EventOf, GatewayEvent, SessionState } from '../../events/types.js'
import type { GatewayContext } from '../../gateway.js'
import type { PermissionMode, SessionSettings, ThinkingSetting } from '../../store/types.js'
import { workspaceUnder } from '../workspaces.js'
import { ApiError, invalid, notFound } from './errors.js'
import { EventStream } from './sse.js'
import { sessionView, usageView } from './views.js'

const PermissionModeSchema = Type.Union(
  ['default', 'acceptEdits', 'bypassPermissions', 'plan', 'dontAsk'].map((mode) => Type.Literal(mode)),
)
const ThinkingSchema = Type.Union([
  Type.Object({ type: Type.Literal('enabled'), budget_tokens: Type.Integer({ minimum: 1024 }) }),
  Type.Object({ type: Type.Literal('disabled') }),
  Type.Object({ type: Type.Literal('adaptive') }),
])
const Names = Type.Array(Type.String({ minLength: 1 }))

/** What a session asks of Claude Code; every key optional (the configured defaults apply). */
const SessionOptions = Type.Object(
  {
    workspace: Type.Optional(Type.String({ minLength: 1 })),
    agent: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Null()])),
    model: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Null()])),
    permission_mode: Type.Optional(PermissionModeSchema),
    tools: Type.Optional(Type.Union([Names, Type.Null()])),
    allowed_tools: Type.Optional(Names),
    disallowed_tools: Type.Optional(Names),
    system_prompt: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    append_system_prompt: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    thinking: Type.Optional(Type.Union([ThinkingSchema, Type.Null()])),
    max_turns: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
    additional_directories: Type.Optional(Names),
    ask_permissions: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
)
type SessionOptions = Static<typeof SessionOptions>

const CreateSession = Type.Object(
  {
    title: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
    ...SessionOptions.properties,
  },
  { additionalProperties: false },
)

const ListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
    offset: Type.Integer({ minimum: 0, default: 0 }),
    state: Type.Optional(
      Type.Union(['new', 'starting', 'idle', 'running', 'hibernated', 'closed'].map((s) => Type.Literal(s))),
    ),
    workspace: Type.Optional(Type.String()),
    agent: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
)

const IdParams = Type.Object({ id: Type.String({ minLength: 1 }) })

const ContentBlockSchema = Type.Object(
  { type: Type.String({ minLength: 1 }) },
  { additionalProperties: true },
)
const Message = Type.Object(
  {
    content: Type.Union([Type.String({ minLength: 1 }), Type.Array(ContentBlockSchema, { minItems: 1 })]),
    /** true: Claude Code's default tools; false: none; a list: those built-in tools. Changes the session. */
    tools_enabled: Type.Optional(Type.Union([Type.Boolean(), Names])),
  },
  { additionalProperties: false },
)

const DeleteQuery = Type.Object({ purge: Type.Boolean({ default: false }) }, { additionalProperties: false })
const EventsQuery = Type.Object(
  { after: Type.Optional(Type.Integer({ minimum: 0 })) },
  { additionalProperties: false },
)

export const sessionRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  const { engine } = gateway
  const limits = () => gateway.config.native

  app.post<{ Body: Static<typeof CreateSession> }>(
    '/sessions',
    { schema: { body: CreateSession } },
    async (request, reply) => {
      const body = request.body
      const record = engine.createSession({ title: body.title ?? null, ...settingsFrom(body) })
      return reply.code(201).send(sessionView(record, engine))
    },
  )

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/sessions',
    { schema: { querystring: ListQuery } },
    async (request) => {
      const { limit, offset, state, workspace, agent } = request.query
      const page = engine.listSessions({
        limit,
        offset,
        state: state as SessionState | undefined,
        workspace,
        agent,
      })
      return {
        items: page.items.map((record) => sessionView(record, engine)),
        total: page.total,
        limit,
        offset,
      }
    },
  )

  app.get<{ Params: Static<typeof IdParams> }>(
    '/sessions/:id',
    { schema: { params: IdParams } },
    async (request) => {
      return sessionView(sessionOf(engine, request.params.id), engine)
    },
  )

  app.delete<{ Params: Static<typeof IdParams>; Querystring: Static<typeof DeleteQuery> }>(
    '/sessions/:id',
    { schema: { params: IdParams, querystring: DeleteQuery } },
    async (request, reply) => {
      if (!(await engine.deleteSession(request.params.id, request.query.purge))) throw notFound('Session')
      return reply.code(204).send()
    },
  )

  app.put<{ Params: Static<typeof IdParams>; Body: SessionOptions }>(
    '/sessions/:id/context',
    { schema: { params: IdParams, body: SessionOptions } },
    async (request) => {
      sessionOf(engine, request.params.id)
      return sessionView(engine.updateSettings(request.params.id, settingsFrom(request.body)), engine)
    },
  )

  app.post<{ Params: Static<typeof IdParams> }>(
    '/sessions/:id/interrupt',
    { schema: { params: IdParams } },
    async (request) => {
      sessionOf(engine, request.params.id)
      return { interrupted: await engine.interrupt(request.params.id) }
    },
  )

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof Message> }>(
    '/sessions/:id/messages',
    { schema: { params: IdParams, body: Message } },
    async (request, reply) => {
      const { id } = request.params
      const session = sessionOf(engine, id)
      const { content, tools_enabled } = request.body
      if (tools_enabled !== undefined) {
        const tools = tools_enabled === true ? null : tools_enabled === false ? [] : tools_enabled
        if (JSON.stringify(tools) !== JSON.stringify(session.settings.tools))
          engine.updateSettings(id, { tools })
      }
      const turn = await engine.send(id, content as string | ContentBlock[])
      const follower = new TurnFollower(gateway.bus, id, turn.id, turn.startSeq)
      if (wantsEventStream(request.headers.accept)) {
        let completed = false
        // A client that hangs up on its own turn's stream does not want the rest of it.
        const stream = new EventStream(reply, {
          ...limits(),
          onClose: () => {
            follower.close()
            if (!completed) void engine.interrupt(id).catch(() => undefined)
          },
        })
        for await (const event of follower) {
          if (event.type === 'turn.completed') completed = true
          stream.send(event)
        }
        stream.close()
        return reply
      }
      // Leaving before the answer means the caller no longer wants the turn.
      const onClose = () => {
        if (!reply.raw.writableFinished) void engine.interrupt(id).catch(() => undefined)
      }
      reply.raw.once('close', onClose)
      try {
        const events: GatewayEvent[] = []
        for await (const event of follower) events.push(event)
        return turnResult(turn.id, events)
      } finally {
        reply.raw.off('close', onClose)
      }
    },
  )

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof EventsQuery> }>(
    '/sessions/:id/events',
    { schema: { params: IdParams, querystring: EventsQuery } },
    async (request, reply) => {
      const { id } = request.params
      sessionOf(engine, id)
      const lastEventId = Number(request.headers['last-event-id'])
      const after =
        Number.isInteger(lastEventId) && lastEventId >= 0 ? lastEventId : (request.query.after ?? 0)
      let subscription: { close(): void } | null = null
      const stream = new EventStream(reply, { ...limits(), onClose: () => subscription?.close() })
      subscription = gateway.bus.subscribe(id, (event) => stream.send(event), after)
      if (stream.closed) subscription.close()
      return reply
    },
  )

  /** Session options of the API in engine terms; workspaces are confined to the configured roots. */
  function settingsFrom(body: SessionOptions): Partial<SessionSettings> {
    const settings: Partial<SessionSettings> = {}
    if (body.workspace !== undefined) settings.workspace = confined(body.workspace, 'body.workspace')
    if (body.additional_directories !== undefined) {
      settings.additionalDirectories = body.additional_directories.map((dir, i) =>
        confined(dir, `body.additional_directories[${i}]`),
      )
    }
    if (body.agent !== undefined) settings.agent = body.agent
    if (body.model !== undefined) settings.model = body.model
    if (body.permission_mode !== undefined) settings.permissionMode = body.permission_mode as PermissionMode
    if (body.tools !== undefined) settings.tools = body.tools
    if (body.allowed_tools !== undefined) settings.allowedTools = body.allowed_tools
    if (body.disallowed_tools !== undefined) settings.disallowedTools = body.disallowed_tools
    if (body.system_prompt !== undefined) settings.systemPrompt = body.system_prompt
    if (body.append_system_prompt !== undefined) settings.appendSystemPrompt = body.append_system_prompt
    if (body.thinking !== undefined) settings.thinking = thinkingOf(body.thinking)
    if (body.max_turns !== undefined) settings.maxTurns = body.max_turns
    if (body.ask_permissions !== undefined) settings.askPermissions = body.ask_permissions
    return settings
  }

  function confined(path: string, field: string): string {
    const resolved = workspaceUnder(path, limits().workspaceRoots)
    if ('problem' in resolved) throw invalid(resolved.problem, field)
    return resolved.path
  }
}

function thinkingOf(thinking: Static<typeof ThinkingSchema> | null): ThinkingSetting | null {
  if (thinking?.type === 'enabled') return { type: 'enabled', budgetTokens: thinking.budget_tokens }
  return thinking
}

function sessionOf(engine: SessionManager, id: string) {
  const record = engine.getSession(id)
  if (!record || record.state === 'closed') throw notFound(`Session ${id}`)
  return record
}

function wantsEventStream(accept: string | undefined): boolean {
  return accept?.includes('text/event-stream') === true
}

/** A finished turn as one JSON answer: its text, thinking, tool calls with their results, usage and cost. */
function turnResult(turnId: string, events: GatewayEvent[]) {
  const completed = events.find((e): e is EventOf<'turn.completed'> => e.type === 'turn.completed')
  if (!completed) throw new ApiError(500, 'internal', 'The turn ended without completing')
  let text = ''
  let thinking = ''
  const paragraphs = new Paragraphs()
  const calls = new Map<string, Record<string, unknown>>()
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
          call.status = event.isError ? 'error' : 'completed'
          call.result = event.content
          call.is_error = event.isError
          call.duration_ms = event.durationMs
        }
        break
      }
    }
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
