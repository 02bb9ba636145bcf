/** API keys: how they are made, hashed and recognised. A key is shown once; only its hash is kept. */
import { createHash, randomBytes } from 'node:crypto'
import type { Config } from '../config/index.js'
import type { KeyRecord } from '../store/access.js'

const KEY_PREFIX = 'ccgw_'
/** Characters of a key kept to recognise it in a list: the prefix and 6 of 43 random ones. */
const SHOWN_LENGTH = KEY_PREFIX.length + 6

/** A new key: 32 random bytes, URL-safe, recognisable by its prefix (secret scanners can match it). */
export function newKey(): { key: string; hash: string; prefix: string } {
  const key = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`
  return { key, hash: keyHash(key), prefix: key.slice(0, SHOWN_LENGTH) }
}

/** SHA-256 of a key, hex. Keys are random and long, so a fast hash is enough (no password stretching). */
export const keyHash = (key: string): string => createHash('sha256').update(key).digest('hex')

/** A configured key as its hash: `sha256:<hex>` is taken as given, anything else is the key itself. */
export function configuredKeyHash(entry: string): string {
  return /^sha256:[0-9a-f]{64}$/i.test(entry) ? entry.slice('sha256:'.length).toLowerCase() : keyHash(entry)
}

/** Whether the configuration declares any key (`server.apiKeys` or a user's): then every request needs one. */
export const keysConfigured = (config: Pick<Config, 'server' | 'users'>): boolean =>
  config.server.apiKeys.length > 0 || config.users.list.some((user) => user.keys.length > 0)

/** A key's id: what lists, the audit trail and `DELETE /api/users/{name}/keys/{id}` name it by. */
export const newKeyId = (): string => `key_${randomBytes(12).toString('base64url')}`

export type KeyState = 'active' | 'revoked' | 'expired'

/** Whether a key still opens the gateway at `now`; revoked wins over expired (it was a decision). */
export function keyState(key: Pick<KeyRecord, 'revokedAt' | 'expiresAt'>, now: number): KeyState {
  if (key.revokedAt !== null) return 'revoked'
  return key.expiresAt !== null && key.expiresAt <= now ? 'expired' : 'active'
}
