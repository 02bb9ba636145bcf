/**
 * Users and keys against a real gateway (real CLI, scripted model): keys shown once and kept as hashes,
 * revoked and expired keys refused on both APIs, a revoked key's open streams (SSE, WebSocket, a streamed
 * chat completion) ended, here and when another replica revoked it; who may manage whom.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { describe, test } from 'node:test'
import WebSocket from 'ws'
import { withGateway } from '../support/harness.js'
import { expectError, type Json, nativeClient } from '../support/native-client.js'
import { text } from '../support/scripted-anthropic.js'
import { readEventStream } from '../support/sse.js'
import { waitUntil } from '../support/wait.js'

const ADMIN = 'admin-key-for-the-users-test-0001'
const ALICE = 'alice-key-for-the-users-test-0001'
const VIEWER = 'viewer-key-for-the-users-test-001'

const bearer = (key: string) => ({ authorization: `Bearer ${key}` })

/** Resolves when `ended` does, fails the test if it has not after `ms`. */
async function endsWithin(ended: Promise<unknown>, ms: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still open after ${ms} ms`)), ms)
  })
  try {
    await Promise.race([ended, late])
  } finally {
    clearTimeout(timer)
  }
}

describe('users and keys', () => {
  const g = withGateway({
    pool: { warmSpares: 0 },
    users: {
      keyCacheMs: 1_000,
      list: [
        { name: 'root', role: 'admin', keys: [ADMIN] },
        { name: 'alice', role: 'user', keys: [ALICE] },
        { name: 'vera', role: 'viewer', keys: [VIEWER] },
      ],
    },
  })
  const { call } = nativeClient(() => g.gateway)
  const as = (key: string) => (method: string, path: string, body?: unknown) =>
    call(method, path, body, bearer(key))
  const admin = as(ADMIN)

  /** A store user of `role` with a fresh key. */
  async function storeUser(
    name: string,
    role = 'user',
    keyBody: Json = { label: 'test' },
  ): Promise<{ key: string; id: string; expiresAt: string | null }> {
    const created = await admin('POST', '/api/users', { name, role })
    assert.equal(created.status, 201, created.raw)
    const made = await admin('POST', `/api/users/${name}/keys`, keyBody)
    assert.equal(made.status, 201, made.raw)
    return {
      key: made.body.key as string,
      id: made.body.id as string,
      expiresAt: made.body.expires_at as string | null,
    }
  }

  test('a key is shown once and kept as its hash; revoked or expired, it opens neither API', async () => {
    const created = await admin('POST', '/api/users', {
      name: 'bob',
      role: 'user',
      quotas: { tokens_per_day: 1000 },
      permission_modes: ['default', 'plan'],
    })
    assert.equal(created.status, 201, created.raw)
    assert.equal(created.body.source, 'store')
    assert.deepEqual(created.body.quotas, { tokens_per_day: 1000 })

    const made = await admin('POST', '/api/users/bob/keys', { label: 'laptop' })
    assert.equal(made.status, 201)
    const key = made.body.key as string
    assert.match(key, /^ccgw_/)
    assert.ok(key.startsWith(made.body.prefix as string))
    const stored = await g.gateway.context.store.access.listKeys('bob')
    assert.equal(stored.length, 1)
    assert.ok(!JSON.stringify(stored).includes(key))
    const listed = await admin('GET', '/api/users/bob/keys')
    assert.deepEqual(Object.keys((listed.body.items as Json[])[0]!).sort(), [
      'created_at',
      'expires_at',
      'id',
      'label',
      'last_used_at',
      'prefix',
      'revoked_at',
      'state',
    ])
    assert.ok(!listed.raw.includes(key))

    const me = await as(key)('GET', '/api/me')
    assert.equal(me.status, 200)
    assert.equal(me.body.user, 'bob')
    assert.equal(me.body.role, 'user')
    assert.equal(me.body.source, 'store')
    assert.equal((me.body.quotas as Json).tokens_per_day, 1000)
    assert.equal((await fetch(`${g.url}/v1/models`, { headers: bearer(key) })).status, 200)

    assert.equal((await admin('DELETE', `/api/users/bob/keys/${made.body.id}`)).status, 204)
    expectError(await as(key)('GET', '/api/me'), 401, 'unauthorized')
    const v1 = await fetch(`${g.url}/v1/models`, { headers: bearer(key) })
    assert.equal(v1.status, 401)
    assert.equal(((await v1.json()) as { error: Json }).error.code, 'invalid_api_key')
    const [revoked] = (await admin('GET', '/api/users/bob/keys')).body.items as Json[]
    assert.equal(revoked?.state, 'revoked')
    expectError(await admin('DELETE', '/api/users/bob/keys/key_nope'), 404, 'not_found')

    // An expired key: made to expire in a moment, then refused on both APIs.
    const soon = new Date(Date.now() + 1_500).toISOString()
    const brief = await admin('POST', '/api/users/bob/keys', { expires_at: soon })
    assert.equal(brief.status, 201)
    const briefKey = brief.body.key as string
    assert.equal((await as(briefKey)('GET', '/api/me')).status, 200)
    await waitUntil(async () => (await as(briefKey)('GET', '/api/me')).status === 401, 5_000, 'expiry')
    assert.equal((await fetch(`${g.url}/v1/models`, { headers: bearer(briefKey) })).status, 401)
    const states = ((await admin('GET', '/api/users/bob/keys')).body.items as Json[]).map((k) => k.state)
    assert.deepEqual(states.sort(), ['expired', 'revoked'])

    for (const expires_at of ['tomorrow', new Date(Date.now() - 1_000).toISOString()])
      expectError(
        await admin('POST', '/api/users/bob/keys', { expires_at }),
        400,
        'validation_error',
        'body.expires_at',
      )
    expectError(
      await admin('POST', '/api/users/bob/keys', { expires_in_days: 1, expires_at: soon }),
      400,
      'validation_error',
      'body.expires_at',
    )
  })

  test('who may manage whom: config users are read-only, names of others do not leak, viewers read', async () => {
    const { key: bobKey } = await storeUser('bobby')
    const bob = as(bobKey)
    // Declared users cannot be changed or removed through the API, nor taken as a name.
    expectError(await admin('PATCH', '/api/users/alice', { role: 'admin' }), 409, 'conflict')
    expectError(await admin('DELETE', '/api/users/alice'), 409, 'conflict')
    expectError(await admin('POST', '/api/users', { name: 'alice', role: 'user' }), 409, 'already_exists')
    expectError(await admin('POST', '/api/users', { name: 'bobby', role: 'user' }), 409, 'already_exists')
    const listed = (await admin('GET', '/api/users')).body.items as Json[]
    assert.deepEqual(
      listed
        .filter((user) => ['alice', 'bobby'].includes(user.name as string))
        .map((u) => [u.name, u.source]),
      [
        ['alice', 'config'],
        ['bobby', 'store'],
      ],
    )

    // A user sees themself only: another user's name answers as one that does not exist.
    assert.equal((await bob('GET', '/api/users/bobby')).status, 200)
    expectError(await bob('GET', '/api/users/alice/keys'), 404, 'not_found')
    expectError(await bob('GET', '/api/users/alice'), 404, 'not_found')
    expectError(await bob('POST', '/api/users/alice/keys', {}), 404, 'not_found')
    expectError(await bob('GET', '/api/users/nobody'), 404, 'not_found')
    expectError(await bob('GET', '/api/users'), 403, 'forbidden')
    expectError(await bob('PATCH', '/api/users/bobby', { role: 'admin' }), 403, 'forbidden')
    // ...and makes and revokes their own keys.
    const own = await bob('POST', '/api/users/bobby/keys', { expires_in_days: 30 })
    assert.equal(own.status, 201)
    assert.equal((await bob('DELETE', `/api/users/bobby/keys/${own.body.id}`)).status, 204)

    // A viewer reads everything and changes nothing.
    const vera = as(VIEWER)
    assert.equal((await vera('GET', '/api/users')).status, 200)
    assert.equal((await vera('GET', '/api/users/bobby/keys')).status, 200)
    expectError(await vera('POST', '/api/users', { name: 'eve', role: 'admin' }), 403, 'forbidden')
    expectError(await vera('POST', '/api/users/bobby/keys', {}), 403, 'forbidden')
    expectError(await vera('DELETE', '/api/users/bobby'), 403, 'forbidden')

    // Credentials need users.secretsKey, which this gateway has not.
    expectError(
      await admin('POST', '/api/users', {
        name: 'carl',
        role: 'user',
        claude: { env: { ANTHROPIC_API_KEY: 'x' } },
      }),
      400,
      'validation_error',
      'body.claude',
    )
    expectError(
      await admin('POST', '/api/users', { name: 'carl', role: 'user', mcp_servers: { unknown: {} } }),
      400,
      'validation_error',
      'body.mcp_servers.unknown',
    )

    // An admin changes and removes a store user; their keys stop working.
    const patched = await admin('PATCH', '/api/users/bobby', { role: 'viewer', quotas: null })
    assert.equal(patched.status, 200)
    assert.equal((await bob('GET', '/api/me')).body.role, 'viewer')
    assert.equal((await admin('DELETE', '/api/users/bobby')).status, 204)
    expectError(await bob('GET', '/api/me'), 401, 'unauthorized')
    expectError(await admin('GET', '/api/users/bobby'), 404, 'not_found')
  })

  test('a key a user makes for themself lasts no longer than theirs, and is revoked with it', async () => {
    const parent = await storeUser('kim', 'user', { expires_in_days: 2 })
    const kim = as(parent.key)
    const forever = await kim('POST', '/api/users/kim/keys', { label: 'forever' })
    assert.equal(forever.status, 201, forever.raw)
    assert.equal(forever.body.expires_at, parent.expiresAt, 'no later than the key it was made with')
    const longer = await kim('POST', '/api/users/kim/keys', { expires_in_days: 30 })
    assert.equal(longer.body.expires_at, parent.expiresAt)
    const grandchild = await as(forever.body.key as string)('POST', '/api/users/kim/keys', {})
    assert.equal(grandchild.status, 201, grandchild.raw)
    // An admin's keys for kim are kim's to keep.
    const byAdmin = await admin('POST', '/api/users/kim/keys', {})
    assert.equal(byAdmin.body.expires_at, null)

    // Revoking the key a stolen one was, say, revokes what was made with it.
    assert.equal((await admin('DELETE', `/api/users/kim/keys/${parent.id}`)).status, 204)
    for (const made of [forever, longer, grandchild])
      expectError(await as(made.body.key as string)('GET', '/api/me'), 401, 'unauthorized')
    assert.equal((await as(byAdmin.body.key as string)('GET', '/api/me')).status, 200)
    const states = ((await admin('GET', '/api/users/kim/keys')).body.items as Json[]).map((k) => k.state)
    assert.deepEqual(states.sort(), ['active', 'revoked', 'revoked', 'revoked', 'revoked'])
  })

  test('users made at once under one name: one is made, the others are told it exists', async () => {
    const answers = await Promise.all(
      ['admin', 'user', 'viewer', 'user'].map((role) => admin('POST', '/api/users', { name: 'zed', role })),
    )
    assert.deepEqual(answers.map((answer) => answer.status).sort(), [201, 409, 409, 409])
    for (const answer of answers.filter(({ status }) => status === 409))
      expectError(answer, 409, 'already_exists', 'body.name')
    const made = answers.find(({ status }) => status === 201)!
    assert.equal((await admin('GET', '/api/users/zed')).body.role, made.body.role)
  })

  test("a role changed here ends the user's streams at once; changed elsewhere, within users.keyCacheMs", async () => {
    const { key } = await storeUser('pat')
    const pat = as(key)
    const session = await pat('POST', '/api/sessions', {})
    assert.equal(session.status, 201, session.raw)
    const events = readEventStream(await fetch(`${g.url}/api/events`, { headers: bearer(key) }))
    const socket = new WebSocket(`${g.url.replace('http', 'ws')}/api/sessions/${session.body.id}/stream`, {
      headers: bearer(key),
    })
    await once(socket, 'open')
    const closed = once(socket, 'close') as Promise<[number, Buffer]>
    assert.equal((await admin('PATCH', '/api/users/pat', { quotas: { tokens_per_day: 5 } })).status, 200)
    assert.equal((await admin('PATCH', '/api/users/pat', { role: 'viewer' })).status, 200)
    await endsWithin(events.ended, 3_000, 'the /api/events stream of a user made a viewer')
    const [code, reason] = await closed
    assert.deepEqual([code, reason.toString().split(':')[0]], [1008, 'role_changed'])

    // Another replica changes rex's role in the store: the periodic check ends her stream.
    const rex = await storeUser('rex')
    const all = readEventStream(await fetch(`${g.url}/api/events`, { headers: bearer(rex.key) }))
    await waitUntil(() => all.received().length > 0, 5_000, 'the stream to open')
    const { access } = g.gateway.context.store
    const record = (await access.getUser('rex'))!
    assert.equal(await access.updateUser({ ...record, role: 'admin', updatedAt: Date.now() }), true)
    await endsWithin(all.ended, 4_000, 'the stream of a user whose role changed elsewhere')
  })

  test("a WebSocket's commands are checked against its key's role now, not as it opened", async (t) => {
    const alice = as(ALICE)
    const session = await alice('POST', '/api/sessions', {})
    assert.equal(session.status, 201, session.raw)
    const socket = new WebSocket(`${g.url.replace('http', 'ws')}/api/sessions/${session.body.id}/stream`, {
      headers: bearer(ALICE),
    })
    t.after(() => socket.terminate())
    await once(socket, 'open')
    const answers: Json[] = []
    socket.on('message', (data) => answers.push(JSON.parse(data.toString()) as Json))
    const answerTo = async (request_id: string) => {
      socket.send(JSON.stringify({ type: 'interrupt', request_id }))
      return waitUntil(() => answers.find((answer) => answer.request_id === request_id), 5_000, request_id)
    }
    assert.equal((await answerTo('before')).type, 'ack')

    // A reload makes alice (a declared user: her key is not one the store could revoke) a viewer.
    const previous = g.gateway.context.config
    const config = structuredClone(previous)
    config.users.list = config.users.list.map((user) =>
      user.name === 'alice' ? { ...user, role: 'viewer' as const } : user,
    )
    assert.ok(g.gateway.reconfigure({ config, previous, changed: ['users.list'], restartRequired: [] }))
    try {
      const refused = await answerTo('after')
      assert.deepEqual([refused.type, refused.code], ['error', 'forbidden'])
    } finally {
      g.gateway.reconfigure({
        config: previous,
        previous: config,
        changed: ['users.list'],
        restartRequired: [],
      })
    }
  })

  test("a revoked key's open streams end: session events, every event, a WebSocket, a chat completion", async () => {
    const { key, id } = await storeUser('sam')
    const sam = as(key)
    const session = await sam('POST', '/api/sessions', {})
    assert.equal(session.status, 201, session.raw)
    const sessionId = session.body.id as string

    const events = readEventStream(
      await fetch(`${g.url}/api/sessions/${sessionId}/events`, { headers: bearer(key) }),
    )
    const all = readEventStream(await fetch(`${g.url}/api/events`, { headers: bearer(key) }))
    const socket = new WebSocket(`${g.url.replace('http', 'ws')}/api/sessions/${sessionId}/stream`, {
      headers: bearer(key),
    })
    await once(socket, 'open')
    const closed = once(socket, 'close') as Promise<[number, Buffer]>
    g.home.model.script(text('x'.repeat(4_000), { chunkSize: 1, chunkDelayMs: 20 }))
    const completion = await fetch(`${g.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...bearer(key), 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'claude-code',
        stream: true,
        messages: [{ role: 'user', content: 'go' }],
      }),
    })
    const chat = readEventStream(completion)
    await waitUntil(() => chat.received().includes('"content"'), 30_000, 'the first chunk of the completion')
    assert.ok(g.gateway.context.users.streams.size >= 4)

    assert.equal((await admin('DELETE', `/api/users/sam/keys/${id}`)).status, 204)
    await endsWithin(events.ended, 3_000, 'the session event stream')
    await endsWithin(all.ended, 3_000, 'the /api/events stream')
    await endsWithin(chat.ended, 3_000, 'the streamed chat completion')
    const [code] = await closed
    assert.equal(code, 1008)
    assert.ok(!chat.received().includes('[DONE]'), 'the completion was cut short, not finished')
    g.home.model.clearScript()
    await waitUntil(() => g.gateway.context.users.streams.size === 0, 5_000, 'the streams to be let go')
  })

  test('a key revoked by another replica (in the store) ends its streams within users.keyCacheMs', async () => {
    const { key, id } = await storeUser('rita')
    const all = readEventStream(await fetch(`${g.url}/api/events`, { headers: bearer(key) }))
    await waitUntil(() => all.received().length > 0, 5_000, 'the stream to open')
    // Not through this gateway: as another replica sharing the store would.
    assert.equal(await g.gateway.context.store.access.revokeKey(id, Date.now()), true)
    await endsWithin(all.ended, 4_000, 'the stream of a key revoked elsewhere')
    expectError(await as(key)('GET', '/api/me'), 401, 'unauthorized')
  })

  test('a declared user is themself on /api/me; a request without a key is refused', async () => {
    const me = await admin('GET', '/api/me')
    assert.deepEqual([me.body.user, me.body.role, me.body.source], ['root', 'admin', 'config'])
    expectError(await call('GET', '/api/me'), 401, 'unauthorized')
  })
})

describe('users: a gateway without keys', () => {
  // A declared user without keys: still no key configured.
  const g = withGateway({
    pool: { warmSpares: 0 },
    users: { list: [{ name: 'ola', role: 'user', keys: [] }] },
  })
  const { call } = nativeClient(() => g.gateway)

  test('every caller is the operator: an admin without a name', async () => {
    const me = await call('GET', '/api/me')
    assert.equal(me.status, 200)
    assert.deepEqual([me.body.user, me.body.role, me.body.source], [null, 'admin', null])
    assert.deepEqual(me.body.workspace_roots, g.gateway.context.config.native.workspaceRoots)
    assert.deepEqual(
      ((await call('GET', '/api/users')).body.items as Json[]).map((user) => user.name),
      ['ola'],
    )
  })

  test('users and keys are refused until an admin key is declared: they would be isolated from no one', async () => {
    for (const [path, body] of [
      ['/api/users', { name: 'bob', role: 'user' }],
      ['/api/users/ola/keys', {}],
    ] as const) {
      const refused = await call('POST', path, body, bearer('any-key-at-all'))
      expectError(refused, 409, 'conflict')
      assert.match(refused.raw, /admin key/)
    }
    assert.deepEqual(await g.gateway.context.store.access.listUsers(), [])
    assert.deepEqual(await g.gateway.context.store.access.listKeys(), [])
  })
})
