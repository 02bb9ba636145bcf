/** EventBus over a real SqliteStore: numbering, persistence, replay + live delivery, listener isolation. */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { setImmediate as nextTick } from 'node:timers/promises'
import { type BusOptions, EventBus, EventRejectedError } from '../../src/events/bus.js'
import { POSITION_BLOCK, positionOf } from '../../src/events/positions.js'
import type { EventBody, GatewayEvent } from '../../src/events/types.js'
import { isStoreError, StoreError } from '../../src/store/errors.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import type { Store } from '../../src/store/types.js'
import { waitUntil } from '../support/wait.js'

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'ccgw-bus-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

interface Fixture {
  store: SqliteStore
  /** A bus on the fixture's store; flushed before the store closes at the end of the test. */
  bus(options?: BusOptions): EventBus
}

function fixture(t: TestContext, dir = tempDir(t)): Fixture {
  const store = new SqliteStore(dir)
  const buses: EventBus[] = []
  t.after(() => {
    for (const bus of buses) bus.flush()
    store.close()
  })
  return {
    store,
    bus(options) {
      const bus = new EventBus(store, options)
      buses.push(bus)
      return bus
    },
  }
}

const delta = (text: string): EventBody => ({ type: 'text.delta', turnId: 't1', text, parentToolUseId: null })

/** Publishes one text delta per text and returns the published events. */
function publishTexts(bus: EventBus, sessionId: string, texts: string[]): GatewayEvent[] {
  return texts.map((text) => bus.publish(sessionId, delta(text)))
}

const seqs = (events: readonly GatewayEvent[]) => events.map((e) => e.seq)
const texts = (events: readonly GatewayEvent[]) =>
  events.map((e) => (e.type === 'text.delta' ? e.text : e.type))

test('publish numbers events per session from 1 without gaps, independently per session', async (t) => {
  const { store, bus: newBus } = fixture(t)
  const bus = newBus()
  const before = Date.now()
  const a1 = bus.publish('a', { type: 'session.state', state: 'starting', previous: 'new' })
  const b1 = bus.publish('b', delta('x'))
  const a2 = bus.publish('a', delta('y'))
  const a3 = bus.publish('a', delta('z'))
  const b2 = bus.publish('b', delta('w'))
  assert.deepEqual(
    [a1, a2, a3, b1, b2].map((e) => [e.sessionId, e.seq]),
    [
      ['a', 1],
      ['a', 2],
      ['a', 3],
      ['b', 1],
      ['b', 2],
    ],
  )
  assert.deepEqual(a1, {
    type: 'session.state',
    state: 'starting',
    previous: 'new',
    seq: 1,
    ts: a1.ts,
    sessionId: 'a',
  })
  assert.ok(a1.ts >= before && a1.ts <= Date.now())
  assert.equal(bus.currentSeq('a'), 3)
  assert.equal(bus.currentSeq('b'), 2)
  assert.equal(bus.currentSeq('never'), 0)

  // Writes are batched: in the store after the current tick, exactly as published.
  assert.deepEqual(store.readEvents('a'), [])
  await nextTick()
  assert.deepEqual(store.readEvents('a'), [a1, a2, a3])
  assert.deepEqual(store.readEvents('b'), [b1, b2])
})

test('subscribe with afterSeq replays stored events, then live ones: no gap, no duplicate', async (t) => {
  const { store, bus: newBus } = fixture(t)
  const bus = newBus()
  publishTexts(bus, 's', ['1', '2', '3'])
  await nextTick()
  publishTexts(bus, 's', ['4', '5']) // still pending: the replay must include them
  assert.deepEqual(seqs(store.readEvents('s')), [1, 2, 3])
  publishTexts(bus, 'other', ['o'])

  const received: GatewayEvent[] = []
  const subscription = bus.subscribe('s', (event) => received.push(event), 2)
  // The replay is synchronous.
  assert.deepEqual(seqs(received), [3, 4, 5])
  publishTexts(bus, 's', ['6', '7'])
  publishTexts(bus, 'other', ['p'])
  assert.deepEqual(seqs(received), [3, 4, 5, 6, 7])
  assert.deepEqual(texts(received), ['3', '4', '5', '6', '7'])
  assert.ok(received.every((e) => e.sessionId === 's'))

  subscription.close()
  publishTexts(bus, 's', ['8'])
  assert.equal(received.length, 5)

  // Without afterSeq: live events only. From 0: everything.
  const live: GatewayEvent[] = []
  bus.subscribe('s', (event) => live.push(event))
  const all: GatewayEvent[] = []
  bus.subscribe('s', (event) => all.push(event), 0)
  publishTexts(bus, 's', ['9'])
  assert.deepEqual(seqs(live), [9])
  assert.deepEqual(seqs(all), [1, 2, 3, 4, 5, 6, 7, 8, 9])
})

test('a subscriber added from inside a delivery gets each event once', (t) => {
  const bus = fixture(t).bus()
  const late: GatewayEvent[] = []
  bus.subscribe('s', (event) => {
    if (event.seq === 2) bus.subscribe('s', (e) => late.push(e), 0)
  })
  publishTexts(bus, 's', ['1', '2', '3'])
  assert.deepEqual(seqs(late), [1, 2, 3])
})

test('replay reads stored and pending events with afterSeq and limit', async (t) => {
  const bus = fixture(t).bus()
  publishTexts(bus, 's', ['1', '2', '3'])
  await nextTick()
  publishTexts(bus, 's', ['4', '5'])
  assert.deepEqual(seqs(bus.replay('s')), [1, 2, 3, 4, 5])
  assert.deepEqual(seqs(bus.replay('s', 1, 3)), [2, 3, 4])
  assert.deepEqual(seqs(bus.replay('s', 5)), [])
  assert.deepEqual(bus.replay('unknown'), [])
})

test('subscribeAll follows every session until closed', (t) => {
  const bus = fixture(t).bus()
  const received: GatewayEvent[] = []
  const subscription = bus.subscribeAll((event) => received.push(event))
  bus.publish('a', delta('1'))
  bus.publish('b', delta('2'))
  bus.publish('a', delta('3'))
  assert.deepEqual(
    received.map((e) => `${e.sessionId}:${e.seq}`),
    ['a:1', 'b:1', 'a:2'],
  )
  subscription.close()
  bus.publish('a', delta('4'))
  assert.equal(received.length, 3)
})

test('a throwing listener does not stop the others and is reported to onListenerError', (t) => {
  const failures: [unknown, GatewayEvent][] = []
  const bus = fixture(t).bus({ onListenerError: (error, event) => failures.push([error, event]) })
  const boom = new Error('listener failed')
  const order: string[] = []
  bus.subscribe('s', () => {
    order.push('first')
    throw boom
  })
  bus.subscribe('s', () => order.push('second'))
  bus.subscribeAll(() => {
    order.push('all-first')
    throw boom
  })
  bus.subscribeAll(() => order.push('all-second'))
  const event = bus.publish('s', delta('x'))
  assert.deepEqual(order, ['first', 'second', 'all-first', 'all-second'])
  assert.deepEqual(failures, [
    [boom, event],
    [boom, event],
  ])
  // Without onListenerError the error is swallowed all the same.
  const quiet = fixture(t).bus()
  quiet.subscribe('s', () => {
    throw boom
  })
  assert.equal(quiet.publish('s', delta('x')).seq, 1)
})

test('a new bus on the same store continues after the last stored seq (restart)', async (t) => {
  const dir = tempDir(t)
  const store = new SqliteStore(dir)
  const first = new EventBus(store)
  publishTexts(first, 'a', ['1', '2', '3'])
  publishTexts(first, 'b', ['1'])
  first.flush()

  const second = new EventBus(store)
  assert.equal(second.currentSeq('a'), 3)
  assert.equal(second.publish('a', delta('4')).seq, 4)
  assert.equal(second.publish('b', delta('2')).seq, 2)
  second.flush()
  store.close()

  // And across a reopened database.
  const { store: reopened, bus: newBus } = fixture(t, dir)
  const third = newBus()
  assert.equal(third.publish('a', delta('5')).seq, 5)
  third.flush()
  assert.deepEqual(seqs(reopened.readEvents('a')), [1, 2, 3, 4, 5])
  assert.deepEqual(texts(reopened.readEvents('a')), ['1', '2', '3', '4', '5'])
  assert.deepEqual(seqs(reopened.readEvents('b')), [1, 2])
})

test('forget() after store.deleteSession: numbering restarts and no event of it is written later', async (t) => {
  const { store, bus: newBus } = fixture(t)
  const bus = newBus()
  publishTexts(bus, 'gone', ['1', '2'])
  await nextTick()
  publishTexts(bus, 'gone', ['3']) // pending when the session is deleted
  publishTexts(bus, 'kept', ['k'])
  store.deleteSession('gone')
  bus.forget('gone')
  await nextTick()
  assert.deepEqual(store.readEvents('gone'), [])
  assert.equal(store.lastSeq('gone'), 0)
  assert.deepEqual(seqs(store.readEvents('kept')), [1])
  assert.equal(bus.currentSeq('gone'), 0)
  assert.equal(bus.publish('gone', delta('again')).seq, 1)
})

test("forget() before store.deleteSession (the engine's order) leaves nothing either", async (t) => {
  const { store, bus: newBus } = fixture(t)
  const bus = newBus()
  publishTexts(bus, 'gone', ['1', '2'])
  bus.forget('gone')
  store.deleteSession('gone')
  await nextTick()
  assert.deepEqual(store.readEvents('gone'), [])
  assert.equal(bus.currentSeq('gone'), 0)
})

/** An object nested `depth` levels deep: JSON.stringify overflows the stack on 10,000. */
function nested(depth: number): unknown {
  let value: unknown = null
  for (let i = 0; i < depth; i++) value = { a: value }
  return value
}

/** The store, but `appendEvents` first asks `fault` whether to throw instead. */
function faulty(store: SqliteStore, fault: (batch: readonly GatewayEvent[]) => Error | undefined): Store {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'appendEvents')
        return (batch: readonly GatewayEvent[]) => {
          const error = fault(batch)
          if (error) throw error
          target.appendEvents(batch)
        }
      const value = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

test('an event that cannot be serialised is refused alone: no number, no delivery, every session goes on', async (t) => {
  const { store, bus: newBus } = fixture(t)
  const bus = newBus()
  const seen: GatewayEvent[] = []
  bus.subscribeAll((event) => seen.push(event))
  publishTexts(bus, 'a', ['1'])
  const poisoned: EventBody = {
    type: 'tool.call',
    turnId: 't1',
    toolUseId: 'x',
    name: 'read',
    input: { path: 'a', extra: nested(10_000) },
    parentToolUseId: null,
  }
  assert.throws(
    () => bus.publish('a', poisoned),
    (error) =>
      error instanceof EventRejectedError &&
      /^The tool\.call event cannot be serialised: .*nested too deeply/.test(error.message),
  )
  publishTexts(bus, 'a', ['2'])
  publishTexts(bus, 'b', ['x'])
  await nextTick()
  assert.deepEqual(texts(store.readEvents('a')), ['1', '2'])
  assert.deepEqual(seqs(store.readEvents('a')), [1, 2])
  assert.deepEqual(texts(bus.replay('b')), ['x'])
  assert.deepEqual(texts(seen), ['1', '2', 'x'])
})

test('an event the store refuses is dropped from its batch and reported; the rest and later batches are written', async (t) => {
  const { store } = fixture(t)
  const bus = new EventBus(
    faulty(store, (batch) =>
      batch.some((e) => e.type === 'text.delta' && e.text === 'poison')
        ? new Error('malformed JSON')
        : undefined,
    ),
  )
  const rejected: [number, string][] = []
  bus.onEventRejected((event, error) => rejected.push([event.seq, error.message]))
  publishTexts(bus, 'a', ['1', 'poison', '3'])
  publishTexts(bus, 'b', ['x'])
  await nextTick()
  assert.deepEqual(rejected, [[2, 'malformed JSON']])
  assert.deepEqual(texts(store.readEvents('a')), ['1', '3'])
  assert.deepEqual(texts(store.readEvents('b')), ['x'])
  publishTexts(bus, 'a', ['4'])
  assert.deepEqual(texts(bus.replay('a')), ['1', '3', '4'])
  assert.deepEqual(seqs(store.readEvents('a')), [1, 3, 4])
})

test('while the storage is full events wait in memory, readable, and are all written once space returns', async (t) => {
  const { store, bus: newBus } = fixture(t)
  const failures: unknown[] = []
  const recovered: number[] = []
  const bus = newBus({
    retryDelayMs: { min: 5, max: 20 },
    onPersistError: (error) => failures.push(error),
    onPersistRecovered: (written) => recovered.push(written),
  })
  publishTexts(bus, 's', ['first'])
  await nextTick()
  // Not a page more than the file has: the next pages the events need are refused, as on a full disk.
  store.setMaxSize(1)
  const big = 'x'.repeat(2_000)
  publishTexts(
    bus,
    's',
    range(2, 50).map((i) => `${i}${big}`),
  )
  await nextTick()
  const health = store.health()
  assert.equal(health.ok, false)
  assert.equal(!health.ok && health.error, 'storage_full')
  assert.equal(failures.length, 1)
  assert.ok(isStoreError(failures[0]) && failures[0].code === 'storage_full')
  // Still readable (from memory), and still published in order.
  assert.deepEqual(seqs(bus.replay('s')), range(1, 50))
  assert.deepEqual(seqs(bus.replay('s', 40, 5)), range(41, 45))
  assert.equal(bus.publish('s', delta('51')).seq, 51)
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.equal(failures.length, 1, 'reported once, not at every retry')
  assert.deepEqual(seqs(store.readEvents('s')), [1])

  store.setMaxSize(0)
  await waitUntil(() => store.readEvents('s').length === 51, 5_000, 'the waiting events written')
  assert.deepEqual(seqs(store.readEvents('s')), range(1, 51))
  assert.deepEqual(store.health(), { ok: true })
  assert.equal(recovered.length, 1)
})

test('past maxPendingEvents publish refuses events with a StoreError, but keeps those that end turns', async (t) => {
  const { store } = fixture(t)
  let failing = true
  const unavailable = new StoreError('storage_unavailable', 'disk I/O error', 5_000)
  const bus = new EventBus(
    faulty(store, () => (failing ? unavailable : undefined)),
    { maxPendingEvents: 3, retryDelayMs: { min: 10, max: 10 } },
  )
  publishTexts(bus, 's', ['1', '2'])
  await nextTick()
  publishTexts(bus, 's', ['3'])
  assert.throws(
    () => bus.publish('s', delta('4')),
    (error) =>
      isStoreError(error) &&
      error.code === 'storage_unavailable' &&
      /store\.maxPendingEvents/.test(error.message),
  )
  const end = bus.publish('s', { type: 'error', turnId: 't1', code: 'storage_unavailable', message: 'm' })
  assert.equal(end.seq, 4)
  assert.deepEqual(seqs(bus.replay('s')), [1, 2, 3, 4])
  failing = false
  await waitUntil(() => store.readEvents('s').length === 4, 5_000, 'written once the storage works')
  assert.equal(bus.publish('s', delta('5')).seq, 5)
})

test('a store reopened after events were published but never written starts above every position handed out', (t) => {
  const dir = tempDir(t)
  const store = new SqliteStore(dir)
  const bus = new EventBus(store)
  const stored = publishTexts(bus, 'a', ['1'])
  bus.flush()
  // Past the first reserved block, then lost before their write, as in a process killed within its tick.
  const lost = publishTexts(
    bus,
    'a',
    range(2, POSITION_BLOCK + 5).map((i) => String(i)),
  )
  store.close()
  const handedOut = Math.max(...stored.concat(lost).map((event) => positionOf(event)!))
  assert.equal(handedOut, POSITION_BLOCK + 5)

  const { store: reopened, bus: newBus } = fixture(t, dir)
  assert.equal(reopened.lastPos(), 1, 'the lost events were never written')
  const next = newBus().publish('b', delta('x'))
  assert.ok(positionOf(next)! > handedOut, `${positionOf(next)} is above ${handedOut}`)
})

test('positions handed out while the storage fails are reserved by the write that succeeds', (t) => {
  const { store, bus: newBus } = fixture(t)
  const failing = Object.create(store) as SqliteStore
  let down = true
  const fail = () => {
    throw new StoreError('storage_unavailable', 'down', 1)
  }
  failing.reservePositions = (upTo) => (down ? fail() : store.reservePositions(upTo))
  failing.appendEvents = (events) => (down ? fail() : store.appendEvents(events))
  const bus = new EventBus(failing)
  publishTexts(bus, 'a', ['1', '2'])
  bus.flush()
  assert.equal(store.reservedPos(), 0, 'nothing could be reserved')
  down = false
  bus.flush()
  assert.deepEqual(seqs(store.readEvents('a')), [1, 2])
  assert.equal(store.reservedPos(), 2 + POSITION_BLOCK)
  assert.equal(newBus().lastPos, 2 + POSITION_BLOCK, 'a bus started now continues above it')
})
