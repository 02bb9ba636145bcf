/**
 * Sessions and their turns: create, list, read, delete, change their context, send messages (answered
 * when the turn ends, or streamed as events), interrupt, and follow a session's events with replay.
 */
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import { contentProblem } from '../../engine/content.js'
import type { SessionManager } from '../../engine/sessions.js'
import { TurnFollower } from '../../events/follow.js'
import { type ContentBlock, SESSION_STATES, type SessionState } from '../../events/types.js'
import type { GatewayContext } from '../../gateway.js'
import { noteRequest, noteTurnEvent } from '../../observability/request-log.js'
import { ownerFilter, type Principal } from '../../users/principal.js'
import { interruptUnlessDone } from '../hang-up.js'
import { json, ref } from '../responses.js'
import { MessageContent } from './content.js'
import { invalid, notFound } from './errors.js'
import {
  homeWorkspace,
  nativeWorkspaces,
  permittedPatch,
  permittedSettings,
  sessionOrThrow,
} from './resolve.js'
import {
  BODY_ERRORS,
  NATIVE_COMMON,
  nativeErrors,
  QUERY_ERRORS,
  QUERY_RESPONSES,
  sessionResponses,
  TURN_START_ERRORS,
} from './responses.js'
import { lastEventId, pageQuery, ReplayQuery, SessionParams } from './schemas.js'
import { changeContext, Names, SessionOptions, settingsFrom } from './session-options.js'
import { EventSchema, EventStream, eventStreamContent, followedStream } from './sse.js'
import { answeredTurn } from './turn-answer.js'
import { type SessionView, sessionView } from './views.js'

const CreateSession = Type.Object(
  {
    title: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
    ...SessionOptions.properties,
  },
  { additionalProperties: false },
)

const ListQuery = Type.Object(
  {
    ...pageQuery('Sessions'),
    state: Type.Optional(Type.Union(SESSION_STATES.map((s) => Type.Literal(s)))),
    workspace: Type.Optional(Type.String()),
    agent: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
)

const Message = Type.Object(
  {
    content: MessageContent,
    /** true: Claude Code's default tools; false: none; a list: those built-in tools. Changes the session. */
    tools_enabled: Type.Optional(Type.Union([Type.Boolean(), Names])),
  },
  { additionalProperties: false },
)

type ListQuery = Static<typeof ListQuery>

/** Read by `POST /sessions/{id}/messages` itself (RFC 7240): answer once the turn has started. */
const MessageHeaders = Type.Object({
  prefer: Type.Optional(
    Type.String({
      description:
        '`respond-async`: answer `202` as soon as the turn has started, without waiting for it; its events ' +
        'follow on the event streams (`GET /api/events`, `GET /api/sessions/{id}/events`).',
    }),
  ),
})

const TurnStarted = Type.Object({
  turn_id: Type.String(),
  start_seq: Type.Integer({ description: 'The `seq` of its `turn.started` event.' }),
})

const DeleteQuery = Type.Object({ purge: Type.Boolean({ default: false }) }, { additionalProperties: false })

const SessionListSchema = Type.Object(
  {
    items: Type.Array(ref<SessionView>('Session')),
    total: Type.Integer({ description: 'Sessions matching the filters, all pages.' }),
    limit: Type.Integer(),
    offset: Type.Integer(),
  },
  { $id: 'SessionList' },
)

const Interrupted = Type.Object({
  interrupted: Type.Boolean({
    description: 'false: nothing was running, or the turn ended otherwise meanwhile.',
  }),
})

/** Read by `GET /sessions/{id}/events` itself (it refuses a bad one naming the header). */
const ReplayHeaders = Type.Object({
  'last-event-id': Type.Optional(
    Type.Integer({
      minimum: 0,
      description: 'The last `id` received (set by EventSource on reconnect); takes precedence over `after`.',
    }),
  ),
})

export const sessionRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  const { engine } = gateway
  const limits = () => gateway.config.native
  app.addSchema(SessionListSchema)
  app.addSchema(EventSchema)

  app.post<{ Body: Static<typeof CreateSession> }>(
    '/sessions',
    {
      schema: {
        operationId: 'createSession',
        tags: ['sessions'],
        summary: 'Create a session',
        description:
          'Creates the session record; no Claude Code process starts until its first message. Every field ' +
          'is optional: the configured defaults apply. `workspace` and `additional_directories` must be ' +
          "under the caller's workspace roots (`native.workspaceRoots`, or a user's own: docs/users.md); so " +
          "must the default workspace (a user's own folder, else `claude.defaultWorkspace`, else the " +
          "gateway's working folder) when `workspace` is not given, else 400 naming it. The session " +
          'belongs to the caller (`owner`); settings their policy does not allow are refused (403).',
        body: CreateSession,
        response: {
          201: json('The session.', ref('Session')),
          ...nativeErrors({ ...BODY_ERRORS, ...NATIVE_COMMON }),
        },
      },
    },
    async (request, reply) => {
      const { body, principal } = request
      const workspaces = await nativeWorkspaces(gateway, principal)
      const settings = settingsFrom(body, workspaces.roots)
      // A session that names no workspace gets the default one, which must be under the roots too.
      settings.workspace ??= homeWorkspace(gateway.config, workspaces, 'body.workspace')
      const allowed = await permittedSettings(gateway, principal, settings)
      const record = await engine.createSession({
        title: body.title ?? null,
        owner: principal.id,
        ...allowed,
      })
      return reply.code(201).send(sessionView(record, engine))
    },
  )

  app.get<{ Querystring: ListQuery }>(
    '/sessions',
    {
      schema: {
        operationId: 'listSessions',
        tags: ['sessions'],
        summary: 'List sessions',
        description:
          'Most recently updated first; closed sessions are included unless filtered out with `state`. A ' +
          "user sees their own sessions only; admins and viewers see everyone's, each with its `owner`.",
        querystring: ListQuery,
        response: {
          200: json('A page of sessions.', ref('SessionList')),
          ...QUERY_RESPONSES,
        },
      },
    },
    async (request) => sessionPage(engine, request.query, request.principal),
  )

  app.get<{ Params: Static<typeof SessionParams> }>(
    '/sessions/:id',
    {
      schema: {
        operationId: 'getSession',
        tags: ['sessions'],
        summary: 'Read a session',
        params: SessionParams,
        response: sessionResponses({ 200: json('The session.', ref('Session')) }),
      },
    },
    async (request) => {
      return sessionView(await sessionOrThrow(engine, request.params.id), engine)
    },
  )

  app.delete<{ Params: Static<typeof SessionParams>; Querystring: Static<typeof DeleteQuery> }>(
    '/sessions/:id',
    {
      schema: {
        operationId: 'deleteSession',
        tags: ['sessions'],
        summary: 'Close or purge a session',
        description:
          'Stops its process (a running turn ends as interrupted) and closes the session; `purge=true` ' +
          'also deletes its record and events.',
        params: SessionParams,
        querystring: DeleteQuery,
        response: sessionResponses(
          { 204: { description: 'Closed (or purged).', type: 'null' } },
          { ...QUERY_ERRORS, 404: 'not_found: no such session.' },
        ),
      },
    },
    async (request, reply) => {
      const { id } = request.params
      // Worded as every route on a session words it, so that the answer tells nothing more (visibility.ts).
      if (!(await engine.deleteSession(id, request.query.purge))) throw notFound(`Session ${id}`)
      return reply.code(204).send()
    },
  )

  app.put<{ Params: Static<typeof SessionParams>; Body: SessionOptions }>(
    '/sessions/:id/context',
    {
      schema: {
        operationId: 'updateSessionContext',
        tags: ['sessions'],
        summary: "Change a session's settings",
        description:
          'Only the fields given change. A live process is let go (at once when idle, else after its ' +
          'turn) and the next message resumes the conversation with the new settings.',
        params: SessionParams,
        body: SessionOptions,
        response: sessionResponses(
          { 200: json('The session with its new settings.', ref('Session')) },
          BODY_ERRORS,
        ),
      },
    },
    async (request) => changeContext(gateway, request.principal, request.params.id, request.body),
  )

  app.post<{ Params: Static<typeof SessionParams> }>(
    '/sessions/:id/interrupt',
    {
      schema: {
        operationId: 'interruptSession',
        tags: ['sessions'],
        summary: 'Interrupt the running turn',
        description:
          'The turn ends with status `interrupted`; answered once it has ended (a Claude Code process ' +
          'that does not stop within 5 s is stopped). No body.',
        params: SessionParams,
        response: sessionResponses({ 200: json('Whether the running turn ended interrupted.', Interrupted) }),
      },
    },
    async (request): Promise<Static<typeof Interrupted>> => {
      await sessionOrThrow(engine, request.params.id)
      return { interrupted: await engine.interrupt(request.params.id) }
    },
  )

  app.post<{ Params: Static<typeof SessionParams>; Body: Static<typeof Message> }>(
    '/sessions/:id/messages',
    {
      schema: {
        operationId: 'sendMessage',
        tags: ['sessions'],
        summary: 'Send a message (one turn)',
        description:
          'Starts a turn. With `Accept: text/event-stream` the turn streams as server-sent events (this ' +
          'turn only, ending after its `turn.completed`); otherwise the answer is the finished turn. A ' +
          'message to a busy session waits for the running turn (up to `pool.sessionQueueSize` waiting ' +
          'messages, then 409). Failures after the turn started are reported in the answer (`status`, ' +
          '`error`), not as HTTP errors. Closing the connection early interrupts the turn, except with ' +
          '`Prefer: respond-async`: then the answer is `202` once the turn has started, and the turn goes on ' +
          'whatever the connection does.',
        params: SessionParams,
        body: Message,
        response: sessionResponses(
          {
            200: {
              description: 'The finished turn, or its events.',
              content: {
                'application/json': { schema: ref('TurnResult') },
                'text/event-stream': eventStreamContent(
                  'The turn\'s events: `id` = seq, `event` = type, `data` = the event JSON (components "Event").',
                ),
              },
            },
            202: json('With `Prefer: respond-async`: the turn has started.', TurnStarted),
          },
          { ...BODY_ERRORS, ...TURN_START_ERRORS },
        ),
      },
      config: { docs: { headers: MessageHeaders } },
    },
    async (request, reply) => {
      const { id } = request.params
      const session = await sessionOrThrow(engine, id)
      const { content, tools_enabled } = request.body
      // The engine refuses it too; here the refusal names the request's field.
      const problem = contentProblem(content)
      if (problem) throw invalid(`body.${problem.field} ${problem.problem}`, `body.${problem.field}`)
      if (tools_enabled !== undefined) {
        const tools = tools_enabled === true ? null : tools_enabled === false ? [] : tools_enabled
        if (JSON.stringify(tools) !== JSON.stringify(session.settings.tools))
          await engine.updateSettings(id, await permittedPatch(gateway, request.principal, { tools }))
      }
      const turn = await engine.send(id, content as string | ContentBlock[])
      noteRequest(request, { sessionId: id })
      // Nobody waits on this connection: its end is no hang-up, so the turn is not interrupted by it.
      if (prefersAsync(request.headers.prefer))
        return reply
          .code(202)
          .header('preference-applied', 'respond-async')
          .send({ turn_id: turn.id, start_seq: turn.startSeq })
      if (wantsEventStream(request.headers.accept)) {
        const follower = new TurnFollower(gateway.bus, id, turn.id, turn.startSeq)
        let completed = false
        // A client that hangs up on its own turn's stream does not want the rest of it.
        const hungUp = interruptUnlessDone(gateway, id, () => completed)
        const stream = new EventStream(reply, {
          ...limits(),
          onClose: () => {
            follower.close()
            hungUp()
          },
        })
        for await (const event of follower) {
          if (event.type === 'turn.completed') completed = true
          noteTurnEvent(request, event)
          // Paced by the client: what it has not taken yet waits in the follower, not in its socket.
          if (!stream.send(event)) await stream.drained()
        }
        stream.close()
        return reply
      }
      return answeredTurn(gateway, reply, turn)
    },
  )

  app.get<{ Params: Static<typeof SessionParams>; Querystring: Static<typeof ReplayQuery> }>(
    '/sessions/:id/events',
    {
      schema: {
        operationId: 'followEvents',
        tags: ['sessions'],
        summary: "Follow a session's events",
        description:
          'Server-sent events: the stored events after `Last-Event-ID` (or `after`), then the live ones, ' +
          'with no gap and no duplicate, at the pace the client reads (at most `native.maxBufferedBytes` ' +
          'wait in its connection). `: heartbeat` comments every `native.heartbeatMs`. A subscriber that ' +
          'takes no byte for `native.stallTimeoutMs` while its connection is full gets a last `event: ' +
          'error` (`slow_consumer`) and is disconnected.',
        params: SessionParams,
        querystring: ReplayQuery,
        response: sessionResponses(
          {
            200: {
              description: 'The event stream; it stays open until the client closes it.',
              content: {
                'text/event-stream': eventStreamContent(
                  '`id` = seq, `event` = type, `data` = the event JSON (components "Event").',
                ),
              },
            },
          },
          QUERY_ERRORS,
        ),
      },
      config: { docs: { headers: ReplayHeaders } },
    },
    async (request, reply) => {
      const { id } = request.params
      await sessionOrThrow(engine, id)
      const after = lastEventId(request.headers['last-event-id'], 'seq') ?? request.query.after ?? 0
      // At the client's pace: a replay of any length reaches a client that reads, see EventBus.follow.
      return followedStream(request, reply, limits(), (sink) => gateway.bus.follow(id, after, sink))
    },
  )
}

/** `GET /sessions`: a page of the sessions the query selects that `principal` may see, with the total. */
export async function sessionPage(
  engine: SessionManager,
  query: ListQuery,
  principal: Principal,
): Promise<Static<typeof SessionListSchema>> {
  const { limit, offset, state, workspace, agent } = query
  const page = await engine.listSessions({
    limit,
    offset,
    owner: ownerFilter(principal),
    state: state as SessionState | undefined,
    workspace,
    agent,
  })
  return { items: page.items.map((record) => sessionView(record, engine)), total: page.total, limit, offset }
}

/** `Prefer: respond-async` (RFC 7240), among other preferences or alone, in one header or several. */
function prefersAsync(prefer: string | string[] | undefined): boolean {
  const preferences = [prefer ?? []].flat().flatMap((header) => header.split(','))
  return preferences.some((each) => each.split(';')[0]?.trim().toLowerCase() === 'respond-async')
}

function wantsEventStream(accept: string | undefined): boolean {
  return accept?.includes('text/event-stream') === true
}
