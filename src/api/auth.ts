import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'

/**
 * Whether a request carries one of the configured API keys (`Authorization: Bearer <key>` or `x-api-key`).
 * With no keys configured every request passes: the gateway then listens on loopback only (checked at start).
 * Keys are compared by their SHA-256 in constant time, so timing reveals neither key nor length.
 */
export function hasValidKey(request: FastifyRequest, keys: readonly string[]): boolean {
  if (keys.length === 0) return true
  const given = presentedKey(request)
  if (!given) return false
  const digest = sha256(given)
  let ok = false
  for (const key of keys) ok = timingSafeEqual(digest, sha256(key)) || ok
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
