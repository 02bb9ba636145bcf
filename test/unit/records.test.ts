/** RecordSaver: session records saved without throwing, kept in memory and written again while the store fails. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import pino from 'pino'
import { RecordSaver } from '../../src/engine/records.js'
import { StoreError } from '../../src/store/errors.js'
import type { SessionRecord } from '../../src/store/types.js'
import { waitUntil } from '../support/wait.js'

const log = pino({ level: 'silent' })

/** A store of records that fails with `failure` while it is set. */
function fakeStore() {
  const saved = new Map<string, SessionRecord>()
  const store = {
    failure: null as Error | null,
    writes: 0,
    saved,
    getSession: async (id: string) => saved.get(id),
    async updateSession(record: SessionRecord) {
      store.writes++
      if (store.failure) throw store.failure
      saved.set(record.id, structuredClone(record))
    },
  }
  return store
}

const record = (id: string, turns = 0) => ({ id, turns }) as SessionRecord
const full = () => new StoreError('storage_full', 'disk full', 5_000)

test('a record is written at once and read from the store', async () => {
  const store = fakeStore()
  const saver = new RecordSaver(store, log, 10)
  saver.save(record('a', 1))
  assert.equal(store.saved.get('a')?.turns, 1)
  assert.equal((await saver.read('a'))?.turns, 1)
  assert.equal(await saver.read('missing'), undefined)
  await saver.stop()
})

test('while the store fails, records stay in memory, are read from there, and are written once it works', async () => {
  const store = fakeStore()
  const saver = new RecordSaver(store, log, 10)
  saver.save(record('a', 1))
  store.failure = full()
  const changed = record('a', 2)
  assert.doesNotThrow(() => saver.save(changed))
  saver.save(record('b', 1))
  assert.equal(store.saved.get('a')?.turns, 1)
  // Not the stale stored record: the one waiting to be saved.
  assert.equal(await saver.read('a'), changed)
  assert.equal((await saver.read('b'))?.turns, 1)
  store.failure = null
  await waitUntil(() => store.saved.get('a')?.turns === 2 && store.saved.has('b'))
  await saver.stop()
})

test('stop ends the retries', async () => {
  const store = fakeStore()
  const saver = new RecordSaver(store, log, 10)
  store.failure = full()
  saver.save(record('a'))
  await saver.stop()
  const writes = store.writes
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.equal(store.writes, writes)
})

test('a record the store cannot take for itself is dropped from the queue; the others are written', async () => {
  const store = fakeStore()
  const saver = new RecordSaver(store, log, 10)
  store.failure = new TypeError('not serialisable')
  saver.save(record('bad'))
  store.failure = null
  saver.save(record('good'))
  await saver.stop()
  assert.equal(store.saved.has('good'), true)
  assert.equal(store.saved.has('bad'), false)
  assert.equal(store.writes, 2)
  assert.equal(await saver.read('bad'), undefined, 'not kept in memory either')
})

test('a record saved again while its write is under way is written again, in order', async () => {
  const saved: number[] = []
  let release!: () => void
  const slow = {
    getSession: async () => undefined,
    async updateSession(record: SessionRecord) {
      const turns = record.turns
      if (saved.length === 0) await new Promise<void>((resolve) => (release = resolve))
      saved.push(turns)
    },
  }
  const saver = new RecordSaver(slow, log, 10)
  const changing = record('a', 1)
  saver.save(changing)
  changing.turns = 2
  saver.save(changing)
  assert.equal(await saver.read('a'), changing, 'read from memory while unwritten')
  release()
  await saver.stop()
  assert.deepEqual(saved, [1, 2], 'one write at a time, the newer last')
})

test('forget drops a record waiting to be saved', async () => {
  const store = fakeStore()
  const saver = new RecordSaver(store, log, 10)
  store.failure = full()
  saver.save(record('a'))
  saver.forget('a')
  store.failure = null
  await new Promise((resolve) => setTimeout(resolve, 40))
  assert.equal(store.saved.has('a'), false)
  await saver.stop()
})
