/**
 * Who a key belongs to. Keys come from three places: `server.apiKeys` (the operator's, an admin without a
 * name), `users.list` (declared users) and the store (keys the admin API made). Configured keys are hashed
 * once per configuration; store keys are read on first use and trusted for `users.keyCacheMs`, unknown ones
 * too (a flood of wrong keys does not reach the database). A change made here (a key revoked, a user changed
 * or removed) applies on this replica at once, and ends the streams it concerns; other replicas see it once
 * their copy is older than `users.keyCacheMs`. A key a user makes for themself with a store key is bound to
 * it: it expires no later, and is revoked with it.
 */
import type { Logger } from 'pino'
import type { Config } from '../config/index.js'
import type { AccessStore, KeyRecord, UserRecord } from '../store/access.js'
import { forbidden } from './errors.js'
import { configuredKeyHash, keyHash, keyState, keysConfigured, newKey, newKeyId } from './keys.js'
import { OPERATOR, type Principal } from './principal.js'
import {
  hasCredentials,
  openCredentials,
  SecretBox,
  SecretsError,
  sealCredentials,
  withoutSealed,
} from './secrets.js'

interface CachedKey {
  /** null: no valid key has this hash. */
  principal: Principal | null
  key: KeyRecord | null
  readAt: number
}

/** What a user is given, through the admin API: their record without its name and times. */
export type UserInput = Omit<UserRecord, 'name' | 'createdAt' | 'updatedAt'>
/** A change to a user: a field given replaces theirs, a field given as null removes it. */
export type UserPatch = { [K in keyof UserInput]?: UserInput[K] | null }

export type UserSource = 'config' | 'store'

/** Why keys' streams end (stream-watch.ts closes WebSockets with it, so at most 120 characters). */
export const GONE_REASONS = {
  revoked: 'key_revoked: the API key was revoked',
  roleChanged: "role_changed: the user's role changed: reconnect",
  removed: 'user_removed: the user was removed',
} as const

/** Store keys and users kept in memory at most: an older entry is read again when needed. */
const CACHE_LIMIT = 10_000
/** A key's last use is written at most this often: authentication must not become a write per request. */
const TOUCH_EVERY_MS = 60_000

export class UserDirectory {
  private configKeys = new Map<string, Principal>()
  private configUsers = new Map<string, UserRecord>()
  private open = true
  private box: SecretBox | null = null
  private boxSecret = ''
  private readonly keys = new Map<string, CachedKey>()
  /** Store users as kept (credentials sealed). */
  private readonly users = new Map<string, { user: UserRecord | undefined; readAt: number }>()
  /** When this replica last wrote each key's last use. */
  private readonly touched = new Map<string, number>()
  /**
   * Keys revoked here: refused whatever a read that was under way when they were revoked brings back. A
   * revoked key never opens again, so remembering the latest ones is enough (the store says the rest).
   */
  private readonly revoked = new Set<string>()
  /**
   * Counts what was forgotten: a read of the store started before is not kept (it may have read what was
   * just changed), nor trusted for the request it was made for.
   */
  private generation = 0
  /** Users whose credentials could not be opened, named once in the log per users.secretsKey. */
  private readonly unreadable = new Set<string>()
  private readonly goneListeners = new Set<(keyIds: readonly string[], reason: string) => void>()

  constructor(
    private config: Config,
    private readonly access: AccessStore,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.reconfigure(config)
  }

  /** A reloaded configuration: its keys and users apply from the next request. */
  reconfigure(config: Config): void {
    this.config = config
    this.open = !keysConfigured(config)
    const keys = new Map<string, Principal>()
    for (const key of config.server.apiKeys) keys.set(configuredKeyHash(key), OPERATOR)
    const users = new Map<string, UserRecord>()
    for (const { keys: userKeys, name, ...rest } of config.users.list) {
      users.set(name, { name, ...rest, createdAt: 0, updatedAt: 0 })
      for (const key of userKeys)
        keys.set(configuredKeyHash(key), Object.freeze({ id: name, role: rest.role, keyId: null }))
    }
    this.configKeys = keys
    this.configUsers = users
    // Deriving the AES key costs tens of milliseconds: once per secret, not per request.
    const secret = config.users.secretsKey
    if (secret !== this.boxSecret) {
      this.box = secret === '' ? null : new SecretBox(secret)
      this.boxSecret = secret
      this.unreadable.clear()
    }
    this.forget()
  }

  /**
   * The principal a request's key names; null when it names none (or is revoked, expired, or its user is
   * gone). While the configuration declares no key, a request without one, or with one that names nobody,
   * is the operator's, as it always was: anyone who can reach such a gateway could leave the key out anyway.
   */
  async authenticate(key: string | undefined): Promise<Principal | null> {
    if (key === undefined || key === '') return this.open ? OPERATOR : null
    const hash = keyHash(key)
    const configured = this.configKeys.get(hash)
    if (configured) return configured
    const now = this.now()
    let cached = this.keys.get(hash)
    if (!cached || now - cached.readAt > this.config.users.keyCacheMs) {
      const generation = this.generation
      cached = await this.readKey(hash, now)
      // Overtaken by a change made here (a key revoked, a user changed): read again, and not kept.
      if (generation === this.generation) this.remember(this.keys, hash, cached)
      else cached = await this.readKey(hash, now)
    }
    const { key: record } = cached
    if (!record || keyState(record, now) !== 'active' || this.revoked.has(record.id))
      return this.open ? OPERATOR : null
    this.touch(record, now)
    return cached.principal
  }

  /**
   * A user by name, credentials opened: declared in the configuration, else kept by the store. Credentials
   * that cannot be opened (`users.secretsKey` removed or changed) are left out, and named once in the log:
   * what reads a role, quotas or policy goes on. What runs Claude with them asks for them
   * (`credentials: 'required'`) and gets the SecretsError.
   */
  async user(name: string, options: { credentials?: 'required' } = {}): Promise<UserRecord | undefined> {
    const configured = this.configUsers.get(name)
    if (configured) return configured
    const stored = await this.storedUser(name)
    if (!stored) return undefined
    try {
      return openCredentials(name, stored, this.box)
    } catch (err) {
      if (!(err instanceof SecretsError) || options.credentials === 'required') throw err
      if (!this.unreadable.has(name)) {
        this.remember(this.unreadable, name)
        this.log.warn({ user: name, reason: err.message }, "a user's stored credentials cannot be opened")
      }
      return withoutSealed(name, stored)
    }
  }

  /** Whether `name` is declared in the configuration (the admin API cannot change or remove those). */
  isConfigured(name: string): boolean {
    return this.configUsers.has(name)
  }

  /** The user of that name the configuration declares. */
  declared(name: string): UserRecord | undefined {
    return this.configUsers.get(name)
  }

  /** Whether a user of that name exists, declared or kept. */
  async exists(name: string): Promise<boolean> {
    return this.configUsers.has(name) || (await this.storedUser(name)) !== undefined
  }

  /** The users declared in the configuration. */
  get configured(): UserRecord[] {
    return [...this.configUsers.values()]
  }

  /**
   * Every user with where they come from; credentials as kept (sealed), for views that show only their
   * names. A stored user whose name the configuration has since declared is hidden by it.
   */
  async list(): Promise<{ user: UserRecord; source: UserSource }[]> {
    const stored = await this.access.listUsers()
    return [
      ...this.configured.map((user) => ({ user, source: 'config' as const })),
      ...stored
        .filter(({ name }) => !this.configUsers.has(name))
        .map((user) => ({ user, source: 'store' as const })),
    ]
  }

  /** A user as kept, credentials sealed; config users as declared. */
  async kept(name: string): Promise<{ user: UserRecord; source: UserSource } | undefined> {
    const configured = this.configUsers.get(name)
    if (configured) return { user: configured, source: 'config' }
    const stored = await this.storedUser(name)
    return stored && { user: stored, source: 'store' }
  }

  /**
   * Keeps a new user in the store; undefined when the store has one of that name already (the caller checks
   * the configuration's: `exists`). Keys left under the name (of a user since removed from the
   * configuration) are deleted: a new user inherits none. Credentials are sealed with `users.secretsKey`;
   * without one, a user with credentials is refused (SecretsError).
   */
  async create(name: string, input: UserInput): Promise<UserRecord | undefined> {
    const now = this.now()
    const user = this.sealed({ ...input, name, createdAt: now, updatedAt: now })
    const left = await this.access.listKeys(name)
    const created = await this.access.insertUser(user)
    this.forget()
    if (!created) return undefined
    this.gone(idsOf(left), GONE_REASONS.removed)
    return user
  }

  /** Changes a stored user; undefined when the store has none of that name. */
  async update(name: string, patch: UserPatch): Promise<UserRecord | undefined> {
    const current = await this.access.getUser(name)
    if (!current) return undefined
    const next: Record<string, unknown> = { ...current }
    const changes: Partial<UserRecord> = {}
    for (const [field, value] of Object.entries(patch)) {
      if (value === undefined) continue
      if (value === null) delete next[field]
      else (changes as Record<string, unknown>)[field] = value
    }
    // Only what the patch brings is sealed: what was kept is sealed already.
    const user = {
      ...(next as unknown as UserRecord),
      ...this.sealed({ name, ...changes }),
      updatedAt: this.now(),
    }
    // Not an upsert: a user removed meanwhile stays removed.
    const updated = await this.access.updateUser(user)
    // A role changed applies to the keys of the user at the next request; their open streams end.
    this.forget()
    if (!updated) return undefined
    if (user.role !== current.role)
      this.gone(idsOf(await this.access.listKeys(name)), GONE_REASONS.roleChanged)
    return user
  }

  /** Removes a stored user and their keys; their open streams end. False when the store had none. */
  async remove(name: string): Promise<boolean> {
    const keys = await this.access.listKeys(name)
    const removed = await this.access.deleteUser(name)
    this.forget()
    if (removed) this.gone(idsOf(keys), GONE_REASONS.removed)
    return removed
  }

  /**
   * A new key for `user`: its record (kept: the hash) and the key itself, which nothing keeps. `issuedWith`:
   * the store key of `user` the request was made with, when they make a key for themself (not an admin):
   * the new key expires no later than it, and is revoked with it, so that a stolen short-lived key cannot
   * be made into a lasting one. Refused (forbidden) when that key has stopped working meanwhile.
   */
  async issueKey(
    user: string,
    options: { label: string | null; expiresAt: number | null; issuedWith?: string | null },
  ): Promise<{ record: KeyRecord; key: string }> {
    const now = this.now()
    let { expiresAt } = options
    const parentId = options.issuedWith ?? undefined
    if (parentId !== undefined) {
      const parent = await this.keyOf(user, parentId)
      if (!parent || keyState(parent, now) !== 'active' || this.revoked.has(parentId))
        throw forbidden('The key this request was made with is no longer valid')
      if (parent.expiresAt !== null) expiresAt = Math.min(expiresAt ?? parent.expiresAt, parent.expiresAt)
    }
    const { key, hash, prefix } = newKey()
    const record: KeyRecord = {
      id: newKeyId(),
      user,
      label: options.label,
      prefix,
      hash,
      createdAt: now,
      expiresAt,
      revokedAt: null,
      lastUsedAt: null,
      ...(parentId === undefined ? {} : { parentId }),
    }
    await this.access.insertKey(record)
    // Its parent revoked while it was made: the revocation may have looked for the parent's keys before this
    // one was written, so it is revoked here (the revocation writes first, then looks: one of the two sees).
    if (parentId !== undefined) {
      const parent = await this.keyOf(user, parentId)
      if (!parent || parent.revokedAt !== null) {
        await this.access.revokeKey(record.id, this.now())
        throw forbidden('The key this request was made with was revoked')
      }
    }
    return { record, key }
  }

  /** The keys of `user`, newest first, revoked and expired ones included. */
  keysOf(user: string): Promise<KeyRecord[]> {
    return this.access.listKeys(user)
  }

  /**
   * Revokes a key of `user` and the keys made with it (and with those, and so on): they stop working on
   * this replica at once and their open streams end. False when the user has no key of that id; revoking a
   * revoked key again revokes what it made since, and is no error.
   */
  async revokeKey(user: string, id: string): Promise<boolean> {
    const at = this.now()
    if (!(await this.keyOf(user, id))) return false
    const revoked = new Set([id])
    await this.access.revokeKey(id, at)
    for (;;) {
      // Read after the writes: a key made with one of these from now on sees its parent revoked (issueKey),
      // and one made before is in this list.
      const made = (await this.access.listKeys(user)).filter(
        (key) => key.parentId !== undefined && revoked.has(key.parentId) && !revoked.has(key.id),
      )
      if (made.length === 0) break
      for (const key of made) {
        revoked.add(key.id)
        if (key.revokedAt === null) await this.access.revokeKey(key.id, at)
      }
    }
    for (const keyId of revoked) {
      this.remember(this.revoked, keyId)
      this.forgetKey(keyId)
    }
    this.gone([...revoked], GONE_REASONS.revoked)
    return true
  }

  /** Drops what is remembered of a key: read again from the store at its next use. */
  forgetKey(id: string): void {
    this.generation++
    for (const [hash, cached] of this.keys) if (cached.key?.id === id) this.keys.delete(hash)
    this.touched.delete(id)
  }

  /** Called with the ids of keys revoked or removed here, or of a user whose role changed: their streams end. */
  onKeysGone(listener: (keyIds: readonly string[], reason: string) => void): () => void {
    this.goneListeners.add(listener)
    return () => this.goneListeners.delete(listener)
  }

  /** Drop what was read from the store: a change made here applies at the next request. */
  forget(): void {
    this.generation++
    this.keys.clear()
    this.users.clear()
  }

  private sealed<T extends Pick<UserRecord, 'claude' | 'mcpServers'>>(user: T & { name: string }): T {
    if (!hasCredentials(user)) return user
    if (!this.box) throw new SecretsError('Credentials can only be kept with users.secretsKey set')
    return sealCredentials(user.name, user, this.box)
  }

  private async storedUser(name: string): Promise<UserRecord | undefined> {
    const now = this.now()
    const cached = this.users.get(name)
    if (cached && now - cached.readAt <= this.config.users.keyCacheMs) return cached.user
    const generation = this.generation
    const user = await this.access.getUser(name)
    if (generation === this.generation) this.remember(this.users, name, { user, readAt: now })
    return user
  }

  private async keyOf(user: string, id: string): Promise<KeyRecord | undefined> {
    return (await this.access.listKeys(user)).find((key) => key.id === id)
  }

  private async readKey(hash: string, now: number): Promise<CachedKey> {
    const key = (await this.access.keyByHash(hash)) ?? null
    if (!key) return { principal: null, key: null, readAt: now }
    // The role only: a user whose credentials cannot be opened may still read what is theirs.
    const user = this.configUsers.get(key.user) ?? (await this.storedUser(key.user))
    if (!user) return { principal: null, key: null, readAt: now }
    return { principal: Object.freeze({ id: user.name, role: user.role, keyId: key.id }), key, readAt: now }
  }

  /** Notes a key's use in the store, at most once a minute per key, without making the request wait. */
  private touch(key: KeyRecord, now: number): void {
    const last = this.touched.get(key.id) ?? key.lastUsedAt ?? 0
    if (now - last < TOUCH_EVERY_MS) return
    this.remember(this.touched, key.id, now)
    this.access.touchKey(key.id, now).catch((err: unknown) => {
      this.log.debug({ err, keyId: key.id }, "could not note a key's last use")
    })
  }

  private gone(keyIds: readonly string[], reason: string): void {
    if (keyIds.length === 0) return
    for (const listener of this.goneListeners) listener(keyIds, reason)
  }

  /** Keeps `name` in `store` (a Map, or a Set), newest last, dropping the oldest past CACHE_LIMIT. */
  private remember<V>(store: Map<string, V> | Set<string>, name: string, value?: V): void {
    store.delete(name)
    if (store instanceof Set) store.add(name)
    else store.set(name, value as V)
    if (store.size > CACHE_LIMIT) store.delete(store.keys().next().value as string)
  }
}

const idsOf = (keys: readonly KeyRecord[]): string[] => keys.map((key) => key.id)
