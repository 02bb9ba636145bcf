import type { Role } from '../api/types/users.js'
import { Badge, type Tone } from './badge.js'

const ROLE_TONES: Record<Role, Tone> = { admin: 'accent', user: 'success', viewer: 'neutral' }

/** A person's role, the same wherever it shows (the header, the users, the audit trail). */
export function RoleBadge({ role }: { role: Role }) {
  return <Badge tone={ROLE_TONES[role] ?? 'neutral'}>{role}</Badge>
}
