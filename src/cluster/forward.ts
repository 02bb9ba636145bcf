/**
 * Requests for a session another replica owns are answered by that replica: forwarded to its address with
 * @fastify/reply-from (undici), body and answer streamed both ways, so a turn's SSE events reach the client
 * as the owner writes them. The owner judges the request as the client sent it (Host, API key, body): the
 * forwarding replica adds only the `x-forwarded-*` headers and the replicas' secret (src/cluster/replica.ts).
 *
 * A request is forwarded at most once: one that arrives forwarded is refused (503 `owner_unreachable`)
 * rather than sent on, so replicas that disagree about an owner for a moment never bounce it between them.
 * An owner that cannot be reached is reported as `OwnerUnreachableError`, which says whether the owner may
 * have received the request: the caller decides between answering it, sending it again, and taking the
 * session over to serve it itself. WebSocket upgrades are forwarded too (src/cluster/forward-upgrade.ts).
 */
import { type Duplex, PassThrough } from 'node:stream'
import replyFrom from '@fastify/reply-from'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { OwnerUnreachableError, unreachableOwner } from './errors.js'
import { forwardUpgrade } from './forward-upgrade.js'
import { FORWARDED_BY_HEADER, type Replica } from './replica.js'

declare module 'fastify' {
  interface FastifyReply {
    /**
     * Answers this request with the answer of the replica at `address` (an origin: a lease's `address`),
     * or, when it cannot be reached, with `OwnerUnreachableError` (or whatever `onUnreachable` does).
     */
    forwardTo(address: string, options?: ForwardOptions): FastifyReply
  }
}

export interface ForwardOptions {
  /**
   * Called instead of answering the error. `canServeHere`: the owner never received the request and its
   * body is still whole (parsed, or none), so this replica may take the session over and handle it (see
   * `forwardToOwner`); else it may only be answered.
   */
  onUnreachable?: (error: OwnerUnreachableError, canServeHere: boolean) => void
}

export interface ForwardingOptions {
  replica: Pick<Replica, 'id' | 'advertiseUrl' | 'forwardingHeaders'>
  /**
   * How long a connection to an owner may take (and, for a WebSocket upgrade, its answer): past it, the
   * owner is unreachable.
   */
  connectTimeoutMs?: number
  /**
   * How long the owner may take to start answering, 0 for no limit: a message answered when its turn ends
   * waits as long as the turn (`pool.turnTimeoutMs`); the client's own timeout applies meanwhile.
   */
  headersTimeoutMs?: number
  /** The longest silence within an answer, 0 for no limit: an event stream may be quiet for long. */
  bodyTimeoutMs?: number
  /** Connections kept to each owner. */
  connectionsPerOwner?: number
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000

/** Headers undici refuses to send (hop-by-hop, or handled by itself); the client's, not the owner's. */
const HOP_BY_HOP = ['keep-alive', 'proxy-connection', 'upgrade', 'expect']

/** Adds `reply.forwardTo` to every route (and reply-from's `reply.from`, which it uses). */
export const forwarding = fp<ForwardingOptions>(
  async (app, options) => {
    const { replica } = options
    const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
    // Forwarded WebSockets are sockets the server no longer manages: they would hold its close open. Cut
    // (the client sees 1006 and reconnects, to a replica still running) before it waits for them.
    const joined = new Set<Duplex>()
    app.addHook('preClose', (done) => {
      for (const socket of joined) socket.destroy()
      done()
    })
    await app.register(replyFrom, {
      disableRequestLogging: true,
      undici: {
        connections: options.connectionsPerOwner ?? 128,
        pipelining: 1,
        connect: { timeout: connectTimeoutMs },
        headersTimeout: options.headersTimeoutMs ?? 0,
        bodyTimeout: options.bodyTimeoutMs ?? 0,
      },
    })

    app.decorateReply('forwardTo', function forwardTo(this: FastifyReply, address: string, forward = {}) {
      const { request } = this
      const origin = URL.canParse(address) ? new URL(address).origin : null
      // A lease names the address its holder advertised (src/cluster/replica.ts checks it): a bug otherwise.
      if (origin === null)
        return this.send(new Error(`The owner's address ${JSON.stringify(address)} is not a URL`))
      const unreachable = (error: OwnerUnreachableError, canServeHere: boolean) =>
        forward.onUnreachable ? forward.onUnreachable(error, canServeHere) : this.send(error)
      // Forwarded once already, or to this very replica (a lease of its previous process): sent on, it
      // would come back.
      if (request.headers[FORWARDED_BY_HEADER] !== undefined || origin === replica.advertiseUrl) {
        unreachable(new OwnerUnreachableError(origin, 'loop', false), true)
        return this
      }
      if ((request.raw as { upgrade?: boolean }).upgrade === true)
        return forwardUpgrade(this, {
          origin,
          headers: forwardedHeaders(request, request.headers, replica),
          timeoutMs: connectTimeoutMs,
          onUnreachable: (error) => unreachable(error, !error.mayHaveArrived),
          joined,
        })
      // A body no parser read (the request is forwarded before parsing, or its route reads it as a stream)
      // goes as it came. Through a pipe of its own: undici destroys a body it could not send, and the
      // client's request must survive that to be answered.
      const streamsBody = request.body === undefined && hasBody(request)
      if (streamsBody) request.body = request.raw.pipe(new PassThrough())
      try {
        return this.from(`${origin}${request.url}`, {
          rewriteRequestHeaders: (_request, headers) => forwardedHeaders(request, headers, replica),
          // Never sent twice: a POST may have started a turn; the caller decides what to try again.
          retryDelay: () => null,
          onError: (_reply, { error }) => {
            const unreachableError = unreachableOwner(origin, (error as { cause?: unknown }).cause ?? error)
            // The rest of a body that was being streamed is never read: the connection cannot serve another
            // request after this answer.
            if (streamsBody && !request.raw.complete) this.header('connection', 'close')
            unreachable(unreachableError, !unreachableError.mayHaveArrived && !streamsBody)
          },
        })
      } catch (error) {
        // reply-from refuses some URLs (`..` segments) before sending anything.
        return this.send(error)
      }
    })
  },
  { name: 'ccgw-forwarding', fastify: '5.x' },
)

/**
 * A hook (onRequest, or preHandler: after parsing, so an unreachable owner's session may be served here)
 * forwarding the requests whose session `ownerAddress` says another replica owns; the others go on here.
 * A callback hook on purpose: an async hook that resolves lets Fastify go on with the request while the
 * owner's answer is still coming; one that never calls `done` ends the request with that answer.
 */
export function forwardToOwner(
  /** The owner's address, or null to handle the request here. */
  ownerAddress: (request: FastifyRequest) => Promise<string | null>,
  /**
   * The owner never received the request and its body is whole: true once the session has been taken
   * over here (the request then goes on here), false to answer the error.
   */
  takeOver?: (request: FastifyRequest, error: OwnerUnreachableError) => Promise<boolean>,
) {
  return (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void): void => {
    ownerAddress(request).then((address) => {
      if (address === null) return done()
      reply.forwardTo(address, {
        onUnreachable: (error, canServeHere) => {
          if (!canServeHere || !takeOver) return void reply.send(error)
          takeOver(request, error).then(
            (here) => (here ? done() : reply.send(error)),
            (failure: Error) => reply.send(failure),
          )
        },
      })
    }, done)
  }
}

/** The client's headers, for the owner: its Host kept, where it came from added, the replicas' secret. */
function forwardedHeaders(
  request: FastifyRequest,
  headers: Record<string, string | string[] | undefined>,
  replica: ForwardingOptions['replica'],
): Record<string, string | string[] | undefined> {
  const out = { ...headers }
  for (const name of HOP_BY_HOP) delete out[name]
  const host = request.headers.host
  if (host !== undefined) {
    // reply-from names the owner's address; the owner checks the Host the client sent (src/api/origin.ts).
    out.host = host
    out['x-forwarded-host'] = host
  }
  const chain = request.headers['x-forwarded-for']
  out['x-forwarded-for'] = chain ? `${chain}, ${request.ip}` : request.ip
  out['x-forwarded-proto'] = request.protocol
  // The owner's request line carries the same id as this one's.
  out['x-request-id'] = request.id
  return { ...out, ...replica.forwardingHeaders() }
}

const hasBody = (request: FastifyRequest) =>
  (request.headers['content-length'] !== undefined && request.headers['content-length'] !== '0') ||
  request.headers['transfer-encoding'] !== undefined
