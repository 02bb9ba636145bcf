import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { GatewayContext } from '../gateway.js'
import { keysConfigured } from '../users/keys.js'
import type { Principal } from '../users/principal.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is asking (src/users/principal.ts): set by the API's key check, before any route runs. */
    principal: Principal
  }
}

/**
 * Who the request's key belongs to (`Authorization: Bearer <key>` or `x-api-key`), through the user
 * directory (src/users/directory.ts); null when it names nobody. Without any key configured a request
 * without one is the operator: the gateway then listens on loopback only (checked at start).
 */
export function principalOf(gateway: GatewayContext, request: FastifyRequest): Promise<Principal | null> {
  return gateway.users.directory.authenticate(presentedKey(request))
}

/**
 * Whether the request comes from an admin or a viewer who presented a key: what may see the details that
 * name files or accounts (health, readiness).
 */
export async function isStaffWithKey(gateway: GatewayContext, request: FastifyRequest): Promise<boolean> {
  const key = presentedKey(request)
  // Without configured keys any key is the operator's: nobody proved anything, so nobody sees the details.
  if (key === undefined || key === '' || !keysConfigured(gateway.config)) return false
  const principal = await gateway.users.directory.authenticate(key)
  return principal !== null && principal.role !== 'user'
}

/**
 * Whether a request carries one of `secrets` (the metrics scrape token). Compared by SHA-256 in constant
 * time, so timing reveals neither the secret nor its length.
 */
export function hasSecret(request: FastifyRequest, secrets: readonly string[]): boolean {
  const given = presentedKey(request)
  if (!given) return false
  const digest = sha256(given)
  let ok = false
  for (const secret of secrets) ok = timingSafeEqual(digest, sha256(secret)) || ok
  return ok
}

const BEARER = /^bearer /i

export function presentedKey(request: FastifyRequest): string | undefined {
  const authorization = request.headers.authorization
  // The scheme is case-insensitive (RFC 9110 §11.1): `bearer` and `BEARER` are the same scheme.
  if (authorization !== undefined && BEARER.test(authorization))
    return authorization.slice('Bearer '.length).trim()
  const header = request.headers['x-api-key']
  return typeof header === 'string' ? header : undefined
}

const sha256 = (value: string) => createHash('sha256').update(value).digest()
