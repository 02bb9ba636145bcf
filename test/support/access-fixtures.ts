/**
 * What the access-store tests check (unit/access-store on SQLite, integration/postgres-access on both
 * stores, so that PostgreSQL answers as SQLite does): users, keys, the audit trail, usage, and the owner
 * filters of sessions and tool calls. Each check starts from an empty store.
 */
import assert from 'node:assert/strict'
import type { KeyRecord, NewAuditEntry, UserRecord } from '../../src/store/access.js'
import { isStoreError } from '../../src/store/errors.js'
import type { SessionRecord, Store } from '../../src/store/types.js'
import { callBody, ids, listedRecord, storedEvent } from './store-fixtures.js'

export function userRecord(name: string, fields: Partial<UserRecord> = {}): UserRecord {
  return { name, role: 'user', createdAt: 1_000, updatedAt: 1_000, ...fields }
}

export function keyRecord(id: string, user: string, createdAt: number, fields: Partial<KeyRecord> = {}) {
  return {
    id,
    user,
    label: null,
    prefix: `ccgw_${id}`,
    hash: `${id}`.padEnd(64, '0'),
    createdAt,
    expiresAt: null,
    revokedAt: null,
    lastUsedAt: null,
    ...fields,
  } satisfies KeyRecord
}

export function auditEntry(ts: number, fields: Partial<NewAuditEntry> = {}): NewAuditEntry {
  return {
    ts,
    actor: 'alice',
    role: 'user',
    action: 'sendMessage',
    sessionId: null,
    target: null,
    status: 200,
    requestId: null,
    ip: null,
    detail: {},
    ...fields,
  }
}

/** Users: inserted, replaced, got, listed by name in byte order, deleted (with their keys only). */
export async function checkUsers(store: Store): Promise<void> {
  const { access } = store
  assert.deepEqual(await access.listUsers(), [])
  assert.equal(await access.getUser('alice'), undefined)
  const alice = userRecord('alice', {
    role: 'admin',
    workspaceRoots: ['/srv/alice'],
    claude: { env: { ANTHROPIC_API_KEY: 'enc:v1:abc' } },
    quotas: { tokensPerDay: 1_000, usdPerMonth: 2.5 },
    allowedTools: ['Read', 'Edit'],
    permissionModes: ['default', 'plan'],
    mcpServers: { github: { headers: { Authorization: 'enc:v1:def' } } },
  })
  for (const user of [alice, userRecord('bob'), userRecord('Zed', { role: 'viewer' })])
    assert.equal(await access.insertUser(user), true)
  assert.deepEqual(await access.getUser('alice'), alice)
  assert.equal(await access.getUser('Alice'), undefined, 'names are exact')
  assert.deepEqual(
    (await access.listUsers()).map((user) => user.name),
    ['Zed', 'alice', 'bob'],
  )
  // Replaced whole: fields left out are gone.
  const replaced = userRecord('alice', { role: 'user', updatedAt: 2_000 })
  assert.equal(await access.updateUser(replaced), true)
  assert.deepEqual(await access.getUser('alice'), replaced)
  assert.equal((await access.listUsers()).length, 3)

  await access.insertKey(keyRecord('ka', 'alice', 1))
  await access.insertKey(keyRecord('kb', 'bob', 2))
  assert.equal(await access.deleteUser('alice'), true)
  assert.equal(await access.getUser('alice'), undefined)
  assert.equal(await access.deleteUser('alice'), false)
  assert.equal(await access.deleteUser('nobody'), false)
  assert.deepEqual(
    (await access.listKeys()).map((key) => key.id),
    ['kb'],
    "the user's keys go with them, no one else's",
  )
  // Keys of a name that was never a stored user (one from users.list) are deleted by name too.
  await access.insertKey(keyRecord('kc', 'carol', 3))
  assert.equal(await access.deleteUser('carol'), false)
  assert.deepEqual(await access.listKeys('carol'), [])
}

/**
 * Users written as the admin API writes them: a new name inserted once (a second insert changes nothing,
 * whatever its record), keys left under the name deleted with the insert; an update only of an existing user.
 */
export async function checkUserWrites(store: Store): Promise<void> {
  const { access } = store
  await access.insertKey(keyRecord('left', 'alice', 1))
  await access.insertKey(keyRecord('other', 'bob', 2))
  const alice = userRecord('alice', { role: 'admin', quotas: { tokensPerDay: 5 } })
  assert.equal(await access.insertUser(alice), true)
  assert.deepEqual(await access.getUser('alice'), alice)
  assert.deepEqual(await access.listKeys('alice'), [], 'a new user inherits no keys left under the name')
  assert.deepEqual(
    (await access.listKeys('bob')).map((key) => key.id),
    ['other'],
  )

  // The name is taken: the first user stays as written, and their keys with them.
  await access.insertKey(keyRecord('own', 'alice', 3))
  assert.equal(await access.insertUser(userRecord('alice', { role: 'user', createdAt: 9_000 })), false)
  assert.deepEqual(await access.getUser('alice'), alice)
  assert.deepEqual(
    (await access.listKeys('alice')).map((key) => key.id),
    ['own'],
  )
  const results = await Promise.all(
    ['admin', 'user', 'viewer'].map((role) =>
      access.insertUser(userRecord('carol', { role: role as UserRecord['role'] })),
    ),
  )
  assert.deepEqual(results.filter(Boolean).length, 1, 'of inserts at once, one is kept')

  const changed = { ...alice, role: 'viewer' as const, quotas: undefined, updatedAt: 5_000 }
  delete changed.quotas
  assert.equal(await access.updateUser(changed), true)
  assert.deepEqual(await access.getUser('alice'), changed)
  assert.deepEqual(
    (await access.listKeys('alice')).map((key) => key.id),
    ['own'],
    'an update keeps the keys',
  )
  assert.equal(await access.updateUser(userRecord('nobody')), false)
  assert.equal(await access.getUser('nobody'), undefined, 'an update makes no user')
  assert.equal(await access.deleteUser('alice'), true)
  assert.equal(await access.updateUser(changed), false, 'a user removed stays removed')
  assert.equal(await access.getUser('alice'), undefined)
}

/** Keys: newest first, by user or all; found by exact hash only; revoked once; touched. */
export async function checkKeys(store: Store): Promise<void> {
  const { access } = store
  assert.deepEqual(await access.listKeys(), [])
  const k1 = keyRecord('k1', 'alice', 1_000, { label: 'laptop' })
  const k2 = keyRecord('k2', 'alice', 3_000, { expiresAt: 9_000 })
  const k3 = keyRecord('k3', 'bob', 2_000)
  for (const key of [k1, k2, k3]) await access.insertKey(key)
  assert.deepEqual(await access.listKeys(), [k2, k3, k1])
  assert.deepEqual(await access.listKeys('alice'), [k2, k1])
  assert.deepEqual(await access.listKeys('nobody'), [])
  assert.deepEqual(await access.keyByHash(k3.hash), k3)
  assert.equal(await access.keyByHash(k3.hash.toUpperCase()), undefined)
  assert.equal(await access.keyByHash(k3.hash.slice(0, 63)), undefined)
  assert.equal(await access.keyByHash(''), undefined)
  await assert.rejects(
    access.insertKey(keyRecord('k4', 'bob', 4_000, { hash: k1.hash })),
    (error: Error) => !isStoreError(error),
    'a hash is unique (a data error, not the storage failing)',
  )
  assert.deepEqual(store.health(), { ok: true })

  assert.equal(await access.revokeKey('k1', 5_000), true)
  assert.equal(await access.revokeKey('k1', 6_000), false, 'revoked only once')
  assert.equal(await access.revokeKey('missing', 6_000), false)
  assert.equal((await access.keyByHash(k1.hash))?.revokedAt, 5_000)
  assert.deepEqual(
    (await access.listKeys('alice'))[1],
    { ...k1, revokedAt: 5_000 },
    'revoked keys are listed',
  )

  // The key a key was made with is kept with it; a key made otherwise has none.
  const child = keyRecord('k5', 'alice', 4_000, { parentId: 'k2', expiresAt: 9_000 })
  await access.insertKey(child)
  assert.deepEqual(await access.keyByHash(child.hash), child)
  assert.deepEqual((await access.listKeys('alice'))[0], child)
  assert.equal('parentId' in (await access.keyByHash(k2.hash))!, false)

  await access.touchKey('k2', 7_000)
  await access.touchKey('k2', 8_000)
  await access.touchKey('missing', 8_000)
  assert.deepEqual(await access.keyByHash(k2.hash), { ...k2, lastUsedAt: 8_000 })
  assert.equal((await access.keyByHash(k3.hash))?.lastUsedAt, null)
}

/** The audit trail: appended in order, read newest first with every filter and paging, pruned by time. */
export async function checkAudit(store: Store): Promise<void> {
  const { access } = store
  await access.appendAudit([])
  assert.deepEqual(await access.readAudit({ limit: 10 }), [])
  await access.appendAudit([
    auditEntry(100, { action: 'createSession', sessionId: 's1', status: 201, ip: '10.0.0.1' }),
    auditEntry(200, { actor: 'bob', sessionId: 's2', requestId: 'req-1', detail: { model: 'opus', n: 2 } }),
    auditEntry(300, { sessionId: 's1', target: 'Bash', status: 0, detail: { nested: { list: [1, 'a'] } } }),
  ])
  await access.appendAudit([
    auditEntry(400, { actor: null, role: null, action: 'keys.revoked', target: 'k1' }),
    auditEntry(500, { actor: 'bob', role: 'viewer', action: 'listSessions' }),
  ])
  const all = await access.readAudit({ limit: 10 })
  assert.deepEqual(
    all.map((entry) => entry.ts),
    [500, 400, 300, 200, 100],
  )
  for (const [i, entry] of all.entries()) if (i > 0) assert.ok(entry.id < all[i - 1]!.id, 'ids increase')
  const { id: _id, ...second } = all[3]!
  assert.deepEqual(
    second,
    auditEntry(200, { actor: 'bob', sessionId: 's2', requestId: 'req-1', detail: { model: 'opus', n: 2 } }),
  )
  assert.deepEqual(all[2]!.detail, { nested: { list: [1, 'a'] } })
  assert.equal(all[1]!.actor, null)
  assert.equal(all[1]!.role, null)

  const tsOf = async (query: Partial<Parameters<typeof access.readAudit>[0]>) =>
    (await access.readAudit({ limit: 10, ...query })).map((entry) => entry.ts)
  assert.deepEqual(await tsOf({ limit: 2 }), [500, 400])
  assert.deepEqual(await tsOf({ actor: 'bob' }), [500, 200])
  assert.deepEqual(await tsOf({ actor: 'carol' }), [])
  assert.deepEqual(await tsOf({ action: 'sendMessage' }), [300, 200])
  assert.deepEqual(await tsOf({ sessionId: 's1' }), [300, 100])
  assert.deepEqual(await tsOf({ since: 200 }), [500, 400, 300, 200])
  assert.deepEqual(await tsOf({ until: 300 }), [300, 200, 100])
  assert.deepEqual(await tsOf({ since: 200, until: 400 }), [400, 300, 200])
  assert.deepEqual(await tsOf({ before: all[1]!.id }), [300, 200, 100])
  assert.deepEqual(await tsOf({ before: all[1]!.id, limit: 2 }), [300, 200])
  assert.deepEqual(await tsOf({ actor: 'alice', sessionId: 's1', action: 'sendMessage', since: 1 }), [300])
  assert.deepEqual(await tsOf({ limit: 0 }), [])

  assert.equal(await access.pruneAudit(300), 2)
  assert.equal(await access.pruneAudit(300), 0)
  assert.deepEqual(await tsOf({}), [500, 400, 300])
  await access.appendAudit([auditEntry(50)])
  const [newest] = await access.readAudit({ limit: 1 })
  assert.equal(newest!.ts, 50, 'the order written, not the time stamped')
  assert.ok(newest!.id > all[0]!.id, 'ids are never reused, even after a prune')
}

/** Usage: added to per user and day, summed over an inclusive range of days, zeros when none. */
export async function checkUsage(store: Store): Promise<void> {
  const { access } = store
  const zero = { inputTokens: 0, outputTokens: 0, costUsd: 0, turns: 0 }
  assert.deepEqual(await access.usage('alice', '2026-01-01', '2026-12-31'), zero)
  const delta = (input: number, output: number, costUsd: number) => ({
    inputTokens: input,
    outputTokens: output,
    costUsd,
    turns: 1,
  })
  await access.addUsage('alice', '2026-03-01', delta(100, 10, 0.25))
  await access.addUsage('alice', '2026-03-01', delta(50, 5, 0.5))
  await access.addUsage('alice', '2026-03-02', delta(1, 1, 0.125))
  await access.addUsage('alice', '2026-04-01', delta(1_000_000_000, 2, 1))
  await access.addUsage('bob', '2026-03-01', delta(7, 7, 7))
  assert.deepEqual(await access.usage('alice', '2026-03-01', '2026-03-01'), {
    inputTokens: 150,
    outputTokens: 15,
    costUsd: 0.75,
    turns: 2,
  })
  assert.deepEqual(await access.usage('alice', '2026-03-01', '2026-03-31'), {
    inputTokens: 151,
    outputTokens: 16,
    costUsd: 0.875,
    turns: 3,
  })
  assert.deepEqual(await access.usage('alice', '2026-03-02', '2026-04-01'), {
    inputTokens: 1_000_000_001,
    outputTokens: 3,
    costUsd: 1.125,
    turns: 2,
  })
  assert.deepEqual(await access.usage('alice', '2026-02-01', '2026-02-28'), zero)
  assert.deepEqual(await access.usage('bob', '2026-01-01', '2026-12-31'), delta(7, 7, 7))
  assert.deepEqual(await access.usage('carol', '2026-01-01', '2026-12-31'), zero)
}

function owned(id: string, owner: string | null | undefined, fields: Partial<SessionRecord> = {}) {
  const record = { ...listedRecord(id), ...fields }
  if (owner !== undefined) record.owner = owner
  return record
}

/**
 * Owner filters: a user's sessions, the count of their sessions not closed, the tool calls in their sessions;
 * sessions without an owner (the operator's) match none; an update moves a session's owner column.
 */
export async function checkOwnerFilters(store: Store): Promise<void> {
  await store.insertSession(owned('a1', 'alice', { updatedAt: 3_000, state: 'idle' }))
  await store.insertSession(owned('a2', 'alice', { updatedAt: 2_000, state: 'closed' }))
  await store.insertSession(owned('a3', 'alice', { updatedAt: 1_000, state: 'running' }))
  await store.insertSession(owned('b1', 'bob', { updatedAt: 4_000 }))
  await store.insertSession(owned('o1', null, { updatedAt: 5_000 }))
  await store.insertSession(owned('o2', undefined, { updatedAt: 6_000 }))
  const page = (owner: string, extra = {}) => store.listSessions({ limit: 10, offset: 0, owner, ...extra })

  const alice = await page('alice')
  assert.deepEqual([ids(alice.items), alice.total], [['a1', 'a2', 'a3'], 3])
  assert.deepEqual(alice.items[0], await store.getSession('a1'))
  assert.deepEqual(ids((await store.listSessions({ limit: 1, offset: 1, owner: 'alice' })).items), ['a2'])
  assert.equal((await store.listSessions({ limit: 1, offset: 1, owner: 'alice' })).total, 3)
  assert.deepEqual(ids((await page('alice', { state: 'closed' })).items), ['a2'])
  assert.deepEqual(ids((await page('bob')).items), ['b1'])
  assert.deepEqual(await page('carol'), { items: [], total: 0 })
  assert.deepEqual(await page(''), { items: [], total: 0 }, 'an empty owner is a filter too')
  assert.equal((await store.listSessions({ limit: 10, offset: 0 })).total, 6)

  assert.equal(await store.countSessions(), 6)
  assert.equal(await store.countSessions({ owner: 'alice' }), 2, 'closed sessions do not count')
  assert.equal(await store.countSessions({ owner: 'bob' }), 1)
  assert.equal(await store.countSessions({ owner: 'carol' }), 0)

  // An update carries the state and the owner to the columns.
  await store.updateSession({ ...(await store.getSession('a1'))!, state: 'closed' })
  assert.equal(await store.countSessions({ owner: 'alice' }), 1)
  await store.updateSession({ ...(await store.getSession('a3'))!, owner: 'bob' })
  assert.equal(await store.countSessions({ owner: 'alice' }), 0)
  assert.equal(await store.countSessions({ owner: 'bob' }), 2)
  assert.deepEqual(ids((await page('bob')).items), ['b1', 'a3'])
  assert.deepEqual(ids((await page('alice')).items), ['a1', 'a2'])

  for (const session of ['a1', 'a3', 'b1', 'o1'])
    await store.appendEvents([
      storedEvent(session, 1, { type: 'turn.started', turnId: 't', content: 'go' }),
      storedEvent(session, 2, callBody('t', `${session}-read`, 'Read', {})),
      storedEvent(session, 3, callBody('t', `${session}-bash`, 'Bash', {})),
    ])
  const calls = async (owner: string | undefined, extra = {}) => {
    const found = await store.toolCalls({ limit: 10, offset: 0, liveSessions: [], owner, ...extra })
    return [found.items.map((call) => call.toolUseId).sort(), found.total]
  }
  assert.deepEqual(await calls('alice'), [['a1-bash', 'a1-read'], 2])
  assert.deepEqual(await calls('bob'), [['a3-bash', 'a3-read', 'b1-bash', 'b1-read'], 4])
  assert.deepEqual(await calls('bob', { name: 'Bash' }), [['a3-bash', 'b1-bash'], 2])
  assert.deepEqual(await calls('carol'), [[], 0])
  assert.equal((await calls(undefined))[1], 8)
}
