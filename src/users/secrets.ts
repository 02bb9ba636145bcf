/**
 * The credentials the admin API keeps for a user (their Claude account: `claude.configDir`, `claude.env`; their
 * MCP servers' `env` and `headers`), encrypted with `users.secretsKey` before they reach the store. Each value
 * is sealed on its own with AES-256-GCM, so the names stay readable (the API lists which are set) and the
 * values are not. A value is bound to its user and place: copied to another user or another variable in the
 * database, it no longer opens.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto'
import type { ClaudeCredentials, McpCredentials, UserRecord } from '../store/access.js'

const SEALED = 'enc:v1:'
const IV_BYTES = 12
const TAG_BYTES = 16
/** Fixed: the key must derive the same on every replica; the secret itself is the operator's to make strong. */
const SALT = 'claude-code-gateway/users.secretsKey'

/** A sealed value cannot be opened: the store was written with another `users.secretsKey`, or none is set. */
export class SecretsError extends Error {
  override readonly name = 'SecretsError'
}

/**
 * Seals and opens values with one secret. scrypt turns the configured secret (possibly a passphrase) into the
 * AES key once, when the box is made: a box lives as long as its configuration.
 */
export class SecretBox {
  private readonly key: Buffer

  constructor(secret: string) {
    this.key = scryptSync(secret, SALT, 32)
  }

  seal(value: string, context: string): string {
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv('aes-256-gcm', this.key, iv)
    cipher.setAAD(Buffer.from(context))
    const sealed = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()])
    return SEALED + Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url')
  }

  open(value: string, context: string): string {
    const bytes = Buffer.from(value.slice(SEALED.length), 'base64url')
    try {
      // The tag's length is fixed: GCM would otherwise take a shorter one, far easier to forge.
      const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, IV_BYTES), {
        authTagLength: TAG_BYTES,
      })
      decipher.setAAD(Buffer.from(context))
      // A value cut short or garbled in the store throws here (a wrong IV or tag length), as a wrong key does.
      decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES))
      return Buffer.concat([
        decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8')
    } catch {
      throw new SecretsError(
        `${context} cannot be decrypted: users.secretsKey is not the key it was stored with`,
      )
    }
  }
}

/** The credentials a user's record carries, with what each value is (its context when sealed). */
type Credentials = Pick<UserRecord, 'claude' | 'mcpServers'>

/** Whether `user` carries any credential value (what needs `users.secretsKey` to be kept). */
export function hasCredentials(user: Credentials): boolean {
  let any = false
  mapCredentials('', user, (value) => {
    any = true
    return value
  })
  return any
}

/** The user's credentials sealed with `box`, everything else as it was. */
export function sealCredentials<T extends Credentials>(name: string, user: T, box: SecretBox): T {
  return mapCredentials(name, user, (value, context) => box.seal(value, context))
}

/**
 * The user's credentials opened. A record with sealed values and no box (`users.secretsKey` removed) throws
 * SecretsError rather than handing the sealed text to Claude Code as if it were the key.
 */
export function openCredentials<T extends Credentials>(name: string, user: T, box: SecretBox | null): T {
  return mapCredentials(name, user, (value, context) => {
    if (!value.startsWith(SEALED)) return value
    if (!box) throw new SecretsError(`${context} is encrypted and users.secretsKey is not set`)
    return box.open(value, context)
  })
}

/**
 * The user's credentials without their sealed values (the names of their MCP servers stay): what is left of
 * them when they cannot be opened, for what needs the record but not its secrets (roles, quotas, policy).
 */
export function withoutSealed<T extends Credentials>(name: string, user: T): T {
  return mapCredentials(name, user, (value) => (value.startsWith(SEALED) ? undefined : value))
}

/** Each credential value through `map`; a value mapped to undefined is left out. */
function mapCredentials<T extends Credentials>(
  name: string,
  user: T,
  map: (value: string, context: string) => string | undefined,
): T {
  const out = { ...user }
  if (user.claude) out.claude = mapClaude(user.claude, (value, place) => map(value, `user ${name} ${place}`))
  if (user.mcpServers) {
    const servers: Record<string, McpCredentials> = {}
    for (const [server, credentials] of Object.entries(user.mcpServers)) {
      const at = `user ${name} mcpServers.${server}`
      servers[server] = {
        ...(credentials.env ? { env: mapValues(credentials.env, (v, k) => map(v, `${at}.env.${k}`)) } : {}),
        ...(credentials.headers
          ? { headers: mapValues(credentials.headers, (v, k) => map(v, `${at}.headers.${k}`)) }
          : {}),
      }
    }
    out.mcpServers = servers
  }
  return out
}

function mapClaude(
  claude: ClaudeCredentials,
  map: (value: string, place: string) => string | undefined,
): ClaudeCredentials {
  const configDir = claude.configDir === undefined ? undefined : map(claude.configDir, 'claude.configDir')
  return {
    ...(configDir !== undefined ? { configDir } : {}),
    ...(claude.env ? { env: mapValues(claude.env, (value, key) => map(value, `claude.env.${key}`)) } : {}),
  }
}

const mapValues = (
  values: Record<string, string>,
  map: (value: string, key: string) => string | undefined,
): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(values)) {
    const mapped = map(value, key)
    if (mapped !== undefined) out[key] = mapped
  }
  return out
}
