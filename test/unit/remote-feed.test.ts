/**
 * RemoteFeed over a fake shared log: every committed event reaches each listener once, in position order,
 * whichever notices arrive, are lost or repeat, while reads fail and recover, and for listeners that join
 * ahead of the feed, behind it, or from inside a delivery.
 */
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { setImmediate as loopTurn, setTimeout as sleep } from 'node:timers/promises'
import { Handlers, LocalFanout, type Notice } from '../../src/events/fanout.js'
import type { PositionedEvent } from '../../src/events/positions.js'
import { RemoteFeed, type RemoteFeedOptions } from '../../src/events/remote-feed.js'
import type { GatewayEvent } from '../../src/events/types.js'
import type { EventPage } from '../../src/store/types.js'
import { capturedLog } from '../support/captured-log.js'
import { waitUntil } from '../support/wait.js'

/** The shared log as the database holds it: events with their positions, committed in position order. */
class FakeLog {
  private events: PositionedEvent[] = []
  private lastPos = 0
  private readonly lastSeq = new Map<string, number>()
  private readonly held: (() => void)[] = []
  /** While set, reads wait for `release()`: a read in flight for as long as the test wants. */
  holding = false
  /** While set, reads fail with it (the database is down). */
  failure: Error | null = null
  reads = 0
  inFlight = 0
  maxInFlight = 0

  /** Commits `count` events of a session; returns the last position. */
  commit(count: number, sessionId = 's'): number {
    for (let i = 0; i < count; i++) {
      const seq = (this.lastSeq.get(sessionId) ?? 0) + 1
      this.lastSeq.set(sessionId, seq)
      const event = {
        type: 'text.delta',
        turnId: 't',
        text: 'x',
        parentToolUseId: null,
        seq,
        ts: 0,
        sessionId,
      }
      this.events.push({ pos: ++this.lastPos, event: event as GatewayEvent })
    }
    return this.lastPos
  }

  /** Deletes a session's events: their positions become holes. */
  remove(sessionId: string): void {
    this.events = this.events.filter(({ event }) => event.sessionId !== sessionId)
  }

  release(): void {
    this.holding = false
    for (const resume of this.held.splice(0)) resume()
  }

  read = async (after: number, limit: number): Promise<EventPage<PositionedEvent>> => {
    this.reads++
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight)
    try {
      if (this.holding) await new Promise<void>((resume) => this.held.push(resume))
      else await loopTurn()
      if (this.failure) throw this.failure
      const events = this.events.filter(({ pos }) => pos > after).slice(0, limit)
      return { events, last: events.at(-1)?.pos ?? after, end: events.length < limit }
    } finally {
      this.inFlight--
    }
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** A feed over `log`, woken by a LocalFanout; no poll unless the test asks for one. */
function newFeed(t: TestContext, log: FakeLog, options: Partial<RemoteFeedOptions> = {}) {
  const { log: logger, lines } = capturedLog()
  const fanout = new LocalFanout(logger)
  const feed = new RemoteFeed({
    read: log.read,
    fanout,
    after: 0,
    logger,
    pageSize: 10,
    pollMs: 60_000,
    retryDelayMs: { min: 10, max: 40 },
    ...options,
  })
  t.after(() => feed.close())
  const announce = (pos: number) => fanout.announce({ pos, replica: 'r1' })
  return { feed, fanout, lines, announce }
}

/** A listener's positions, as received. */
function positions(feed: RemoteFeed, after?: number): number[] {
  const got: number[] = []
  feed.listen(({ pos }) => got.push(pos), after)
  return got
}

/** A feed with a listener from the start (`all`) that got the first 10 events, announced at once. */
async function feedPastTen(t: TestContext) {
  const log = new FakeLog()
  const { feed, announce } = newFeed(t, log)
  const all = positions(feed)
  await announce(log.commit(10))
  await waitUntil(() => all.length === 10, 5_000, 'the first events')
  return { log, feed, announce, all }
}

test('every event after the start, in position order, a page at a time, then each announced one', async (t) => {
  const log = new FakeLog()
  log.commit(25)
  const { feed, announce } = newFeed(t, log, { after: 5 })
  const got = positions(feed)
  await waitUntil(() => got.length === 20, 5_000, 'the stored events')
  assert.deepEqual(got, range(6, 25))
  assert.equal(log.reads, 3, '10 + 10 events, then the end')

  await announce(log.commit(3))
  await waitUntil(() => got.length === 23, 5_000, 'the announced events')
  assert.deepEqual(got, range(6, 28))
  assert.equal(feed.last, 28)
})

test('notices arriving during a read are coalesced: one read loop at a time, each event once', async (t) => {
  const log = new FakeLog()
  log.holding = true
  const { feed, announce } = newFeed(t, log)
  const got = positions(feed)
  // The start's read is held; 30 batches commit meanwhile, each announced.
  for (let i = 0; i < 30; i++) await announce(log.commit(2))
  assert.equal(log.reads, 1)
  log.release()
  await waitUntil(() => got.length === 60, 5_000, 'the 60 events')
  await sleep(20)
  assert.deepEqual(got, range(1, 60))
  assert.equal(log.maxInFlight, 1)
  // The held read pages through the 60 (7 reads), then one more for the notices that came during it.
  assert.ok(log.reads <= 8, `${log.reads} reads`)
})

test('a lost notice: the safety poll delivers its events, and is skipped while a read is in flight', async (t) => {
  const log = new FakeLog()
  const { feed } = newFeed(t, log, { pollMs: 20 })
  const got = positions(feed)
  log.commit(4) // never announced
  await waitUntil(() => got.length === 4, 5_000, 'the polled events')
  assert.deepEqual(got, range(1, 4))

  log.holding = true
  await waitUntil(() => log.inFlight === 1, 5_000, 'a held read')
  const reads = log.reads
  log.commit(3)
  await sleep(150) // several polls' worth
  assert.equal(log.reads, reads, 'no read while one is in flight')
  log.release()
  await waitUntil(() => got.length === 7, 5_000, 'the events of the held read')
  assert.deepEqual(got, range(1, 7))
  assert.equal(log.maxInFlight, 1)
})

test('repeated and stale notices deliver nothing twice, and a stale one reads nothing', async (t) => {
  const log = new FakeLog()
  const { feed, announce } = newFeed(t, log)
  const got = positions(feed)
  const last = log.commit(10)
  for (let i = 0; i < 5; i++) await announce(last)
  await waitUntil(() => got.length === 10, 5_000, 'the events')
  await sleep(20)
  const reads = log.reads
  await announce(last)
  await announce(3)
  await sleep(20)
  assert.equal(log.reads, reads)
  assert.deepEqual(got, range(1, 10))
})

test('a resync reads what no notice announced', async (t) => {
  const log = new FakeLog()
  const { log: logger } = capturedLog()
  const notices = new Handlers<Notice>(logger, 'notices')
  const resyncs = new Handlers<void>(logger, 'resyncs')
  const feed = new RemoteFeed({
    read: log.read,
    fanout: { onNotice: (handler) => notices.add(handler), onResync: (handler) => resyncs.add(handler) },
    after: 0,
    logger,
    pollMs: 60_000,
  })
  t.after(() => feed.close())
  const got = positions(feed)
  await waitUntil(() => log.reads === 1 && log.inFlight === 0, 5_000, 'the start read')
  log.commit(3)
  await sleep(20)
  assert.deepEqual(got, [])
  resyncs.call()
  await waitUntil(() => got.length === 3, 5_000, 'the events after the resync')
  assert.deepEqual(got, [1, 2, 3])
})

test('failed reads are retried with a growing delay, notices do not hurry them, nothing is lost', async (t) => {
  const log = new FakeLog()
  const { feed, announce, lines } = newFeed(t, log)
  const got = positions(feed)
  await announce(log.commit(5))
  await waitUntil(() => got.length === 5, 5_000, 'the first events')

  log.failure = new Error('connection refused')
  await announce(log.commit(5))
  await waitUntil(() => log.reads >= 5, 5_000, 'retries')
  const reads = log.reads
  for (let i = 0; i < 25; i++) {
    await announce(log.commit(2))
    await sleep(5)
  }
  // Some 150 ms of retries 40 ms apart at most: a few reads, not one per notice.
  assert.ok(log.reads - reads <= 8, `${log.reads - reads} reads during 25 notices`)
  assert.deepEqual(got, range(1, 5))
  assert.equal(feed.last, 5, 'the position is kept')

  log.failure = null
  await waitUntil(() => got.length === 60, 5_000, 'the events after the recovery')
  assert.deepEqual(got, range(1, 60))
  const warnings = lines.filter((line) => line.level === 40)
  assert.deepEqual(
    warnings.map((line) => line.msg),
    ['Cannot read the shared event log: reading again with a growing delay'],
  )
  assert.equal(warnings[0]!.err && (warnings[0]!.err as { message: string }).message, 'connection refused')
  assert.ok(lines.some((line) => line.level === 30 && line.msg === 'The shared event log can be read again'))

  // Recovered: the delay is back to its shortest, and notices read at once again.
  await announce(log.commit(2))
  await waitUntil(() => got.length === 62, 5_000, 'an event after the recovery')
})

test('a listener gets nothing at or below its start, whether ahead of the feed or behind it', async (t) => {
  const { log, feed, announce, all } = await feedPastTen(t)

  const ahead = positions(feed, 15)
  const behind = positions(feed, 4)
  const fromNow = positions(feed)
  await announce(log.commit(10))
  await waitUntil(() => all.length === 20 && behind.length === 16, 5_000, 'the next events')
  await sleep(20)
  assert.deepEqual(all, range(1, 20), 'no duplicate for the listeners already there')
  assert.deepEqual(ahead, range(16, 20))
  assert.deepEqual(behind, range(5, 20), 'read again from its start, then the rest, once each')
  assert.deepEqual(fromNow, range(11, 20))
})

test('a listener joining behind the feed during a read gets the events in between from the next one', async (t) => {
  const { log, feed, announce, all } = await feedPastTen(t)

  log.holding = true
  await announce(log.commit(10))
  await waitUntil(() => log.inFlight === 1, 5_000, 'a held read')
  const late = positions(feed, 5)
  log.release()
  await waitUntil(() => late.length === 15, 5_000, "the late listener's events")
  await sleep(20)
  assert.deepEqual(all, range(1, 20))
  assert.deepEqual(late, range(6, 20))
})

test('listeners added by another during a delivery start where they say, without a gap', async (t) => {
  const log = new FakeLog()
  const { feed, announce } = newFeed(t, log)
  let fromHere: number[] = []
  let fromTwo: number[] = []
  feed.listen(({ pos }) => {
    if (pos !== 5) return
    fromHere = positions(feed)
    fromTwo = positions(feed, 2)
  })
  await announce(log.commit(8))
  await waitUntil(() => fromTwo.length === 6, 5_000, 'the events after 2')
  await sleep(20)
  assert.deepEqual(fromHere, [6, 7, 8])
  assert.deepEqual(fromTwo, range(3, 8))
})

test('holes left by deleted events end the read of a listener behind them', async (t) => {
  const log = new FakeLog()
  const { feed, announce } = newFeed(t, log)
  const all = positions(feed)
  log.commit(5, 'kept')
  await announce(log.commit(5, 'deleted'))
  await waitUntil(() => all.length === 10, 5_000, 'the first events')
  log.remove('deleted')

  const behind = positions(feed, 3)
  await waitUntil(() => behind.length === 2, 5_000, 'the events left')
  await sleep(20)
  const reads = log.reads
  await sleep(50)
  assert.equal(log.reads, reads, 'no read loop left running')
  await announce(log.commit(1, 'kept'))
  await waitUntil(() => behind.length === 3 && all.length === 11, 5_000, 'a new event')
  assert.deepEqual(behind, [4, 5, 11])
  assert.deepEqual(all, range(1, 11))
})

test('a listener that throws is logged and costs the others nothing', async (t) => {
  const log = new FakeLog()
  const { feed, announce, lines } = newFeed(t, log)
  feed.listen(() => {
    throw new Error('broken listener')
  })
  const got = positions(feed)
  await announce(log.commit(3))
  await waitUntil(() => got.length === 3, 5_000, 'the events')
  assert.deepEqual(got, [1, 2, 3])
  assert.equal(lines.filter((line) => line.msg === 'A listener of the shared event log failed').length, 3)
})

test('closed, the feed reads and delivers nothing more, not even the read it had in flight', async (t) => {
  const log = new FakeLog()
  const { feed, announce } = newFeed(t, log, { pollMs: 10 })
  const got = positions(feed)
  await announce(log.commit(3))
  await waitUntil(() => got.length === 3, 5_000, 'the events')

  log.holding = true
  await waitUntil(() => log.inFlight === 1, 5_000, 'a polled read in flight')
  log.commit(3)
  feed.close()
  log.release()
  await announce(log.commit(3))
  const reads = log.reads
  await sleep(60)
  assert.equal(log.reads, reads)
  assert.deepEqual(got, [1, 2, 3])
})

test('a closed subscription gets nothing more', async (t) => {
  const log = new FakeLog()
  const { feed, announce } = newFeed(t, log)
  const got: number[] = []
  const subscription = feed.listen(({ pos }) => got.push(pos))
  const all = positions(feed)
  await announce(log.commit(2))
  await waitUntil(() => got.length === 2, 5_000, 'the events')
  subscription.close()
  await announce(log.commit(2))
  await waitUntil(() => all.length === 4, 5_000, 'the later events')
  assert.deepEqual(got, [1, 2])
})
