/** EventBus over a real SqliteStore: numbering, persistence, replay + live delivery, listener isolation. */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { setImmediate as nextTick } from 'node:timers/promises'
import { type BusOptions, EventBus } from '../../src/events/bus.js'
import type { EventBody, GatewayEvent } from '../../src/events/types.js'
import { SqliteStore } from '../../src/store/sqlite.js'

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
