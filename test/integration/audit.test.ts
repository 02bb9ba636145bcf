/**
 * The audit trail end to end (real CLI, scripted model): a gateway with users; what they do through /api,
 * its WebSocket and /v1 (sessions, messages, a permission answered, keys, an agent, a refusal) and the tools
 * Claude runs appear in GET /api/audit with actor, action and status; its filters and pages; the export as
 * NDJSON and CSV; a user reads only their own entries; message text is kept only with users.auditPrompts.
 * And the same trail kept in PostgreSQL (skipped, saying why, when no server answers at TEST_POSTGRES_URL).
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { after, describe, test } from 'node:test'
import pg from 'pg'
import WebSocket from 'ws'
import type { Gateway } from '../../src/gateway.js'
import { type ConfigOverrides, type TestHome, withGateway } from '../support/harness.js'
import { type Json, nativeClient } from '../support/native-client.js'
import { text, toolCall } from '../support/scripted-anthropic.js'
import { POSTGRES_URL, servicesSkip } from '../support/services.js'
import { waitUntil } from '../support/wait.js'

const KEYS = {
  root: 'root-key-0123456789abcdef',
  alice: 'alice-key-0123456789abcdef',
  bob: 'bob-key-0123456789abcdef',
  vera: 'vera-key-0123456789abcdef',
}
const SECRET_PROMPT = 'the words of a private prompt'

const users = (home: TestHome, auditPrompts: boolean): ConfigOverrides => ({
  users: {
    auditPrompts,
    list: [
      { name: 'root', role: 'admin', keys: [KEYS.root] },
      { name: 'alice', role: 'user', keys: [KEYS.alice], workspaceRoots: [home.root] },
      { name: 'bob', role: 'user', keys: [KEYS.bob], workspaceRoots: [home.root] },
      { name: 'vera', role: 'viewer', keys: [KEYS.vera] },
    ],
  },
  claude: { settingSources: ['user'], env: { CLAUDE_CONFIG_DIR: home.env.CLAUDE_CONFIG_DIR! } },
})

/** Calls as one of the users (their key), in the native API's terms. */
function as(current: () => Gateway, who: keyof typeof KEYS) {
  const { call } = nativeClient(current)
  return (method: string, path: string, body?: unknown) =>
    call(method, path, body, { authorization: `Bearer ${KEYS[who]}` })
}

/** A chat completion of one user message, as an OpenAI client sends it. */
const chatRequest = (content: string) => ({ model: 'claude-code', messages: [{ role: 'user', content }] })

type Entry = Json & { action: string; actor: string | null; status: number; detail: Json }

describe('audit trail', () => {
  const g = withGateway((home) => users(home, false))
  const root = as(() => g.gateway, 'root')
  const alice = as(() => g.gateway, 'alice')
  const bob = as(() => g.gateway, 'bob')
  const vera = as(() => g.gateway, 'vera')
  const audit = async (query = '', who = root): Promise<Entry[]> => {
    const answer = await who('GET', `/api/audit${query}`)
    assert.equal(answer.status, 200, answer.raw)
    return answer.body.items as Entry[]
  }
  let kept: string
  let asked: string

  test("every change is recorded with its actor, action and status; Claude's tool runs too", async () => {
    const created = await alice('POST', '/api/sessions', { title: 'kept' })
    assert.equal(created.status, 201, created.raw)
    kept = created.body.id as string
    g.home.model.script(text('answered'))
    const sent = await alice('POST', `/api/sessions/${kept}/messages`, { content: SECRET_PROMPT })
    assert.equal(sent.status, 200, sent.raw)

    // A turn whose Bash call waits for alice's answer.
    asked = (await alice('POST', '/api/sessions', { ask_permissions: true })).body.id as string
    g.home.model.script(toolCall('Bash', { command: 'echo audited > audited.txt' }), text('Done.'))
    const turn = alice('POST', `/api/sessions/${asked}/messages`, { content: 'run it' })
    const { engine } = g.gateway.context
    await waitUntil(() => engine.pendingPermissions(asked).length > 0, 30_000, 'the permission request')
    const [pending] = engine.pendingPermissions(asked)
    const requestId = pending!.requested.requestId
    const answered = await alice('POST', `/api/sessions/${asked}/permissions/${requestId}`, {
      behavior: 'allow',
    })
    assert.equal(answered.status, 200, answered.raw)
    assert.equal((await turn).status, 200)

    const gone = (await alice('POST', '/api/sessions', {})).body.id as string
    assert.equal((await alice('DELETE', `/api/sessions/${gone}`)).status, 204)

    // Keys (the admin's doing), an agent, and a viewer refused.
    const key = await root('POST', '/api/users/alice/keys', { label: 'laptop' })
    assert.equal(key.status, 201, key.raw)
    const keyId = key.body.id as string
    assert.equal((await root('DELETE', `/api/users/alice/keys/${keyId}`)).status, 204)
    const agent = { name: 'auditor', description: 'Checks', prompt: 'Check.', scope: 'user' }
    assert.equal((await root('POST', '/api/agents', agent)).status, 201)
    const changed = await root('PUT', '/api/agents/auditor/config', {
      description: 'Checks again',
      prompt: 'Again.',
    })
    assert.equal(changed.status, 200, changed.raw)
    assert.equal((await vera('POST', '/api/sessions', {})).status, 403)

    const entries = await audit('?limit=500')
    const find = (action: string, more: (entry: Entry) => boolean = () => true) => {
      const found = entries.find((entry) => entry.action === action && more(entry))
      assert.ok(found, `${action} in ${JSON.stringify(entries.map((entry) => entry.action))}`)
      return found
    }
    const createdEntry = find('createSession', (entry) => entry.session_id === kept)
    assert.deepEqual([createdEntry.actor, createdEntry.role, createdEntry.status], ['alice', 'user', 201])
    assert.match(String(createdEntry.request_id), /./)
    assert.equal(createdEntry.ip, '127.0.0.1')
    const message = find('sendMessage', (entry) => entry.session_id === kept)
    assert.deepEqual(
      [message.actor, message.status, message.detail.chars],
      ['alice', 200, SECRET_PROMPT.length],
    )
    const permission = find('answerPermissionRequest')
    assert.deepEqual(
      [permission.actor, permission.session_id, permission.target, permission.detail.behavior],
      ['alice', asked, requestId, 'allow'],
    )
    const run = find('tool.run', (entry) => entry.session_id === asked)
    assert.deepEqual([run.actor, run.target, run.status], ['alice', 'Bash', 0])
    assert.equal(run.detail.input, undefined, 'no tool input without auditPrompts')
    assert.equal(find('deleteSession').session_id, gone)
    const made = find('createKey')
    assert.deepEqual(
      [made.actor, made.target, made.detail.created, made.status],
      ['root', 'alice', keyId, 201],
    )
    const revoked = find('revokeKey')
    assert.deepEqual(
      [revoked.actor, revoked.target, revoked.detail.name, revoked.status],
      ['root', keyId, 'alice', 204],
    )
    assert.equal(find('createAgent').target, 'auditor')
    const update = find('updateAgent')
    assert.deepEqual([update.target, update.detail.fields], ['auditor', ['description', 'prompt']])
    const refused = find('createSession', (entry) => entry.actor === 'vera')
    assert.deepEqual([refused.role, refused.status, refused.detail.error], ['viewer', 403, 'forbidden'])
    assert.ok(!entries.some((entry) => entry.action === 'listSessions'), 'reads are not recorded')
    assert.ok(!JSON.stringify(entries).includes(SECRET_PROMPT), 'no message text without auditPrompts')
    assert.ok(!JSON.stringify(entries).includes(String(key.body.key)), 'never a key')
  })

  test('WebSocket commands and /v1 completions are recorded as their HTTP routes are', async () => {
    const socket = new WebSocket(`${g.url.replace('http', 'ws')}/api/sessions/${kept}/stream`, {
      headers: { authorization: `Bearer ${KEYS.alice}` },
    })
    const frames: Json[] = []
    socket.on('message', (data) => frames.push(JSON.parse(data.toString()) as Json))
    await once(socket, 'open')
    g.home.model.script(text('over the socket'))
    socket.send(JSON.stringify({ type: 'message', content: 'hi there', request_id: 'ws-1' }))
    await waitUntil(() => frames.some((frame) => frame.type === 'turn.completed'), 30_000, 'the turn')
    socket.send(JSON.stringify({ type: 'permission', permission_request_id: 'nope', behavior: 'deny' }))
    await waitUntil(() => frames.some((frame) => frame.type === 'error'), 10_000, 'the refusal')
    socket.close()

    g.home.model.script(text('chatted'))
    const chat = await bob('POST', '/v1/chat/completions', chatRequest('hello bob'))
    assert.equal(chat.status, 200)
    const chatSession = chat.headers.get('x-session-id')

    const viaSocket = await audit(`?session_id=${kept}&action=sendMessage`)
    const ws = viaSocket.find((entry) => entry.detail.via === 'websocket')
    assert.deepEqual([ws?.actor, ws?.status, ws?.request_id, ws?.detail.chars], ['alice', 200, 'ws-1', 8])
    const [denied] = await audit(`?session_id=${kept}&action=answerPermissionRequest`)
    assert.deepEqual([denied?.status, denied?.detail.error, denied?.target], [404, 'not_found', 'nope'])
    const [completion] = await audit('?actor=bob&action=createChatCompletion')
    assert.deepEqual(
      [completion?.status, completion?.session_id, completion?.detail.model, completion?.detail.chars],
      [200, chatSession, 'claude-code', 'user: hello bob'.length],
    )
  })

  test('filters, pages and a user reading only their own entries', async () => {
    const all = await audit('?limit=500')
    assert.ok(all.length > 10)
    const ids = all.map((entry) => entry.id as number)
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => b - a),
      'newest first',
    )

    const first = await root('GET', '/api/audit?limit=3')
    assert.equal((first.body.items as Entry[]).length, 3)
    const second = await root('GET', `/api/audit?limit=3&before=${first.body.next_before}`)
    assert.deepEqual(
      [...(first.body.items as Entry[]), ...(second.body.items as Entry[])].map((entry) => entry.id),
      ids.slice(0, 6),
    )
    const last = await root('GET', `/api/audit?limit=500&before=${ids.at(-1)! + 1}`)
    assert.equal(last.body.next_before, null)

    const alices = await audit('?actor=alice&limit=500')
    assert.ok(alices.length > 0 && alices.every((entry) => entry.actor === 'alice'))
    const creations = await audit('?action=createSession&limit=500')
    assert.ok(creations.length >= 3 && creations.every((entry) => entry.action === 'createSession'))
    const times = all.map((entry) => Date.parse(entry.ts as string))
    const middle = times[Math.floor(times.length / 2)]!
    const since = await audit(`?since=${middle}&limit=500`)
    assert.ok(since.length > 0 && since.every((entry) => Date.parse(entry.ts as string) >= middle))
    const until = await audit(`?until=${middle}&limit=500`)
    assert.ok(until.length > 0 && until.every((entry) => Date.parse(entry.ts as string) <= middle))

    // A user: their own entries only, whatever they ask; a viewer reads everything.
    const own = await audit('?limit=500', alice)
    assert.ok(own.length > 0 && own.every((entry) => entry.actor === 'alice'))
    const refused = await alice('GET', '/api/audit?actor=bob')
    assert.equal(refused.status, 403)
    assert.equal((refused.body.error as Json).field, 'querystring.actor')
    assert.equal((await bob('GET', '/api/audit/export?actor=alice')).status, 403)
    assert.equal((await audit('?limit=500', vera)).length, (await audit('?limit=500')).length)
    assert.equal((await root('GET', '/api/audit?limit=0')).status, 400)
    assert.equal((await root('GET', '/api/audit?colour=red')).status, 400)
  })

  test('the export: NDJSON and CSV, as attachments, with the same filters', async () => {
    const listed = await audit('?actor=alice&limit=500')
    const ndjson = await root('GET', '/api/audit/export?actor=alice')
    assert.equal(ndjson.status, 200)
    assert.match(ndjson.headers.get('content-type') ?? '', /^application\/x-ndjson/)
    assert.match(ndjson.headers.get('content-disposition') ?? '', /^attachment; filename="audit-.*\.ndjson"$/)
    const lines = ndjson.raw
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Entry)
    // Entries recorded after the list (its own GET is not one: reads are not recorded) would be first.
    assert.deepEqual(lines, listed)

    const csv = await root('GET', '/api/audit/export?format=csv&actor=alice&limit=2')
    assert.equal(csv.status, 200)
    assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/)
    assert.match(csv.headers.get('content-disposition') ?? '', /filename="audit-.*\.csv"/)
    const rows = csv.raw.trimEnd().split('\r\n')
    assert.equal(rows[0], 'id,ts,actor,role,action,session_id,target,status,request_id,ip,detail')
    assert.equal(rows.length, 3, 'the header and `limit` rows')
    assert.ok(rows[1]!.startsWith(`${listed[0]!.id},${listed[0]!.ts},alice,user,${listed[0]!.action},`))

    const everything = await root('GET', '/api/audit/export')
    assert.equal(everything.raw.trimEnd().split('\n').length, (await audit('?limit=500')).length)
    assert.equal((await root('GET', '/api/audit/export?format=xml')).status, 400)
  })
})

describe('audit trail with users.auditPrompts', () => {
  const g = withGateway((home) => users(home, true))
  const alice = as(() => g.gateway, 'alice')

  test('message text, chat messages and tool inputs are kept', async () => {
    const id = (await alice('POST', '/api/sessions', {})).body.id as string
    g.home.model.script(toolCall('Bash', { command: 'echo kept' }), text('Done.'))
    assert.equal(
      (await alice('POST', `/api/sessions/${id}/messages`, { content: SECRET_PROMPT })).status,
      200,
    )
    g.home.model.script(text('chatted'))
    const chat = await alice('POST', '/v1/chat/completions', chatRequest('hello'))
    assert.equal(chat.status, 200)

    const read = await alice('GET', '/api/audit?limit=500')
    const entries = read.body.items as Entry[]
    assert.equal(entries.find((entry) => entry.action === 'sendMessage')?.detail.prompt, SECRET_PROMPT)
    assert.equal(
      entries.find((entry) => entry.action === 'createChatCompletion')?.detail.prompt,
      'user: hello',
    )
    const run = entries.find((entry) => entry.action === 'tool.run' && entry.target === 'Bash')
    assert.deepEqual(run?.detail.input, { command: 'echo kept' })
  })

  test('a configuration reload is recorded with the keys that changed, never their values', async () => {
    const previous = g.gateway.context.config
    const config = structuredClone(previous)
    config.users.auditPrompts = false
    config.users.auditRetentionDays = 30
    const changed = ['users.auditPrompts', 'users.auditRetentionDays']
    assert.ok(g.gateway.reconfigure({ config, previous, changed, restartRequired: [] }))
    const root = as(() => g.gateway, 'root')
    const [reload] = (await root('GET', '/api/audit?action=config.reloaded')).body.items as Entry[]
    assert.deepEqual([reload?.actor, reload?.status, reload?.detail], [null, 0, { changed }])
  })
})

const postgresSkip = await servicesSkip('audit trail on PostgreSQL', { postgres: true })

describe('audit trail on PostgreSQL', { skip: postgresSkip }, () => {
  const schema = `ccgw_audit_${process.pid}`
  const g = withGateway((home) => ({ ...users(home, false), store: { url: POSTGRES_URL, schema } }))
  after(async () => {
    const admin = new pg.Client({ connectionString: POSTGRES_URL })
    await admin.connect()
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await admin.end()
  })
  const root = as(() => g.gateway, 'root')
  const alice = as(() => g.gateway, 'alice')

  test('entries are kept, filtered, paged and exported as with SQLite', async () => {
    const start = Date.now()
    const ids: string[] = []
    for (const title of ['one', 'two', 'three']) {
      const created = await alice('POST', '/api/sessions', { title })
      assert.equal(created.status, 201, created.raw)
      ids.push(created.body.id as string)
    }
    assert.equal((await alice('DELETE', `/api/sessions/${ids[0]}`)).status, 204)
    assert.equal((await root('POST', '/api/sessions', { model: 'haiku' })).status, 201)

    const all = (await root('GET', `/api/audit?since=${start}`)).body.items as Entry[]
    assert.deepEqual(
      all.map((entry) => [entry.actor, entry.action, entry.status]),
      [
        ['root', 'createSession', 201],
        ['alice', 'deleteSession', 204],
        ['alice', 'createSession', 201],
        ['alice', 'createSession', 201],
        ['alice', 'createSession', 201],
      ],
    )
    assert.equal(typeof all[0]!.id, 'number')
    assert.deepEqual(all[0]!.detail.fields, ['model'])
    assert.equal(all[0]!.detail.model, 'haiku')
    const mine = (await alice('GET', '/api/audit')).body.items as Entry[]
    assert.ok(mine.length === 4 && mine.every((entry) => entry.actor === 'alice'))
    const about = (await root('GET', `/api/audit?session_id=${ids[0]}`)).body.items as Entry[]
    assert.deepEqual(
      about.map((entry) => entry.action),
      ['deleteSession', 'createSession'],
    )
    const page = await root('GET', '/api/audit?action=createSession&limit=2')
    const next = await root('GET', `/api/audit?action=createSession&limit=2&before=${page.body.next_before}`)
    assert.deepEqual(
      [...(page.body.items as Entry[]), ...(next.body.items as Entry[])].map((entry) => entry.session_id),
      [all[0]!.session_id, ...ids.slice().reverse()],
    )
    // The schema is this suite's own: nothing was recorded before the test.
    assert.deepEqual((await root('GET', `/api/audit?until=${start - 1}`)).body.items, [])
    const exported = await root('GET', `/api/audit/export?format=csv&since=${start}`)
    assert.equal(exported.raw.trimEnd().split('\r\n').length, all.length + 1)
  })

  test('a NUL in a path, a body or a socket’s request_id is kept as U+FFFD, and the trail goes on', async () => {
    const start = Date.now()
    const missing = await alice('POST', '/api/sessions/a%00b/messages', { content: 'hi' })
    assert.ok(missing.status >= 400, missing.raw)
    const named = await alice('POST', '/api/sessions', { title: 'nul', name: 'n\u0000m' })
    const created = await alice('POST', '/api/sessions', { title: 'after' })
    assert.equal(created.status, 201, created.raw)
    const socket = new WebSocket(`${g.url.replace('http', 'ws')}/api/sessions/${created.body.id}/stream`, {
      headers: { authorization: `Bearer ${KEYS.alice}` },
    })
    const frames: Json[] = []
    socket.on('message', (data) => frames.push(JSON.parse(data.toString()) as Json))
    await once(socket, 'open')
    socket.send(JSON.stringify({ type: 'interrupt', request_id: 'r\u0000q' }))
    await waitUntil(() => frames.some((frame) => frame.type === 'ack'), 10_000, 'the ack')
    socket.close()
    await waitUntil(
      async () => {
        const items = (await root('GET', `/api/audit?since=${start}`)).body.items as Entry[]
        return items.some((entry) => entry.action === 'interruptSession')
      },
      10_000,
      'the socket command recorded',
    )
    const entries = ((await root('GET', `/api/audit?since=${start}`)).body.items as Entry[]).reverse()
    assert.deepEqual(
      entries.map((entry) => [entry.action, entry.status]),
      [
        ['sendMessage', missing.status],
        ['createSession', named.status],
        ['createSession', 201],
        ['interruptSession', 200],
      ],
    )
    assert.equal(entries[0]!.session_id, 'a\uFFFDb')
    assert.equal(entries[1]!.target, 'n\uFFFDm')
    assert.equal(entries[3]!.request_id, 'r\uFFFDq')
  })
})
