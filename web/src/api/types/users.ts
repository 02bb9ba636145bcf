/**
 * People, their keys, their usage and the audit trail (src/api/native/users.ts, usage.ts, audit.ts),
 * mirrored by hand.
 */

export const ROLES = ['admin', 'user', 'viewer'] as const
export type Role = (typeof ROLES)[number]

/** Limits by name (`tokens_per_day`...); absent, null or 0: no limit. */
export type Quotas = Partial<Record<string, number | null>>

/** `GET /api/me`: who the tab's key belongs to. `user` null: the gateway's operator (no users). */
export interface Me {
  user: string | null
  role: Role
  source?: string | null
  quotas?: Quotas
  workspace_roots?: string[] | null
}

/** What a user used, against each limit. */
export interface UsageFigures {
  requests_last_minute: number
  concurrent_turns: number
  live_sessions: number
  tokens_today: number
  tokens_this_month: number
  usd_today: number
  usd_this_month: number
}

/** `GET /api/me/usage` and `GET /api/users/{name}/usage`. */
export interface UsageReport {
  quotas: Quotas
  used: UsageFigures
  /** Per limit; null when unlimited. */
  remaining: Quotas
  /** When the day's and the month's counts start again (ISO times). */
  resets: { day: string; month: string }
}

/** A user as `GET /api/users` lists them; secrets only as which names are set. */
export interface User {
  name: string
  role: Role
  /** `config`: declared in the configuration, read-only here. */
  source: 'config' | 'store'
  quotas: Quotas
  workspace_roots: string[] | null
  allowed_tools: string[] | null
  permission_modes: string[] | null
  mcp_servers: string[]
  claude: { config_dir: boolean; env: string[] }
  created_at: string | number | null
}

export const KEY_STATES = ['active', 'revoked', 'expired'] as const
export type KeyState = (typeof KEY_STATES)[number]

/** A key as listed: never the key itself. */
export interface ApiKey {
  id: string
  prefix: string
  label: string | null
  created_at: string | number
  expires_at: string | number | null
  revoked_at: string | number | null
  last_used_at: string | number | null
  state: KeyState
}

/** `POST /api/users/{name}/keys`: the only answer that carries the key. */
export interface NewKey {
  id: string
  key: string
  prefix: string
  label: string | null
  created_at: string | number
  expires_at: string | number | null
}

/** An entry of the audit trail. */
export interface AuditEntry {
  id: number
  ts: string | number
  actor: string | null
  role: Role | null
  action: string
  session_id: string | null
  target: string | null
  status: number
  request_id: string | null
  ip: string | null
  detail: Record<string, unknown> | null
}

/** `GET /api/audit`: newest first; `next_before` asks for the older ones (null: no more). */
export interface AuditPage {
  items: AuditEntry[]
  next_before: number | null
}
