/**
 * followAll over a real SqliteStore: every session's events in global position order, at the sink's pace,
 * the switch to live events and back, filters, and the events that still wait to be written.
 */
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { setImmediate as loopTurn } from 'node:timers/promises'
import Database from 'better-sqlite3'
import type { BusOptions, EventBus } from '../../src/events/bus.js'
import { type EventFilter, followAll, type PositionedSink } from '../../src/events/follow-all.js'
import { positionOf } from '../../src/events/positions.js'
import type { GatewayEvent } from '../../src/events/types.js'
import { PacedSink, range } from '../support/paced-sink.js'
import { breakReadsOnceFull, tempBus } from '../support/temp-bus.js'
import { waitUntil } from '../support/wait.js'

/** A bus on a store of its own, with the sequences of the sessions the tests publish for loaded. */
const newBus = (t: TestContext, options?: BusOptions) => tempBus(t, ['a', 'b', 'c', 'd', 'e'], options)

/** Publishes `count` events, alternating over `sessions`. */
function publish(bus: EventBus, sessions: string[], count: number, text = 'x'): void {
  for (let i = 0; i < count; i++)
    bus.publish(sessions[i % sessions.length]!, {
      type: 'text.delta',
      turnId: 't',
      text,
      parentToolUseId: null,
    })
}

class TestSink extends PacedSink<{ pos: number; event: GatewayEvent }> implements PositionedSink {
  send(event: GatewayEvent, pos: number): boolean {
    return this.take({ pos, event })
  }

  positions(): number[] {
    return this.received.map((r) => r.pos)
  }
}

function follow(bus: EventBus, after: number, sink: TestSink, filter: EventFilter = {}, pageSize = 10) {
  return followAll(bus, after, filter, sink, pageSize)
}

test('every session in position order, a page at a time at the sink pace, then live', async (t) => {
  const { bus } = await newBus(t)
  publish(bus, ['a', 'b', 'c'], 25)
  const sink = new TestSink(4)
  follow(bus, 0, sink)
  await sink.settled()
  assert.deepEqual(sink.positions(), range(1, 4), 'until the sink was full')
  assert.deepEqual(
    sink.received.map((r) => r.event.sessionId),
    ['a', 'b', 'c', 'a'],
  )
  publish(bus, ['d'], 3) // while the sink is full: read from the store after what came before
  while (sink.waiting) await sink.drain()
  assert.deepEqual(sink.positions(), range(1, 28))
  assert.ok(sink.received.every((r) => positionOf(r.event) === undefined || positionOf(r.event) === r.pos))
  publish(bus, ['e'], 1)
  assert.deepEqual(sink.positions(), range(1, 29), 'caught up: live')
  assert.equal(sink.received.at(-1)!.event.sessionId, 'e', 'a session created later is followed too')
})

test('resuming after a position sends exactly the events past it', async (t) => {
  const { bus } = await newBus(t)
  publish(bus, ['a', 'b'], 12)
  await bus.flush()
  const sink = new TestSink(Number.POSITIVE_INFINITY)
  follow(bus, 7, sink)
  await sink.settled()
  assert.deepEqual(sink.positions(), range(8, 12))
  assert.deepEqual(
    sink.received.map((r) => [r.event.sessionId, r.event.seq]),
    [
      ['b', 4],
      ['a', 5],
      ['b', 5],
      ['a', 6],
      ['b', 6],
    ],
  )
})

test('events published during a paced catch-up arrive once each, in order, without a gap', async (t) => {
  const { bus } = await newBus(t)
  publish(bus, ['a', 'b'], 30)
  const sink = new TestSink(3)
  follow(bus, 0, sink, {}, 4)
  await sink.settled()
  let published = 30
  while (sink.waiting) {
    publish(bus, ['a', 'b', 'c'], 2) // between every drain: in the store, in pending, or live
    published += 2
    await sink.drain()
    if (published > 60) break
  }
  while (sink.waiting) await sink.drain()
  publish(bus, ['c'], 1)
  assert.deepEqual(sink.positions(), range(1, published + 1))
  for (const id of ['a', 'b', 'c']) {
    const seqs = sink.received.filter((r) => r.event.sessionId === id).map((r) => r.event.seq)
    assert.deepEqual(seqs, range(1, seqs.length), `session ${id} complete and in order`)
  }
})

test('a sink that fills up on live events leaves the fan-out and catches up from the store', async (t) => {
  const { bus } = await newBus(t)
  const sink = new TestSink(3)
  follow(bus, 0, sink, {}, 2)
  await sink.settled()
  publish(bus, ['a'], 3) // the third fills the sink
  assert.deepEqual(sink.positions(), [1, 2, 3])
  await loopTurn()
  assert.equal(sink.waiting, true)
  publish(bus, ['a', 'b'], 5) // not delivered live any more
  assert.deepEqual(sink.positions(), [1, 2, 3])
  while (sink.waiting) await sink.drain()
  assert.deepEqual(sink.positions(), range(1, 8))
  publish(bus, ['b'], 1)
  assert.deepEqual(sink.positions(), range(1, 9), 'live again')
})

test('the session and type filters, replayed and live', async (t) => {
  const { bus } = await newBus(t)
  publish(bus, ['a', 'b', 'c'], 9)
  bus.publish('b', { type: 'session.deleted' })
  const sessions = new TestSink(Number.POSITIVE_INFINITY)
  follow(bus, 0, sessions, { sessionIds: ['b', 'c'] }, 2)
  const deletions = new TestSink(Number.POSITIVE_INFINITY)
  follow(bus, 0, deletions, { types: ['session.deleted'] })
  await sessions.settled()
  publish(bus, ['a', 'b'], 2)
  bus.publish('a', { type: 'session.deleted' })
  assert.deepEqual(sessions.positions(), [2, 3, 5, 6, 8, 9, 10, 12])
  assert.deepEqual(
    deletions.received.map((r) => [r.pos, r.event.sessionId]),
    [
      [10, 'b'],
      [13, 'a'],
    ],
  )
})

test('events still waiting to be written are read in order after the stored ones', async (t) => {
  const { bus, store } = await newBus(t, { retryDelayMs: { min: 5, max: 20 } })
  publish(bus, ['a'], 1)
  await bus.flush()
  // As on a full disk: the next events wait in memory.
  store.setMaxSize(1)
  publish(bus, ['a', 'b'], 20, 'y'.repeat(2_000))
  await loopTurn()
  assert.equal(store.health().ok, false)
  assert.ok((await store.lastPos()) < 21, 'some events are not in the store')
  const sink = new TestSink(Number.POSITIVE_INFINITY)
  follow(bus, 0, sink, {}, 4)
  await sink.settled()
  assert.deepEqual(sink.positions(), range(1, 21))
  const onlyB = new TestSink(Number.POSITIVE_INFINITY)
  follow(bus, 5, onlyB, { sessionIds: ['b'] })
  await onlyB.settled()
  assert.deepEqual(onlyB.positions(), [7, 9, 11, 13, 15, 17, 19, 21])
  store.setMaxSize(0)
  await waitUntil(async () => (await store.lastPos()) === 21, 5_000, 'the waiting events written')
  publish(bus, ['b'], 1)
  assert.deepEqual(sink.positions(), range(1, 22))
})

test('a follower added from inside a delivery gets each event once', async (t) => {
  const { bus } = await newBus(t)
  const late = new TestSink(100)
  bus.subscribeAll((event) => {
    if (positionOf(event) === 2) follow(bus, 0, late)
  })
  publish(bus, ['a', 'b'], 4)
  await late.settled()
  publish(bus, ['a'], 1)
  assert.deepEqual(late.positions(), [1, 2, 3, 4, 5])
})

test('closing stops a catch-up that waits, and the live delivery; a read that fails fails the sink', async (t) => {
  const { bus, store } = await newBus(t)
  publish(bus, ['a'], 10)
  const sink = new TestSink(3)
  const subscription = follow(bus, 0, sink)
  await sink.settled()
  subscription.close()
  await sink.drain()
  publish(bus, ['a'], 1)
  assert.deepEqual(sink.positions(), [1, 2, 3])

  const failing = new TestSink(2)
  follow(bus, 0, failing, {}, 2)
  const broken = await breakReadsOnceFull(failing, store, 'readEventsAfter')
  assert.deepEqual(failing.failures, [broken])
  assert.deepEqual(failing.positions(), [1, 2])
})

test("a session's creation and purge are in the global log (followAll, subscribeAll) only, outside the session's sequence", async (t) => {
  const { bus, store } = await newBus(t)
  const everything = new TestSink(Number.POSITIVE_INFINITY)
  follow(bus, 0, everything)
  const ofSession: GatewayEvent[] = []
  bus.subscribe('a', (event) => ofSession.push(event))
  const ofAll: GatewayEvent[] = []
  bus.subscribeAll((event) => ofAll.push(event))
  bus.publish('a', { type: 'session.created', title: null, workspace: '/w', agent: null })
  publish(bus, ['a'], 2)
  await bus.flush()
  assert.deepEqual(
    (await bus.replay('a')).map((e) => e.seq),
    [1, 2],
  )
  const replayed = new TestSink(Number.POSITIVE_INFINITY)
  follow(bus, 0, replayed)
  await replayed.settled()
  assert.deepEqual(replayed.positions(), [1, 2, 3])
  // A purge, as the engine does it: the session's events go, its tombstone stays.
  await bus.purge('a', () => store.deleteSession('a'))
  bus.publish('a', { type: 'session.deleted' })
  assert.deepEqual(
    everything.received.map((r) => [r.pos, r.event.type, r.event.seq]),
    [
      [1, 'session.created', 0],
      [2, 'text.delta', 1],
      [3, 'text.delta', 2],
      [4, 'session.deleted', 0],
    ],
  )
  assert.deepEqual(
    ofSession.map((e) => e.seq),
    [1, 2],
  )
  assert.deepEqual(
    ofAll.map((e) => [e.type, e.seq]),
    [
      ['session.created', 0],
      ['text.delta', 1],
      ['text.delta', 2],
      ['session.deleted', 0],
    ],
  )
  await bus.flush()
  assert.deepEqual(
    (await store.readEventsAfter(0)).events.map((e) => [e.pos, e.event.type]),
    [[4, 'session.deleted']],
  )
  assert.deepEqual(await bus.replay('a'), [])
})

test('a row that cannot be read back in the middle of a page does not end the catch-up, filtered or not', async (t) => {
  const { bus, store } = await newBus(t)
  publish(bus, ['a', 'b'], 20)
  await bus.flush()
  const other = new Database(store.file)
  other.prepare("UPDATE events SET event = '{' WHERE pos IN (2, 7)").run()
  other.close()
  const filters: EventFilter[] = [{}, { sessionIds: ['a', 'b'] }, { types: ['text.delta'] }]
  const sinks = filters.map((filter) => {
    const sink = new TestSink(Number.POSITIVE_INFINITY)
    follow(bus, 0, sink, filter, 4)
    return sink
  })
  // Each first page holds 3 events for 4 rows: the stored events after it are read all the same.
  const expected = range(1, 20).filter((pos) => pos !== 2 && pos !== 7)
  for (const sink of sinks) {
    await waitUntil(() => sink.received.length === 18, 5_000, 'the catch-up past the unreadable rows')
    await sink.settled()
    assert.deepEqual(sink.positions(), expected)
  }
  publish(bus, ['b'], 1)
  for (const sink of sinks) assert.deepEqual(sink.positions(), [...expected, 21])
})

test('filtered reads merge the sessions (or types) named, in position order, page by page', async (t) => {
  const { bus } = await newBus(t)
  publish(bus, ['a', 'b', 'c'], 30)
  bus.publish('b', { type: 'session.state', state: 'idle', previous: 'running' })
  await bus.flush()
  const pages = async (filter: EventFilter, pageSize: number) => {
    const read: number[][] = []
    for (let after = 0, end = false; !end; ) {
      const page = await bus.readAfter(after, { ...filter, limit: pageSize })
      read.push(page.events.map((e) => e.pos))
      after = page.last
      end = page.end
    }
    return read
  }
  const ofAOrC = range(1, 30).filter((pos) => pos % 3 !== 2)
  assert.deepEqual((await pages({ sessionIds: ['c', 'a', 'a'] }, 7)).flat(), ofAOrC)
  assert.deepEqual((await pages({ sessionIds: ['a', 'c'] }, 7))[0], ofAOrC.slice(0, 7))
  assert.deepEqual((await pages({ types: ['session.state', 'text.delta'] }, 8)).flat(), range(1, 31))
  assert.deepEqual(await pages({ sessionIds: ['b'], types: ['session.state'] }, 2), [[31]])
})

test('events published and written while a read is under way reach the sink once each, in order', async (t) => {
  const { bus, store } = await newBus(t)
  publish(bus, ['a', 'b'], 9)
  await bus.flush()
  publish(bus, ['c'], 1) // waiting when the first read starts
  const readEventsAfter = store.readEventsAfter.bind(store)
  let during: (() => Promise<void>) | null = async () => {
    // Published and written while the store's answer travels: not in the page it sends.
    await bus.flush()
    publish(bus, ['a', 'c'], 3)
    await bus.flush()
    publish(bus, ['b'], 2)
  }
  let reads = 0
  store.readEventsAfter = async (after, query) => {
    const page = await readEventsAfter(after, query)
    reads++
    // At the end of the log: the page says there is nothing more, but there is by the time it arrives.
    const step = page.end ? during : null
    if (step) during = null
    if (step) await step()
    return page
  }
  const sink = new TestSink(Number.POSITIVE_INFINITY)
  // One page holds the whole log: the first read is the one that ends it.
  follow(bus, 0, sink, {}, 100)
  await waitUntil(() => sink.received.length >= 15, 5_000, 'the catch-up')
  await sink.settled()
  publish(bus, ['d'], 1) // live now
  assert.deepEqual(sink.positions(), range(1, 16))
  for (const id of ['a', 'b', 'c']) {
    const seqs = sink.received.filter((r) => r.event.sessionId === id).map((r) => r.event.seq)
    assert.deepEqual(seqs, range(1, seqs.length), `session ${id} complete and in order`)
  }
  assert.ok(reads >= 2, `${reads} reads: another after the page that ended while events were published`)
})
