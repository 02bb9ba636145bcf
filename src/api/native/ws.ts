/**
 * WebSockets of a session. `/stream`: every event (replayed from `?after=N`, then live), and the client
 * sends messages, interrupts and permission answers. `/tools/stream`: tool-call status only.
 * Events are sent at the client's pace: no more than `native.maxBufferedBytes` wait in its socket, and a
 * client that takes nothing for `native.stallTimeoutMs` meanwhile is closed (1008, `slow_consumer`).
 */
import websocket from '@fastify/websocket'
import { type Static, Type } from '@sinclair/typebox'
import { Ajv, type ValidateFunction } from 'ajv'
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import type { RawData, WebSocket } from 'ws'
import { contentProblem } from '../../engine/content.js'
import type { Subscription } from '../../events/bus.js'
import { eventJson } from '../../events/json.js'
import type { GatewayEvent } from '../../events/types.js'
import type { GatewayContext } from '../../gateway.js'
import { forbidden } from '../../users/errors.js'
import { auditCommand } from '../audit.js'
import { principalOf } from '../auth.js'
import { Pacer } from '../backpressure.js'
import { JsonTooDeepError, parseLimitedJson } from '../json-limits.js'
import { mainIssue, validationPath } from '../validation.js'
import { MessageContent } from './content.js'
import {
  ApiError,
  type ApiErrorCode,
  fromRefusal,
  invalid,
  notFound,
  type StreamErrorCode,
  toApiError,
} from './errors.js'
import { liveSession } from './resolve.js'
import { SOCKET_RESPONSES } from './responses.js'
import { ReplayQuery, SessionParams } from './schemas.js'
import { isHidden, sessionVisible } from './visibility.js'

/** What a client may send on `/stream`; `request_id` comes back on the answer. */
const MessageFrame = Type.Object({
  type: Type.Literal('message'),
  // The same content as POST /api/sessions/{id}/messages takes.
  content: MessageContent,
  request_id: Type.Optional(Type.String()),
})
const ClientMessage = Type.Union([
  MessageFrame,
  Type.Object({ type: Type.Literal('interrupt'), request_id: Type.Optional(Type.String()) }),
  Type.Object({
    type: Type.Literal('permission'),
    permission_request_id: Type.String({ minLength: 1 }),
    behavior: Type.Union([Type.Literal('allow'), Type.Literal('deny')]),
    updated_input: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    message: Type.Optional(Type.String()),
    request_id: Type.Optional(Type.String()),
  }),
])
type ClientMessage = Static<typeof ClientMessage>
// Compiled on the first message, not at import: every start of the gateway would pay for it.
let clientMessageValidator: ValidateFunction<ClientMessage> | undefined
let messageFrameValidator: ValidateFunction | undefined
function isClientMessage(data: unknown): data is ClientMessage {
  clientMessageValidator ??= new Ajv({ strict: false }).compile<ClientMessage>(ClientMessage)
  return clientMessageValidator(data)
}

/** Why a frame is not a client message: for a `message` frame, its field at fault (`content[0].text …`). */
function frameProblem(data: unknown): string {
  if ((data as { type?: unknown } | null)?.type === 'message') {
    messageFrameValidator ??= new Ajv({ strict: false }).compile(MessageFrame)
    const issue = messageFrameValidator(data) ? undefined : mainIssue(messageFrameValidator.errors ?? [])
    if (issue)
      return `${validationPath(issue.instancePath, issue.params) || 'message'} ${issue.message ?? 'is invalid'}`
  }
  return 'Expected {type: message|interrupt|permission, …}'
}

const TOOL_EVENTS = new Set([
  'tool.call',
  'tool.result',
  'file.changed',
  'permission.requested',
  'permission.resolved',
])
const SLOW_CONSUMER = 1008
/** The upgrade request of each session socket: who sends its commands, as the audit trail names them. */
const upgrades = new WeakMap<WebSocket, FastifyRequest>()

/**
 * A plain HTTP request to a WebSocket route (no `Upgrade: websocket`) is told so, in the native shape:
 * @fastify/websocket would answer it 404 with no body, as if the route did not exist.
 */
const upgradeOnly: onRequestAsyncHookHandler = async (request, reply) => {
  if (request.headers.upgrade?.toLowerCase() === 'websocket') return
  reply.header('upgrade', 'websocket')
  throw new ApiError('upgrade_required', 'This route is a WebSocket: connect with Upgrade: websocket')
}
const INTERNAL_ERROR = 1011
/** The server closes (a drain): the client reconnects, to another instance or to this one once it is back. */
const SERVICE_RESTART = 1012

function closeForRestart(this: FastifyInstance, done: () => void): void {
  for (const client of this.websocketServer.clients)
    client.close(SERVICE_RESTART, 'service restart: reconnect')
  this.websocketServer.close(() => done())
}

export const websocketRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  await app.register(websocket, {
    options: { maxPayload: gateway.config.server.bodyLimitBytes },
    preClose: closeForRestart,
  })
  const { engine, bus } = gateway

  /**
   * Follow a session on a socket: replay after `after` (default: from now), live events through `filter`,
   * at the client's pace (backpressure.ts), cut off only when it stops reading. False (and the socket closed
   * with 4404) when there is no such session, or with 1011 when the session cannot be read.
   */
  async function follow(
    socket: WebSocket,
    request: FastifyRequest,
    sessionId: string,
    after: number | undefined,
    filter: (event: GatewayEvent) => boolean,
  ): Promise<boolean> {
    let from: number
    try {
      // Another user's session is told exactly as a missing one (src/api/native/visibility.ts).
      if (isHidden(request) || !(await liveSession(engine, sessionId))) {
        socket.close(4404, notFound(`Session ${sessionId}`).message)
        return false
      }
      from = after ?? (await bus.loadSeq(sessionId))
    } catch (error) {
      closeFailed(socket, error)
      return false
    }
    let subscription: Subscription | undefined
    function stop(): void {
      subscription?.close()
      pacer.end()
    }
    const pacer = new Pacer<string>(
      {
        write: (data, flushed) => socket.send(data, flushed),
        get writableLength() {
          return socket.bufferedAmount
        },
      },
      gateway.config.native,
      () => {
        socket.close(SLOW_CONSUMER, 'slow_consumer: reconnect with ?after=<last seq> to resume')
        stop()
      },
    )
    subscription = bus.follow(sessionId, from, {
      send: (event) => {
        if (socket.readyState !== socket.OPEN) {
          stop()
          return false
        }
        return !filter(event) || pacer.write(eventJson(event))
      },
      drained: () => pacer.drained(),
      fail: (error) => {
        closeFailed(socket, error)
        stop()
      },
    })
    if (socket.readyState === socket.OPEN) socket.on('close', stop)
    else stop()
    return true
  }

  /** The session's events could not be read: the socket closes, saying why. */
  function closeFailed(socket: WebSocket, error: unknown): void {
    const failure = toApiError(error)
    if (failure.status === 500) app.log.error({ err: error }, 'replaying session events failed')
    // The code only: a close reason is at most 123 bytes.
    socket.close(INTERNAL_ERROR, `${failure.code}: reconnect with ?after=<last seq> to resume`)
  }

  /**
   * A WebSocket route on one session: its events that `filter` keeps (see `follow`), and `onMessage` for
   * each message the client sends; `doc` is what the OpenAPI document says of it.
   */
  function sessionSocket(
    path: string,
    doc: { operationId: string; tags: string[]; summary: string; description: string },
    filter: (event: GatewayEvent) => boolean,
    onMessage: (socket: WebSocket, sessionId: string, data: RawData, writable: boolean) => void,
  ): void {
    app.get<{ Params: Static<typeof SessionParams>; Querystring: Static<typeof ReplayQuery> }>(
      path,
      {
        websocket: true,
        onRequest: upgradeOnly,
        schema: { ...doc, params: SessionParams, querystring: ReplayQuery, response: SOCKET_RESPONSES },
      },
      (socket, request) => {
        const { id } = request.params
        upgrades.set(socket, request)
        // Messages that come while the session is looked up wait for it, in order.
        const early: RawData[] = []
        let state: 'opening' | 'open' | 'refused' = 'opening'
        // Whether the caller may change the session (a viewer may only follow it): known once, as it opens.
        let writable = false
        socket.on('message', (data) => {
          if (state === 'open') onMessage(socket, id, data, writable)
          else if (state === 'opening') early.push(data)
        })
        void follow(socket, request, id, request.query.after, filter)
          .then(async (following) => {
            writable = following && (await sessionVisible(gateway, request.principal, id, false))
            state = following ? 'open' : 'refused'
            if (following) for (const data of early.splice(0)) onMessage(socket, id, data, writable)
          })
          .catch((error: unknown) => closeFailed(socket, error))
      },
    )
  }

  sessionSocket(
    '/sessions/:id/stream',
    {
      operationId: 'sessionSocket',
      tags: ['sessions'],
      summary: 'A session over a WebSocket',
      description:
        'WebSocket (the request upgrades). The server sends each event as a JSON text message: those ' +
        'after `after`, or from now without it, then the live ones. The client sends ' +
        '`{"type": "message", "content", "request_id"?}`, `{"type": "interrupt", "request_id"?}` or ' +
        '`{"type": "permission", "permission_request_id", "behavior": "allow"|"deny", "updated_input"?, ' +
        '"message"?, "request_id"?}`; each is answered by `{"type": "ack", "request_id", ...}` or ' +
        '`{"type": "error", "code", "message", "request_id"}` (no `seq`, unlike events). Events go at ' +
        "the client's pace. Close codes: 4404 no such session, 1008 `slow_consumer` (took no byte for " +
        '`native.stallTimeoutMs` with more than `native.maxBufferedBytes` waiting), 1011 the replay ' +
        'could not be read, 1012 the gateway is shutting down (reconnect with `after`).',
    },
    () => true,
    (socket, id, data, writable) => {
      let parsed: unknown
      try {
        // A message is a request body: the same nesting limit applies (src/api/json-limits.ts).
        parsed = parseLimitedJson(data.toString(), gateway.config.server.maxJsonDepth)
      } catch (error) {
        if (error instanceof JsonTooDeepError) {
          replyError(socket, 'json_too_deep', error.message)
          return
        }
        parsed = undefined
      }
      if (!isClientMessage(parsed)) {
        const requestId = (parsed as { request_id?: unknown } | null)?.request_id
        replyError(
          socket,
          'validation_error',
          frameProblem(parsed),
          typeof requestId === 'string' ? requestId : undefined,
        )
        return
      }
      if (writable) void handle(socket, id, parsed)
      else
        replyError(socket, 'forbidden', 'A viewer may follow this session, not change it', parsed.request_id)
    },
  )

  sessionSocket(
    '/sessions/:id/tools/stream',
    {
      operationId: 'toolSocket',
      tags: ['tools'],
      summary: "A session's tool calls over a WebSocket",
      description:
        'WebSocket, read-only: `tool.call`, `tool.result`, `file.changed`, `permission.requested` and ' +
        '`permission.resolved` events as JSON text messages (after `after`, or from now). Anything the ' +
        'client sends is answered by `{"type": "error", "code": "read_only"}`. Close codes as for /stream.',
    },
    (event) => TOOL_EVENTS.has(event.type),
    (socket) => replyError(socket, 'read_only', 'This stream only reports tool calls'),
  )

  /**
   * The socket's key, asked again at each command (as a request's is at each request): revoked, its user
   * removed or made a viewer, here or on another replica (within users.keyCacheMs), the socket changes
   * nothing more, even before it is closed.
   */
  async function stillAllowed(socket: WebSocket): Promise<void> {
    const request = upgrades.get(socket)
    if (!request) return
    const current = await principalOf(gateway, request)
    if (!current || current.id !== request.principal.id || current.role === 'viewer')
      throw forbidden('The key this socket was opened with no longer allows changes')
  }

  async function handle(socket: WebSocket, sessionId: string, message: ClientMessage): Promise<void> {
    const requestId = message.request_id
    let failure: ApiError | undefined
    try {
      await stillAllowed(socket)
      switch (message.type) {
        case 'message': {
          const problem = contentProblem(message.content)
          if (problem) throw invalid(`${problem.field} ${problem.problem}`, problem.field)
          // As the turn routes refuse it (src/api/admission.ts): while draining, or not logged in.
          const refusal = gateway.readiness.refusal()
          if (refusal) throw fromRefusal(refusal)
          // The sender's quotas, as for the message route; the turn's place is held until it has started.
          const principal = upgrades.get(socket)?.principal
          const ticket = principal ? await gateway.users.quotas.admitTurn(principal, sessionId) : undefined
          const turn = await engine
            .send(sessionId, message.content as Parameters<typeof engine.send>[1])
            .finally(() => ticket?.release())
          reply(socket, { type: 'ack', request_id: requestId, turn_id: turn.id })
          return
        }
        case 'interrupt':
          reply(socket, {
            type: 'ack',
            request_id: requestId,
            interrupted: await engine.interrupt(sessionId),
          })
          return
        case 'permission': {
          const answered = engine.answerPermission(
            sessionId,
            message.permission_request_id,
            message.behavior === 'allow'
              ? { behavior: 'allow', updatedInput: message.updated_input }
              : { behavior: 'deny', message: message.message },
          )
          if (!answered) throw notFound(`Permission request ${message.permission_request_id}`)
          reply(socket, { type: 'ack', request_id: requestId })
          return
        }
      }
    } catch (error) {
      failure = toApiError(error)
      replyError(socket, failure.code, failure.message, requestId)
    } finally {
      const request = upgrades.get(socket)
      if (request) auditCommand(gateway, request, sessionId, message, failure?.status ?? 200, failure?.code)
    }
  }
}

function reply(socket: WebSocket, body: object): void {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(body))
}

/** A request that failed, with the codes of the HTTP API (no `seq`: it is not one of the session's events). */
function replyError(
  socket: WebSocket,
  code: ApiErrorCode | StreamErrorCode,
  message: string,
  requestId?: string,
): void {
  reply(socket, {
    type: 'error',
    code,
    message,
    ...(requestId === undefined ? {} : { request_id: requestId }),
  })
}
