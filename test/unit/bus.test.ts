/**
 * EventBus over a real SqliteStore: numbering, persistence, catch-up + live delivery, listener isolation, and
 * what an asynchronous store asks of it (writes in flight, reads racing writes, sequences loaded first).
 */
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { setImmediate as nextTick } from 'node:timers/promises'
import {
  type BusOptions,
  EventBus,
  EventRejectedError,
  type EventSink,
  SeqNotLoadedError,
} from '../../src/events/bus.js'
import { POSITION_BLOCK, positionOf } from '../../src/events/positions.js'
import type { EventBody, GatewayEvent } from '../../src/events/types.js'
import { isStoreError, StoreError } from '../../src/store/errors.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import type { Store } from '../../src/store/types.js'
import { PacedSink } from '../support/paced-sink.js'
import { tempDir } from '../support/temp-dir.js'
import { waitUntil } from '../support/wait.js'

/** The sessions the tests publish for: a bus of the fixture has their sequences loaded. */
const SESSIONS = ['a', 'b', 's', 'other', 'gone', 'kept']

interface Fixture {
  store: SqliteStore
  /**
   * A bus on the fixture's store (or `on`, a store wrapping it), with the sequences of SESSIONS loaded;
   * flushed before the store closes at the end of the test.
   */
  bus(options?: BusOptions, on?: Store): Promise<EventBus>
}

function fixture(t: TestContext, dir = tempDir(t)): Fixture {
  const store = new SqliteStore(dir)
  const buses: EventBus[] = []
  t.after(async () => {
    for (const bus of buses) await bus.flush()
    await store.close()
  })
  return {
    store,
    async bus(options, on = store) {
      const bus = await loaded(await EventBus.open(on, options))
      buses.push(bus)
      return bus
    },
  }
}

/** The bus, with the sequences of SESSIONS loaded (as the engine loads a session's before it publishes). */
async function loaded(bus: EventBus): Promise<EventBus> {
  for (const id of SESSIONS) await bus.loadSeq(id)
  return bus
}

/** A sink with room for everything: what `follow` sends, as it sends it. */
class Collected extends PacedSink<GatewayEvent> implements EventSink {
  constructor() {
    super(Number.POSITIVE_INFINITY)
  }

  send(event: GatewayEvent): boolean {
    return this.take(event)
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
  const bus = await newBus()
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
  assert.equal(await bus.loadSeq('never'), 0)
  assert.equal(bus.currentSeq('never'), 0)

  // Writes are batched: in the store after the current tick, exactly as published.
  assert.deepEqual(await store.readEvents('a'), [])
  await nextTick()
  assert.deepEqual(await store.readEvents('a'), [a1, a2, a3])
  assert.deepEqual(await store.readEvents('b'), [b1, b2])
})

test('a publish for a session whose sequence was not loaded throws, and numbers nothing', async (t) => {
  const { store, bus: newBus } = fixture(t)
  const bus = await newBus()
  const seen: GatewayEvent[] = []
  bus.subscribeAll((event) => seen.push(event))
  assert.throws(
    () => bus.publish('unloaded', delta('x')),
    (error) => error instanceof SeqNotLoadedError && /session unloaded.*loadSeq/.test(error.message),
  )
  assert.throws(() => bus.currentSeq('unloaded'), SeqNotLoadedError)
  assert.deepEqual(seen, [], 'nothing was delivered')
  // Events outside any sequence need no load: their seq is 0.
  assert.equal(bus.publish('unloaded', { type: 'session.deleted' }).seq, 0)
  // Loaded, it goes on after the stored events, not from 1 again.
  await store.appendEvents([{ ...delta('stored'), seq: 1, ts: 1, sessionId: 'unloaded' } as GatewayEvent])
  assert.equal(await bus.loadSeq('unloaded'), 1)
  assert.equal(bus.publish('unloaded', delta('y')).seq, 2)
})

test('follow from afterSeq sends stored and waiting events, then live ones: no gap, no duplicate', async (t) => {
  const { store, bus: newBus } = fixture(t)
  const bus = await newBus()
  publishTexts(bus, 's', ['1', '2', '3'])
  await nextTick()
  publishTexts(bus, 's', ['4', '5']) // still waiting: the catch-up must include them
  assert.deepEqual(seqs(await store.readEvents('s')), [1, 2, 3])
  publishTexts(bus, 'other', ['o'])

  const received = new Collected()
  const subscription = bus.follow('s', 2, received)
  // Published while the first page is read: after it, once.
  publishTexts(bus, 's', ['6'])
  await received.settled()
  assert.deepEqual(seqs(received.received), [3, 4, 5, 6])
  publishTexts(bus, 's', ['7'])
  publishTexts(bus, 'other', ['p'])
  assert.deepEqual(seqs(received.received), [3, 4, 5, 6, 7])
  assert.deepEqual(texts(received.received), ['3', '4', '5', '6', '7'])
  assert.ok(received.received.every((e) => e.sessionId === 's'))

  subscription.close()
  publishTexts(bus, 's', ['8'])
  assert.equal(received.received.length, 5)

  // subscribe: live events only. follow from 0: everything.
  const live: GatewayEvent[] = []
  bus.subscribe('s', (event) => live.push(event))
  const all = new Collected()
  bus.follow('s', 0, all)
  await all.settled()
  publishTexts(bus, 's', ['9'])
  assert.deepEqual(seqs(live), [9])
  assert.deepEqual(seqs(all.received), [1, 2, 3, 4, 5, 6, 7, 8, 9])
})

test('a follower added from inside a delivery gets each event once', async (t) => {
  const bus = await fixture(t).bus()
  const late = new Collected()
  bus.subscribe('s', (event) => {
    if (event.seq === 2) bus.follow('s', 0, late)
  })
  publishTexts(bus, 's', ['1', '2', '3'])
  await late.settled()
  publishTexts(bus, 's', ['4'])
  assert.deepEqual(seqs(late.received), [1, 2, 3, 4])
})

test('replay reads stored and pending events with afterSeq and limit', async (t) => {
  const bus = await fixture(t).bus()
  publishTexts(bus, 's', ['1', '2', '3'])
  await nextTick()
  publishTexts(bus, 's', ['4', '5'])
  assert.deepEqual(seqs(await bus.replay('s')), [1, 2, 3, 4, 5])
  assert.deepEqual(seqs(await bus.replay('s', 1, 3)), [2, 3, 4])
  assert.deepEqual(seqs(await bus.replay('s', 5)), [])
  assert.deepEqual(await bus.replay('unknown'), [])
})

test('subscribeAll follows every session until closed', async (t) => {
  const bus = await fixture(t).bus()
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

test('a throwing listener does not stop the others and is reported to onListenerError', async (t) => {
  const failures: [unknown, GatewayEvent][] = []
  const bus = await fixture(t).bus({ onListenerError: (error, event) => failures.push([error, event]) })
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
  const quiet = await fixture(t).bus()
  quiet.subscribe('s', () => {
    throw boom
  })
  assert.equal(quiet.publish('s', delta('x')).seq, 1)
})

test('a new bus on the same store continues after the last stored seq (restart)', async (t) => {
  const dir = tempDir(t)
  const store = new SqliteStore(dir)
  const first = await loaded(await EventBus.open(store))
  publishTexts(first, 'a', ['1', '2', '3'])
  publishTexts(first, 'b', ['1'])
  await first.flush()

  const second = await EventBus.open(store)
  assert.equal(await second.loadSeq('a'), 3)
  assert.equal(second.currentSeq('a'), 3)
  assert.equal(second.publish('a', delta('4')).seq, 4)
  await second.loadSeq('b')
  assert.equal(second.publish('b', delta('2')).seq, 2)
  await second.flush()
  await store.close()

  // And across a reopened database.
  const { store: reopened, bus: newBus } = fixture(t, dir)
  const third = await newBus()
  assert.equal(third.publish('a', delta('5')).seq, 5)
  await third.flush()
  assert.deepEqual(seqs(await reopened.readEvents('a')), [1, 2, 3, 4, 5])
  assert.deepEqual(texts(await reopened.readEvents('a')), ['1', '2', '3', '4', '5'])
  assert.deepEqual(seqs(await reopened.readEvents('b')), [1, 2])
})

test('purge deletes the stored events, drops the waiting ones and forgets the counter', async (t) => {
  const { store, bus: newBus } = fixture(t)
  const bus = await newBus()
  publishTexts(bus, 'gone', ['1', '2'])
  await nextTick()
  publishTexts(bus, 'gone', ['3']) // waiting when the session is deleted
  publishTexts(bus, 'kept', ['k'])
  await bus.purge('gone', () => store.deleteSession('gone'))
  await bus.flush()
  assert.deepEqual(await store.readEvents('gone'), [])
  assert.equal(await store.lastSeq('gone'), 0)
  assert.deepEqual(seqs(await store.readEvents('kept')), [1])
  assert.deepEqual(await bus.replay('gone'), [])
  assert.throws(() => bus.publish('gone', delta('again')), SeqNotLoadedError)
  assert.equal(await bus.loadSeq('gone'), 0)
  assert.equal(bus.publish('gone', delta('again')).seq, 1)
})

test('a purge waits for the write under way: no event of the session is written after it', async (t) => {
  const { store, bus: newBus } = fixture(t)
  let release: (() => void) | null = null
  const slow = wrapped(store, {
    async appendEvents(batch) {
      // The first write is held until the purge has been asked for.
      if (release === null) await new Promise<void>((resolve) => (release = resolve))
      await store.appendEvents(batch)
    },
  })
  const bus = await newBus({}, slow)
  publishTexts(bus, 'gone', ['1', '2'])
  publishTexts(bus, 'kept', ['k'])
  await waitUntil(() => release !== null, 5_000, 'the write under way')
  const purged = bus.purge('gone', () => store.deleteSession('gone'))
  publishTexts(bus, 'kept', ['k2'])
  release!()
  await purged
  await bus.flush()
  assert.deepEqual(await store.readEvents('gone'), [], 'the write in flight landed before the delete')
  assert.deepEqual(seqs(await store.readEvents('kept')), [1, 2])
})

test('a purge the store refuses drops nothing: the session goes on, and can be purged again', async (t) => {
  const { store, bus: newBus } = fixture(t)
  const bus = await newBus()
  publishTexts(bus, 'gone', ['1'])
  const down = new StoreError('storage_unavailable', 'disk I/O error', 1)
  await assert.rejects(
    bus.purge('gone', () => Promise.reject(down)),
    (error) => error === down,
  )
  assert.equal(bus.publish('gone', delta('2')).seq, 2)
  await bus.flush()
  assert.deepEqual(seqs(await store.readEvents('gone')), [1, 2])
})

/** An object nested `depth` levels deep: JSON.stringify overflows the stack on 10,000. */
function nested(depth: number): unknown {
  let value: unknown = null
  for (let i = 0; i < depth; i++) value = { a: value }
  return value
}

/** The store, with some of its methods replaced. */
function wrapped(store: SqliteStore, replaced: Partial<Store>): Store {
  return new Proxy(store, {
    get(target, property) {
      if (Object.hasOwn(replaced, property)) return replaced[property as keyof Store]
      const value = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

/** The store, but `appendEvents` first asks `fault` whether to fail instead. */
function faulty(store: SqliteStore, fault: (batch: readonly GatewayEvent[]) => Error | undefined): Store {
  return wrapped(store, {
    async appendEvents(batch) {
      const error = fault(batch)
      if (error) throw error
      await store.appendEvents(batch)
    },
  })
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

test('an event that cannot be serialised is refused alone: no number, no delivery, every session goes on', async (t) => {
  const { store, bus: newBus } = fixture(t)
  const bus = await newBus()
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
  assert.deepEqual(texts(await store.readEvents('a')), ['1', '2'])
  assert.deepEqual(seqs(await store.readEvents('a')), [1, 2])
  assert.deepEqual(texts(await bus.replay('b')), ['x'])
  assert.deepEqual(texts(seen), ['1', '2', 'x'])
})

test('an event the store refuses is dropped from its batch and reported; the rest and later batches are written', async (t) => {
  const { store, bus: newBus } = fixture(t)
  const bus = await newBus(
    {},
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
  await bus.flush()
  assert.deepEqual(rejected, [[2, 'malformed JSON']])
  assert.deepEqual(texts(await store.readEvents('a')), ['1', '3'])
  assert.deepEqual(texts(await store.readEvents('b')), ['x'])
  publishTexts(bus, 'a', ['4'])
  assert.deepEqual(texts(await bus.replay('a')), ['1', '3', '4'])
  await bus.flush()
  assert.deepEqual(seqs(await store.readEvents('a')), [1, 3, 4])
})

test('while the storage is full events wait in memory, readable, and are all written once space returns', async (t) => {
  const { store, bus: newBus } = fixture(t)
  const failures: unknown[] = []
  const recovered: number[] = []
  const bus = await newBus({
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
  assert.deepEqual(seqs(await bus.replay('s')), range(1, 50))
  assert.deepEqual(seqs(await bus.replay('s', 40, 5)), range(41, 45))
  assert.equal(bus.publish('s', delta('51')).seq, 51)
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.equal(failures.length, 1, 'reported once, not at every retry')
  assert.deepEqual(seqs(await store.readEvents('s')), [1])

  store.setMaxSize(0)
  await waitUntil(
    async () => (await store.readEvents('s')).length === 51,
    5_000,
    'the waiting events written',
  )
  assert.deepEqual(seqs(await store.readEvents('s')), range(1, 51))
  assert.deepEqual(store.health(), { ok: true })
  assert.equal(recovered.length, 1)
})

test('past maxPendingEvents publish refuses events with a StoreError, but keeps those that end turns', async (t) => {
  const { store, bus: newBus } = fixture(t)
  let failing = true
  const unavailable = new StoreError('storage_unavailable', 'disk I/O error', 5_000)
  const bus = await newBus(
    { maxPendingEvents: 3, retryDelayMs: { min: 10, max: 10 } },
    faulty(store, () => (failing ? unavailable : undefined)),
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
  assert.deepEqual(seqs(await bus.replay('s')), [1, 2, 3, 4])
  failing = false
  await waitUntil(
    async () => (await store.readEvents('s')).length === 4,
    5_000,
    'written once the storage works',
  )
  assert.equal(bus.publish('s', delta('5')).seq, 5)
})

test('a store reopened after events were published but never written starts above every position handed out', async (t) => {
  const dir = tempDir(t)
  const store = new SqliteStore(dir)
  const bus = await loaded(await EventBus.open(store))
  const stored = publishTexts(bus, 'a', ['1'])
  await bus.flush()
  // Past the first reserved block, then lost before their write, as in a process killed within its tick.
  const lost = publishTexts(
    bus,
    'a',
    range(2, POSITION_BLOCK + 5).map((i) => String(i)),
  )
  await store.close()
  const handedOut = Math.max(...stored.concat(lost).map((event) => positionOf(event)!))
  assert.equal(handedOut, POSITION_BLOCK + 5)

  const { store: reopened, bus: newBus } = fixture(t, dir)
  assert.equal(await reopened.lastPos(), 1, 'the lost events were never written')
  const next = (await newBus()).publish('b', delta('x'))
  assert.ok(positionOf(next)! > handedOut, `${positionOf(next)} is above ${handedOut}`)
})

test('positions handed out while the storage fails are reserved by the write that succeeds', async (t) => {
  const { store, bus: newBus } = fixture(t)
  let down = true
  const fail = () => Promise.reject(new StoreError('storage_unavailable', 'down', 1))
  const failing = wrapped(store, {
    reservePositions: (upTo) => (down ? fail() : store.reservePositions(upTo)),
    appendEvents: (events) => (down ? fail() : store.appendEvents(events)),
  })
  const bus = await newBus({ retryDelayMs: { min: 60_000, max: 60_000 } }, failing)
  publishTexts(bus, 'a', ['1', '2'])
  await bus.flush()
  assert.equal(await store.reservedPos(), 0, 'nothing could be reserved')
  down = false
  await bus.flush()
  assert.deepEqual(seqs(await store.readEvents('a')), [1, 2])
  assert.equal(await store.reservedPos(), 2 + POSITION_BLOCK)
  assert.equal((await newBus()).lastPos, 2 + POSITION_BLOCK, 'a bus started now continues above it')
})

/** A promise and the function that resolves it: a step of a slow store, released by the test. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void
  const opened = new Promise<void>((resolve) => {
    open = resolve
  })
  return { opened, open }
}

test('flush() resolves once the waiting events are written, one write at a time', async (t) => {
  const { store, bus: newBus } = fixture(t)
  const writes: number[][] = []
  let hold = gate()
  const slow = wrapped(store, {
    async appendEvents(batch) {
      writes.push(seqs(batch))
      await hold.opened
      await store.appendEvents(batch)
    },
  })
  const bus = await newBus({}, slow)
  publishTexts(bus, 's', ['1', '2'])
  let flushed = false
  const flushing = bus.flush().then(() => {
    flushed = true
  })
  await waitUntil(() => writes.length === 1, 5_000, 'the first write')
  // Published while the first write is under way: written after it, by a second write.
  publishTexts(bus, 's', ['3'])
  const later = bus.flush()
  await nextTick()
  assert.equal(flushed, false, 'not before the write resolved')
  assert.deepEqual(writes, [[1, 2]], 'no second write while one is under way')
  assert.deepEqual(await store.readEvents('s'), [])
  // Waiting until their write resolves: a read finds them meanwhile.
  assert.deepEqual(seqs(await bus.replay('s')), [1, 2, 3])
  const first = hold
  hold = gate()
  hold.open()
  first.open()
  await flushing
  assert.deepEqual(seqs(await store.readEvents('s')).slice(0, 2), [1, 2])
  await later
  assert.deepEqual(writes, [[1, 2], [3]])
  assert.deepEqual(seqs(await store.readEvents('s')), [1, 2, 3])
  assert.deepEqual(seqs(await bus.replay('s')), [1, 2, 3], 'stored once, read once')
})

test('a read under way while a write lands misses nothing and doubles nothing', async (t) => {
  const { store, bus: newBus } = fixture(t)
  const reading = { hold: null as ReturnType<typeof gate> | null, started: 0 }
  const slowReads = wrapped(store, {
    async readEventPage(sessionId, query) {
      // The store answers as of the start of the read; the answer comes later.
      const page = await store.readEventPage(sessionId, query)
      reading.started++
      if (reading.hold) await reading.hold.opened
      return page
    },
  })
  const bus = await newBus({}, slowReads)
  publishTexts(bus, 's', ['1', '2'])
  await bus.flush()
  publishTexts(bus, 's', ['3']) // waiting when the read starts
  reading.hold = gate()
  const read = bus.replay('s')
  await waitUntil(() => reading.started === 1, 5_000, 'the read under way')
  await bus.flush() // 3 is written while the read is under way: the store's page did not see it
  publishTexts(bus, 's', ['4']) // published meanwhile: after the read started
  reading.hold.open()
  // 3 from the events that waited as the read started; 4 came after it started, for the next read.
  assert.deepEqual(seqs(await read), [1, 2, 3])
  assert.deepEqual(seqs(await bus.replay('s')), [1, 2, 3, 4])
})

test('a catch-up with events published and written while its reads are under way sends each once, in order', async (t) => {
  const { store, bus: newBus } = fixture(t)
  let reads = 0
  let during: (() => Promise<void>) | null = null
  const slowReads = wrapped(store, {
    async readEventPage(sessionId, query) {
      const page = await store.readEventPage(sessionId, query)
      reads++
      // What comes while the store's answer travels, at the end of the log: published, and written,
      // before the page that says there is nothing more arrives.
      const step = page.end ? during : null
      if (step) during = null
      if (step) await step()
      return page
    },
  })
  const bus = await newBus({}, slowReads)
  publishTexts(bus, 's', range(1, 7).map(String))
  await bus.flush()
  publishTexts(bus, 's', ['8']) // waiting
  during = async () => {
    publishTexts(bus, 's', ['9', '10'])
    await bus.flush()
    publishTexts(bus, 's', ['11'])
  }
  const sink = new Collected()
  bus.follow('s', 0, sink, 5)
  await waitUntil(() => sink.received.length >= 11, 5_000, 'the catch-up')
  await sink.settled()
  publishTexts(bus, 's', ['12']) // live now
  assert.deepEqual(seqs(sink.received), range(1, 12))
  assert.ok(reads >= 3, `${reads} reads: another after the page that ended while events were published`)
})

test('positions are handed out from a reserved block; the next is reserved ahead, before the events past it are written', async (t) => {
  const { store, bus: newBus } = fixture(t)
  const reservations: number[] = []
  const written: number[] = []
  let reserving = gate()
  const slow = wrapped(store, {
    async reservePositions(upTo) {
      reservations.push(upTo)
      // The first block (at open) at once; the next ones when the test lets them.
      if (reservations.length > 1) await reserving.opened
      await store.reservePositions(upTo)
    },
    async appendEvents(batch) {
      const reserved = await store.reservedPos()
      for (const event of batch) {
        assert.ok(positionOf(event)! <= reserved, `${positionOf(event)} written before it was reserved`)
        written.push(positionOf(event)!)
      }
      await store.appendEvents(batch)
    },
  })
  const bus = await newBus({}, slow)
  assert.deepEqual(reservations, [POSITION_BLOCK], 'the first block, reserved as the bus opened')
  // Half of it used: the next block is asked for, while positions go on from the first.
  publishTexts(bus, 's', range(1, POSITION_BLOCK / 2 + 1).map(String))
  assert.deepEqual(reservations, [POSITION_BLOCK, 2 * POSITION_BLOCK], 'the block after the first')
  await bus.flush()
  // Past the first block before the next is reserved: handed out, and written only once it is.
  const past = publishTexts(bus, 's', range(1, POSITION_BLOCK).map(String))
  assert.equal(positionOf(past.at(-1)!), POSITION_BLOCK / 2 + 1 + POSITION_BLOCK)
  const flushing = bus.flush()
  await nextTick()
  assert.equal(written.length, POSITION_BLOCK / 2 + 1, 'nothing past the reserved block written yet')
  reserving.open()
  reserving = gate()
  reserving.open()
  await flushing
  assert.equal(written.length, POSITION_BLOCK / 2 + 1 + POSITION_BLOCK)
  assert.ok((await store.reservedPos()) >= bus.lastPos)
})
