/**
 * The Claude Code a session's owner runs with: their own config folder and environment (`claude`: their
 * login, their API key, Bedrock or Vertex settings) and the approved MCP servers (`users.mcpServers`) with
 * their credentials for each. The engine asks this at every process start (`EngineOptions.account`), so a
 * changed user applies to their next process; secrets stay in the returned account and in the process's
 * environment, never in a log: what names the account is a keyed digest of them.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { resolve } from 'node:path'
import type { McpServerConfig } from '@anthropic-ai/claude-agent-sdk'
import type { Static } from '@sinclair/typebox'
import type { Config } from '../config/index.js'
import type { McpServerSchema } from '../config/users-schema.js'
import type { ClaudeAccount } from '../engine/types.js'
import type { McpCredentials, UserRecord } from '../store/access.js'
import type { UserDirectory } from './directory.js'
import { forbidden } from './errors.js'
import { SecretsError } from './secrets.js'

type ApprovedServer = Static<typeof McpServerSchema>

/**
 * Keys the digests: they name credential sets (in the runner profiles' keys, which may be logged) and
 * differ from one gateway process to the next, so a digest says nothing about a secret however guessable.
 */
const DIGEST_KEY = randomBytes(32)

/** The account function the engine takes: the configuration is read at each call (reloads apply). */
export function claudeAccounts(
  config: () => Config,
  directory: Pick<UserDirectory, 'user'>,
): (owner: string | null) => Promise<ClaudeAccount | null> {
  return async (owner) => {
    const approved = config().users.mcpServers
    if (owner === null) return accountOf(null, approved)
    const user = await directory.user(owner, { credentials: 'required' }).catch((error: unknown) => {
      // Not the host's account instead, nor the sealed text as if it were the key: their turns are refused.
      if (error instanceof SecretsError)
        throw forbidden("This user's stored Claude credentials cannot be decrypted: check users.secretsKey")
      throw error
    })
    // A user removed since: their sessions run as the host's, without anyone's MCP servers.
    return user ? accountOf(user, approved) : null
  }
}

/**
 * The account of `user` (null: the operator, who may start every approved server with its own settings);
 * null when it would change nothing of the host's: those sessions share the host's processes and spares.
 */
export function accountOf(
  user: Pick<UserRecord, 'role' | 'claude' | 'mcpServers'> | null,
  approved: Record<string, ApprovedServer>,
): ClaudeAccount | null {
  const env = { ...user?.claude?.env }
  const configDir = user?.claude?.configDir ? resolve(user.claude.configDir) : null
  const mcpServers: Record<string, McpServerConfig> = {}
  for (const [name, server] of Object.entries(approved)) {
    const own = user?.mcpServers?.[name]
    // An admin may name every approved server, others those granted to them (policy.ts says the same).
    if (user && user.role !== 'admin' && !own) continue
    const config = serverConfig(server, own)
    if (config) mcpServers[name] = config
  }
  if (configDir === null && Object.keys(env).length === 0 && Object.keys(mcpServers).length === 0) return null
  return { key: digest({ configDir, env, mcpServers }), configDir, env, mcpServers }
}

/**
 * An approved server as the SDK starts it, the user's credentials over its own; null when incomplete.
 * `alwaysLoad`: connected before the first prompt is built, so a session that names a server has its tools
 * from its first message (the CLI otherwise connects in the background and may build that prompt without).
 */
function serverConfig(server: ApprovedServer, own: McpCredentials | undefined): McpServerConfig | null {
  if (server.type === 'http' || server.type === 'sse') {
    if (!server.url) return null
    const headers = { ...server.headers, ...own?.headers }
    const withHeaders = Object.keys(headers).length ? { headers } : {}
    return { type: server.type, url: server.url, ...withHeaders, alwaysLoad: true }
  }
  if (!server.command) return null
  const env = { ...server.env, ...own?.env }
  return {
    type: 'stdio',
    command: server.command,
    args: server.args ?? [],
    ...(Object.keys(env).length ? { env } : {}),
    alwaysLoad: true,
  }
}

/** A keyed digest of plain JSON data, its object keys sorted (the same content, the same digest). */
function digest(value: unknown): string {
  return createHmac('sha256', DIGEST_KEY).update(canonical(value)).digest('base64url').slice(0, 22)
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}
