/**
 * Every access check (access-fixtures.ts) with what it covers, so that the SQLite suite (unit/access-store)
 * and the PostgreSQL one (integration/postgres-access) run the same set, one test per check.
 */
import type { Store } from '../../src/store/types.js'
import {
  checkAudit,
  checkKeys,
  checkOwnerFilters,
  checkUsage,
  checkUsers,
  checkUserWrites,
} from './access-fixtures.js'

export const ACCESS_CHECKS: readonly { covers: string; check: (store: Store) => Promise<void> }[] = [
  { covers: 'users: put, replace, get, list in byte order, delete with their keys', check: checkUsers },
  {
    covers: 'users as the admin API writes them: inserted once, leftover keys dropped, updated only if there',
    check: checkUserWrites,
  },
  {
    covers: 'keys: newest first, exact hash lookup, unique hashes, revoked once, last use',
    check: checkKeys,
  },
  { covers: 'audit: newest first, filters, pages by id, prune by time, ids never reused', check: checkAudit },
  {
    covers: 'usage: added per user and UTC day, summed over inclusive ranges, zeros when none',
    check: checkUsage,
  },
  {
    covers: 'owner filters: sessions, live-session count, tool calls; unowned sessions match no owner',
    check: checkOwnerFilters,
  },
]
