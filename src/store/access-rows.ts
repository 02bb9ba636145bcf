/**
 * The access tables' rows as both stores read them back (access-sqlite.ts, postgres/access.ts): the same
 * columns in each, numbers as JavaScript numbers.
 */
import type { AuditEntry, KeyRecord, UsageDelta, UserRecord, UserRole } from './access.js'

export interface KeyRow {
  id: string
  user_name: string
  label: string | null
  prefix: string
  hash: string
  created_at: number
  expires_at: number | null
  revoked_at: number | null
  last_used_at: number | null
  parent_id: string | null
}

export interface AuditRow {
  id: number
  ts: number
  actor: string | null
  role: string | null
  action: string
  session_id: string | null
  target: string | null
  status: number
  request_id: string | null
  ip: string | null
  detail: string
}

export interface UsageRow {
  input_tokens: number
  output_tokens: number
  cost_usd: number
  turns: number
}

export function userOf(row: { record: string }): UserRecord {
  return JSON.parse(row.record) as UserRecord
}

export function keyOf(row: KeyRow): KeyRecord {
  return {
    id: row.id,
    user: row.user_name,
    label: row.label,
    prefix: row.prefix,
    hash: row.hash,
    createdAt: Number(row.created_at),
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
    ...(row.parent_id ? { parentId: row.parent_id } : {}),
  }
}

/** An entry as read back; a detail that is not a JSON object (written by hand, say) reads as none. */
export function auditOf(row: AuditRow): AuditEntry {
  let detail: Record<string, unknown> = {}
  try {
    const parsed: unknown = JSON.parse(row.detail)
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed))
      detail = parsed as Record<string, unknown>
  } catch {}
  return {
    id: Number(row.id),
    ts: Number(row.ts),
    actor: row.actor,
    role: row.role as UserRole | null,
    action: row.action,
    sessionId: row.session_id,
    target: row.target,
    status: row.status,
    requestId: row.request_id,
    ip: row.ip,
    detail,
  }
}

export function usageOf(row: UsageRow): UsageDelta {
  return {
    inputTokens: Number(row.input_tokens),
    outputTokens: Number(row.output_tokens),
    costUsd: Number(row.cost_usd),
    turns: Number(row.turns),
  }
}
