/**
 * Users' own Claude accounts and MCP servers, with the real CLI against the scripted model: two users whose
 * `claude` settings differ (config folder, API key) run turns at the same time, each request carrying its
 * user's key and each transcript landing in its user's folder; warm spares are kept per account and never
 * handed to the other; an approved MCP server reaches a session that names it, with its user's credentials,
 * and no other session. Sessions are created through the engine with their owner, as the API does, and the
 * engine gets its accounts from src/users/credentials.ts as the gateway wires it. Through the gateway: each
 * user lists the conversations of their own Claude folder; a change to a session's settings keeps what it
 * does not name; another user's conversation, even of a closed session, cannot be imported.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { detectClaudeCli } from '../../src/engine/claude-cli.js'
import { transcriptPath } from '../../src/engine/claude-home.js'
import { forkSession } from '../../src/engine/fork.js'
import { SessionManager } from '../../src/engine/sessions.js'
import { EventBus } from '../../src/events/bus.js'
import { startGateway } from '../../src/gateway.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import { claudeAccounts } from '../../src/users/credentials.js'
import { capturedLog } from '../support/captured-log.js'
import { quietLog, type TestHome, testConfig, testHome, testLimits } from '../support/harness.js'
import { expectError, type Json, nativeClient } from '../support/native-client.js'
import {
  conversationTexts,
  lastUserText,
  type RecordedRequest,
  text,
  toolCall,
} from '../support/scripted-anthropic.js'
import { waitUntil } from '../support/wait.js'

const MCP_SERVER = fileURLToPath(new URL('../support/mcp-server.mjs', import.meta.url))
/** How long the model takes to answer the two users' simultaneous turns. */
const ANSWER_DELAY_MS = 3_000
const KEYS = { alice: 'sk-ant-alice-0123456789', bob: 'sk-ant-bob-9876543210' }

let home: TestHome
let engine: SessionManager
let store: SqliteStore
let bus: EventBus
/** Alice's first session, which the fork test continues. */
let aliceFirst: string
const { log, lines } = capturedLog('debug')
const dirOf = (user: 'alice' | 'bob') => join(home.root, `${user}-claude`)

before(async () => {
  home = await testHome()
  const config = testConfig(home)
  config.users.mcpServers = {
    files: {
      type: 'stdio',
      command: process.execPath,
      args: [MCP_SERVER],
      env: { MCP_TOKEN: 'shared-token' },
    },
  }
  const users = new Map(
    (['alice', 'bob'] as const).map((name) => [
      name as string,
      {
        name,
        role: 'user' as const,
        claude: { configDir: dirOf(name), env: { ANTHROPIC_API_KEY: KEYS[name] } },
        ...(name === 'alice' ? { mcpServers: { files: { env: { MCP_TOKEN: 'alice-token' } } } } : {}),
        createdAt: 0,
        updatedAt: 0,
      },
    ]),
  )
  const cli = await detectClaudeCli(null, { PATH: '' })
  store = new SqliteStore(home.dataDir)
  bus = await EventBus.open(store)
  engine = new SessionManager({
    store,
    bus,
    log,
    cli,
    host: { cliPath: cli.path ?? undefined, env: home.env, settingSources: [], niceness: 0 },
    limits: testLimits({ maxRunners: 6, warmSpares: 1, maxSpares: 2, primeSpares: false }),
    defaults: { workspace: home.workspace, model: null, permissionMode: 'default' },
    // What the gateway passes (src/gateway.ts), over users as the directory reads them.
    account: claudeAccounts(() => config, { user: async (name) => users.get(name) }),
  })
  await engine.start()
})

after(async () => {
  await engine?.shutdown(0)
  await store?.close()
  await home?.close()
})

/** The model requests of the turn whose user message is `message`. */
const requestsFor = (message: string): RecordedRequest[] =>
  home.model.turns.filter((request) => lastUserText(request.body).includes(message))
const toolNames = (request: RecordedRequest) => (request.body.tools ?? []).map((tool) => tool.name)

async function turn(owner: 'alice' | 'bob', message: string, settings = {}) {
  const session = await engine.createSession({ owner, ...settings })
  const done = (await engine.send(session.id, message)).done
  return { session, done }
}

/** The API key a live CLI process was started with (Linux: its environment); undefined elsewhere. */
function processKey(pid: number | null): string | undefined {
  if (process.platform !== 'linux' || pid === null) return undefined
  const environ = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0')
  return environ.find((entry) => entry.startsWith('ANTHROPIC_API_KEY='))?.slice('ANTHROPIC_API_KEY='.length)
}

describe("users' own Claude accounts", () => {
  test('two users at the same time: each request carries its user’s key, each transcript is in their folder', async () => {
    // Both processes up first (their start-ups take unequal times on a loaded machine), then both messages
    // at once: each answer waits long enough for the other request to arrive.
    const sessions = await Promise.all([
      engine.createSession({ owner: 'alice' }),
      engine.createSession({ owner: 'bob' }),
    ])
    await Promise.all(sessions.map((session) => engine.resume(session.id)))
    home.model.fallback = () => text('answered', { delayMs: ANSWER_DELAY_MS })
    const started = async (session: (typeof sessions)[number]) => ({
      session,
      done: (await engine.send(session.id, `${session.owner} asks`)).done,
    })
    const [alice, bob] = await Promise.all([started(sessions[0]), started(sessions[1])])
    aliceFirst = alice.session.id
    const [aliceDone, bobDone] = await Promise.all([alice.done, bob.done])
    home.model.fallback = () => text('ok')
    assert.equal(aliceDone.status, 'success')
    assert.equal(bobDone.status, 'success')

    const [fromAlice] = requestsFor('alice asks')
    const [fromBob] = requestsFor('bob asks')
    assert.ok(fromAlice && fromBob, 'both turns reached the model')
    assert.ok(
      Math.abs(fromAlice.receivedAt - fromBob.receivedAt) < ANSWER_DELAY_MS,
      'the second request arrived while the first was still being answered',
    )
    for (const request of requestsFor('alice asks')) assert.equal(request.headers['x-api-key'], KEYS.alice)
    for (const request of requestsFor('bob asks')) assert.equal(request.headers['x-api-key'], KEYS.bob)

    for (const [user, session] of [
      ['alice', alice.session],
      ['bob', bob.session],
    ] as const) {
      const record = (await engine.getSession(session.id))!
      assert.ok(record.claudeSessionId)
      const location = { cwd: record.settings.workspace, sessionId: record.claudeSessionId }
      const own = await transcriptPath({ configDir: dirOf(user), ...location })
      const host = await transcriptPath({ configDir: home.env.CLAUDE_CONFIG_DIR!, ...location })
      assert.ok(existsSync(own), `${user}'s transcript is in their config folder`)
      assert.ok(!existsSync(host), `${user}'s transcript is not in the host's`)
      assert.equal(await engine.configDirOf(user), dirOf(user))
    }
  })

  test('spares are kept per account, and each account’s new conversation gets its own', async () => {
    // Both accounts had a new conversation lately: a spare for each (maxSpares 2).
    await waitUntil(() => engine.processStats.spares === 2, 60_000, 'a spare per account')
    const spares = engine
      .memory()
      .processes.filter((process) => process.role === 'spare')
      .map((process) => process.pid)
    if (process.platform === 'linux')
      assert.deepEqual(spares.map(processKey).sort(), [KEYS.alice, KEYS.bob].sort(), 'one spare per key')

    // Bob first: the spare started last may be Alice's, and he must not get it.
    const bob = await turn('bob', 'bob again')
    assert.equal((await bob.done).status, 'success')
    const bobPid = engine.runnerOf(bob.session.id)?.pid ?? null
    assert.ok(spares.includes(bobPid), 'his conversation took a spare')
    if (process.platform === 'linux') assert.equal(processKey(bobPid), KEYS.bob)
    const alice = await turn('alice', 'alice again')
    assert.equal((await alice.done).status, 'success')
    const alicePid = engine.runnerOf(alice.session.id)?.pid ?? null
    assert.ok(spares.includes(alicePid), 'hers took the other spare')
    assert.notEqual(alicePid, bobPid)
    for (const request of requestsFor('bob again')) assert.equal(request.headers['x-api-key'], KEYS.bob)
    for (const request of requestsFor('alice again')) assert.equal(request.headers['x-api-key'], KEYS.alice)
  })

  test("a fork runs with its owner's account: the source's, or another's with the transcript moved to theirs", async () => {
    const own = await forkSession(engine, bus, aliceFirst, {})
    assert.equal(own.owner, 'alice')
    const mine = await forkSession(engine, bus, aliceFirst, { owner: null })
    assert.equal(mine.owner, null)
    for (const [fork, message, key] of [
      [own, 'her fork goes on', KEYS.alice],
      [mine, 'the operator goes on', home.env.ANTHROPIC_API_KEY],
    ] as const) {
      assert.equal((await (await engine.send(fork.id, message)).done).status, 'success')
      const [request] = requestsFor(message)
      assert.ok(request)
      assert.equal(request.headers['x-api-key'], key)
      assert.ok(
        conversationTexts(request.body).some(({ text }) => text.includes('alice asks')),
        'the fork resumed the conversation it copied',
      )
    }
    const location = { cwd: mine.settings.workspace, sessionId: mine.claudeSessionId! }
    assert.ok(existsSync(await transcriptPath({ configDir: home.env.CLAUDE_CONFIG_DIR!, ...location })))
    assert.ok(!existsSync(await transcriptPath({ configDir: dirOf('alice'), ...location })))
  })

  test('secrets are never logged', () => {
    const logged = JSON.stringify(lines)
    assert.ok(lines.length > 0)
    for (const secret of [...Object.values(KEYS), 'alice-token', 'shared-token'])
      assert.ok(!logged.includes(secret), `${secret} is not in the log`)
  })
})

describe('MCP servers', () => {
  test('a session that names an approved server has its tools, started with its user’s credentials', async () => {
    home.model.script(toolCall('mcp__files__whoami', {}), text('the server answered'))
    const { done } = await turn('alice', 'who is there', {
      mcpServers: ['files'],
      permissionMode: 'bypassPermissions',
    })
    assert.equal((await done).status, 'success')
    const [first, second] = requestsFor('who is there')
    assert.ok(first && second, 'the tool call and the answer after it')
    assert.ok(toolNames(first).includes('mcp__files__whoami'), `tools: ${toolNames(first).join(', ')}`)
    const results = JSON.stringify(second.body.messages?.at(-1))
    assert.match(
      results,
      /token=alice-token/,
      "the server was started with Alice's token over the shared one",
    )
  })

  test('a session that names none has none; a user not granted the server cannot name it', async () => {
    const { done } = await turn('alice', 'no servers here')
    assert.equal((await done).status, 'success')
    const [request] = requestsFor('no servers here')
    assert.ok(request)
    assert.ok(
      !toolNames(request).some((name) => name.startsWith('mcp__files__')),
      toolNames(request).join(', '),
    )
    await assert.rejects(engine.createSession({ owner: 'bob', mcpServers: ['files'] }), {
      code: 'invalid_request',
    })
  })
})

describe('through the gateway', () => {
  test("a user's session made through the API runs with their account; another user's with the host's", async () => {
    const root = await testHome()
    const aliceDir = join(root.root, 'alice-own-claude')
    const config = testConfig(root, { pool: { warmSpares: 0 } })
    config.users.list = [
      {
        name: 'alice',
        role: 'user',
        keys: ['alice-api-key-0123456789'],
        claude: { configDir: aliceDir, env: { ANTHROPIC_API_KEY: KEYS.alice } },
      },
      { name: 'carol', role: 'user', keys: ['carol-api-key-0123456789'] },
    ]
    const gateway = await startGateway({ config, log: quietLog(), env: root.env })
    try {
      const { call } = nativeClient(() => gateway)
      for (const [user, key] of [
        ['alice', KEYS.alice],
        ['carol', root.env.ANTHROPIC_API_KEY],
      ] as const) {
        const auth = { authorization: `Bearer ${user}-api-key-0123456789` }
        const created = await call('POST', '/api/sessions', {}, auth)
        assert.equal(created.status, 201, created.raw)
        assert.equal(created.body.owner, user)
        const answered = await call(
          'POST',
          `/api/sessions/${created.body.id}/messages`,
          { content: `${user} via api` },
          auth,
        )
        assert.equal(answered.status, 200, answered.raw)
        const [request] = root.model.turns.filter((r) => lastUserText(r.body).includes(`${user} via api`))
        assert.equal(request?.headers['x-api-key'], key)
      }
      assert.equal(await gateway.context.engine.configDirOf('alice'), aliceDir)
      assert.equal(await gateway.context.engine.configDirOf('carol'), root.env.CLAUDE_CONFIG_DIR)
    } finally {
      await gateway.close()
      await root.close()
    }
  })

  test('a user lists the conversations of their own Claude folder; a change keeps what it does not name; nobody imports another’s conversation', async () => {
    const root = await testHome()
    const config = testConfig(root, { pool: { warmSpares: 0 } })
    const shared = [root.workspace]
    config.users.list = [
      {
        name: 'alice',
        role: 'user',
        keys: ['alice-api-key-0123456789'],
        claude: { configDir: join(root.root, 'alice-own-claude') },
      },
      // Bob and Carol share a workspace and the host's Claude folder; Bob may not use every tool or mode.
      {
        name: 'bob',
        role: 'user',
        keys: ['bob-api-key-0123456789'],
        workspaceRoots: shared,
        allowedTools: ['Read', 'Grep'],
        permissionModes: ['plan', 'acceptEdits'],
      },
      { name: 'carol', role: 'user', keys: ['carol-api-key-0123456789'], workspaceRoots: shared },
      { name: 'ada', role: 'admin', keys: ['ada-api-key-0123456789'] },
    ]
    const gateway = await startGateway({ config, log: quietLog(), env: root.env })
    const as = (user: string) => ({ authorization: `Bearer ${user}-api-key-0123456789` })
    try {
      const { call } = nativeClient(() => gateway)
      /** A session of `user`'s with one turn run: its view. */
      const conversation = async (user: string, body: Json = {}): Promise<Json> => {
        const created = await call('POST', '/api/sessions', body, as(user))
        assert.equal(created.status, 201, created.raw)
        const id = created.body.id as string
        const answered = await call(
          'POST',
          `/api/sessions/${id}/messages`,
          { content: `${user} here` },
          as(user),
        )
        assert.equal(answered.status, 200, answered.raw)
        return (await call('GET', `/api/sessions/${id}`, undefined, as(user))).body
      }
      const listed = async (user: string, workspace: string): Promise<unknown[]> => {
        const query = `workspace=${encodeURIComponent(workspace)}&limit=100`
        const page = await call('GET', `/api/claude-sessions?${query}`, undefined, as(user))
        assert.equal(page.status, 200, page.raw)
        return (page.body.items as Json[]).map((item) => item.claude_session_id)
      }

      // Alice's conversation is in her own folder, and that is where her list comes from.
      const alices = await conversation('alice')
      assert.ok(alices.claude_session_id)
      assert.ok((await listed('alice', alices.workspace as string)).includes(alices.claude_session_id))

      // Bob's session has narrower tools and a mode of his choice: changing its model alone keeps them.
      const bobs = await conversation('bob', {
        workspace: root.workspace,
        tools: ['Read'],
        permission_mode: 'acceptEdits',
      })
      const path = `/api/sessions/${bobs.id}`
      const changed = await call('PUT', `${path}/context`, { model: 'claude-haiku-4-5' }, as('bob'))
      assert.equal(changed.status, 200, changed.raw)
      assert.equal(changed.body.model, 'claude-haiku-4-5')
      assert.deepEqual((changed.body.settings as Json).tools, ['Read'])
      assert.equal(changed.body.permission_mode, 'acceptEdits')
      const rules = await call('PUT', `${path}/tool-permissions`, { allowed_tools: ['Read'] }, as('bob'))
      assert.equal(rules.status, 200, rules.raw)
      assert.equal(rules.body.permission_mode, 'acceptEdits')
      const after = (await call('GET', path, undefined, as('bob'))).body
      assert.deepEqual((after.settings as Json).tools, ['Read'])
      expectError(await call('PUT', `${path}/context`, { tools: ['Bash'] }, as('bob')), 403, 'forbidden')
      const all = await call('PUT', `${path}/context`, { tools: null }, as('bob'))
      assert.deepEqual((all.body.settings as Json).tools, ['Read', 'Grep'], 'all tools: all of his')

      // Carol finds Bob's conversation in the shared folder, but may not import it, open or closed: the
      // answer is the one for a conversation that does not exist.
      const claudeId = bobs.claude_session_id as string
      assert.ok((await listed('carol', root.workspace)).includes(claudeId))
      const importing = (user: string, id = claudeId) =>
        call('POST', '/api/sessions/import', { claude_session_id: id, workspace: root.workspace }, as(user))
      const absent = randomUUID()
      const missing = expectError(await importing('carol', absent), 404, 'not_found')
      const asMissing = (answer: { status: number; body: Json }) => {
        const error = expectError(answer, 404, 'not_found')
        assert.equal(error.message, (missing.message as string).replace(absent, claudeId))
      }
      asMissing(await importing('carol'))
      assert.equal((await call('DELETE', path, undefined, as('bob'))).status, 204)
      asMissing(await importing('carol'))
      // An admin sees every session: the closed one's conversation is theirs to continue.
      const adas = await importing('ada')
      assert.equal(adas.status, 201, adas.raw)
      assert.equal(adas.body.owner, 'ada')
      asMissing(await importing('carol'))
      expectError(await importing('bob'), 404, 'not_found')
    } finally {
      await gateway.close()
      await root.close()
    }
  })
})
