/**
 * With replicas (docs/scaling.md), the requests that need a session's live Claude Code process (its turns,
 * interrupts, permission answers, settings that restart it, direct tool runs, its deletion, its WebSocket)
 * are answered by the replica that owns it: forwarded there, streaming kept (src/cluster/forward.ts). Reads
 * (the session, its events, history, streams) stay here: the store and the event feed are shared.
 *
 * The routes are named once, below, and get the forwarding preHandler as they are registered, as
 * admission.ts does for its own: a route renamed or moved is an error at start, not a route that silently
 * runs a second process. A session no replica runs is served here (the engine takes its lease); one whose
 * owner cannot be reached is served here once its lease has expired (the engine takes it over), else
 * refused with `owner_unreachable`. When the engine finds the session owned elsewhere after all (the owner
 * changed meanwhile), the API's error handler forwards the request (`forwardOwnedElsewhere`).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { forwarding, forwardToOwner } from '../cluster/forward.js'
import { isOwnedElsewhere } from '../engine/ownership.js'
import type { GatewayContext } from '../gateway.js'

type SessionOf = (request: FastifyRequest) => string | undefined

const idParam: SessionOf = (request) => (request.params as { id?: string }).id
/** An OpenAI request continues a session only when it names it (extra_body `session_id`). */
const namedSession: SessionOf = (request) => (request.body as { session_id?: string } | undefined)?.session_id

/** `METHOD url` of every route answered by the session's owner, with where the request names the session. */
const OWNED_ROUTES = new Map<string, SessionOf>([
  ['POST /v1/chat/completions', namedSession],
  ['POST /api/sessions/:id/messages', idParam],
  ['POST /api/sessions/:id/interrupt', idParam],
  ['POST /api/sessions/:id/resume', idParam],
  ['POST /api/sessions/:id/pause', idParam],
  ['POST /api/sessions/:id/commands/:name', idParam],
  ['POST /api/sessions/:id/project/init', idParam],
  ['PUT /api/sessions/:id/project/workspace', idParam],
  // Its waiting permission requests are in the owner's memory.
  ['GET /api/sessions/:id/permissions', idParam],
  ['POST /api/sessions/:id/permissions/:request_id', idParam],
  ['PUT /api/sessions/:id/tool-permissions', idParam],
  ['PUT /api/sessions/:id/context', idParam],
  ['PUT /api/sessions/:id/agent', idParam],
  ['POST /api/sessions/:id/thinking', idParam],
  ['POST /api/sessions/:id/memory', idParam],
  ['POST /api/sessions/:id/tools/:name', idParam],
  ['POST /api/sessions/:id/files/upload', idParam],
  ['DELETE /api/sessions/:id', idParam],
  // Its commands (messages, interrupts, permission answers) need the owner.
  ['GET /api/sessions/:id/stream', idParam],
])

/**
 * Registers forwarding and the owner check on the routes above: before the APIs' plugins, whose routes it
 * must see. Nothing without replicas (`gateway.cluster` null).
 */
export async function ownedRoutes(app: FastifyInstance, gateway: GatewayContext): Promise<void> {
  const { cluster } = gateway
  if (!cluster) return
  const { replica, leases } = cluster
  await app.register(forwarding, { replica })
  // Pinned workspaces: the replica whose disk has the session's workspace answers for it even when it runs
  // no process for it now (released), as only it can.
  const pinned = () => gateway.config.cluster.workspaces === 'pinned'
  const ownedElsewhere = async (sessionId: string): Promise<string | null> => {
    if (leases.holds(sessionId)) return null
    const lease = await leases.owner(sessionId)
    if (!lease || lease.self) return null
    if (lease.live || (pinned() && lease.replicaId !== replica.id)) return lease.address
    return null
  }
  const guarded = new Set<string>()
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      const name = `${method} ${route.url}`
      const sessionOf = OWNED_ROUTES.get(name)
      if (!sessionOf) continue
      guarded.add(name)
      const check = forwardToOwner(
        async (request) => {
          const sessionId = sessionOf(request)
          return sessionId === undefined ? null : ownedElsewhere(sessionId)
        },
        // The owner never got the request: served here unless the session is still someone's (its lease
        // live). The engine then takes it over, or refuses with `session_pinned`.
        async (request) => {
          const lease = await leases.owner(sessionOf(request)!)
          return !lease?.live || lease.self
        },
      )
      route.preHandler = [...[route.preHandler ?? []].flat(), check]
    }
  })
  app.addHook('onReady', (done) => {
    const missing = [...OWNED_ROUTES.keys()].filter((name) => !guarded.has(name))
    done(missing.length > 0 ? new Error(`ownedRoutes: no route ${missing.join(', ')}`) : undefined)
  })
}

/**
 * The engine refused the request because another replica runs the session (it took it since the
 * preHandler looked): sent there, as the preHandler would have, when the request can still be sent whole;
 * an owner that cannot be reached is answered by `answer`, in the API's shape. False when it cannot be sent
 * (no replicas, or a body already read as a stream): the error is answered as any other then.
 */
export function forwardOwnedElsewhere(
  gateway: GatewayContext,
  request: FastifyRequest,
  reply: FastifyReply,
  error: unknown,
  answer: (reply: FastifyReply, error: Error) => void,
): boolean {
  if (!gateway.cluster || !isOwnedElsewhere(error)) return false
  const { headers } = request
  const hasBody = (headers['content-length'] ?? '0') !== '0' || headers['transfer-encoding'] !== undefined
  if ((request.body === undefined && hasBody) || (request.raw as { upgrade?: boolean }).upgrade === true)
    return false
  reply.forwardTo(error.owner.address, { onUnreachable: (unreachable) => answer(reply, unreachable) })
  return true
}
