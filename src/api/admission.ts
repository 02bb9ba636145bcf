/**
 * The routes that start a turn (or a Claude Code process for one) refuse it at once when it cannot run:
 * while the gateway drains (503 `shutting_down` with Retry-After) and while Claude Code is not logged in
 * (503 `claude_not_authenticated`, saying what to run). Refused before the handler, so no session is
 * created and no process started; after the API key check, so a caller without a key learns nothing.
 *
 * Only these routes carry the check (a preHandler added as they are registered): every other request,
 * history and streams included, is served as before until the server closes.
 */
import type { FastifyInstance, FastifyReply, preHandlerHookHandler } from 'fastify'
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

/** Registers the check on the turn routes: before the APIs' plugins, whose routes it must see. */
export function admission(app: FastifyInstance, gateway: GatewayContext): void {
  const guarded = new Set<string>()
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      const name = `${method} ${route.url}`
      if (!TURN_ROUTES.includes(name)) continue
      guarded.add(name)
      const check = name.startsWith('POST /v1/')
        ? refuse(gateway, (reply, refusal) => sendError(reply, openAIRefusal(refusal)))
        : refuse(gateway, (reply, refusal) => sendNativeError(reply, nativeRefusal(refusal)))
      route.preHandler = [check, ...[route.preHandler ?? []].flat()]
    }
  })
  // A turn route renamed or moved would otherwise lose the check without a word.
  app.addHook('onReady', (done) => {
    const missing = TURN_ROUTES.filter((name) => !guarded.has(name))
    done(missing.length > 0 ? new Error(`admission: no route ${missing.join(', ')}`) : undefined)
  })
}

/**
 * Answered here, in the route's API's shape: not through the API's error handler, which logs a 5xx with its
 * stack as a failure of the gateway, when this is the gateway doing what it must.
 */
const refuse =
  (gateway: GatewayContext, send: (reply: FastifyReply, refusal: Refusal) => void): preHandlerHookHandler =>
  (_request, reply, done) => {
    const refusal = gateway.readiness.refusal()
    if (refusal) send(reply, refusal)
    else done()
  }
