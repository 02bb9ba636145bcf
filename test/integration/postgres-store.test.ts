/**
 * PostgresStore (src/store/postgres/) against a real server: versioned migrations (fresh, again, several
 * openers at once, a newer schema refused), session records, the event log by sequence and by position
 * (positions in commit order with two stores writing at once, as two replicas do), tombstones, the read
 * models answering as SQLite's on the same events, and storage failures as StoreErrors with health()
 * recovering. Each test has a schema of its own, dropped after it. Skipped, saying why, when no server
 * answers at TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test), but in CI (CI=true).
 */
import assert from 'node:assert/strict'
import { createServer, type Server, Socket } from 'node:net'
import { describe, type TestContext, test } from 'node:test'
import Database from 'better-sqlite3'
import type pg from 'pg'
import { positionOf } from '../../src/events/positions.js'
import { TOOL_CALL_STATUSES } from '../../src/events/tool-calls.js'
import type { EventBody, GatewayEvent } from '../../src/events/types.js'
import { isStoreError } from '../../src/store/errors.js'
import { storeErrorOf } from '../../src/store/postgres/errors.js'
import { SCHEMA_VERSION } from '../../src/store/postgres/migrations.js'
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres/store.js'
import type { SqliteStore } from '../../src/store/sqlite.js'
import type { AgentFigure, AgentFigures, Store, ToolCallQuery } from '../../src/store/types.js'
import { postgresSchemas } from '../support/postgres-schemas.js'
import { POSTGRES_URL, servicesSkip } from '../support/services.js'
import {
  callBody,
  checkListFilters,
  checkRecordUpdates,
  completedBody,
  storedEvent as event,
  ids,
  openTempStore,
  readyBody,
  listedRecord as record,
  resultBody,
  seqs,
  T0,
  usage,
} from '../support/store-fixtures.js'

const skip = await servicesSkip('PostgresStore tests', { postgres: true })

const { admin, schemaFor, openStore: open } = postgresSchemas('ccgw_test')

/** A connection to hold locks with, its transaction ended after the test, before its schema is dropped. */
async function lockHolder(t: TestContext): Promise<pg.PoolClient> {
  const holder = await admin.connect()
  t.after(async () => {
    await holder.query('ROLLBACK').catch(() => {})
    holder.release()
  })
  return holder
}

describe('PostgresStore', { skip }, () => {
  test('migrations: a fresh schema is created, opening again changes nothing, a newer one is refused', async (t) => {
    const schema = schemaFor(t)
    const first = await openPostgresStore(POSTGRES_URL, { schema })
    await first.insertSession(record('kept'))
    await first.close()
    const versions = async () =>
      (await admin.query(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`)).rows.map(
        (row) => row.version,
      )
    assert.deepEqual(
      await versions(),
      Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
    )

    const again = await open(t, schema)
    assert.deepEqual(
      await versions(),
      Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
    )
    assert.equal((await again.getSession('kept'))?.id, 'kept')

    await admin.query(`INSERT INTO ${schema}.schema_migrations (version) VALUES ($1)`, [SCHEMA_VERSION + 1])
    await assert.rejects(
      openPostgresStore(POSTGRES_URL, { schema }),
      (error: Error) =>
        !isStoreError(error) &&
        error.message.includes(`schema version ${SCHEMA_VERSION + 1}, newer than this gateway's`),
    )
  })

  test('migrations: replicas opening a new schema at once migrate it once', async (t) => {
    const schema = schemaFor(t)
    const stores = await Promise.all(
      Array.from({ length: 6 }, () => openPostgresStore(POSTGRES_URL, { schema })),
    )
    t.after(() => Promise.all(stores.map((store) => store.close())))
    const { rows } = await admin.query(`SELECT version FROM ${schema}.schema_migrations`)
    assert.equal(rows.length, SCHEMA_VERSION)
    await stores[0]!.insertSession(record('s'))
    for (const store of stores) assert.equal(await store.countSessions(), 1)
  })

  test('a schema name that would need quoting is refused before connecting', async () => {
    await assert.rejects(
      openPostgresStore(POSTGRES_URL, { schema: 'Robert"; DROP' }),
      /not a plain schema name/,
    )
  })

  test('sessions: insert, get, update, delete, count', async (t) => {
    const store = await open(t)
    await checkRecordUpdates(store)
    await assert.rejects(store.insertSession(record('s1')), (error: Error) => !isStoreError(error))
    await store.deleteSession('s1')
    assert.equal(await store.getSession('s1'), undefined)
    assert.equal(await store.countSessions(), 0)
  })

  test('listSessions: newest update first (ties by id in byte order), pages with the total, filters', async (t) => {
    const store = await open(t)
    for (const [id, updatedAt] of [
      ['c', 3_000],
      ['a', 1_000],
      ['e', 5_000],
      ['b', 3_000],
      ['B', 3_000],
      ['d', 4_000],
    ] as const)
      await store.insertSession(record(id, { updatedAt }))
    assert.equal(await store.countSessions(), 6)
    const all = await store.listSessions({ limit: 100, offset: 0 })
    assert.deepEqual([ids(all.items), all.total], [['e', 'd', 'B', 'b', 'c', 'a'], 6])
    assert.deepEqual(await store.listSessions({ limit: 2, offset: 0 }), {
      items: [await store.getSession('e'), await store.getSession('d')],
      total: 6,
    })
    assert.deepEqual(ids((await store.listSessions({ limit: 2, offset: 4 })).items), ['c', 'a'])
    assert.deepEqual(await store.listSessions({ limit: 2, offset: 10 }), { items: [], total: 6 })

    await checkListFilters(await open(t))
  })

  test('events: append, pages by sequence number with types and limits, last sequence number', async (t) => {
    const unreadable: [string, number][] = []
    const schema = schemaFor(t)
    const store = await open(t, schema, {
      onUnreadableEvent: (session, seq) => unreadable.push([session, seq]),
    })
    await store.appendEvents([event('s', 1), event('s', 2), event('other', 1)])
    await store.appendEvents([event('s', 4), event('s', 3)])
    await store.appendEvents([])
    assert.deepEqual(await store.readEvents('s'), [
      event('s', 1),
      event('s', 2),
      event('s', 3),
      event('s', 4),
    ])
    assert.deepEqual(seqs(await store.readEvents('s', { afterSeq: 2 })), [3, 4])
    assert.deepEqual(seqs(await store.readEvents('s', { afterSeq: 1, limit: 2 })), [2, 3])
    assert.deepEqual(await store.readEvents('nothing'), [])
    assert.equal(await store.lastSeq('s'), 4)
    assert.equal(await store.lastSeq('nothing'), 0)
    assert.deepEqual(await store.readEventPage('s', { afterSeq: 1, limit: 2 }), {
      events: [event('s', 2), event('s', 3)],
      last: 3,
      end: false,
    })
    assert.deepEqual(await store.readEventPage('s', { afterSeq: 3, limit: 2 }), {
      events: [event('s', 4)],
      last: 4,
      end: true,
    })

    // Kept as the bus serialised it: the same text, key order and all.
    const ready = event('s', 5, readyBody)
    const call = event('s', 6, {
      type: 'tool.call',
      turnId: 't',
      toolUseId: 'u1',
      name: 'Bash',
      input: { z: 1, a: [1.5, 1e21, 'é\u0000'] },
      parentToolUseId: null,
    })
    await store.appendEvents([ready, call])
    const stored = await admin.query(
      `SELECT event FROM ${schema}.events WHERE session_id = 's' AND seq >= 5 ORDER BY seq`,
    )
    assert.deepEqual(
      stored.rows.map((row) => row.event),
      [JSON.stringify(ready), JSON.stringify(call)],
    )

    // Filtered by type: the rows of other types count toward the limit and `last`, as SQLite's do.
    const calls = await store.readEventPage('s', { types: ['tool.call', 'session.ready'], limit: 5 })
    assert.deepEqual([seqs(calls.events), calls.last, calls.end], [[5, 6], 6, true])
    const some = await store.readEventPage('s', { types: ['tool.call'], afterSeq: 0, limit: 1 })
    assert.deepEqual([seqs(some.events), some.last, some.end], [[6], 6, false])

    // A row that cannot be read is left out, and told; the page goes on past it.
    await admin.query(`UPDATE ${schema}.events SET event = '{' WHERE session_id = 's' AND seq = 2`)
    const page = await store.readEventPage('s', { limit: 3 })
    assert.deepEqual([seqs(page.events), page.last], [[1, 3], 3])
    assert.deepEqual(unreadable, [['s', 2]])
  })

  test('positions: handed out in commit order, set on the events once written, read after a position', async (t) => {
    const store = await open(t)
    assert.equal(await store.lastPos(), 0)
    const batch = [event('a', 1), event('b', 1), event('a', 2)]
    await store.appendEvents(batch)
    assert.deepEqual(batch.map(positionOf), [1, 2, 3])
    await store.appendEvents([event('b', 2, { type: 'session.state', state: 'idle', previous: 'new' })])
    assert.equal(await store.lastPos(), 4)
    assert.equal(await store.reservedPos(), 4)
    await store.reservePositions(1_000)
    assert.equal(await store.reservedPos(), 4, 'nothing is reserved ahead: positions come with the commit')

    const all = await store.readEventsAfter(0)
    assert.deepEqual(
      all.events.map(({ pos, event }) => [pos, event.sessionId, event.seq]),
      [
        [1, 'a', 1],
        [2, 'b', 1],
        [3, 'a', 2],
        [4, 'b', 2],
      ],
    )
    assert.deepEqual([all.last, all.end], [4, true])
    const page = await store.readEventsAfter(1, { limit: 2 })
    assert.deepEqual([page.events.map((e) => e.pos), page.last, page.end], [[2, 3], 3, false])
    const ofB = await store.readEventsAfter(0, { sessionIds: ['b'] })
    assert.deepEqual(
      ofB.events.map((e) => e.pos),
      [2, 4],
    )
    const states = await store.readEventsAfter(0, { types: ['session.state'] })
    assert.deepEqual(
      states.events.map((e) => e.pos),
      [4],
    )
    const both = await store.readEventsAfter(0, { sessionIds: ['a'], types: ['session.state'] })
    assert.deepEqual([both.events, both.last, both.end], [[], 0, true])
  })

  test('positions: two stores writing at once commit in position order; a follower sees every event once', async (t) => {
    const schema = schemaFor(t)
    const replicas = [await open(t, schema, { poolSize: 4 }), await open(t, schema, { poolSize: 4 })]
    const reader = await open(t, schema, { poolSize: 2 })
    const written: GatewayEvent[] = []
    let done = false
    /** Each replica writes its own sessions, several batches at once, of 1 to 6 events. */
    const write = async (replica: PostgresStore, name: string) => {
      await Promise.all(
        [1, 2, 3].map(async (n) => {
          const sessionId = `${name}${n}`
          let seq = 0
          for (let round = 0; round < 25; round++) {
            const size = 1 + ((round * 7 + n) % 6)
            const batch = Array.from({ length: size }, () => event(sessionId, ++seq))
            await replica.appendEvents(batch)
            written.push(...batch)
          }
        }),
      )
    }
    const seen: { pos: number; key: string }[] = []
    const follow = async () => {
      let cursor = 0
      for (;;) {
        const finished = done
        const page = await reader.readEventsAfter(cursor, { limit: 7 })
        for (const { pos, event } of page.events) seen.push({ pos, key: `${event.sessionId}#${event.seq}` })
        cursor = page.last
        if (finished && page.end) return
      }
    }
    const following = follow()
    await Promise.all([write(replicas[0]!, 'a'), write(replicas[1]!, 'b')])
    done = true
    await following

    const positions = seen.map((entry) => entry.pos)
    assert.ok(
      positions.every((pos, i) => i === 0 || pos > positions[i - 1]!),
      'positions strictly increase as read',
    )
    assert.equal(seen.length, written.length, 'every event read once')
    assert.equal(new Set(seen.map((entry) => entry.key)).size, written.length)
    assert.deepEqual(
      positions,
      Array.from({ length: written.length }, (_, i) => i + 1),
      'none skipped',
    )
    const stored = new Map(seen.map((entry) => [entry.key, entry.pos]))
    for (const e of written) assert.equal(positionOf(e), stored.get(`${e.sessionId}#${e.seq}`))
  })

  test('a sequence number stored already is refused with a plain error, and its batch left unwritten', async (t) => {
    const store = await open(t)
    await store.appendEvents([event('s', 1), event('s', 2)])
    await assert.rejects(
      store.appendEvents([event('s', 3), event('s', 2)]),
      (error: Error) =>
        !isStoreError(error) && /stored already/.test(error.message) && /\(s, 2\)/.test(error.message),
    )
    assert.deepEqual(seqs(await store.readEvents('s')), [1, 2])
    assert.deepEqual(store.health(), { ok: true })
    const next = [event('s', 3)]
    await store.appendEvents(next)
    assert.equal(positionOf(next[0]!), 3, 'the refused batch took no positions')
  })

  test('tombstones: a purged session keeps its session.deleted, outside the sequence like session.created', async (t) => {
    const store = await open(t)
    await store.insertSession(record('gone', { agent: 'reviewer' }))
    const created = event('gone', 0, {
      type: 'session.created',
      title: null,
      workspace: '/w',
      agent: 'reviewer',
    })
    await store.appendEvents([
      created,
      event('gone', 1, { type: 'turn.started', turnId: 't1', content: 'go' }),
      event('gone', 2, {
        type: 'tool.call',
        turnId: 't1',
        toolUseId: 'c1',
        name: 'Bash',
        input: {},
        parentToolUseId: null,
      }),
      event('gone', 3, {
        type: 'file.changed',
        turnId: 't1',
        toolUseId: 'c1',
        tool: 'Write',
        path: '/w/a',
        kind: 'created',
        before: null,
        after: 'a\n',
      }),
    ])
    await store.appendEvents([
      event('kept', 0, { type: 'session.created', title: null, workspace: '/w', agent: null }),
    ])
    assert.deepEqual(
      seqs(await store.readEvents('gone')),
      [1, 2, 3],
      'events outside the sequence are not paged',
    )
    assert.equal((await store.toolCalls({ limit: 10, offset: 0, liveSessions: [] })).total, 1)

    await store.deleteSession('gone')
    assert.equal(await store.getSession('gone'), undefined)
    assert.deepEqual(await store.readEvents('gone'), [])
    assert.equal(await store.lastSeq('gone'), 0)
    assert.equal((await store.toolCalls({ limit: 10, offset: 0, liveSessions: [] })).total, 0)
    assert.equal((await store.fileChanges('gone', { limit: 10, offset: 0 }, 1_000)).files.length, 0)

    const tombstone = event('gone', 0, { type: 'session.deleted' })
    await store.appendEvents([tombstone])
    const replay = await store.readEventsAfter(0)
    assert.deepEqual(
      replay.events.map(({ pos, event }) => [pos, event.sessionId, event.type]),
      [
        [5, 'kept', 'session.created'],
        [6, 'gone', 'session.deleted'],
      ],
    )
    // A second event outside the sequence of the same session is kept too (its position tells them apart).
    await store.appendEvents([event('kept', 0, { type: 'session.deleted' })])
    assert.deepEqual(
      (await store.readEventsAfter(0, { sessionIds: ['kept'] })).events.map((e) => e.event.type),
      ['session.created', 'session.deleted'],
    )
  })

  test('the read models answer as SQLite’s on the same events, whatever the batches', async (t) => {
    for (const size of [1, 4, 1_000]) {
      const sqlite = openTempStore(t)
      const schema = schemaFor(t)
      const postgres = await open(t, schema)
      const both = async (run: (store: Store) => Promise<unknown> | unknown) => {
        await run(sqlite)
        await run(postgres)
      }
      await both(async (store) => {
        await store.insertSession(record('p1', { agent: 'reviewer' }))
        await store.insertSession(record('p2'))
        await store.insertSession(record('p3', { agent: 'coder' }))
        await store.insertSession(record('p4'))
      })
      const events = parityEvents()
      for (let at = 0; at < events.length; at += size) {
        const batch = events.slice(at, at + size)
        await both((store) => store.appendEvents(batch.map((e) => ({ ...e }))))
      }
      // A batch out of order: a change is completed only from a change before it in the session.
      const change = (seq: number, sides: { before?: string | null; after?: string }) =>
        event('p4', seq, {
          type: 'file.changed',
          turnId: 't',
          toolUseId: 'w',
          tool: 'Edit',
          path: '/w/o',
          kind: 'modified',
          ...sides,
        })
      const last = Math.max(...events.filter((e) => e.sessionId === 'p4').map((e) => e.seq))
      await both((store) =>
        store.appendEvents([
          change(last + 3, { after: 'a\nb\nc\n' }),
          change(last + 2, { after: 'a\nb\n' }),
          change(last + 1, { before: null, after: 'a\n' }),
          change(last + 4, { after: 'c\n' }),
        ]),
      )
      await compareReadModels(sqlite, postgres, `batches of ${size}`)
      await compareTables(sqlite, schema, `batches of ${size}`)
    }
  })

  test('rows the read models refuse are told, and their events kept', async (t) => {
    const failures: [string, readonly string[]][] = []
    const store = await open(t, undefined, {
      onReadModelError: (error, sessions) => failures.push([error.message, sessions]),
    })
    await store.insertSession(record('b'))
    const bad = { ...callBody('t1', 'bad', 'Bash', {}), name: undefined } as unknown as EventBody
    await store.appendEvents([
      event('b', 1, { type: 'turn.started', turnId: 't1', content: 'go' }),
      event('b', 2, callBody('t1', 'good', 'Bash', {})),
      event('b', 3, bad),
    ])
    assert.deepEqual(seqs(await store.readEvents('b')), [1, 2, 3])
    assert.equal(failures.length, 1)
    assert.match(failures[0]![0], /null value|not-null/)
    assert.deepEqual(failures[0]![1], ['b'])
    assert.deepEqual(store.health(), { ok: true })
    // The next batch is derived as usual.
    await store.appendEvents([event('b', 4, callBody('t1', 'next', 'Bash', {}))])
    assert.deepEqual(
      (await store.toolCalls({ limit: 10, offset: 0, liveSessions: ['b'] })).items.map((c) => c.toolUseId),
      ['next'],
    )
  })

  test('a server that cannot be reached: StoreError, health() tells until a write succeeds', async (t) => {
    const proxy = await startProxy()
    t.after(() => proxy.stop())
    const proxied = new URL(POSTGRES_URL)
    proxied.hostname = '127.0.0.1'
    proxied.port = String(proxy.port)
    const store = await open(t, undefined, { connectTimeoutMs: 1_000 }, proxied.href)
    await store.insertSession(record('s'))
    assert.deepEqual(store.health(), { ok: true })

    await proxy.stop()
    const failed = await store.getSession('s').then(
      () => assert.fail('read through a stopped proxy'),
      (error: unknown) => error,
    )
    assert.ok(isStoreError(failed), String(failed))
    assert.equal(failed.code, 'storage_unavailable')
    await assert.rejects(store.appendEvents([event('s', 1)]), isStoreError)
    const health = store.health()
    assert.ok(!health.ok && health.error === 'storage_unavailable' && health.since <= Date.now())
    assert.match(health.message, /127\.0\.0\.1/)

    await proxy.start()
    assert.equal((await store.getSession('s'))?.id, 's')
    assert.equal(store.health().ok, false, 'a read is not proof enough: only a write clears the failure')
    await store.appendEvents([event('s', 1)])
    assert.deepEqual(store.health(), { ok: true })
  })

  test('opening a server that cannot be reached rejects with a StoreError naming it without credentials', async () => {
    const closed = await closedPort()
    const error = await openPostgresStore(`postgres://gateway:secret-password@127.0.0.1:${closed}/test`, {
      connectTimeoutMs: 1_000,
    }).then(
      () => assert.fail('opened a closed port'),
      (failure: unknown) => failure,
    )
    assert.ok(isStoreError(error), String(error))
    assert.equal(error.code, 'storage_unavailable')
    assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${closed}/test`))
    assert.doesNotMatch(error.message, /secret-password/)
  })

  test('a statement over the timeout (a lock held elsewhere) fails as the storage, then writes go on', async (t) => {
    const holder = await lockHolder(t)
    const schema = schemaFor(t)
    const store = await open(t, schema, { statementTimeoutMs: 300 })
    await holder.query('BEGIN')
    await holder.query(`SELECT last FROM ${schema}.positions FOR UPDATE`)
    const started = Date.now()
    const error = await store.appendEvents([event('s', 1)]).then(
      () => assert.fail('wrote past a held lock'),
      (failure: unknown) => failure,
    )
    assert.ok(isStoreError(error) && /57014/.test(error.message), String(error))
    assert.ok(Date.now() - started < 5_000)
    assert.equal(store.health().ok, false)
    await holder.query('ROLLBACK')
    await store.appendEvents([event('s', 1)])
    assert.deepEqual(store.health(), { ok: true })
  })

  test('a connection ended by the server (admin shutdown) mid-write fails as the storage; the next write works', async (t) => {
    const holder = await lockHolder(t)
    const schema = schemaFor(t)
    const name = `ccgw-test-${schema}`
    const store = await open(t, schema, { applicationName: name })
    await store.insertSession(record('s'))
    // The write waits for a lock held here, so that its connection is ended in the middle of it.
    await holder.query('BEGIN')
    await holder.query(`SELECT last FROM ${schema}.positions FOR UPDATE`)
    // Its outcome taken at once: the write may fail before the terminating statement below answers.
    const writing = store.appendEvents([event('s', 1)]).then(
      () => new Error('wrote on an ended connection'),
      (failure: unknown) => failure,
    )
    const waiting = async () =>
      (
        await admin.query(
          "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
          [name],
        )
      ).rows
    let blocked = await waiting()
    for (let i = 0; i < 200 && blocked.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10))
      blocked = await waiting()
    }
    assert.equal(blocked.length, 1)
    await admin.query('SELECT pg_terminate_backend($1)', [blocked[0].pid])
    const error = await writing
    assert.ok(isStoreError(error) && error.code === 'storage_unavailable', String(error))
    await holder.query('ROLLBACK')
    // Every other connection of the pool ended too, idle: the pool opens new ones.
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
      name,
    ])
    await store.appendEvents([event('s', 1)])
    assert.deepEqual(store.health(), { ok: true })
    assert.deepEqual(seqs(await store.readEvents('s')), [1])
  })
})

test('PostgreSQL failures that are the storage’s, and those about the data', () => {
  const pgError = (code: string) => Object.assign(new Error(`failure ${code}`), { code })
  assert.equal(storeErrorOf(pgError('53100'), 'db')?.code, 'storage_full')
  for (const code of ['25006', '57P01', '57014', '08006', '53300', 'XX001', 'ECONNREFUSED'])
    assert.equal(storeErrorOf(pgError(code), 'db')?.code, 'storage_unavailable', code)
  for (const code of ['23505', '23502', '22P02', '42P01'])
    assert.equal(storeErrorOf(pgError(code), 'db'), undefined, code)
  assert.equal(
    storeErrorOf(new Error('Connection terminated unexpectedly'), 'db')?.code,
    'storage_unavailable',
  )
  assert.equal(storeErrorOf(new TypeError('x is undefined'), 'db'), undefined)
})

/**
 * Three sessions' events, interleaved, with every way a call ends (succeeded, failed, denied by a rule and
 * by an answer, interrupted by the turn, the interrupt and the process, timed out, direct), subagents,
 * turns of several agents, and code changes counted from both sides, from the previous change, or not.
 */
function parityEvents(): GatewayEvent[] {
  const logs = new Map<string, number>()
  let clock = T0
  const e = (sessionId: string, body: EventBody): GatewayEvent => {
    const seq = (logs.get(sessionId) ?? 0) + 1
    logs.set(sessionId, seq)
    clock += 10
    return { ...body, seq, ts: clock, sessionId } as GatewayEvent
  }
  const stop = (sessionId: string, turnId: string, parent: string | null = null) =>
    e(sessionId, {
      type: 'message.stop',
      turnId,
      stopReason: 'tool_use',
      usage: usage(1, 1),
      parentToolUseId: parent,
    })
  const change = (
    sessionId: string,
    path: string,
    kind: 'created' | 'modified' | 'deleted',
    sides: { before?: string | null; after?: string },
  ) =>
    e(sessionId, { type: 'file.changed', turnId: 't', toolUseId: 'w', tool: 'Write', path, kind, ...sides })
  const big = 'line\n'.repeat(400)
  return [
    e('p1', { type: 'turn.started', turnId: 't1', content: 'go' }),
    e('p2', { type: 'turn.started', turnId: 'u1', content: 'go' }),
    e('p1', callBody('t1', 'bash1', 'Bash', { command: 'ls' })),
    e('p1', {
      type: 'permission.requested',
      turnId: 't1',
      requestId: 'q1',
      toolUseId: 'bash1',
      toolName: 'Bash',
      input: {},
    }),
    e('p2', callBody('u1', 'grep1', 'Grep', {})),
    e('p1', { type: 'permission.resolved', turnId: 't1', requestId: 'q1', behavior: 'allow', by: 'client' }),
    e('p1', resultBody('t1', 'bash1', 'Bash')),
    e('p1', callBody('t1', 'task1', 'Task', { subagent_type: 'explorer', prompt: 'look' })),
    e('p1', callBody('t1', 'read1', 'Read', {}, 'task1')),
    e('p2', resultBody('u1', 'grep1', 'Grep', true)),
    e('p1', resultBody('t1', 'read1', 'Read', true, 'task1')),
    stop('p1', 't1', 'task1'),
    e('p1', {
      ...resultBody('t1', 'task1', 'Task'),
      structured: { usage: { input_tokens: 42, output_tokens: 10 } },
    }),
    change('p1', '/w/a.txt', 'created', { before: null, after: 'one\ntwo\n' }),
    change('p2', '/w/big.txt', 'modified', { before: big, after: `${big}more\n` }),
    e('p1', {
      type: 'usage',
      turnId: 't1',
      model: 'claude-sonnet-4-5',
      usage: usage(100, 20),
      costUsd: 0.01,
    }),
    e('p1', completedBody('t1', 'success', 400)),
    e('p2', callBody('u1', 'agent1', 'Agent', { prompt: 'no type' })),
    e('p2', callBody('u1', 'sub1', 'Glob', {}, 'agent1')),
    e('p2', resultBody('u1', 'sub1', 'Glob', false, 'agent1')),
    e('p2', resultBody('u1', 'agent1', 'Agent')),
    e('p1', { type: 'turn.started', turnId: 't2', content: 'again' }),
    e('p1', callBody('t2', 'edit1', 'Edit', {})),
    change('p1', '/w/a.txt', 'modified', { after: 'one\nthree\nfour\n' }),
    change('p1', '/w/a.txt', 'modified', { after: 'one\n' }),
    e('p1', resultBody('t2', 'edit1', 'Edit', true)),
    e('p1', callBody('t2', 'write1', 'Write', {})),
    e('p1', {
      type: 'permission.requested',
      turnId: 't2',
      requestId: 'q2',
      toolUseId: 'write1',
      toolName: 'Write',
      input: {},
    }),
    e('p1', { type: 'permission.resolved', turnId: 't2', requestId: 'q2', behavior: 'deny', by: 'rule' }),
    e('p1', { ...resultBody('t2', 'refused1', 'Edit', true), denied: true }),
    e('p1', callBody('t2', 'refused1', 'Edit', {})),
    e('p1', { ...resultBody('t2', 'refused1', 'Edit', true), denied: true }),
    e('p1', callBody('t2', 'hang1', 'Bash', {})),
    e('p1', { type: 'usage', turnId: 't2', model: 'claude-opus-4-1', usage: usage(7, 3), costUsd: 0.02 }),
    e('p1', completedBody('t2', 'interrupted', 300)),
    e('p3', { type: 'turn.started', turnId: 'v1', content: 'go' }),
    e('p3', callBody('v1', 'fn1', 'mcp__client__lookup', {})),
    e('p3', callBody('v1', 'bash3', 'Bash', {})),
    e('p3', { type: 'error', turnId: 'v1', code: 'tool_timeout', message: 'late' }),
    e('p3', { ...callBody('direct-1', 'direct1', 'read', {}), direct: true }),
    e('p3', callBody('v1', 'asked3', 'Bash', {})),
    e('p3', {
      type: 'permission.requested',
      turnId: 'v1',
      requestId: 'q3',
      toolUseId: 'asked3',
      toolName: 'Bash',
      input: {},
    }),
    e('p3', {
      type: 'permission.resolved',
      turnId: 'v1',
      requestId: 'q3',
      behavior: 'deny',
      by: 'interrupt',
    }),
    change('p3', '/w/gone.txt', 'deleted', { before: 'x\ny\n' }),
    change('p3', '/w/new.txt', 'modified', { after: 'k\n' }),
    change('p3', '/w/new.txt', 'modified', { after: 'k\nl\n' }),
    change('p3', '/w/b.txt', 'created', { before: null, after: 'b\n' }),
    change('p3', '/w/b.txt', 'modified', { before: 'b\n', after: 'b\nc\n' }),
    e('p3', { type: 'usage', turnId: 'v1', model: 'claude-haiku-4-5', usage: usage(1, 1), costUsd: 0.001 }),
    e('p3', completedBody('v1', 'error', 150)),
    e('p3', { ...completedBody('local', 'success', 1), localCommand: 'cost' }),
    e('p2', { type: 'usage', turnId: 'u1', model: 'claude-sonnet-4-5', usage: usage(9, 9), costUsd: 0.03 }),
    e('p2', completedBody('u1', 'success', 700)),
    e('p2', { type: 'turn.started', turnId: 'u2', content: 'more' }),
    e('p2', callBody('u2', 'long1', 'Bash', {})),
    e('p2', callBody('u2', 'task2', 'Task', { subagent_type: 'explorer' })),
    e('p2', { type: 'session.state', state: 'hibernated', previous: 'idle' }),
    e('p3', { type: 'turn.started', turnId: 'v2', content: 'next' }),
    e('p3', callBody('v2', 'open3', 'Bash', {})),
    // Events naming calls no longer open: a subagent's result after its session's process went away, a
    // permission asked after the call's result.
    e('p2', {
      ...resultBody('u2', 'task2', 'Task'),
      structured: { usage: { input_tokens: 5, output_tokens: 6 } },
    }),
    e('p3', callBody('v2', 'late1', 'Bash', {})),
    e('p3', resultBody('v2', 'late1', 'Bash')),
    e('p3', {
      type: 'permission.requested',
      turnId: 'v2',
      requestId: 'q4',
      toolUseId: 'late1',
      toolName: 'Bash',
      input: {},
    }),
    e('p3', { type: 'permission.resolved', turnId: 'v2', requestId: 'q4', behavior: 'deny', by: 'client' }),
    // Enough turns of one agent for the percentiles to tell nearest ranks apart.
    ...Array.from({ length: 23 }, (_, i) => [
      e('p4', { type: 'turn.started', turnId: `w${i}`, content: 'go' }),
      e('p4', completedBody(`w${i}`, i % 5 === 0 ? 'error' : 'success', 100 + ((i * 37) % 23) * 10)),
    ]).flat(),
  ]
}

/** Every question the read models answer, asked of both stores. */
async function compareReadModels(sqlite: Store, postgres: Store, label: string): Promise<void> {
  const same = async <T>(what: string, ask: (store: Store) => Promise<T>) =>
    assert.deepEqual(await ask(postgres), await ask(sqlite), `${label}: ${what}`)
  const queries: Partial<ToolCallQuery>[] = [
    {},
    { name: 'Bash' },
    { sessionId: 'p1' },
    { agent: 'explorer' },
    { agent: 'reviewer', name: 'Edit' },
    { caller: 'subagent' },
    { caller: 'direct' },
    { since: T0 + 300 },
    { limit: 3, offset: 2 },
    { limit: 3, offset: 200 },
    { sessionId: 'p2', limit: 2, offset: 0 },
  ]
  for (const status of TOOL_CALL_STATUSES) {
    queries.push({ status })
    queries.push({ status, liveSessions: ['p1', 'p2', 'p3'] })
    queries.push({ status, liveSessions: ['p3'], sessionId: 'p3' })
  }
  for (const query of queries)
    await same(`toolCalls ${JSON.stringify(query)}`, (store) =>
      store.toolCalls({ limit: 100, offset: 0, liveSessions: [], ...query }),
    )
  const statuses = new Set<string>()
  for (const status of TOOL_CALL_STATUSES)
    if ((await postgres.toolCalls({ limit: 1, offset: 0, liveSessions: ['p3'], status })).total > 0)
      statuses.add(status)
  assert.equal(statuses.size, TOOL_CALL_STATUSES.length, `${label}: every status is compared`)
  await same('sessionsWithRunningCalls', async (store) => (await store.sessionsWithRunningCalls()).sort())
  // Costs are summed in another order: equal as far as a float sum of cents tells.
  const rounded = async (figures: Promise<AgentFigures>) => {
    const { main, subagents } = await figures
    const round = (figure: AgentFigure) => ({
      ...figure,
      costUsd: figure.costUsd === null ? null : Math.round(figure.costUsd * 1e9) / 1e9,
    })
    return { main: main.map(round), subagents: subagents.map(round) }
  }
  await same('agentFigures', (store) => rounded(store.agentFigures()))
  await same('agentFigures since', (store) => rounded(store.agentFigures(T0 + 250)))
  for (const sessionId of ['p1', 'p2', 'p3', 'nobody'])
    for (const maxBytes of [1024 * 1024, 1_000, 2])
      await same(`fileChanges ${sessionId} ${maxBytes}`, (store) =>
        store.fileChanges(sessionId, { limit: 100, offset: 0 }, maxBytes),
      )
  await same('fileChanges page', (store) => store.fileChanges('p3', { limit: 2, offset: 1 }, 1024 * 1024))
  for (const [sessionId, path, seq] of [
    ['p1', '/w/a.txt', 100],
    ['p1', '/w/a.txt', 13],
    ['p1', '/w/a.txt', 1],
    ['p3', '/w/new.txt', 100],
    ['p3', '/w/none', 100],
  ] as const)
    await same(`fileChangeSeqs ${sessionId} ${path} ${seq}`, (store) =>
      store.fileChangeSeqs(sessionId, path, seq),
    )
}

/**
 * The rows of the read models' tables themselves, in both databases: what no query shows (a turn's model, a
 * call's facts) is derived alike too.
 */
function compareTables(sqlite: SqliteStore, schema: string, label: string): Promise<void> {
  const file = new Database(sqlite.file, { readonly: true })
  const tables = {
    tool_calls: `session_id, tool_use_id, seq, ts, name, turn_id, caller, agent, subagent, status, finished_at,
      duration_ms, input_tokens, output_tokens, request_id, result_error, result_denied, resolved_behavior,
      resolved_by, ended, ended_at, unanswered, last_seq`,
    turns:
      'session_id, turn_id, seq, agent, model, status, started_at, duration_ms, input_tokens, output_tokens, cost_usd',
    file_changes: `session_id, seq, ts, turn_id, tool_use_id, tool, path, kind, creates, added, removed, known, size`,
  }
  const sorted = (rows: Record<string, unknown>[]) =>
    rows
      .map((row) =>
        JSON.stringify(
          Object.fromEntries(
            Object.entries(row).map(([key, value]) => [
              key,
              typeof value === 'boolean' ? Number(value) : value,
            ]),
          ),
        ),
      )
      .sort()
  return (async () => {
    try {
      for (const [table, columns] of Object.entries(tables)) {
        const expected = file.prepare(`SELECT ${columns} FROM ${table}`).all() as Record<string, unknown>[]
        const { rows } = await admin.query(`SELECT ${columns} FROM ${schema}.${table}`)
        assert.ok(expected.length > 0, `${label}: ${table} has rows`)
        assert.deepEqual(sorted(rows.map(numbers)), sorted(expected), `${label}: the rows of ${table}`)
      }
    } finally {
      file.close()
    }
  })()
}

/** A row as SQLite gives it: pg's bigint columns as numbers. */
const numbers = (row: Record<string, unknown>) =>
  Object.fromEntries(
    Object.entries(row).map(([key, value]) => [
      key,
      typeof value === 'string' &&
      /^-?\d+$/.test(value) &&
      key !== 'session_id' &&
      key !== 'tool_use_id' &&
      key !== 'turn_id'
        ? Number(value)
        : value,
    ]),
  )

/** A TCP proxy to the server that can be stopped (every connection cut) and started again on its port. */
async function startProxy() {
  const target = new URL(POSTGRES_URL)
  const sockets = new Set<Socket>()
  let server: Server | null = null
  let port = 0
  const start = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((client) => {
        const upstream = new Socket()
        upstream.connect(Number(target.port || 5432), target.hostname)
        for (const socket of [client, upstream]) {
          sockets.add(socket)
          socket.on('error', () => {})
          socket.on('close', () => {
            sockets.delete(socket)
            client.destroy()
            upstream.destroy()
          })
        }
        client.pipe(upstream).pipe(client)
      })
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as { port: number }).port
        resolve()
      })
    })
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy()
      if (!server) return resolve()
      server.close(() => resolve())
      server = null
    })
  await start()
  return {
    get port() {
      return port
    },
    start,
    stop,
  }
}

/** A port nothing listens on (just freed). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}
