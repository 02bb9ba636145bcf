/**
 * EventBus.follow over a real SqliteStore: a replay in pages at the sink's pace, the switch to live events,
 * falling behind the live events and catching up from the store, each event exactly once and in order.
 */
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { setImmediate as loopTurn } from 'node:timers/promises'
import Database from 'better-sqlite3'
import type { EventBus, EventSink } from '../../src/events/bus.js'
import type { GatewayEvent } from '../../src/events/types.js'
import { PacedSink, range } from '../support/paced-sink.js'
import { breakReadsOnceFull, tempBus } from '../support/temp-bus.js'
import { waitUntil } from '../support/wait.js'

/** A bus on a store of its own, with the sequences of the sessions the tests publish for loaded. */
const newBus = (t: TestContext) => tempBus(t, ['s', 'other'])

function publish(bus: EventBus, sessionId: string, count: number): void {
  for (let i = 0; i < count; i++)
    bus.publish(sessionId, { type: 'text.delta', turnId: 't1', text: 'x', parentToolUseId: null })
}

class TestSink extends PacedSink<GatewayEvent> implements EventSink {
  send(event: GatewayEvent): boolean {
    return this.take(event)
  }

  seqs(): number[] {
    return this.received.map((e) => e.seq)
  }
}

test('a backlog is sent a page at a time, waiting whenever the sink is full, then live events', async (t) => {
  const { bus } = await newBus(t)
  publish(bus, 's', 25)
  publish(bus, 'other', 3)
  const sink = new TestSink(4)
  bus.follow('s', 0, sink, 10)
  // Until the sink was full.
  await sink.settled()
  assert.deepEqual(sink.seqs(), range(1, 4))
  assert.equal(sink.waiting, true)
  await sink.drain()
  assert.deepEqual(sink.seqs(), range(1, 8))
  // Published while the sink is full: read from the store after what came before, not delivered live.
  publish(bus, 's', 3)
  assert.deepEqual(sink.seqs(), range(1, 8))
  while (sink.waiting) await sink.drain()
  assert.deepEqual(sink.seqs(), range(1, 28))
  assert.ok(sink.received.every((e) => e.sessionId === 's'))
  assert.ok(sink.waits >= 7)
})

test('a sink that fills up on live events leaves the fan-out and catches up from the store', async (t) => {
  const { bus } = await newBus(t)
  publish(bus, 's', 3)
  const sink = new TestSink(5)
  bus.follow('s', 0, sink, 2)
  await sink.settled()
  assert.deepEqual(sink.seqs(), [1, 2, 3])
  publish(bus, 's', 1)
  assert.equal(sink.waiting, false)
  publish(bus, 's', 1) // the fifth: the sink is full now
  assert.deepEqual(sink.seqs(), range(1, 5))
  await loopTurn()
  assert.equal(sink.waiting, true)
  publish(bus, 's', 7) // not delivered live any more
  assert.deepEqual(sink.seqs(), range(1, 5))
  await sink.drain()
  assert.deepEqual(sink.seqs(), range(1, 10))
  await sink.drain()
  assert.deepEqual(sink.seqs(), range(1, 12))
  // Caught up again (the last page was short): live once more.
  assert.equal(sink.waiting, false)
  publish(bus, 's', 2)
  assert.deepEqual(sink.seqs(), range(1, 14))
})

test('the replay is read in pages, and live events follow it exactly when it is sent in one go', async (t) => {
  const { bus, store } = await newBus(t)
  publish(bus, 's', 1_000)
  await bus.flush()
  const reads: (number | undefined)[] = []
  const readEventPage = store.readEventPage.bind(store)
  store.readEventPage = (sessionId, query) => {
    reads.push(query?.limit)
    return readEventPage(sessionId, query)
  }
  const sink = new TestSink(Number.POSITIVE_INFINITY)
  bus.follow('s', 0, sink, 400)
  // A whole page went out without filling the sink: the next page comes in a later turn of the loop.
  while (sink.received.length === 0) await loopTurn()
  assert.deepEqual(sink.seqs(), range(1, 400))
  assert.deepEqual(reads, [400])
  while (sink.received.length < 1_000) await loopTurn()
  await sink.settled()
  assert.deepEqual(reads, [400, 400, 400])
  publish(bus, 's', 1)
  assert.deepEqual(sink.seqs(), range(1, 1_001))
})

test('closing stops a replay that waits, and the live delivery', async (t) => {
  const { bus } = await newBus(t)
  publish(bus, 's', 10)
  const sink = new TestSink(3)
  const subscription = bus.follow('s', 0, sink)
  await sink.settled()
  assert.deepEqual(sink.seqs(), [1, 2, 3])
  subscription.close()
  await sink.drain()
  publish(bus, 's', 1)
  assert.deepEqual(sink.seqs(), [1, 2, 3])

  const live = new TestSink(100)
  const liveSubscription = bus.follow('s', 11, live)
  await live.settled()
  publish(bus, 's', 1)
  liveSubscription.close()
  publish(bus, 's', 1)
  assert.deepEqual(live.seqs(), [12])
})

test('a follower added from inside a delivery gets each event once', async (t) => {
  const { bus } = await newBus(t)
  const late = new TestSink(100)
  bus.subscribe('s', (event) => {
    if (event.seq === 2) bus.follow('s', 0, late)
  })
  publish(bus, 's', 3)
  await late.settled()
  publish(bus, 's', 1)
  assert.deepEqual(late.seqs(), [1, 2, 3, 4])
})

test('a replay that cannot be read fails the sink', async (t) => {
  const { bus, store } = await newBus(t)
  publish(bus, 's', 5)
  const sink = new TestSink(2)
  bus.follow('s', 0, sink, 2)
  const broken = await breakReadsOnceFull(sink, store, 'readEventPage')
  assert.deepEqual(sink.failures, [broken])
  assert.deepEqual(sink.seqs(), [1, 2])
})

test('a row that cannot be read back in the middle of a page does not end the replay', async (t) => {
  const { bus, store } = await newBus(t)
  publish(bus, 's', 10)
  await bus.flush()
  const other = new Database(store.file)
  other.prepare("UPDATE events SET event = '{' WHERE session_id = 's' AND seq = 2").run()
  other.close()
  const sink = new TestSink(Number.POSITIVE_INFINITY)
  bus.follow('s', 0, sink, 4)
  // The first page holds 3 events for 4 rows: the stored events after it are read all the same.
  await waitUntil(() => sink.received.length === 9, 5_000, 'the replay past the unreadable row')
  await sink.settled()
  publish(bus, 's', 1)
  assert.deepEqual(sink.seqs(), [1, ...range(3, 11)])
  assert.deepEqual(await bus.readPage('s', { limit: 4 }), {
    events: await bus.replay('s', 0, 4),
    last: 4,
    end: false,
  })
})
