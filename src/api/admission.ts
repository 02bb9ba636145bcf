/**
 * The routes that start a turn (or a Claude Code process for one) refuse it at once when it cannot run:
 * while the gateway drains (503 `shutting_down` with Retry-After) and while Claude Code is not logged in
 * (503 `claude_not_authenticated`, saying what to run). Refused before the handler, so no session is
 * created and no process started; after the API key check, so a caller without a key learns nothing.
 *
 * Only these routes carry the check (a preHandler added as they are registered): every other request,
 * history and streams included, is served as before until the server closes.
 *
 * Then the caller's quotas (src/users/quotas.ts): a turn route counts against requests a minute, turns at
 * once, tokens and cost; a route that makes a session against live sessions. A quota reached is a 429 in
 * the route's API's shape, through its error handler. A request another replica forwarded was counted
 * there, and is not counted again.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify'
import type { GatewayContext } from '../gateway.js'
import type { Refusal } from '../lifecycle/readiness.js'
import { fromRefusal as nativeRefusal } from './native/errors.js'
import { sendNativeError } from './native/index.js'
import { fromRefusal as openAIRefusal } from './openai/errors.js'
import { sendError } from './openai/index.js'

/** `METHOD url` of every route that starts a turn or a process for one. */
const TURN_ROUTES = [
  'POST /v1/chat/completions',
  'POST /api/sessions/:id/messages',
  'POST /api/sessions/:id/commands/:name',
  'POST /api/sessions/:id/project/init',
  'POST /api/sessions/:id/resume',
]

/** `METHOD url` of every route that makes a session (the chat route makes one only at times: it asks itself). */
const SESSION_ROUTES = ['POST /api/sessions', 'POST /api/sessions/:id/fork', 'POST /api/sessions/import']

/** Registers the checks on the turn routes: before the APIs' plugins, whose routes it must see. */
export function admission(app: FastifyInstance, gateway: GatewayContext): void {
  const guarded = new Set<string>()
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      const name = `${method} ${route.url}`
      if (SESSION_ROUTES.includes(name)) {
        guarded.add(name)
        route.preHandler = [admitSession(gateway), ...[route.preHandler ?? []].flat()]
      }
      if (!TURN_ROUTES.includes(name)) continue
      guarded.add(name)
      const check = name.startsWith('POST /v1/')
        ? refuse(gateway, (reply, refusal) => sendError(reply, openAIRefusal(refusal)))
        : refuse(gateway, (reply, refusal) => sendNativeError(reply, nativeRefusal(refusal)))
      route.preHandler = [check, admitTurn(gateway), ...[route.preHandler ?? []].flat()]
    }
  })
  // A turn route renamed or moved would otherwise lose the check without a word.
  app.addHook('onReady', (done) => {
    const missing = [...TURN_ROUTES, ...SESSION_ROUTES].filter((name) => !guarded.has(name))
    done(missing.length > 0 ? new Error(`admission: no route ${missing.join(', ')}`) : undefined)
  })
}

/**
 * Answered here, in the route's API's shape: not through the API's error handler, which logs a 5xx with its
 * stack as a failure of the gateway, when this is the gateway doing what it must.
 */
const refuse =
  (gateway: GatewayContext, send: (reply: FastifyReply, refusal: Refusal) => void): preHandlerHookHandler =>
  async (request, reply) => {
    const refusal = gateway.readiness.refusal()
    if (!refusal) return
    // The host's Claude login says nothing of a user whose sessions run on their own account.
    if (refusal.code === 'claude_not_authenticated' && (await ownAccount(gateway, request))) return
    send(reply, refusal)
    return reply
  }

async function ownAccount(gateway: GatewayContext, request: FastifyRequest): Promise<boolean> {
  const { id } = request.principal
  const claude = id === null ? undefined : (await gateway.users.directory.kept(id))?.user.claude
  return Boolean(claude?.configDir || (claude?.env && Object.keys(claude.env).length > 0))
}

/**
 * The caller's quotas for one more turn. The turn's place among the user's turns at once is held until the
 * response ends; once its turn runs, its session counts once (src/users/quotas.ts).
 */
const admitTurn =
  (gateway: GatewayContext): preHandlerHookHandler =>
  async (request, reply) => {
    if (forwarded(gateway, request)) return
    const ticket = await gateway.users.quotas.admitTurn(request.principal, () => sessionOf(request))
    reply.raw.once('close', () => ticket.release())
  }

/**
 * The session a turn route's request is for: its `:id`, the chat route's `session_id`, or the session the
 * chat route chose or made (noted on the request once it has).
 */
function sessionOf(request: FastifyRequest): string | undefined {
  const noted = request.ccgw?.sessionId
  if (noted) return noted
  const { id } = (request.params ?? {}) as { id?: unknown }
  if (typeof id === 'string') return id
  const body = request.body as { session_id?: unknown } | null | undefined
  return typeof body?.session_id === 'string' ? body.session_id : undefined
}

/**
 * The caller's live sessions quota, before a route that makes one: the session's place is held until the
 * response ends (made by then, it is in the store), so that creations at once cannot all take the last one.
 */
const admitSession =
  (gateway: GatewayContext): preHandlerHookHandler =>
  async (request, reply) => {
    if (forwarded(gateway, request)) return
    const ticket = await gateway.users.quotas.admitSession(request.principal)
    reply.raw.once('close', () => ticket.release())
  }

/** Forwarded by another replica (its secret checked): that replica counted it against the quotas. */
const forwarded = (gateway: GatewayContext, request: FastifyRequest): boolean =>
  gateway.cluster?.replica.forwardedBy(request.headers) !== undefined
