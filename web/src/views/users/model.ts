/**
 * The users' pages without React: the limits and how their use reads, the new-user and new-key forms as
 * request bodies, the list's search. Pure, so node:test checks them.
 */
import type { Quotas, Role, UsageFigures, UsageReport, User } from '../../api/types/users.js'
import { formatCost, formatTokens } from '../../ui/format.js'

export type QuotaKind = 'count' | 'tokens' | 'usd'

export interface QuotaInfo {
  /** The API's name of the limit (the configuration's is its camelCase: `tokensPerDay`). */
  name: string
  label: string
  /** What `used` counts against it. */
  used: keyof UsageFigures
  kind: QuotaKind
  /** Whether it starts again at a day's or a month's turn (UTC). */
  resets: 'day' | 'month' | null
}

export const QUOTAS: readonly QuotaInfo[] = [
  q('requests_per_minute', 'Requests per minute', 'requests_last_minute', 'count', null),
  q('concurrent_turns', 'Turns at once', 'concurrent_turns', 'count', null),
  q('live_sessions', 'Live sessions', 'live_sessions', 'count', null),
  q('tokens_per_day', 'Tokens per day', 'tokens_today', 'tokens', 'day'),
  q('tokens_per_month', 'Tokens per month', 'tokens_this_month', 'tokens', 'month'),
  q('usd_per_day', 'USD per day', 'usd_today', 'usd', 'day'),
  q('usd_per_month', 'USD per month', 'usd_this_month', 'usd', 'month'),
]

function q(
  name: string,
  label: string,
  used: keyof UsageFigures,
  kind: QuotaKind,
  resets: QuotaInfo['resets'],
): QuotaInfo {
  return { name, label, used, kind, resets }
}

/** A limit of `quotas`; null when there is none (absent, null or 0 all mean no limit). */
export function limitOf(quotas: Quotas | undefined | null, quota: QuotaInfo): number | null {
  const value = quotas?.[quota.name]
  return typeof value === 'number' && value > 0 ? value : null
}

export function formatAmount(value: number, kind: QuotaKind): string {
  if (kind === 'usd') return formatCost(value)
  if (kind === 'tokens') return formatTokens(value)
  return String(value)
}

/** The limits that are set, as "Tokens per day: 1M" lines. */
export function quotaSummary(quotas: Quotas | undefined | null): string[] {
  return QUOTAS.flatMap((quota) => {
    const limit = limitOf(quotas, quota)
    return limit === null ? [] : [`${quota.label}: ${formatAmount(limit, quota.kind)}`]
  })
}

export interface UsageLine {
  quota: QuotaInfo
  used: number
  limit: number | null
  remaining: number | null
  /** used / limit, 0 to 1; null without a limit. */
  share: number | null
  /** When the count starts again (ISO), for the limits of a day or a month. */
  resets: string | null
}

/** Every limit with what is used of it, in QUOTAS' order. */
export function usageLines(report: UsageReport): UsageLine[] {
  return QUOTAS.map((quota) => {
    const used = report.used[quota.used] ?? 0
    const limit = limitOf(report.quotas, quota)
    const given = report.remaining?.[quota.name]
    const remaining = limit === null ? null : typeof given === 'number' ? given : Math.max(0, limit - used)
    return {
      quota,
      used,
      limit,
      remaining,
      share: limit === null ? null : Math.min(1, Math.max(0, used / limit)),
      resets: quota.resets ? (report.resets?.[quota.resets] ?? null) : null,
    }
  })
}

/** A time as UTC to the minute ("2026-12-08 00:00 UTC"): quotas reset at UTC midnights. */
export function formatUtc(time: string | number): string {
  const date = new Date(time)
  return Number.isNaN(date.getTime())
    ? String(time)
    : `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`
}

/** A bar's tone: calm, then a warning from 80 %, then full. */
export const shareTone = (share: number): 'success' | 'warning' | 'danger' =>
  share >= 1 ? 'danger' : share >= 0.8 ? 'warning' : 'success'

/** The list's search: name, role, source. */
export function searchUsers(users: readonly User[], search: string): User[] {
  const needle = search.trim().toLowerCase()
  const found = needle
    ? users.filter((user) => [user.name, user.role, user.source].some((field) => field.includes(needle)))
    : [...users]
  return found.sort((a, b) => a.name.localeCompare(b.name))
}

/** The gateway's pattern for a user's name (src/config/users-schema.ts). */
export const USER_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/

export interface UserForm {
  name: string
  role: Role
  /** One folder per line. */
  workspaceRoots: string
  /** Comma- or line-separated tool names; empty: any. */
  allowedTools: string
  /** By API name; empty: no limit. */
  quotas: Record<string, string>
}

export const EMPTY_USER_FORM: UserForm = {
  name: '',
  role: 'user',
  workspaceRoots: '',
  allowedTools: '',
  quotas: {},
}

export type FormResult =
  | { body: Record<string, unknown>; errors?: undefined }
  | { body?: undefined; errors: Record<string, string> }

/** The body of `POST /api/users`, or what is wrong with the form, by field. */
export function userBody(form: UserForm): FormResult {
  const errors: Record<string, string> = {}
  const name = form.name.trim()
  if (!USER_NAME.test(name))
    errors.name =
      '1 to 64 lower-case letters, digits, dots, dashes or underscores, starting with a letter or digit.'
  const roots = lines(form.workspaceRoots)
  if (roots.some((root) => !root.startsWith('/'))) errors.workspace_roots = 'Absolute folders, one per line.'
  const quotas: Record<string, number> = {}
  for (const quota of QUOTAS) {
    const text = form.quotas[quota.name]?.trim() ?? ''
    if (text === '') continue
    const value = Number(text)
    if (!Number.isFinite(value) || value < 0 || (quota.kind !== 'usd' && !Number.isInteger(value)))
      errors[`quotas.${quota.name}`] =
        quota.kind === 'usd' ? 'An amount of 0 or more.' : 'A whole number of 0 or more.'
    else if (value > 0) quotas[quota.name] = value
  }
  if (Object.keys(errors).length > 0) return { errors }
  const tools = form.allowedTools
    .split(/[\s,]+/)
    .map((tool) => tool.trim())
    .filter(Boolean)
  return {
    body: {
      name,
      role: form.role,
      ...(roots.length > 0 ? { workspace_roots: roots } : {}),
      ...(tools.length > 0 ? { allowed_tools: tools } : {}),
      ...(Object.keys(quotas).length > 0 ? { quotas } : {}),
    },
  }
}

const lines = (text: string) =>
  text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)

/** The body of `POST /api/users/{name}/keys`, or what is wrong: a label, and days until it expires. */
export function keyBody(label: string, days: string): FormResult {
  const text = days.trim()
  const expires = Number(text)
  if (text !== '' && (!Number.isInteger(expires) || expires < 1 || expires > 3650))
    return { errors: { expires_in_days: 'A whole number of days from 1 to 3650, or empty for never.' } }
  return {
    body: {
      ...(label.trim() ? { label: label.trim() } : {}),
      ...(text !== '' ? { expires_in_days: expires } : {}),
    },
  }
}

/** Where a refusal of the gateway goes in a form: its `field` (`quotas.tokens_per_day`, `/name`...). */
export const fieldOf = (field: string | undefined): string | undefined =>
  field
    ?.replace(/^\/?body\.?/, '')
    .replace(/^\//, '')
    .replaceAll('/', '.') || undefined
