/**
 * `GET /api/events`: one stream of every session's events (or a chosen set), in the gateway's global order,
 * resumable across reconnects by position (`Last-Event-ID`): the admin UI's one stream per tab.
 */
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import { type EventFilter, followAll, type PositionedSink } from '../../events/follow-all.js'
import { EVENT_TYPES, type EventType } from '../../events/types.js'
import type { GatewayContext } from '../../gateway.js'
import { ownerFilter } from '../../users/principal.js'
import { MAX_INTEGER } from '../validation.js'
import { invalid } from './errors.js'
import { NATIVE_COMMON, nativeErrors, QUERY_ERRORS } from './responses.js'
import { lastEventId } from './schemas.js'
import { eventStreamContent, followedStream } from './sse.js'

const StreamQuery = Type.Object(
  {
    sessions: Type.Optional(
      Type.String({
        description:
          'Comma-separated session ids (at most `native.eventStreamMaxSessions`); absent: every session, including those created later.',
      }),
    ),
    types: Type.Optional(Type.String({ description: 'Comma-separated event types; absent: every type.' })),
    after: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_INTEGER,
        description: 'Replay the events after this position first (as `Last-Event-ID`, which wins).',
      }),
    ),
  },
  { additionalProperties: false },
)

const StreamHeaders = Type.Object({
  'last-event-id': Type.Optional(
    Type.Integer({
      minimum: 0,
      description: 'The last `id` (position) received, set by EventSource on reconnect; wins over `after`.',
    }),
  ),
})

/** The list in a comma-separated query parameter, refusing an empty item. */
function listOf(value: string, field: string): string[] {
  const items = value.split(',')
  if (items.some((item) => item === ''))
    throw invalid(`${field} must be a comma-separated list without empty items`, field)
  return items
}

/** What the query selects, refusing unknown event types and session lists longer than `maxSessions`. */
function filterOf(query: Static<typeof StreamQuery>, maxSessions: number): EventFilter {
  const filter: EventFilter = {}
  if (query.sessions !== undefined) {
    filter.sessionIds = listOf(query.sessions, 'querystring.sessions')
    if (filter.sessionIds.length > maxSessions)
      throw invalid(
        `querystring.sessions names more than ${maxSessions} sessions (native.eventStreamMaxSessions)`,
        'querystring.sessions',
      )
  }
  if (query.types !== undefined) {
    const types = listOf(query.types, 'querystring.types')
    const unknown = types.find((type) => !(EVENT_TYPES as readonly string[]).includes(type))
    if (unknown !== undefined)
      throw invalid(`querystring.types: unknown event type ${JSON.stringify(unknown)}`, 'querystring.types')
    filter.types = types as EventType[]
  }
  return filter
}

/** Sessions whose owner an `ownedBy` stream remembers; past it, it starts over (asking the store again). */
const OWNERS_REMEMBERED = 10_000

/**
 * `sink` given only the events of `owner`'s sessions. Events do not name their session's owner: the first
 * event of a session is held (the consumer reads as full) while its record is read, then sent or dropped,
 * and the answer is remembered (an owner never changes). A session named in the query's `sessions` that is
 * someone else's is thus followed as one that does not exist: nothing comes.
 */
function ownedBy(gateway: GatewayContext, owner: string, sink: PositionedSink): PositionedSink {
  const mine = new Map<string, boolean>()
  let held: Promise<void> | undefined
  return {
    send(event, pos) {
      const known = mine.get(event.sessionId)
      if (known !== undefined) return known ? sink.send(event, pos) : true
      held = gateway.engine.getSession(event.sessionId).then(
        (record) => {
          if (mine.size >= OWNERS_REMEMBERED) mine.clear()
          const owned = (record?.owner ?? null) === owner
          // A session purged before its owner was read: its events are not known to be theirs.
          if (record) mine.set(event.sessionId, owned)
          if (owned) sink.send(event, pos)
        },
        (error: unknown) => sink.fail(error),
      )
      return false
    },
    async drained() {
      if (held) await held
      held = undefined
      return sink.drained()
    },
    fail: (error) => sink.fail(error),
  }
}

export const eventStreamRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (
  app,
  { gateway },
) => {
  app.get<{ Querystring: Static<typeof StreamQuery> }>(
    '/events',
    {
      schema: {
        operationId: 'followAllEvents',
        tags: ['sessions'],
        summary: "Follow every session's events",
        description:
          "Server-sent events of every session (or those `sessions` names), in the gateway's global order. " +
          "The `id` of a frame is the event's position: after `Last-Event-ID` (or `after`) the stream " +
          'replays the stored events past it, then the live ones, with no gap and no duplicate. Without ' +
          'either, it starts with an `event: stream.position` frame holding the current position. Paced, ' +
          'heartbeats and `slow_consumer` as `GET /sessions/{id}/events`. Sessions appear with ' +
          '`session.created` and, when purged, end with `session.deleted` (docs/events.md). A user gets ' +
          "their own sessions' events only; a session of someone else's named in `sessions` is as one that " +
          'does not exist.',
        querystring: StreamQuery,
        response: {
          200: {
            description: 'The event stream; it stays open until the client closes it.',
            content: {
              'text/event-stream': eventStreamContent(
                '`id` = position, `event` = type, `data` = the event JSON (components "Event"); first, ' +
                  'without a cursor, `event: stream.position` with `data: {"pos": P}`.',
              ),
            },
          },
          ...nativeErrors({
            ...QUERY_ERRORS,
            400: `${QUERY_ERRORS[400]} Also: an unknown event type, an empty list item, more sessions than \`native.eventStreamMaxSessions\`, or a Last-Event-ID that is not a position.`,
            ...NATIVE_COMMON,
          }),
        },
      },
      config: { docs: { headers: StreamHeaders } },
    },
    async (request, reply) => {
      const { native } = gateway.config
      const filter = filterOf(request.query, native.eventStreamMaxSessions)
      const resumeAt = lastEventId(request.headers['last-event-id'], 'pos') ?? request.query.after
      const { bus } = gateway
      const owner = ownerFilter(request.principal)
      return followedStream(request, reply, { ...native, ids: 'pos' }, (sink, stream) => {
        const after = resumeAt ?? bus.lastPos
        // A fresh client gets its cursor at once, before any event: what to send as Last-Event-ID later.
        if (resumeAt === undefined)
          stream.write(`id: ${after}\nevent: stream.position\ndata: {"pos":${after}}\n\n`)
        return followAll(bus, after, filter, owner === undefined ? sink : ownedBy(gateway, owner, sink))
      })
    },
  )
}
