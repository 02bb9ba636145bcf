/**
 * Who may see and touch what, decided for every route as it is registered, so that a new route cannot
 * forget it (src/users/principal.ts holds the rules):
 *
 * - a route on one session (`/api/sessions/:id…`, REST and WebSocket) loads the session and answers
 *   another user's exactly as a missing one (404 `not_found`, "Session <id> does not exist"): ids do not
 *   leak. A WebSocket is told as a missing session is, by ws.ts (`isHidden`): closed with 4404;
 * - a viewer's request that is not a read is refused anywhere in /api and /v1 (403 `forbidden`);
 * - the gateway-wide figures (`STAFF_ROUTES`) are for admins and viewers; a user gets 403 `forbidden`.
 *
 * Lists and streams limit themselves to the caller's sessions with `ownerFilter` (their routes).
 */
import type {
  FastifyInstance,
  FastifyRequest,
  onRequestAsyncHookHandler,
  preHandlerAsyncHookHandler,
} from 'fastify'
import type { GatewayContext } from '../../gateway.js'
import { forbidden } from '../../users/errors.js'
import { canRead, canWrite, type Principal, READ_METHODS } from '../../users/principal.js'
import { notFound } from './errors.js'

/** The route prefix of one session's routes. */
const SESSION_ROUTE = /^\/api\/sessions\/:id(\/|$)/

/** `METHOD url` of the routes only admins and viewers may call: figures about every user's sessions. */
const STAFF_ROUTES = ['GET /api/metrics', 'GET /api/metrics/history', 'GET /api/agent-stats']

/** WebSocket requests for a session the caller may not see: ws.ts answers them as for a missing one. */
const hidden = new WeakSet<FastifyRequest>()

/** Whether the session a WebSocket request names is one its caller may not see (see `visibility`). */
export const isHidden = (request: FastifyRequest): boolean => hidden.has(request)

/**
 * Registers the checks on the routes of `app` (the /api or /v1 plugin) as they are added: before them, and
 * after the plugin's key check, which sets `request.principal` in `onRequest`.
 */
export function visibility(app: FastifyInstance, gateway: GatewayContext): void {
  const staff = new Set<string>()
  app.addHook('onRoute', (route) => {
    // Who may call the route at all is known from the key alone: refused before the body is even read.
    const refusals: onRequestAsyncHookHandler[] = []
    const methods = [route.method].flat()
    if (methods.some((method) => !READ_METHODS.has(method))) refusals.push(readOnlyForViewers)
    // HEAD too: Fastify answers it with the GET route's handler (the body left out, its length not).
    const asRead = (method: string) => (method === 'HEAD' ? 'GET' : method)
    if (methods.some((method) => STAFF_ROUTES.includes(`${asRead(method)} ${route.url}`))) {
      staff.add(`GET ${route.url}`)
      refusals.push(staffOnly)
    }
    // After the plugin's key check, which sets the principal: route hooks run after the plugin's.
    if (refusals.length > 0) route.onRequest = [...[route.onRequest ?? []].flat(), ...refusals]
    // Whose session it is, once the request is validated: where a route finds a session missing, so that
    // the answers cannot be told apart.
    if (SESSION_ROUTE.test(route.url))
      route.preHandler = [sessionCheck(gateway, route.websocket === true), ...[route.preHandler ?? []].flat()]
  })
  // A staff route renamed or moved would otherwise be open to every user without a word.
  app.addHook('onReady', (done) => {
    const missing = app.prefix === '/api' ? STAFF_ROUTES.filter((name) => !staff.has(name)) : []
    done(missing.length > 0 ? new Error(`visibility: no route ${missing.join(', ')}`) : undefined)
  })
}

const readOnlyForViewers: onRequestAsyncHookHandler = async (request) => {
  // `principal` is unset only on the routes without a key check (/v1/health), which are all reads.
  if (request.principal?.role === 'viewer' && !READ_METHODS.has(request.method))
    throw forbidden('A viewer may read, not change anything')
}

const staffOnly: onRequestAsyncHookHandler = async (request) => {
  if (request.principal?.role === 'user')
    throw forbidden("These figures cover every user's sessions: for admins and viewers only")
}

/** The session of the route: another user's is answered as a missing one. */
function sessionCheck(gateway: GatewayContext, websocket: boolean): preHandlerAsyncHookHandler {
  return async (request) => {
    const { id } = request.params as { id: string }
    if (await sessionVisible(gateway, request.principal, id, READ_METHODS.has(request.method))) return
    if (websocket) hidden.add(request)
    else throw notFound(`Session ${id}`)
  }
}

/**
 * Whether `principal` may read (`read`) or change the session `id`; true when there is no such session (the
 * route answers that itself, in its own way). Admins and viewers read everything: nothing is loaded for them.
 */
export async function sessionVisible(
  gateway: Pick<GatewayContext, 'engine'>,
  principal: Principal,
  id: string,
  read: boolean,
): Promise<boolean> {
  if (principal.role === 'admin') return true
  if (principal.role === 'viewer' && read) return true
  const record = await gateway.engine.getSession(id)
  if (!record) return true
  const owner = record.owner ?? null
  return read ? canRead(principal, owner) : canWrite(principal, owner)
}
