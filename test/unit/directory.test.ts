/**
 * The user directory over a real SQLite store: configured and store keys, revocation (here and on another
 * replica), expiry, last use written at most once a minute, credentials sealed with users.secretsKey.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, test } from 'node:test'
import pino from 'pino'
import { type Config, loadConfig } from '../../src/config/index.js'
import type { AccessStore } from '../../src/store/access.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import { claudeAccounts } from '../../src/users/credentials.js'
import { GONE_REASONS, UserDirectory } from '../../src/users/directory.js'
import { isAccessError } from '../../src/users/errors.js'
import { keyHash, keyState } from '../../src/users/keys.js'
import { OPERATOR } from '../../src/users/principal.js'
import { SecretBox, SecretsError } from '../../src/users/secrets.js'

const log = pino({ level: 'silent' })
const ADMIN_KEY = 'a-configured-admin-key-0001'
const ALICE_KEY = 'alice-configured-key-00001'

function config(dir: string, users: Partial<Config['users']> = {}, apiKeys: string[] = []): Config {
  const base = structuredClone(loadConfig({ env: {}, cwd: dir }).config) as Config
  base.server.apiKeys = apiKeys
  Object.assign(base.users, users)
  return base
}

describe('user directory', () => {
  let dir: string
  let store: SqliteStore
  let clock: number
  const now = () => clock

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ccgw-directory-'))
    store = new SqliteStore(dir)
    clock = Date.UTC(2026, 0, 1)
  })
  afterEach(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const withUsers = (users: Partial<Config['users']> = {}, apiKeys: string[] = []) =>
    new UserDirectory(config(dir, users, apiKeys), store.access, log, now)

  test('without any key every request is the operator; with keys, only a known key is anyone', async () => {
    const open = withUsers()
    assert.equal(await open.authenticate(undefined), OPERATOR)
    assert.equal(
      await open.authenticate('any-key-at-all'),
      OPERATOR,
      'no key configured: any key is the operator',
    )
    const directory = withUsers(
      {
        list: [
          { name: 'alice', role: 'user', keys: [ALICE_KEY] },
          { name: 'vic', role: 'viewer', keys: [`sha256:${keyHash('vic-configured-key-000001')}`] },
        ],
      },
      [ADMIN_KEY],
    )
    assert.equal(await directory.authenticate(undefined), null)
    assert.equal(await directory.authenticate('wrong-key'), null)
    assert.equal(await directory.authenticate(ADMIN_KEY), OPERATOR)
    assert.deepEqual(await directory.authenticate(ALICE_KEY), { id: 'alice', role: 'user', keyId: null })
    assert.deepEqual(await directory.authenticate('vic-configured-key-000001'), {
      id: 'vic',
      role: 'viewer',
      keyId: null,
    })
  })

  test('a store key: kept as its hash only, revoked at once here, within keyCacheMs on another replica', async () => {
    const here = withUsers({ keyCacheMs: 5_000 }, [ADMIN_KEY])
    const there = withUsers({ keyCacheMs: 5_000 }, [ADMIN_KEY])
    await here.create('bob', { role: 'user' })
    const { record, key } = await here.issueKey('bob', { label: 'laptop', expiresAt: null })
    assert.match(key, /^ccgw_[A-Za-z0-9_-]{43}$/)
    assert.equal(record.hash, keyHash(key))
    assert.ok(key.startsWith(record.prefix) && record.prefix.length < 16)
    const [listed] = await store.access.listKeys('bob')
    assert.equal(listed?.hash, keyHash(key))
    assert.ok(!JSON.stringify(listed).includes(key), 'the key itself is not kept')
    const files = readdirSync(dir).filter((name) => name.startsWith('gateway.sqlite'))
    assert.ok(files.length > 0)
    for (const file of files) assert.ok(!readFileSync(join(dir, file)).includes(key), `${file} holds no key`)
    assert.ok(
      files.some((file) => readFileSync(join(dir, file)).includes(record.hash)),
      'the hash is there: the scan reads the right files',
    )

    const bob = { id: 'bob', role: 'user', keyId: record.id }
    assert.deepEqual(await here.authenticate(key), bob)
    assert.deepEqual(await there.authenticate(key), bob)

    const gone: string[][] = []
    here.onKeysGone((ids, reason) => gone.push([...ids, reason]))
    assert.equal(await here.revokeKey('bob', record.id), true)
    assert.deepEqual(gone, [[record.id, GONE_REASONS.revoked]])
    assert.equal(await here.authenticate(key), null, 'revoked here: refused at once')
    assert.deepEqual(await there.authenticate(key), bob, 'the other replica trusts its copy a while')
    clock += 5_001
    assert.equal(await there.authenticate(key), null, 'and refuses it once the copy is older than keyCacheMs')
    assert.equal(keyState((await store.access.listKeys('bob'))[0]!, clock), 'revoked')
    assert.equal(await here.revokeKey('bob', 'key_nope'), false)
    assert.equal(await here.revokeKey('carol', record.id), false, "another user's key id is not theirs")
  })

  test('an expired key is refused; its last use is written at most once a minute', async () => {
    let touches = 0
    const access: AccessStore = Object.create(store.access)
    access.touchKey = async (id, at) => {
      touches++
      await store.access.touchKey(id, at)
    }
    const directory = new UserDirectory(config(dir, { keyCacheMs: 0 }, [ADMIN_KEY]), access, log, now)
    await directory.create('bob', { role: 'user' })
    const { key } = await directory.issueKey('bob', { label: null, expiresAt: clock + 120_000 })
    for (let i = 0; i < 5; i++) assert.ok(await directory.authenticate(key))
    assert.equal(touches, 1)
    clock += 30_000
    assert.ok(await directory.authenticate(key))
    assert.equal(touches, 1)
    clock += 31_000
    assert.ok(await directory.authenticate(key))
    assert.equal(touches, 2)
    assert.equal((await store.access.listKeys('bob'))[0]?.lastUsedAt, clock)
    clock += 60_000
    assert.equal(await directory.authenticate(key), null, 'expired')
  })

  test('a role changed or a user removed applies to their keys at once, and ends their streams', async () => {
    const directory = withUsers({}, [ADMIN_KEY])
    await directory.create('bob', { role: 'user', quotas: { tokensPerDay: 5 }, allowedTools: ['Read'] })
    const { record, key } = await directory.issueKey('bob', { label: null, expiresAt: null })
    assert.equal((await directory.authenticate(key))?.role, 'user')
    const gone: string[][] = []
    directory.onKeysGone((ids, reason) => gone.push([...ids, reason]))
    await directory.update('bob', { quotas: { tokensPerDay: 5 } })
    assert.deepEqual(gone, [], 'the same role: their streams go on')
    const updated = await directory.update('bob', { role: 'viewer', allowedTools: null })
    assert.deepEqual(gone.splice(0), [[record.id, GONE_REASONS.roleChanged]])
    assert.equal(updated?.role, 'viewer')
    assert.equal(updated?.allowedTools, undefined)
    assert.deepEqual(updated?.quotas, { tokensPerDay: 5 })
    assert.equal((await directory.authenticate(key))?.role, 'viewer')
    assert.equal(await directory.update('nobody', { role: 'admin' }), undefined)

    assert.equal(await directory.remove('bob'), true)
    assert.deepEqual(gone, [[record.id, GONE_REASONS.removed]])
    assert.equal(await directory.authenticate(key), null)
    assert.equal(await directory.exists('bob'), false)
    assert.equal(await directory.remove('bob'), false)
  })

  test('credentials are sealed with users.secretsKey, opened for the user, refused without it', async () => {
    const plain = withUsers({}, [ADMIN_KEY])
    await assert.rejects(
      plain.create('bob', { role: 'user', claude: { env: { ANTHROPIC_API_KEY: 'sk-ant-secret-1' } } }),
      SecretsError,
    )
    const sealed = withUsers({ secretsKey: 'the operator secret' }, [ADMIN_KEY])
    await sealed.create('bob', {
      role: 'user',
      claude: { configDir: '/srv/claude/bob', env: { ANTHROPIC_API_KEY: 'sk-ant-secret-1' } },
      mcpServers: {
        github: { env: { GITHUB_TOKEN: 'ghp-secret-2' }, headers: { Authorization: 'Bearer x-3' } },
      },
    })
    const kept = JSON.stringify(await store.access.getUser('bob'))
    for (const secret of ['sk-ant-secret-1', '/srv/claude/bob', 'ghp-secret-2', 'Bearer x-3'])
      assert.ok(!kept.includes(secret), `${secret} is not kept in the clear`)
    assert.ok(kept.includes('ANTHROPIC_API_KEY') && kept.includes('GITHUB_TOKEN'), 'names stay readable')

    const bob = await sealed.user('bob')
    assert.deepEqual(bob?.claude, {
      configDir: '/srv/claude/bob',
      env: { ANTHROPIC_API_KEY: 'sk-ant-secret-1' },
    })
    assert.deepEqual(bob?.mcpServers, {
      github: { env: { GITHUB_TOKEN: 'ghp-secret-2' }, headers: { Authorization: 'Bearer x-3' } },
    })

    // A patch that does not touch the credentials keeps them as they were.
    await sealed.update('bob', { quotas: { usdPerDay: 1 } })
    assert.equal((await sealed.user('bob'))?.claude?.env?.ANTHROPIC_API_KEY, 'sk-ant-secret-1')

    // Another secret (or none) cannot open them, and does not pass the sealed text on as a key: what needs
    // them is refused; what needs the rest of the record has it, without them.
    const warnings: string[] = []
    const logged = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) })
    for (const secretsKey of ['another secret', '']) {
      const other = new UserDirectory(config(dir, { secretsKey }, [ADMIN_KEY]), store.access, logged, now)
      await assert.rejects(other.user('bob', { credentials: 'required' }), SecretsError)
      const accounts = claudeAccounts(() => config(dir, { secretsKey }), other)
      await assert.rejects(
        accounts('bob'),
        (error: Error) =>
          isAccessError(error) && error.code === 'forbidden' && /users\.secretsKey/.test(error.message),
      )
      const read = await other.user('bob')
      assert.equal(read?.role, 'user')
      assert.deepEqual(read?.quotas, { usdPerDay: 1 })
      assert.deepEqual(Object.keys(read?.mcpServers ?? {}), ['github'], 'the servers granted stay')
      assert.ok(!JSON.stringify(read).includes('enc:v1:'), 'no sealed text is handed on')
      assert.equal(read?.claude?.configDir, undefined)
      await other.user('bob')
      // Authentication needs only the role: bob's key still names him.
      const { key } = await sealed.issueKey('bob', { label: null, expiresAt: null })
      assert.equal((await other.authenticate(key))?.id, 'bob')
    }
    assert.equal(warnings.length, 2, 'named once in the log per directory')
    for (const line of warnings) {
      assert.match(line, /"user":"bob"/)
      for (const secret of ['sk-ant-secret-1', '/srv/claude/bob', 'ghp-secret-2', 'Bearer x-3'])
        assert.ok(!line.includes(secret))
    }
  })

  test('a sealed value cut short or garbled is a SecretsError, whatever is wrong with it', () => {
    const box = new SecretBox('the operator secret')
    const sealed = box.seal('sk-ant-secret', 'user bob claude.env.KEY')
    assert.equal(box.open(sealed, 'user bob claude.env.KEY'), 'sk-ant-secret')
    const bytes = Buffer.from(sealed.slice('enc:v1:'.length), 'base64url')
    for (const value of [
      'enc:v1:',
      'enc:v1:abc',
      `enc:v1:${bytes.subarray(0, 12 + 8).toString('base64url')}`,
      `enc:v1:${bytes.subarray(0, 12 + 15).toString('base64url')}`,
      `enc:v1:${Buffer.concat([bytes.subarray(0, 12), bytes.subarray(16)]).toString('base64url')}`,
      sealed.slice(0, -2),
    ])
      assert.throws(() => box.open(value, 'user bob claude.env.KEY'), SecretsError, value)
    assert.throws(() => box.open(sealed, 'user eve claude.env.KEY'), SecretsError, 'bound to its place')
    // GCM takes a tag's first bytes as a shorter tag: only a full one is, or a forger would need far fewer
    // tries (an empty value's sealed text is its IV and tag alone).
    const empty = Buffer.from(box.seal('', 'user bob claude.env.KEY').slice('enc:v1:'.length), 'base64url')
    for (const tagBytes of [12, 8, 4])
      assert.throws(
        () =>
          box.open(
            `enc:v1:${empty.subarray(0, 12 + tagBytes).toString('base64url')}`,
            'user bob claude.env.KEY',
          ),
        SecretsError,
        `a tag of ${tagBytes} bytes`,
      )
  })

  test('a key a user makes with a store key expires no later than it, and is revoked with it', async () => {
    const directory = withUsers({}, [ADMIN_KEY])
    await directory.create('bob', { role: 'user' })
    const parent = await directory.issueKey('bob', { label: 'brief', expiresAt: clock + 60_000 })
    const bound = (expiresAt: number | null, issuedWith = parent.record.id) =>
      directory.issueKey('bob', { label: null, expiresAt, issuedWith })
    const forever = await bound(null)
    assert.equal(forever.record.expiresAt, clock + 60_000)
    assert.equal(forever.record.parentId, parent.record.id)
    assert.equal((await bound(clock + 120_000)).record.expiresAt, clock + 60_000)
    assert.equal((await bound(clock + 30_000)).record.expiresAt, clock + 30_000)
    const grandchild = await bound(null, forever.record.id)
    assert.equal(grandchild.record.expiresAt, clock + 60_000)
    const own = await directory.issueKey('bob', { label: null, expiresAt: null })
    assert.equal(own.record.parentId, undefined, 'a key an admin made is bound to none')
    assert.equal((await store.access.keyByHash(grandchild.record.hash))?.parentId, forever.record.id, 'kept')

    const gone: string[][] = []
    directory.onKeysGone((ids) => gone.push([...ids].sort()))
    assert.equal(await directory.revokeKey('bob', parent.record.id), true)
    const revoked = (await store.access.listKeys('bob'))
      .filter((key) => key.revokedAt !== null)
      .map((key) => key.id)
      .sort()
    assert.equal(revoked.length, 5, 'the key, what it made, and what those made')
    assert.deepEqual(gone, [revoked])
    assert.equal(await directory.authenticate(grandchild.key), null)
    assert.equal(await directory.authenticate(forever.key), null)
    assert.equal((await directory.authenticate(own.key))?.id, 'bob')
    await assert.rejects(bound(null), (error: Error) => isAccessError(error) && error.code === 'forbidden')
    clock += 60_001
    assert.equal((await directory.authenticate(own.key))?.id, 'bob')
  })

  test('a key made while the key it is made with is revoked elsewhere is revoked too', async () => {
    const access: AccessStore = Object.create(store.access)
    const directory = new UserDirectory(config(dir, {}, [ADMIN_KEY]), access, log, now)
    await directory.create('bob', { role: 'user' })
    const parent = await directory.issueKey('bob', { label: null, expiresAt: null })
    // Another replica revokes the parent after this one checked it, and lists its keys before this one's
    // new key is written: only this replica can see the two.
    access.insertKey = async (key) => {
      await store.access.revokeKey(parent.record.id, clock)
      await store.access.insertKey(key)
    }
    await assert.rejects(
      directory.issueKey('bob', { label: null, expiresAt: null, issuedWith: parent.record.id }),
      (error: Error) => isAccessError(error) && error.code === 'forbidden',
    )
    const keys = await store.access.listKeys('bob')
    assert.equal(keys.length, 2)
    for (const key of keys) assert.equal(keyState(key, clock), 'revoked', key.id)
  })

  test('a read of a key under way when it is revoked here is not trusted, nor kept', async () => {
    const access: AccessStore = Object.create(store.access)
    const directory = new UserDirectory(config(dir, { keyCacheMs: 60_000 }, [ADMIN_KEY]), access, log, now)
    await directory.create('bob', { role: 'user' })
    const { record, key } = await directory.issueKey('bob', { label: null, expiresAt: null })
    let release = () => {}
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    let reads = 0
    access.keyByHash = async (hash) => {
      const found = await store.access.keyByHash(hash)
      // The first read got the key while it was active, and comes back after the revocation.
      if (++reads === 1) await held
      return found
    }
    const pending = directory.authenticate(key)
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(await directory.revokeKey('bob', record.id), true)
    release()
    assert.equal(await pending, null)
    assert.equal(await directory.authenticate(key), null, 'and not kept for keyCacheMs')
  })

  test('a user changed while being removed stays removed', async () => {
    const access: AccessStore = Object.create(store.access)
    const directory = new UserDirectory(config(dir, {}, [ADMIN_KEY]), access, log, now)
    await directory.create('bob', { role: 'user' })
    access.getUser = async (name) => {
      const user = await store.access.getUser(name)
      // A DELETE lands between the PATCH's read and its write.
      await store.access.deleteUser(name)
      return user
    }
    assert.equal(await directory.update('bob', { role: 'admin' }), undefined)
    assert.equal(await store.access.getUser('bob'), undefined)
  })

  test('a new user inherits no keys left under their name; a name is made once', async () => {
    const declared = withUsers({ list: [{ name: 'dora', role: 'admin', keys: [ALICE_KEY] }] }, [ADMIN_KEY])
    const { record, key } = await declared.issueKey('dora', { label: null, expiresAt: null })
    assert.equal((await declared.authenticate(key))?.role, 'admin')
    // dora is no longer declared; an admin makes a user of that name through the API.
    const later = withUsers({}, [ADMIN_KEY])
    const gone: string[][] = []
    later.onKeysGone((ids) => gone.push([...ids]))
    assert.ok(await later.create('dora', { role: 'user' }))
    assert.equal(await later.authenticate(key), null)
    assert.deepEqual(await store.access.listKeys('dora'), [])
    assert.deepEqual(gone, [[record.id]])

    assert.equal(await later.create('dora', { role: 'admin' }), undefined)
    assert.equal((await store.access.getUser('dora'))?.role, 'user')
    const made = await Promise.all([
      later.create('eve', { role: 'admin' }),
      later.create('eve', { role: 'user' }),
    ])
    assert.equal(made.filter(Boolean).length, 1)
  })

  test('a declared user hides a stored one of the same name; lists say where each comes from', async () => {
    const before = withUsers({}, [ADMIN_KEY])
    await before.create('alice', { role: 'admin' })
    await before.create('bob', { role: 'user' })
    const { key } = await before.issueKey('alice', { label: null, expiresAt: null })
    const after = withUsers({ list: [{ name: 'alice', role: 'user', keys: [ALICE_KEY] }] }, [ADMIN_KEY])
    assert.deepEqual(
      (await after.list()).map(({ user, source }) => [user.name, user.role, source]),
      [
        ['alice', 'user', 'config'],
        ['bob', 'user', 'store'],
      ],
    )
    assert.equal(after.isConfigured('alice'), true)
    assert.equal((await after.kept('alice'))?.source, 'config')
    // The stored admin's key now names the declared user, with the declared role.
    assert.deepEqual(await after.authenticate(key), {
      id: 'alice',
      role: 'user',
      keyId: (await store.access.listKeys('alice'))[0]?.id,
    })
  })
})
