/**
 * Who is asking: the user an API key belongs to, and what their role lets them see and do. Every request
 * that passed the key check carries one (`request.principal`, set in src/api/auth.ts); the API layer asks
 * these rules and nothing else whether a session, a workspace or a route is theirs.
 */

/**
 * `admin`: everything, everyone's sessions marked by owner, users and keys. `user`: their own sessions,
 * workspaces and scopes only. `viewer`: reads what an admin reads, changes nothing.
 */
export const ROLES = ['admin', 'user', 'viewer'] as const
export type Role = (typeof ROLES)[number]

export interface Principal {
  /**
   * The user's name, which owns their sessions; null for the gateway's operator without users (no keys, or
   * a key of `server.apiKeys`), who is an admin.
   */
  id: string | null
  role: Role
  /** The key the request carried (its id, never the key): what revoking it ends. Null without one. */
  keyId: string | null
}

/** The principal of a gateway without users: keyless on loopback, or holding one of `server.apiKeys`. */
export const OPERATOR: Principal = Object.freeze({ id: null, role: 'admin', keyId: null })

/** Whether `principal` may read what `owner` owns (a session, its events, files, tool calls). */
export function canRead(principal: Principal, owner: string | null): boolean {
  return principal.role !== 'user' || (principal.id !== null && owner === principal.id)
}

/** Whether `principal` may change or run what `owner` owns. */
export function canWrite(principal: Principal, owner: string | null): boolean {
  if (principal.role === 'admin') return true
  return principal.role === 'user' && principal.id !== null && owner === principal.id
}

/** The owner a list is limited to for `principal`: their own id for a user, undefined (all) for the others. */
export function ownerFilter(principal: Principal): string | undefined {
  return principal.role === 'user' ? (principal.id ?? '\u0000none') : undefined
}

/** Read-only requests: what a viewer may send. */
export const READ_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS'])
