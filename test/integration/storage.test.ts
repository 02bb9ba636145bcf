/**
 * An event the store refuses fails its own turn, and only it; storage failures through the gateway, against the real CLI and the scripted model: a full database
 * (`store.maxSizeBytes` lowered to the file's size, which SQLite treats as a full disk) answers 507 in both
 * API shapes, `/v1/health` reports it, the gateway stays up and a turn under way goes on, and everything
 * is written once space returns. Also a direct tool call refused for its input, which is not recorded.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Config } from '../../src/config/index.js'
import { detectClaudeCli } from '../../src/engine/claude-cli.js'
import { GatewayError } from '../../src/engine/errors.js'
import { SessionManager } from '../../src/engine/sessions.js'
import { EventBus } from '../../src/events/bus.js'
import type { GatewayEvent } from '../../src/events/types.js'
import { StoreError } from '../../src/store/errors.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import type { SessionRecord } from '../../src/store/types.js'
import { quietLog, type TestHome, testHome, testLimits, withGateway } from '../support/harness.js'
import { expectError, type Json, nativeClient } from '../support/native-client.js'
import { postChatCompletion } from '../support/openai.js'
import { text } from '../support/scripted-anthropic.js'
import { waitUntil } from '../support/wait.js'

describe('storage errors', () => {
  const g = withGateway({
    pool: { warmSpares: 0 },
    // The most the edge lets through: one level more in an event than SQLite's JSON reads.
    server: { maxJsonDepth: 1_000 },
  })

  const { call } = nativeClient(() => g.gateway)

  /** A configuration reload that changes `store.maxSizeBytes`, as the file watcher would apply it. */
  function setMaxSize(bytes: number): void {
    const previous = g.gateway.context.config
    const config: Config = { ...previous, store: { ...previous.store, maxSizeBytes: bytes } }
    g.gateway.reconfigure({ config, previous, changed: ['store.maxSizeBytes'], restartRequired: [] })
  }

  const health = async () => {
    const response = await fetch(`${g.url}/v1/health`)
    return { status: response.status, body: (await response.json()) as Json }
  }

  test('a full disk: 507 in both shapes, health reports it, turns go on, and it recovers by itself', async () => {
    const created = await call('POST', '/api/sessions', {})
    assert.equal(created.status, 201)
    const id = created.body.id as string
    const first = await call('POST', `/api/sessions/${id}/messages`, { content: 'hello' })
    assert.equal(first.status, 200, first.raw)

    // Not a page more than the database has: writes that need one fail as on a full disk.
    setMaxSize(1)
    let refused: Awaited<ReturnType<typeof call>> | undefined
    for (let i = 0; i < 500 && !refused; i++) {
      const answer = await call('POST', '/api/sessions', {
        append_system_prompt: `${'x'.repeat(2_000)} ${i}`,
      })
      if (answer.status !== 201) refused = answer
    }
    assert.ok(refused, 'the database filled up')
    const error = expectError(refused, 507, 'storage_full')
    assert.match(String(error.message), /gateway\.sqlite is full/)
    assert.equal(refused.headers.get('retry-after'), '5')

    const chat = await postChatCompletion(g.gateway, {
      model: 'claude-code',
      messages: [{ role: 'user', content: 'hi' }],
    })
    assert.equal(chat.status, 507)
    const chatError = ((await chat.json()) as { error: Json }).error
    assert.equal(chatError.code, 'storage_full')
    assert.equal(chatError.type, 'server_error')

    const degraded = await health()
    assert.equal(degraded.status, 503)
    assert.equal(degraded.body.status, 'degraded')
    const store = degraded.body.store as Json
    assert.equal(store.ok, false)
    assert.equal(store.error, 'storage_full')
    assert.ok(!Number.isNaN(Date.parse(String(store.since))))
    assert.match(String(degraded.body.reason), /is full/)

    // A long turn while nothing can be written (the gateway used to exit here): it is answered, and its
    // events are read from memory meanwhile.
    const long = Array.from({ length: 200 }, (_, i) => `Paragraph ${i}: ${'lorem ipsum '.repeat(20)}`).join(
      '\n\n',
    )
    g.home.model.script(text(long))
    const turn = await call('POST', `/api/sessions/${id}/messages`, { content: 'write a lot' })
    assert.equal(turn.status, 200, turn.raw)
    assert.equal(turn.body.status, 'success')
    const replayed = await g.gateway.context.bus.replay(id)
    const completed = replayed.filter((event) => event.type === 'turn.completed')
    assert.equal(completed.length, 2)
    assert.deepEqual(
      replayed.map((event) => event.seq),
      replayed.map((_, i) => i + 1),
    )
    assert.equal((await health()).body.status, 'degraded')

    // Space returns: the waiting events are written by themselves, health clears, requests succeed.
    setMaxSize(0)
    await waitUntil(async () => (await health()).status === 200, 20_000, 'health ok again')
    assert.deepEqual((await health()).body.store, { ok: true })
    // Health says the storage works again (any write may tell, the audit trail's too); the events that
    // waited are written at the bus's next retry.
    await waitUntil(
      async () => (await g.gateway.context.store.readEvents(id)).length === replayed.length,
      20_000,
      'the waiting events written',
    )
    const stored = await g.gateway.context.store.readEvents(id)
    assert.deepEqual(
      stored.map((event) => event.seq),
      replayed.map((event) => event.seq),
    )
    assert.equal((await call('POST', '/api/sessions', {})).status, 201)
    const next = await call('POST', `/api/sessions/${id}/messages`, { content: 'and again' })
    assert.equal(next.status, 200, next.raw)
  })

  test('a direct tool call refused for its input is not recorded, and the tool call list still answers', async () => {
    const created = await call('POST', '/api/sessions', { workspace: g.home.workspace })
    const id = created.body.id as string
    // A body 1000 levels deep (the edge's most): recorded as an event, 1001, more than SQLite's JSON reads.
    let extra: unknown = 'leaf'
    for (let i = 0; i < 999; i++) extra = { a: extra }
    const refused = await call('POST', `/api/sessions/${id}/tools/read`, { path: 'x.txt', extra })
    expectError(refused, 400, 'invalid_input')
    const calls = await call('GET', `/api/sessions/${id}/tool-calls`)
    assert.equal(calls.status, 200, calls.raw)
    assert.deepEqual(calls.body.items, [])
    assert.deepEqual(
      (await g.gateway.context.store.readEvents(id)).filter((event) => event.type.startsWith('tool.')),
      [],
    )
  })
})

describe('the engine over a failing store', () => {
  let home: TestHome
  before(async () => {
    home = await testHome()
  })
  after(async () => {
    await home?.close()
  })

  /** An engine whose store is `store` with some of its methods replaced. */
  async function engineOver(store: SqliteStore, replaced: Partial<Record<keyof SqliteStore, unknown>>) {
    const cli = await detectClaudeCli(null, { PATH: '' })
    const wrapped = new Proxy(store, {
      get(target, property) {
        if (property in replaced) return replaced[property as keyof SqliteStore]
        const value = Reflect.get(target, property, target)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    const bus = await EventBus.open(wrapped)
    const engine = new SessionManager({
      store: wrapped,
      bus,
      log: quietLog(),
      cli,
      host: { cliPath: cli.path ?? undefined, env: home.env, settingSources: [], niceness: 10 },
      limits: testLimits(),
      defaults: { workspace: home.workspace, model: null, permissionMode: 'default' },
    })
    await engine.start()
    return { engine, bus }
  }

  test('an event the store refuses fails its own turn with a clear error; the session and the others go on', async () => {
    const store = new SqliteStore(home.dataDir)
    // The store refuses any batch holding a message that says POISON, as SQLite refuses a row it cannot take.
    const { engine, bus } = await engineOver(store, {
      appendEvents: async (batch: readonly GatewayEvent[]) => {
        if (batch.some((e) => e.type === 'turn.started' && JSON.stringify(e.content).includes('POISON')))
          throw new Error('malformed JSON')
        await store.appendEvents(batch)
      },
    })
    try {
      const a = await engine.createSession({})
      const b = await engine.createSession({})
      const poisoned = await engine.send(a.id, 'POISON')
      const other = await engine.send(b.id, 'hello')
      const failed = await poisoned.done
      assert.equal(failed.status, 'error')
      assert.equal(failed.error?.code, 'internal')
      assert.match(failed.error?.message ?? '', /An event of this turn could not be kept: malformed JSON/)
      assert.equal((await other.done).status, 'success')

      // The session goes on; nothing of it but the refused event is missing.
      const next = await engine.send(a.id, 'hello again')
      assert.equal((await next.done).status, 'success')
      const stored = await bus.replay(a.id)
      assert.equal(stored.filter((e) => e.type === 'turn.started').length, 1)
      assert.equal(stored.filter((e) => e.type === 'turn.completed').length, 2)
      assert.ok(stored.some((e) => e.type === 'error' && e.turnId === poisoned.id))
      assert.equal((await store.readEvents(b.id)).filter((e) => e.type === 'turn.completed').length, 1)

      // A message that cannot even be serialised is refused at once, before it takes the process.
      let deep: unknown = 'leaf'
      for (let i = 0; i < 10_000; i++) deep = { a: deep }
      await assert.rejects(
        engine.send(a.id, [{ type: 'text', text: 'hi', extra: deep }]),
        (error) => error instanceof GatewayError && error.code === 'invalid_request',
      )
      const after = await engine.send(a.id, 'still there')
      assert.equal((await after.done).status, 'success')
    } finally {
      await engine.shutdown(0)
      await store.close()
    }
  })

  test('session records the storage refuses during a turn are kept, and written once it works again', async () => {
    const store = new SqliteStore(home.dataDir)
    let full = false
    const { engine } = await engineOver(store, {
      updateSession: async (record: SessionRecord) => {
        if (full) throw new StoreError('storage_full', 'database or disk is full', 5_000)
        await store.updateSession(record)
      },
    })
    try {
      const session = await engine.createSession({})
      assert.equal((await (await engine.send(session.id, 'hello')).done).status, 'success')
      // The turn's state changes and its end save the record from the runner's callbacks: this used to
      // throw out of them and stop the gateway.
      full = true
      assert.equal((await (await engine.send(session.id, 'again')).done).status, 'success')
      assert.equal((await engine.getSession(session.id))?.turns, 2)
      assert.equal((await store.getSession(session.id))?.turns, 1)
      full = false
      await waitUntil(
        async () => (await store.getSession(session.id))?.turns === 2,
        10_000,
        'the record written',
      )
      assert.equal((await store.getSession(session.id))?.state, (await engine.getSession(session.id))?.state)
    } finally {
      await engine.shutdown(0)
      await store.close()
    }
  })
})
