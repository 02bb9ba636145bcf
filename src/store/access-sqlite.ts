import type Database from 'better-sqlite3'
import type {
  AccessStore,
  AuditEntry,
  AuditQuery,
  KeyRecord,
  NewAuditEntry,
  UsageDelta,
  UserRecord,
} from './access.js'
import { type AuditRow, auditOf, type KeyRow, keyOf, type UsageRow, usageOf, userOf } from './access-rows.js'

/** How the store runs a statement: storage failures become StoreErrors (sqlite.ts `guard`/`guardWrite`). */
export interface Guards {
  read<T>(run: () => T): T
  write<T>(run: () => T): T
}

type Params = Record<string, string | number>

/**
 * The access tables of the SQLite store (schema step 6): users kept as JSON records, keys by their hash,
 * the audit trail and usage per user and UTC day. Every call runs through the store's guards, so a storage
 * failure is a StoreError and shows in `health()` like any other.
 */
export class SqliteAccess implements AccessStore {
  private readonly statements
  /** The statements of a filtered audit read, prepared once per combination of filters (64 at most). */
  private readonly auditCache = new Map<string, Database.Statement<Params, AuditRow>>()

  constructor(
    private readonly db: Database.Database,
    private readonly guards: Guards,
  ) {
    this.statements = {
      listUsers: db.prepare<[], { record: string }>('SELECT record FROM users ORDER BY name'),
      getUser: db.prepare<[string], { record: string }>('SELECT record FROM users WHERE name = ?'),
      insertUser: db.prepare(
        `INSERT INTO users (name, record, created_at, updated_at) VALUES (@name, @record, @createdAt, @updatedAt)
         ON CONFLICT (name) DO NOTHING`,
      ),
      updateUser: db.prepare('UPDATE users SET record = @record, updated_at = @updatedAt WHERE name = @name'),
      deleteUser: db.prepare<[string]>('DELETE FROM users WHERE name = ?'),
      deleteKeysOf: db.prepare<[string]>('DELETE FROM api_keys WHERE user_name = ?'),
      insertKey: db.prepare(
        `INSERT INTO api_keys (id, user_name, label, prefix, hash, created_at, expires_at, revoked_at, last_used_at,
           parent_id)
         VALUES (@id, @user, @label, @prefix, @hash, @createdAt, @expiresAt, @revokedAt, @lastUsedAt, @parentId)`,
      ),
      allKeys: db.prepare<[], KeyRow>('SELECT * FROM api_keys ORDER BY created_at DESC, id DESC'),
      keysOf: db.prepare<[string], KeyRow>(
        'SELECT * FROM api_keys WHERE user_name = ? ORDER BY created_at DESC, id DESC',
      ),
      keyByHash: db.prepare<[string], KeyRow>('SELECT * FROM api_keys WHERE hash = ?'),
      revokeKey: db.prepare<[number, string]>(
        'UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
      ),
      touchKey: db.prepare<[number, string]>('UPDATE api_keys SET last_used_at = ? WHERE id = ?'),
      appendAudit: db.prepare(
        `INSERT INTO audit (ts, actor, role, action, session_id, target, status, request_id, ip, detail)
         VALUES (@ts, @actor, @role, @action, @sessionId, @target, @status, @requestId, @ip, @detail)`,
      ),
      pruneAudit: db.prepare<[number]>('DELETE FROM audit WHERE ts < ?'),
      addUsage: db.prepare(
        `INSERT INTO usage (user_name, day, input_tokens, output_tokens, cost_usd, turns)
         VALUES (@user, @day, @inputTokens, @outputTokens, @costUsd, @turns)
         ON CONFLICT (user_name, day) DO UPDATE SET input_tokens = input_tokens + excluded.input_tokens,
           output_tokens = output_tokens + excluded.output_tokens, cost_usd = cost_usd + excluded.cost_usd,
           turns = turns + excluded.turns`,
      ),
      usage: db.prepare<[string, string, string], UsageRow>(
        `SELECT coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens,
           coalesce(sum(cost_usd), 0) AS cost_usd, coalesce(sum(turns), 0) AS turns
         FROM usage WHERE user_name = ? AND day >= ? AND day <= ?`,
      ),
    }
  }

  async listUsers(): Promise<UserRecord[]> {
    return this.guards.read(() => this.statements.listUsers.all()).map(userOf)
  }

  async getUser(name: string): Promise<UserRecord | undefined> {
    const row = this.guards.read(() => this.statements.getUser.get(name))
    return row ? userOf(row) : undefined
  }

  async insertUser(user: UserRecord): Promise<boolean> {
    return this.guards.write(() =>
      this.db.transaction(() => {
        if (this.statements.insertUser.run(rowOf(user)).changes === 0) return false
        this.statements.deleteKeysOf.run(user.name)
        return true
      })(),
    )
  }

  async updateUser(user: UserRecord): Promise<boolean> {
    return this.guards.write(() => this.statements.updateUser.run(rowOf(user)).changes > 0)
  }

  async deleteUser(name: string): Promise<boolean> {
    return this.guards.write(() =>
      this.db.transaction(() => {
        this.statements.deleteKeysOf.run(name)
        return this.statements.deleteUser.run(name).changes > 0
      })(),
    )
  }

  async insertKey(key: KeyRecord): Promise<void> {
    this.guards.write(() => this.statements.insertKey.run({ ...key, parentId: key.parentId ?? null }))
  }

  async listKeys(user?: string): Promise<KeyRecord[]> {
    const rows = this.guards.read(() =>
      user === undefined ? this.statements.allKeys.all() : this.statements.keysOf.all(user),
    )
    return rows.map(keyOf)
  }

  async keyByHash(hash: string): Promise<KeyRecord | undefined> {
    const row = this.guards.read(() => this.statements.keyByHash.get(hash))
    return row ? keyOf(row) : undefined
  }

  async revokeKey(id: string, at: number): Promise<boolean> {
    return this.guards.write(() => this.statements.revokeKey.run(at, id).changes > 0)
  }

  async touchKey(id: string, at: number): Promise<void> {
    this.guards.write(() => this.statements.touchKey.run(at, id))
  }

  async appendAudit(entries: readonly NewAuditEntry[]): Promise<void> {
    if (entries.length === 0) return
    this.guards.write(() =>
      this.db.transaction(() => {
        for (const entry of entries)
          this.statements.appendAudit.run({ ...entry, detail: JSON.stringify(entry.detail ?? {}) })
      })(),
    )
  }

  async readAudit(query: AuditQuery): Promise<AuditEntry[]> {
    const where: string[] = []
    const params: Params = { limit: query.limit }
    for (const [column, key, op] of [
      ['actor', 'actor', '='],
      ['action', 'action', '='],
      ['session_id', 'sessionId', '='],
      ['ts', 'since', '>='],
      ['ts', 'until', '<='],
      ['id', 'before', '<'],
    ] as const) {
      const value = query[key]
      if (value === undefined) continue
      where.push(`${column} ${op} @${key}`)
      params[key] = value
    }
    const filter = where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''
    const rows = this.guards.read(() => {
      let statement = this.auditCache.get(filter)
      if (!statement) {
        statement = this.db.prepare<Params, AuditRow>(
          `SELECT * FROM audit ${filter} ORDER BY id DESC LIMIT @limit`,
        )
        this.auditCache.set(filter, statement)
      }
      return statement.all(params)
    })
    return rows.map(auditOf)
  }

  async pruneAudit(before: number): Promise<number> {
    return this.guards.write(() => this.statements.pruneAudit.run(before).changes)
  }

  async addUsage(user: string, day: string, delta: UsageDelta): Promise<void> {
    this.guards.write(() => this.statements.addUsage.run({ user, day, ...delta }))
  }

  async usage(user: string, from: string, to: string): Promise<UsageDelta> {
    return usageOf(this.guards.read(() => this.statements.usage.get(user, from, to))!)
  }
}

const rowOf = (user: UserRecord) => ({
  name: user.name,
  record: JSON.stringify(user),
  createdAt: user.createdAt,
  updatedAt: user.updatedAt,
})
