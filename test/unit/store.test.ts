/** SqliteStore: session records with paginated, filtered listing, and the per-session event log. */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import Database from 'better-sqlite3'
import { EventBus } from '../../src/events/bus.js'
import { POSITION_BLOCK, setPosition } from '../../src/events/positions.js'
import type { EventBody, GatewayEvent } from '../../src/events/types.js'
import { isStoreError } from '../../src/store/errors.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import { openUpgraded, writeOldDatabase } from '../support/old-sqlite.js'
import {
  checkListFilters,
  checkRecordUpdates,
  storedEvent as event,
  ids,
  openTempStore as openStore,
  readyBody,
  listedRecord as record,
  seqs,
} from '../support/store-fixtures.js'
import { tempDir } from '../support/temp-dir.js'
import { waitUntil } from '../support/wait.js'

test('insert, get and update a session record', async (t) => {
  const store = openStore(t)
  await checkRecordUpdates(store)
  await assert.rejects(async () => store.insertSession(record('s1')), /UNIQUE|PRIMARY KEY/)
})

test('listSessions: newest update first (ties by id), pagination with the total', async (t) => {
  const store = openStore(t)
  await store.insertSession(record('c', { updatedAt: 3_000 }))
  await store.insertSession(record('a', { updatedAt: 1_000 }))
  await store.insertSession(record('e', { updatedAt: 5_000 }))
  await store.insertSession(record('b', { updatedAt: 3_000 }))
  await store.insertSession(record('d', { updatedAt: 4_000 }))
  assert.equal(await store.countSessions(), 5)

  const all = await store.listSessions({ limit: 100, offset: 0 })
  assert.deepEqual(ids(all.items), ['e', 'd', 'b', 'c', 'a'])
  assert.equal(all.total, 5)
  assert.deepEqual(await store.listSessions({ limit: 2, offset: 0 }), {
    items: [await store.getSession('e'), await store.getSession('d')],
    total: 5,
  })
  assert.deepEqual(ids((await store.listSessions({ limit: 2, offset: 2 })).items), ['b', 'c'])
  assert.deepEqual(ids((await store.listSessions({ limit: 2, offset: 4 })).items), ['a'])
  assert.deepEqual(await store.listSessions({ limit: 2, offset: 10 }), { items: [], total: 5 })

  // An update moves a session to the front.
  await store.updateSession({ ...(await store.getSession('a'))!, updatedAt: 9_000 })
  assert.deepEqual(ids((await store.listSessions({ limit: 100, offset: 0 })).items), [
    'a',
    'e',
    'd',
    'b',
    'c',
  ])
})

test('listSessions filters by state, workspace and agent, alone or together, and counts the filtered total', async (t) => {
  await checkListFilters(openStore(t))
})

test('events: append, read after a sequence number with a limit, last sequence number', async (t) => {
  const store = openStore(t)
  await store.appendEvents([event('s', 1), event('s', 2), event('other', 1)])
  await store.appendEvents([event('s', 4), event('s', 3)])
  await store.appendEvents([])
  assert.deepEqual(await store.readEvents('s'), [event('s', 1), event('s', 2), event('s', 3), event('s', 4)])
  assert.deepEqual(seqs(await store.readEvents('s', { afterSeq: 2 })), [3, 4])
  assert.deepEqual(seqs(await store.readEvents('s', { limit: 3 })), [1, 2, 3])
  assert.deepEqual(seqs(await store.readEvents('s', { afterSeq: 1, limit: 2 })), [2, 3])
  assert.deepEqual(seqs(await store.readEvents('s', { afterSeq: 4 })), [])
  assert.deepEqual(await store.readEvents('nothing'), [])
  assert.equal(await store.lastSeq('s'), 4)
  assert.equal(await store.lastSeq('other'), 1)
  assert.equal(await store.lastSeq('nothing'), 0)

  // Events are kept as they were published, whatever their type.
  const ready = event('s', 5, readyBody)
  await store.appendEvents([ready])
  assert.deepEqual(await store.readEvents('s', { afterSeq: 4 }), [ready])
})

test('a batch of events is written whole or not at all', async (t) => {
  const store = openStore(t)
  await store.appendEvents([event('s', 1)])
  await assert.rejects(async () => store.appendEvents([event('s', 2), event('s', 1)]), /UNIQUE|PRIMARY KEY/)
  assert.deepEqual(seqs(await store.readEvents('s')), [1])
})

test('deleteSession removes the record and its events, nothing else', async (t) => {
  const store = openStore(t)
  await store.insertSession(record('gone'))
  await store.insertSession(record('kept'))
  await store.appendEvents([event('gone', 1), event('gone', 2), event('kept', 1)])
  await store.deleteSession('gone')
  assert.equal(await store.getSession('gone'), undefined)
  assert.deepEqual(await store.readEvents('gone'), [])
  assert.equal(await store.lastSeq('gone'), 0)
  assert.equal(await store.countSessions(), 1)
  assert.deepEqual((await store.listSessions({ limit: 10, offset: 0 })).total, 1)
  assert.deepEqual(seqs(await store.readEvents('kept')), [1])
  await store.deleteSession('never-existed')
  assert.equal(await store.countSessions(), 1)
})

test('reopening the same data directory keeps sessions and events', async (t) => {
  const dir = join(tempDir(t), 'nested', 'data')
  const first = openStore(t, dir)
  assert.ok(existsSync(join(dir, 'gateway.sqlite')))
  const s1 = record('s1', { state: 'idle', updatedAt: 2 })
  const s2 = record('s2', { state: 'hibernated', updatedAt: 1 })
  await first.insertSession(s1)
  await first.insertSession(s2)
  await first.appendEvents([event('s1', 1), event('s1', 2)])
  await first.close()

  const second = openStore(t, dir)
  assert.deepEqual(await second.getSession('s1'), s1)
  assert.deepEqual(await second.listSessions({ limit: 10, offset: 0 }), { items: [s1, s2], total: 2 })
  assert.deepEqual(await second.readEvents('s1'), [event('s1', 1), event('s1', 2)])
  assert.equal(await second.lastSeq('s1'), 2)
  await second.appendEvents([event('s1', 3)])
  await second.close()

  const third = openStore(t, dir)
  assert.deepEqual(seqs(await third.readEvents('s1')), [1, 2, 3])
  assert.equal(await third.countSessions(), 2)
})

test('the write-ahead log is copied into the database file by a thread of its own', async (t) => {
  const dir = tempDir(t)
  const store = openStore(t, dir)
  const file = join(dir, 'gateway.sqlite')
  const before = statSync(file).size
  // About 400 pages: under SQLite's own checkpoint size, so only a checkpoint thread copies them.
  const text = 'x'.repeat(1_000)
  for (let batch = 0; batch < 30; batch++)
    await store.appendEvents(
      Array.from({ length: 50 }, (_, i) =>
        event('s', batch * 50 + i + 1, { type: 'text.delta', turnId: 't', text, parentToolUseId: null }),
      ),
    )
  assert.equal(statSync(file).size, before, 'nothing copied by the writing connection')
  await waitUntil(() => statSync(file).size > before + 1_000_000, 10_000, 'the checkpoint thread')
  assert.equal((await store.readEvents('s')).length, 1_500)
})

test('a full database: writes fail with storage_full naming the file, health says so until a write succeeds', async (t) => {
  const dir = tempDir(t)
  const store = openStore(t, dir)
  await store.insertSession(record('a'))
  // Not a page more than the file has: as on a full disk.
  store.setMaxSize(1)
  const text = 'x'.repeat(2_000)
  const before = Date.now()
  await assert.rejects(
    async () => {
      for (let seq = 1; seq <= 100; seq++)
        await store.appendEvents([
          event('s', seq, { type: 'text.delta', turnId: 't', text, parentToolUseId: null }),
        ])
    },
    (error) =>
      isStoreError(error) &&
      error.code === 'storage_full' &&
      error.message.includes(join(dir, 'gateway.sqlite')) &&
      (error.cause as { code?: string }).code === 'SQLITE_FULL',
  )
  const health = store.health()
  assert.ok(!health.ok)
  assert.equal(health.error, 'storage_full')
  assert.ok(health.since >= before && health.since <= Date.now())
  // Reading goes on.
  assert.equal((await store.getSession('a'))?.id, 'a')
  await assert.rejects(async () => store.insertSession(record('b', { agent: text })), isStoreError)
  assert.equal(store.health().ok, false)

  store.setMaxSize(0)
  await store.insertSession(record('b'))
  assert.deepEqual(store.health(), { ok: true })
})

test('an event nested deeper than SQLite reads JSON does not fail reading the events by type', async (t) => {
  const store = openStore(t)
  let input: unknown = 'leaf'
  for (let i = 0; i < 1_500; i++) input = { a: input }
  const call: EventBody = {
    type: 'tool.call',
    turnId: 't',
    toolUseId: 'u',
    name: 'read',
    input,
    parentToolUseId: null,
  }
  await store.appendEvents([event('s', 1), event('s', 2, call), event('s', 3)])
  const calls = await store.readEvents('s', { types: ['tool.call', 'tool.result'] })
  assert.deepEqual(seqs(calls), [2])
  // Compared as text: deepEqual recurses deeper than the stack allows.
  assert.equal(JSON.stringify(calls[0]), JSON.stringify(event('s', 2, call)))
  assert.deepEqual(seqs(await store.readEvents('s', { types: ['text.delta'] })), [1, 3])
})

test('a stored event that cannot be read back is left out and reported, the others are read', async (t) => {
  const dir = tempDir(t)
  const unreadable: [string, number, string][] = []
  const store = new SqliteStore(dir, {
    onUnreadableEvent: (sessionId, seq, error) => unreadable.push([sessionId, seq, error.name]),
  })
  t.after(() => store.close())
  await store.appendEvents([event('s', 1), event('s', 3)])
  const other = new Database(join(dir, 'gateway.sqlite'))
  other
    .prepare('INSERT INTO events (session_id, seq, event) VALUES (?, ?, ?)')
    .run('s', 2, '{"type": "text.del')
  other.close()
  assert.deepEqual(seqs(await store.readEvents('s')), [1, 3])
  assert.deepEqual(seqs(await store.readEvents('s', { types: ['text.delta'] })), [1, 3])
  assert.deepEqual(unreadable, [
    ['s', 2, 'SyntaxError'],
    ['s', 2, 'SyntaxError'],
  ])
})

test('a page says how far its read went: rows left out count, so a short page is not the end', async (t) => {
  const store = openStore(t)
  await store.appendEvents([1, 2, 3, 4, 5].map((seq) => placed('s', seq, seq)))
  const other = new Database(store.file)
  other.prepare("UPDATE events SET event = '{' WHERE seq = 2").run()
  other.close()
  const page = await store.readEventPage('s', { limit: 3 })
  assert.deepEqual([seqs(page.events), page.last, page.end], [[1, 3], 3, false])
  const rest = await store.readEventPage('s', { afterSeq: page.last, limit: 3 })
  assert.deepEqual([seqs(rest.events), rest.last, rest.end], [[4, 5], 5, true])
  assert.deepEqual(await store.readEventPage('s', { afterSeq: 5 }), { events: [], last: 5, end: true })
  for (const query of [{}, { sessionIds: ['s'] }, { types: ['text.delta' as const] }]) {
    const first = await store.readEventsAfter(0, { ...query, limit: 3 })
    assert.deepEqual([first.events.map((e) => e.pos), first.last, first.end], [[1, 3], 3, false])
    const next = await store.readEventsAfter(first.last, { ...query, limit: 3 })
    assert.deepEqual([next.events.map((e) => e.pos), next.last, next.end], [[4, 5], 5, true])
  }
})

test('positions reserved are kept across a reopen, and only ever raised', async (t) => {
  const dir = tempDir(t)
  const store = openStore(t, dir)
  assert.equal(await store.reservedPos(), 0)
  await store.reservePositions(2_000)
  await store.reservePositions(1_000)
  assert.equal(await store.reservedPos(), 2_000)
  await store.close()
  assert.equal(await openStore(t, dir).reservedPos(), 2_000)
})

test('a file that is not a database fails the start with an error naming the file and the cause', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'gateway.sqlite')
  writeFileSync(file, 'not a database, but some text long enough to be read as one. '.repeat(100))
  assert.throws(
    () => new SqliteStore(dir),
    (error: Error) =>
      error.message.startsWith(`Cannot open the gateway's database ${file}: file is not a database`) &&
      /move it away/.test(error.message),
  )
})

test('a read-only database fails the start with an error naming the file, not at the first write', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'gateway.sqlite')
  await new SqliteStore(dir).close()
  // The test runs as root, whom file modes do not stop: an immutable file is read-only for everyone.
  try {
    execFileSync('chattr', ['+i', file], { stdio: 'ignore' })
  } catch {
    t.skip('chattr +i is not available here')
    return
  }
  try {
    assert.throws(
      () => new SqliteStore(dir),
      (error: Error) =>
        error.message.startsWith(
          `Cannot open the gateway's database ${file}: attempt to write a readonly database`,
        ) && /must be able to write it/.test(error.message),
    )
  } finally {
    execFileSync('chattr', ['-i', file])
  }
})

test('a data directory that cannot be created fails the start naming it and store.dataDir', async (t) => {
  const blocker = join(tempDir(t), 'a-file')
  writeFileSync(blocker, '')
  const dir = join(blocker, 'data')
  assert.throws(
    () => new SqliteStore(dir),
    (error: Error) =>
      error.message.startsWith(`Cannot create the data directory ${dir} (store.dataDir): ENOTDIR`),
  )
})

/** An event with a global position, as the bus publishes it. */
function placed(sessionId: string, seq: number, pos: number, body?: EventBody): GatewayEvent {
  const placedEvent = event(sessionId, seq, body)
  setPosition(placedEvent, pos)
  return placedEvent
}

test('readEventsAfter: every session in position order, filtered by sessions and types, with a limit', async (t) => {
  const store = openStore(t)
  assert.equal(await store.lastPos(), 0)
  const usage = {
    inputTokens: 1,
    outputTokens: 1,
    cacheReadInputTokens: 0,
    cacheCreationInputTokens: 0,
    thinkingTokens: 0,
  }
  await store.appendEvents([
    placed('a', 1, 1),
    placed('b', 1, 2),
    placed('a', 2, 3, { type: 'usage', turnId: 't', model: 'm', usage, costUsd: 0 }),
    placed('c', 1, 4),
    placed('b', 2, 5),
  ])
  await store.appendEvents([event('a', 3)]) // published by no bus: no position
  const positions = (events: { pos: number }[]) => events.map((e) => e.pos)
  assert.equal(await store.lastPos(), 5)
  assert.deepEqual(positions((await store.readEventsAfter(0)).events), [1, 2, 3, 4, 5])
  assert.deepEqual(
    (await store.readEventsAfter(1, { limit: 2 })).events.map(({ pos, event }) => [
      pos,
      event.sessionId,
      event.seq,
    ]),
    [
      [2, 'b', 1],
      [3, 'a', 2],
    ],
  )
  assert.deepEqual(positions((await store.readEventsAfter(0, { sessionIds: ['b', 'c'] })).events), [2, 4, 5])
  assert.deepEqual(positions((await store.readEventsAfter(0, { types: ['usage'] })).events), [3])
  assert.deepEqual(
    positions((await store.readEventsAfter(2, { sessionIds: ['a'], types: ['text.delta'] })).events),
    [],
  )
  assert.deepEqual(seqs(await store.readEvents('a')), [1, 2, 3], 'the per-session reads see every event')
})

test('a database of schema version 1 with rows is upgraded: old events keep no position, new ones get one', async (t) => {
  const dir = tempDir(t)
  writeOldDatabase(dir, 1, (old) => {
    old.exec(`
      CREATE TABLE sessions (id TEXT PRIMARY KEY, state TEXT NOT NULL, workspace TEXT NOT NULL, agent TEXT,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, record TEXT NOT NULL);
      CREATE INDEX sessions_by_update ON sessions (updated_at DESC);
      CREATE TABLE events (session_id TEXT NOT NULL, seq INTEGER NOT NULL, event TEXT NOT NULL,
        PRIMARY KEY (session_id, seq)) WITHOUT ROWID;
    `)
    const legacy = record('legacy')
    old
      .prepare('INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(legacy.id, legacy.state, legacy.settings.workspace, null, 1, 1, JSON.stringify(legacy))
    const insert = old.prepare('INSERT INTO events VALUES (?, ?, ?)')
    for (const seq of [1, 2]) insert.run('legacy', seq, JSON.stringify(event('legacy', seq)))
  })

  const { store, file: check } = openUpgraded(t, dir)
  assert.ok(
    (check.prepare("SELECT name FROM pragma_index_list('events')").all() as { name: string }[]).some(
      (index) => index.name === 'events_by_pos',
    ),
  )
  assert.deepEqual((await store.getSession('legacy'))?.id, 'legacy')
  assert.deepEqual(seqs(await store.readEvents('legacy')), [1, 2])
  assert.deepEqual(
    check.prepare("SELECT seq, type FROM events WHERE session_id = 'legacy' ORDER BY seq").all(),
    [
      { seq: 1, type: 'text.delta' },
      { seq: 2, type: 'text.delta' },
    ],
    'the type column is filled for the events already stored',
  )
  assert.equal(await store.lastPos(), 0)
  assert.deepEqual(
    (await store.readEventsAfter(0)).events,
    [],
    'events written before positions cannot be replayed by one',
  )

  const bus = await EventBus.open(store)
  await bus.loadSeq('legacy')
  const next = bus.publish('legacy', { type: 'text.delta', turnId: 't', text: 'new', parentToolUseId: null })
  await bus.flush()
  assert.equal(next.seq, 3)
  assert.deepEqual(
    (await store.readEventsAfter(0)).events.map(({ pos, event }) => [pos, event.seq]),
    [[1, 3]],
  )
  await store.close()
  // Reopened, numbering goes on after the positions the first bus reserved (a block, see EventBus).
  const reopened = openStore(t, dir)
  const later = await EventBus.open(reopened)
  later.publish('other', { type: 'session.deleted' })
  await later.flush()
  assert.deepEqual(
    (await reopened.readEventsAfter(0)).events.map(({ pos, event }) => [pos, event.sessionId]),
    [
      [1, 'legacy'],
      [POSITION_BLOCK + 1, 'other'],
    ],
  )
})
