/**
 * Which names a request may address the gateway by, and which web pages may drive it: the defence against
 * DNS rebinding and cross-site requests, for a gateway whose only other boundary is a loopback address.
 *
 * A page on `http://evil.example:8080` whose name the attacker re-points at 127.0.0.1 reaches a loopback
 * gateway as a same-origin request: the browser sends `Host: evil.example:8080`, so the name is what gives
 * it away. And a page on any site may POST to `http://127.0.0.1:8080` or open a WebSocket to it: the
 * browser then sends its `Origin` and `Sec-Fetch-Site: cross-site`. Non-browser clients send none of these
 * (or a Host naming the address they connected to), so they are not affected.
 *
 * The rules, checked in this order:
 * - Host, when no API key is configured or `server.allowedHosts` is set (with keys, the keys are the
 *   boundary): an IP address, `localhost`, the address the server was bound to, or a `server.allowedHosts`
 *   entry. An IP address is always accepted: a page can only be rebound through a name, so a Host that is
 *   an address names the address the client really connected to. The port is not compared: the attacker
 *   picks the page's port freely, while SSH tunnels, port mappings and proxies legitimately change it.
 * - Origin, when no API key is configured or `server.allowedOrigins` is set: same-origin with the request's
 *   Host, or a page served from a loopback address, `localhost`, the bound address or a `server.allowedHosts`
 *   name (any port and scheme), or listed in `server.allowedOrigins`. Other addresses are not trusted here:
 *   a page from another machine of the network is exactly the cross-site caller to refuse.
 * - Always: `Sec-Fetch-Site: cross-site` on a request that changes state (POST, PUT, PATCH, DELETE, a
 *   WebSocket upgrade), unless its Origin is listed in `server.allowedOrigins`. No browser page should drive
 *   the API from another site, keys or not; API clients do not send `Sec-Fetch-*`.
 *
 * Refusals are 403 (not 421 Misdirected Request: HTTP/2 clients may retry a 421 on another connection, and
 * this is a policy decision, not a routing mistake a retry could fix), in the caller's error shape.
 */
import { BlockList, isIP } from 'node:net'
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import type { Config } from '../config/index.js'
import type { GatewayContext } from '../gateway.js'
import { keysConfigured } from '../users/keys.js'
import { JSON_TYPE } from './media-types.js'
import { ApiError } from './native/errors.js'
import { OpenAIError } from './openai/errors.js'

type ServerConfig = Config['server']

/** A host as it appears in a Host header, an Origin or a configuration entry, normalised for comparison. */
export interface Authority {
  /** Lower case, without IPv6 brackets or a trailing dot: `localhost`, `::1`, `gw.example`. */
  hostname: string
  /** Digits as sent, `undefined` when absent (or empty). */
  port: string | undefined
  /** IP version of `hostname`, 0 for a name. */
  ip: 0 | 4 | 6
}

/**
 * Parses `host[:port]` (RFC 9110 Host, RFC 3986 authority without user info): `[v6]:port`, `v4:port`,
 * `name.:port`. Anything else, an unbracketed IPv6 address included, is `undefined`.
 */
export function parseAuthority(value: string): Authority | undefined {
  let host: string
  let port: string | undefined
  if (value.startsWith('[')) {
    const end = value.indexOf(']')
    if (end === -1) return undefined
    host = value.slice(1, end)
    const rest = value.slice(end + 1)
    if (rest !== '' && !rest.startsWith(':')) return undefined
    port = rest.slice(1)
    if (isIP(host) !== 6) return undefined
  } else {
    const colon = value.indexOf(':')
    if (colon !== -1 && value.indexOf(':', colon + 1) !== -1) return undefined
    host = colon === -1 ? value : value.slice(0, colon)
    port = colon === -1 ? undefined : value.slice(colon + 1)
  }
  if (port !== undefined && port !== '' && !/^\d{1,5}$/.test(port)) return undefined
  // `localhost.` is the fully qualified `localhost`: the same name to a resolver, so the same name here.
  const hostname = (host.endsWith('.') ? host.slice(0, -1) : host).toLowerCase()
  if (
    !REG_NAME.test(hostname) ||
    hostname.startsWith('.') ||
    hostname.endsWith('.') ||
    hostname.includes('..')
  )
    return undefined
  return { hostname, port: port || undefined, ip: isIP(hostname) as 0 | 4 | 6 }
}

// RFC 3986 reg-name characters (and `:` for IPv6, `%` for zone ids): no space, `/`, `@`, `\`, `?`, `#`.
const REG_NAME = /^[\w.~!$&'()*+,;=%:-]+$/

/** A parsed `Origin` header: `scheme://host[:port]` with no path. `undefined` for `null` or malformed. */
export interface ParsedOrigin extends Authority {
  /** Lower case: `http`, `https`, `chrome-extension`. */
  scheme: string
  /** The origin normalised: lower case, default port dropped, trailing dot removed. */
  origin: string
}

const DEFAULT_PORTS: Record<string, string> = { http: '80', https: '443', ws: '80', wss: '443' }

export function parseOrigin(value: string): ParsedOrigin | undefined {
  const match = /^([a-z][a-z\d+.-]*):\/\/([^/?#]*)\/?$/i.exec(value)
  if (!match) return undefined
  const scheme = match[1]!.toLowerCase()
  const authority = parseAuthority(match[2]!)
  if (!authority) return undefined
  const port = authority.port === DEFAULT_PORTS[scheme] ? undefined : authority.port
  const host = authority.ip === 6 ? `[${authority.hostname}]` : authority.hostname
  return { ...authority, port, scheme, origin: `${scheme}://${host}${port ? `:${port}` : ''}` }
}

const LOOPBACK = new BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')

/** 127.0.0.0/8 or ::1, in any spelling (`::ffff:7f00:1`, `0:0:0:0:0:0:0:1`). */
export function isLoopbackAddress(authority: Authority): boolean {
  return authority.ip !== 0 && LOOPBACK.check(authority.hostname, authority.ip === 4 ? 'ipv4' : 'ipv6')
}

/** The port of a Host as an origin of `scheme` would spell it: without the scheme's default port. */
const portFor = (scheme: string, host: Authority) =>
  host.port === DEFAULT_PORTS[scheme] ? undefined : host.port

/** `0.0.0.0` and `::` mean every interface: no page is served from them. */
const WILDCARDS = new Set(['0.0.0.0', '::'])
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
const MAX_REMEMBERED_HOSTS = 64

export type RefusalCode = 'host_not_allowed' | 'origin_not_allowed'

export interface Refusal {
  code: RefusalCode
  message: string
}

/** The headers the policy reads, as Node gives them. */
export interface RequestFacts {
  method: string
  host: string | undefined
  origin: string | undefined
  secFetchSite: string | undefined
  upgrade: string | undefined
}

/** The allow-lists of one configuration, prepared once: every request asks `refusal`. */
export class OriginPolicy {
  /** Whether Host is checked: with no keys, or when `server.allowedHosts` is set. */
  readonly checksHost: boolean
  /** Whether Origin is checked: with no keys, or when `server.allowedOrigins` is set. */
  readonly checksOrigin: boolean
  readonly #names = new Set<string>(['localhost'])
  /** From `.example.com` entries: the name itself and every name under it. */
  readonly #suffixes: string[] = []
  readonly #anyHost: boolean
  readonly #origins = new Set<string>()
  readonly #anyOrigin: boolean
  readonly #hostVerdicts = new Map<string, boolean>()

  /** `boundHost`: the address the server listens on (server.host only changes on restart). */
  /** `keyed`: keys are configured (src/users/keys.ts); by default, when `server.apiKeys` has one. */
  constructor(
    server: Pick<ServerConfig, 'apiKeys' | 'allowedHosts' | 'allowedOrigins'>,
    boundHost: string,
    keyed = server.apiKeys.length > 0,
  ) {
    const keyless = !keyed
    this.checksHost = keyless || server.allowedHosts.length > 0
    this.checksOrigin = keyless || server.allowedOrigins.length > 0
    this.#anyHost = server.allowedHosts.includes('*')
    this.#anyOrigin = server.allowedOrigins.includes('*')

    const bound = parseAuthority(isIP(boundHost) === 6 ? `[${boundHost}]` : boundHost)
    if (bound && !WILDCARDS.has(bound.hostname)) this.#names.add(bound.hostname)
    for (const entry of server.allowedHosts) {
      if (entry === '*') continue
      const suffix = entry.startsWith('.')
      const parsed = parseAuthority(suffix ? entry.slice(1) : entry)
      if (!parsed) continue
      if (suffix) this.#suffixes.push(parsed.hostname)
      else this.#names.add(parsed.hostname)
    }
    for (const entry of server.allowedOrigins) {
      const parsed = entry === '*' ? undefined : parseOrigin(entry)
      if (parsed) this.#origins.add(parsed.origin)
    }
  }

  /** Why the request must be refused, or `undefined` when it may go on. */
  refusal({ method, host, origin, secFetchSite, upgrade }: RequestFacts): Refusal | undefined {
    // A missing Host comes from an HTTP/1.0 client, never from a browser: there is no name to rebind.
    if (this.checksHost && host !== undefined && !this.#hostAllowed(host)) {
      return {
        code: 'host_not_allowed',
        message: `Host ${JSON.stringify(host)} is not a name of this gateway; to serve it, add it to server.allowedHosts`,
      }
    }
    // Only browsers send Origin: API clients never pay for parsing it.
    const parsedOrigin = origin === undefined ? undefined : parseOrigin(origin)
    const listed = parsedOrigin !== undefined && (this.#anyOrigin || this.#origins.has(parsedOrigin.origin))
    if (this.checksOrigin && origin !== undefined && !listed && !this.#allowsOrigin(parsedOrigin, host)) {
      return {
        code: 'origin_not_allowed',
        message: `Origin ${JSON.stringify(origin)} may not use this gateway; to allow it, add it to server.allowedOrigins`,
      }
    }
    if (
      secFetchSite === 'cross-site' &&
      !listed &&
      !this.#anyOrigin &&
      (STATE_CHANGING.has(method) || upgrade?.toLowerCase() === 'websocket')
    ) {
      return {
        code: 'origin_not_allowed',
        message:
          'A page of another site may not drive this gateway (Sec-Fetch-Site: cross-site); to allow it, add its origin to server.allowedOrigins',
      }
    }
    return undefined
  }

  #allowsName(hostname: string): boolean {
    if (this.#names.has(hostname)) return true
    for (const suffix of this.#suffixes)
      if (hostname === suffix || hostname.endsWith(`.${suffix}`)) return true
    return false
  }

  /** Remembered per Host value: a client sends the same one on every request. */
  #hostAllowed(host: string): boolean {
    let allowed = this.#hostVerdicts.get(host)
    if (allowed === undefined) {
      const authority = parseAuthority(host)
      allowed =
        authority !== undefined &&
        (this.#anyHost || authority.ip !== 0 || this.#allowsName(authority.hostname))
      // Bounded: a client inventing Host values is answered, just not remembered.
      if (this.#hostVerdicts.size < MAX_REMEMBERED_HOSTS) this.#hostVerdicts.set(host, allowed)
    }
    return allowed
  }

  #allowsOrigin(origin: ParsedOrigin | undefined, hostHeader: string | undefined): boolean {
    // `null` (sandboxed frames, file: pages) and malformed origins name no page that could be trusted.
    if (origin === undefined) return false
    const host = hostHeader === undefined ? undefined : parseAuthority(hostHeader)
    if (host && origin.hostname === host.hostname && origin.port === portFor(origin.scheme, host)) return true
    return isLoopbackAddress(origin) || this.#allowsName(origin.hostname)
  }
}

/**
 * The onRequest hook applying the gateway's current policy to every request, WebSocket upgrades included
 * (@fastify/websocket routes them through Fastify, hooks first). The policy is prepared once per
 * configuration: a reload replaces `gateway.config`, and with it the key of the cache.
 */
export function originGuard(gateway: GatewayContext): onRequestHookHandler {
  const boundHost = gateway.config.server.host
  const policies = new WeakMap<ServerConfig, OriginPolicy>()
  // A callback, not an async function: every request runs it.
  return (request, reply, done) => {
    const server = gateway.config.server
    let policy = policies.get(server)
    if (policy === undefined) {
      policy = new OriginPolicy(server, boundHost, keysConfigured(gateway.config))
      policies.set(server, policy)
    }
    const { headers } = request
    const refusal = policy.refusal({
      method: request.method,
      host: headers.host,
      origin: headers.origin,
      secFetchSite: headers['sec-fetch-site'] as string | undefined,
      upgrade: headers.upgrade,
    })
    if (refusal === undefined) return done()
    request.log.warn({ host: headers.host, origin: headers.origin, code: refusal.code }, 'request refused')
    refuse(request, reply, refusal)
  }
}

/** The refusal in the caller's error shape: OpenAI's under /v1, the native one elsewhere. */
function refuse(request: FastifyRequest, reply: FastifyReply, { code, message }: Refusal): void {
  const body = /^\/v1(?:[/?]|$)/.test(request.url)
    ? new OpenAIError(403, message, 'invalid_request_error', null, code).body
    : new ApiError(code, message).body
  reply.code(403).type(JSON_TYPE).send(body)
}
