import type {
  AccessStore,
  AuditEntry,
  AuditQuery,
  KeyRecord,
  NewAuditEntry,
  UsageDelta,
  UserRecord,
} from '../access.js'
import { type AuditRow, auditOf, type KeyRow, keyOf, type UsageRow, usageOf, userOf } from '../access-rows.js'
import type { Queryable } from './pool.js'

/** How the store runs statements: storage failures become StoreErrors (store.ts `guard`/`guardWrite`). */
export interface Guards {
  read<T>(run: () => Promise<T>): Promise<T>
  write<T>(run: () => Promise<T>): Promise<T>
  /** Runs `run` in a transaction on one connection. */
  transaction<T>(run: (db: Queryable) => Promise<T>): Promise<T>
}

/** The filters of an audit read: column, comparison, the query's field, the letter naming the statement. */
const AUDIT_FILTERS = [
  ['actor', '=', 'actor', 'a'],
  ['action', '=', 'action', 'c'],
  ['session_id', '=', 'sessionId', 's'],
  ['ts', '>=', 'since', 'f'],
  ['ts', '<=', 'until', 'u'],
  ['id', '<', 'before', 'b'],
] as const

/**
 * The access tables of the PostgreSQL store (schema step 2), as SQLite keeps them (../access-sqlite.ts), so
 * the replicas sharing the database share users, keys, the audit trail and usage. Usage is added to in one
 * upsert, so replicas counting turns at once add up rather than overwrite each other.
 */
export class PostgresAccess implements AccessStore {
  constructor(
    private readonly pool: Queryable,
    private readonly guards: Guards,
  ) {}

  async listUsers(): Promise<UserRecord[]> {
    const { rows } = await this.guards.read(() =>
      this.pool.query<{ record: string }>({
        name: 'users-list',
        text: 'SELECT record FROM users ORDER BY name COLLATE "C"',
      }),
    )
    return rows.map(userOf)
  }

  async getUser(name: string): Promise<UserRecord | undefined> {
    const { rows } = await this.guards.read(() =>
      this.pool.query<{ record: string }>({
        name: 'users-get',
        text: 'SELECT record FROM users WHERE name = $1',
        values: [name],
      }),
    )
    return rows[0] ? userOf(rows[0]) : undefined
  }

  insertUser(user: UserRecord): Promise<boolean> {
    return this.guards.write(() =>
      this.guards.transaction(async (db) => {
        const inserted = await db.query({
          name: 'users-insert',
          text: `INSERT INTO users (name, record, created_at, updated_at) VALUES ($1, $2, $3, $4)
            ON CONFLICT (name) DO NOTHING`,
          values: [user.name, JSON.stringify(user), user.createdAt, user.updatedAt],
        })
        if ((inserted.rowCount ?? 0) === 0) return false
        await db.query({
          name: 'keys-delete-of',
          text: 'DELETE FROM api_keys WHERE user_name = $1',
          values: [user.name],
        })
        return true
      }),
    )
  }

  async updateUser(user: UserRecord): Promise<boolean> {
    const { rowCount } = await this.guards.write(() =>
      this.pool.query({
        name: 'users-update',
        text: 'UPDATE users SET record = $2, updated_at = $3 WHERE name = $1',
        values: [user.name, JSON.stringify(user), user.updatedAt],
      }),
    )
    return (rowCount ?? 0) > 0
  }

  deleteUser(name: string): Promise<boolean> {
    return this.guards.write(() =>
      this.guards.transaction(async (db) => {
        await db.query({
          name: 'keys-delete-of',
          text: 'DELETE FROM api_keys WHERE user_name = $1',
          values: [name],
        })
        const deleted = await db.query({
          name: 'users-delete',
          text: 'DELETE FROM users WHERE name = $1',
          values: [name],
        })
        return (deleted.rowCount ?? 0) > 0
      }),
    )
  }

  async insertKey(key: KeyRecord): Promise<void> {
    await this.guards.write(() =>
      this.pool.query({
        name: 'keys-insert',
        text: `INSERT INTO api_keys (id, user_name, label, prefix, hash, created_at, expires_at, revoked_at, last_used_at,
            parent_id)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        values: [
          key.id,
          key.user,
          key.label,
          key.prefix,
          key.hash,
          key.createdAt,
          key.expiresAt,
          key.revokedAt,
          key.lastUsedAt,
          key.parentId ?? null,
        ],
      }),
    )
  }

  async listKeys(user?: string): Promise<KeyRecord[]> {
    const { rows } = await this.guards.read(() =>
      this.pool.query<KeyRow>(
        user === undefined
          ? {
              name: 'keys-list',
              text: 'SELECT * FROM api_keys ORDER BY created_at DESC, id COLLATE "C" DESC',
            }
          : {
              name: 'keys-list-of',
              text: 'SELECT * FROM api_keys WHERE user_name = $1 ORDER BY created_at DESC, id COLLATE "C" DESC',
              values: [user],
            },
      ),
    )
    return rows.map(keyOf)
  }

  async keyByHash(hash: string): Promise<KeyRecord | undefined> {
    const { rows } = await this.guards.read(() =>
      this.pool.query<KeyRow>({
        name: 'keys-by-hash',
        text: 'SELECT * FROM api_keys WHERE hash = $1',
        values: [hash],
      }),
    )
    return rows[0] ? keyOf(rows[0]) : undefined
  }

  async revokeKey(id: string, at: number): Promise<boolean> {
    const { rowCount } = await this.guards.write(() =>
      this.pool.query({
        name: 'keys-revoke',
        text: 'UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL',
        values: [id, at],
      }),
    )
    return (rowCount ?? 0) > 0
  }

  async touchKey(id: string, at: number): Promise<void> {
    await this.guards.write(() =>
      this.pool.query({
        name: 'keys-touch',
        text: 'UPDATE api_keys SET last_used_at = $2 WHERE id = $1',
        values: [id, at],
      }),
    )
  }

  /** One statement for the batch: the entries get increasing ids in the order given. */
  async appendAudit(entries: readonly NewAuditEntry[]): Promise<void> {
    if (entries.length === 0) return
    const column = <K extends keyof NewAuditEntry>(key: K) => entries.map((entry) => entry[key])
    await this.guards.write(() =>
      this.pool.query({
        name: 'audit-append',
        text: `INSERT INTO audit (ts, actor, role, action, session_id, target, status, request_id, ip, detail)
          SELECT ts, actor, role, action, session_id, target, status, request_id, ip, detail
          FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::integer[],
            $8::text[], $9::text[], $10::text[]) WITH ORDINALITY
            AS batch (ts, actor, role, action, session_id, target, status, request_id, ip, detail, n)
          ORDER BY n`,
        values: [
          column('ts'),
          column('actor'),
          column('role'),
          column('action'),
          column('sessionId'),
          column('target'),
          column('status'),
          column('requestId'),
          column('ip'),
          entries.map((entry) => JSON.stringify(entry.detail ?? {})),
        ],
      }),
    )
  }

  async readAudit(query: AuditQuery): Promise<AuditEntry[]> {
    const where: string[] = []
    const values: unknown[] = []
    let name = 'audit '
    for (const [column, op, key, letter] of AUDIT_FILTERS) {
      const value = query[key]
      if (value === undefined) continue
      values.push(value)
      where.push(`${column} ${op} $${values.length}`)
      name += letter
    }
    values.push(query.limit)
    const { rows } = await this.guards.read(() =>
      this.pool.query<AuditRow>({
        name,
        text: `SELECT * FROM audit ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
          ORDER BY id DESC LIMIT $${values.length}`,
        values,
      }),
    )
    return rows.map(auditOf)
  }

  async pruneAudit(before: number): Promise<number> {
    const { rowCount } = await this.guards.write(() =>
      this.pool.query({ name: 'audit-prune', text: 'DELETE FROM audit WHERE ts < $1', values: [before] }),
    )
    return rowCount ?? 0
  }

  async addUsage(user: string, day: string, delta: UsageDelta): Promise<void> {
    await this.guards.write(() =>
      this.pool.query({
        name: 'usage-add',
        text: `INSERT INTO usage (user_name, day, input_tokens, output_tokens, cost_usd, turns)
          VALUES ($1, $2, $3, $4, $5, $6)
          ON CONFLICT (user_name, day) DO UPDATE SET input_tokens = usage.input_tokens + excluded.input_tokens,
            output_tokens = usage.output_tokens + excluded.output_tokens,
            cost_usd = usage.cost_usd + excluded.cost_usd, turns = usage.turns + excluded.turns`,
        values: [user, day, delta.inputTokens, delta.outputTokens, delta.costUsd, delta.turns],
      }),
    )
  }

  async usage(user: string, from: string, to: string): Promise<UsageDelta> {
    const { rows } = await this.guards.read(() =>
      this.pool.query<UsageRow>({
        name: 'usage-sum',
        text: `SELECT coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens,
            coalesce(sum(cost_usd), 0) AS cost_usd, coalesce(sum(turns), 0) AS turns
          FROM usage WHERE user_name = $1 AND day >= $2 AND day <= $3`,
        values: [user, from, to],
      }),
    )
    return usageOf(rows[0]!)
  }
}
