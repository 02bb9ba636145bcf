/**
 * WebSockets of a session. `/stream`: every event (replayed from `?after=N`, then live), and the client
 * sends messages, interrupts and permission answers. `/tools/stream`: tool-call status only.
 * A client that falls more than `native.maxBufferedBytes` behind is closed (1008, `slow_consumer`).
 */
import websocket from '@fastify/websocket'
import { type Static, Type } from '@sinclair/typebox'
import { Ajv, type ValidateFunction } from 'ajv'
import type { FastifyPluginAsync } from 'fastify'
import type { WebSocket } from 'ws'
import { eventJson } from '../../events/json.js'
import type { GatewayEvent } from '../../events/types.js'
import type { GatewayContext } from '../../gateway.js'
import { notFound, toApiError } from './errors.js'
import { ReplayQuery, SessionParams } from './schemas.js'

/** What a client may send on `/stream`; `request_id` comes back on the answer. */
const ClientMessage = Type.Union([
  Type.Object({
    type: Type.Literal('message'),
    content: Type.Union([
      Type.String({ minLength: 1 }),
      Type.Array(Type.Object({ type: Type.String() }), { minItems: 1 }),
    ]),
    request_id: Type.Optional(Type.String()),
  }),
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
function isClientMessage(data: unknown): data is ClientMessage {
  clientMessageValidator ??= new Ajv({ strict: false }).compile<ClientMessage>(ClientMessage)
  return clientMessageValidator(data)
}

const TOOL_EVENTS = new Set([
  'tool.call',
  'tool.result',
  'file.changed',
  'permission.requested',
  'permission.resolved',
])
const SLOW_CONSUMER = 1008

export const websocketRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  await app.register(websocket, { options: { maxPayload: gateway.config.server.bodyLimitBytes } })
  const { engine, bus } = gateway

  /**
   * Follow a session on a socket: replay after `after` (default: from now), live events through `filter`,
   * cut-off when it falls behind. False (and the socket closed with 4404) when there is no such session.
   */
  function follow(
    socket: WebSocket,
    sessionId: string,
    after: number | undefined,
    filter: (event: GatewayEvent) => boolean,
  ): boolean {
    const state = engine.getSession(sessionId)?.state
    if (state === undefined || state === 'closed') {
      socket.close(4404, notFound(`Session ${sessionId}`).message)
      return false
    }
    const send = (event: GatewayEvent) => {
      if (!filter(event) || socket.readyState !== socket.OPEN) return
      if (socket.bufferedAmount > gateway.config.native.maxBufferedBytes) {
        socket.close(SLOW_CONSUMER, 'slow_consumer: reconnect with ?after=<last seq> to resume')
        return
      }
      socket.send(eventJson(event))
    }
    const subscription = bus.subscribe(sessionId, send, after ?? bus.currentSeq(sessionId))
    socket.on('close', () => subscription.close())
    return true
  }

  app.get<{ Params: Static<typeof SessionParams>; Querystring: Static<typeof ReplayQuery> }>(
    '/sessions/:id/stream',
    { websocket: true, schema: { params: SessionParams, querystring: ReplayQuery } },
    (socket, request) => {
      const { id } = request.params
      if (!follow(socket, id, request.query.after, () => true)) return
      socket.on('message', (data) => {
        let parsed: unknown
        try {
          parsed = JSON.parse(data.toString())
        } catch {
          parsed = undefined
        }
        if (!isClientMessage(parsed)) {
          reply(socket, {
            type: 'error',
            code: 'validation_error',
            message: 'Expected {type: message|interrupt|permission, …}',
          })
          return
        }
        void handle(socket, id, parsed)
      })
    },
  )

  app.get<{ Params: Static<typeof SessionParams>; Querystring: Static<typeof ReplayQuery> }>(
    '/sessions/:id/tools/stream',
    { websocket: true, schema: { params: SessionParams, querystring: ReplayQuery } },
    (socket, request) => {
      const { id } = request.params
      if (!follow(socket, id, request.query.after, (event) => TOOL_EVENTS.has(event.type))) return
      socket.on('message', () =>
        reply(socket, { type: 'error', code: 'read_only', message: 'This stream only reports tool calls' }),
      )
    },
  )

  async function handle(socket: WebSocket, sessionId: string, message: ClientMessage): Promise<void> {
    const requestId = message.request_id
    try {
      switch (message.type) {
        case 'message': {
          const turn = await engine.send(sessionId, message.content as Parameters<typeof engine.send>[1])
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
      const { code, message: text } = toApiError(error).body.error
      reply(socket, { type: 'error', code, message: text, request_id: requestId })
    }
  }
}

function reply(socket: WebSocket, body: object): void {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(body))
}
