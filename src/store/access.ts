/**
 * What the store keeps about people (src/users/): users managed through the admin API, their API keys
 * (hashed), the audit trail and each user's daily usage. Both stores implement it in the database they keep
 * sessions in (SQLite: access-sqlite.ts; PostgreSQL: postgres/access.ts), so replicas share it.
 */
import type { PermissionMode } from './types.js'

export type UserRole = 'admin' | 'user' | 'viewer'

/** Per-user limits; a missing or 0 limit is no limit. */
export interface Quotas {
  /** Requests that start a turn (a message, a chat completion, a command), in any 60 seconds. */
  requestsPerMinute?: number
  /** Turns running at once across the user's sessions. */
  concurrentTurns?: number
  /** Sessions the user has that are not closed. */
  liveSessions?: number
  /** Input + output tokens, per UTC day and per UTC month. */
  tokensPerDay?: number
  tokensPerMonth?: number
  /** Cost as Claude Code reports it, per UTC day and per UTC month. */
  usdPerDay?: number
  usdPerMonth?: number
}

/** The Claude Code a user's sessions run with, instead of the gateway host's login. Secrets. */
export interface ClaudeCredentials {
  /** Their own Claude Code config folder (CLAUDE_CONFIG_DIR): their login, settings, agents, transcripts. */
  configDir?: string
  /** Environment for their CLI processes: ANTHROPIC_API_KEY, CLAUDE_CODE_USE_BEDROCK + AWS_*, Vertex, ... */
  env?: Record<string, string>
}

/** A user's credentials for one of the approved MCP servers (`users.mcpServers`). Secrets. */
export interface McpCredentials {
  env?: Record<string, string>
  headers?: Record<string, string>
}

/** Everything about a user but their keys: declared in `users.list` or kept by the store. */
export interface UserRecord {
  name: string
  role: UserRole
  /** Folders their sessions may work in; absent: `users.workspacesDir`/<name>. */
  workspaceRoots?: string[]
  claude?: ClaudeCredentials
  quotas?: Quotas
  /** Built-in tools their sessions may have; absent: any. */
  allowedTools?: string[]
  /** Permission modes their sessions may use; absent: all but bypassPermissions (admins: all). */
  permissionModes?: PermissionMode[]
  /** Approved MCP servers they may name, with their credentials for each. */
  mcpServers?: Record<string, McpCredentials>
  createdAt: number
  updatedAt: number
}

export interface KeyRecord {
  id: string
  user: string
  /** What its holder called it ("laptop", "ci"). */
  label: string | null
  /** The key's first characters, to recognise it in a list; never enough to use it. */
  prefix: string
  /** SHA-256 of the key, hex: the key itself is shown once, at creation, and never kept. */
  hash: string
  createdAt: number
  expiresAt: number | null
  revokedAt: number | null
  lastUsedAt: number | null
  /**
   * The key it was made with, when a user made it for themself with a key of the store: revoking that key
   * revokes this one (and what this one made), and it expires no later than that key.
   */
  parentId?: string
}

export interface AuditEntry {
  /** Increasing: the order entries were written in; the cursor of `readAudit`. */
  id: number
  ts: number
  /** Who did it: a user's name; null for the operator without users, or the gateway itself. */
  actor: string | null
  role: UserRole | null
  /** What was done: the route's operationId (`createSession`, `sendMessage`, `revokeKey`), or an event. */
  action: string
  /** The session it concerns, if any. */
  sessionId: string | null
  /** What else it names: an agent, a key id, a tool, a user. */
  target: string | null
  /** The HTTP status it was answered with (0: not a request, a tool Claude ran, say). */
  status: number
  requestId: string | null
  ip: string | null
  /** Further facts (never prompt contents unless `users.auditPrompts`). */
  detail: Record<string, unknown>
}

export type NewAuditEntry = Omit<AuditEntry, 'id'>

export interface AuditQuery {
  actor?: string
  action?: string
  sessionId?: string
  /** Only entries stamped at or after this time (ms since the epoch). */
  since?: number
  /** Only entries stamped at or before this time. */
  until?: number
  /** Only entries with an id below this (the next page of a newest-first read). */
  before?: number
  limit: number
}

/** What one user used in one UTC day. */
export interface UsageDelta {
  inputTokens: number
  outputTokens: number
  costUsd: number
  turns: number
}

export interface AccessStore {
  listUsers(): Promise<UserRecord[]>
  getUser(name: string): Promise<UserRecord | undefined>
  /**
   * Inserts a new user; false, changing nothing, when one of that name exists. Keys left under the name (a
   * user since removed from `users.list` had keys made through the API) are deleted with it: a new user
   * inherits no one's keys.
   */
  insertUser(user: UserRecord): Promise<boolean>
  /** Replaces an existing user's record (its creation time kept); false when there is none of that name. */
  updateUser(user: UserRecord): Promise<boolean>
  /** Removes the user and their keys; false when there was none. */
  deleteUser(name: string): Promise<boolean>
  insertKey(key: KeyRecord): Promise<void>
  /** Keys of one user, or of every user, newest first; revoked ones included. */
  listKeys(user?: string): Promise<KeyRecord[]>
  keyByHash(hash: string): Promise<KeyRecord | undefined>
  /** Marks the key revoked at `at`; false when there is no such key (or it was revoked already). */
  revokeKey(id: string, at: number): Promise<boolean>
  /** Notes the key's last use (written at most about once a minute per key by the caller). */
  touchKey(id: string, at: number): Promise<void>
  appendAudit(entries: readonly NewAuditEntry[]): Promise<void>
  /** Entries matching the query, newest first. */
  readAudit(query: AuditQuery): Promise<AuditEntry[]>
  /** Deletes entries older than `before` (ms since the epoch); how many. */
  pruneAudit(before: number): Promise<number>
  /** Adds to the user's usage of day `day` (`YYYY-MM-DD`, UTC). */
  addUsage(user: string, day: string, delta: UsageDelta): Promise<void>
  /** The user's usage summed over days `from` to `to` (inclusive, `YYYY-MM-DD`). */
  usage(user: string, from: string, to: string): Promise<UsageDelta>
}
