/** An EventBus on a SQLite store of its own, for the suites that follow one (bus-follow, follow-all). */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { type BusOptions, EventBus } from '../../src/events/bus.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import type { PacedSink } from './paced-sink.js'

/**
 * A bus with the sequences of `sessions` loaded (as a bus has them before it publishes for them). After the
 * test, the store's size limit is lifted (a test may have filled it), the bus flushed, the store closed and
 * its folder removed, in that order.
 */
export async function tempBus(
  t: TestContext,
  sessions: readonly string[],
  options?: BusOptions,
): Promise<{ bus: EventBus; store: SqliteStore }> {
  // Not temp-dir.ts: its folder would go before the bus is flushed (hooks run in the order they are added).
  const dir = mkdtempSync(join(tmpdir(), 'ccgw-bus-'))
  const store = new SqliteStore(dir)
  const bus = await EventBus.open(store, options)
  for (const id of sessions) await bus.loadSeq(id)
  t.after(async () => {
    store.setMaxSize(0)
    await bus.flush()
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return { bus, store }
}

/**
 * Once `sink` is full, the store's `read` fails from then on, as on a broken disk, and the sink is drained so
 * that its follower reads again. Returns the error the follower is to fail the sink with.
 */
export async function breakReadsOnceFull(
  sink: PacedSink<unknown>,
  store: SqliteStore,
  read: 'readEventPage' | 'readEventsAfter',
): Promise<Error> {
  await sink.settled()
  const broken = new Error('disk I/O error')
  const failed = (): Promise<never> => Promise.reject(broken)
  store[read] = failed
  await sink.drain()
  return broken
}
