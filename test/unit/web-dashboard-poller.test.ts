/**
 * The dashboard's poller (web/src/views/dashboard/poller.ts) on a hand-driven clock: one request in flight at
 * most, a tick an interval, nothing while the page is hidden, a growing pause after failures.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { startPoller, type Visibility } from '../../web/src/views/dashboard/poller.js'

describe('poller', () => {
  /** A hand-driven clock: timers run when the test advances time. */
  function fakeClock() {
    let time = 0
    let timers: { at: number; run: () => void; id: number }[] = []
    let ids = 0
    return {
      now: () => time,
      setTimer: (run: () => void, ms: number) => {
        ids += 1
        timers.push({ at: time + ms, run, id: ids })
        return ids
      },
      clearTimer: (id: unknown) => {
        timers = timers.filter((timer) => timer.id !== id)
      },
      pending: () => timers.length,
      async advance(ms: number) {
        const until = time + ms
        for (;;) {
          const next = timers.filter((timer) => timer.at <= until).sort((a, b) => a.at - b.at)[0]
          if (!next) break
          timers = timers.filter((timer) => timer !== next)
          time = next.at
          next.run()
          await flush()
        }
        time = until
        await flush()
      },
    }
  }
  const flush = () => new Promise<void>((resolve) => setImmediate(resolve))

  function fakeVisibility(): Visibility & { set(hidden: boolean): void } {
    let hidden = false
    const listeners = new Set<() => void>()
    return {
      hidden: () => hidden,
      onChange(listener) {
        listeners.add(listener)
        return () => listeners.delete(listener)
      },
      set(value) {
        hidden = value
        for (const listener of listeners) listener()
      },
    }
  }

  test('a tick a second, the next one only after the answer: one request in flight at most', async () => {
    const clock = fakeClock()
    const starts: number[] = []
    let inFlight = 0
    let most = 0
    let answer: (() => void) | undefined
    const stop = startPoller({
      intervalMs: 1000,
      visibility: fakeVisibility(),
      ...clock,
      tick: () => {
        starts.push(clock.now())
        inFlight += 1
        most = Math.max(most, inFlight)
        return new Promise<void>((resolve) => {
          answer = () => {
            inFlight -= 1
            resolve()
          }
        })
      },
    })
    await clock.advance(0)
    assert.deepEqual(starts, [0])
    // A slow answer: no second request meanwhile.
    await clock.advance(3_500)
    assert.deepEqual(starts, [0])
    answer!()
    await flush()
    // Overdue: the next starts at once.
    await clock.advance(0)
    assert.deepEqual(starts, [0, 3_500])
    answer!()
    await clock.advance(999)
    assert.deepEqual(starts, [0, 3_500])
    await clock.advance(1)
    assert.deepEqual(starts, [0, 3_500, 4_500])
    assert.equal(most, 1)
    stop()
  })

  test('nothing while hidden; at once when shown again', async () => {
    const clock = fakeClock()
    const visibility = fakeVisibility()
    const starts: number[] = []
    const stop = startPoller({
      intervalMs: 1000,
      visibility,
      ...clock,
      tick: async () => void starts.push(clock.now()),
    })
    await clock.advance(2_000)
    assert.deepEqual(starts, [0, 1_000, 2_000])
    visibility.set(true)
    assert.equal(clock.pending(), 0)
    await clock.advance(60_000)
    assert.equal(starts.length, 3)
    visibility.set(false)
    await clock.advance(0)
    assert.deepEqual(starts.slice(3), [62_000])
    stop()
    assert.equal(clock.pending(), 0)
    await clock.advance(10_000)
    assert.equal(starts.length, 4)
  })

  test('failures slow it down, up to the longest pause; a success brings back the pace', async () => {
    const clock = fakeClock()
    const starts: number[] = []
    let failing = true
    const stop = startPoller({
      intervalMs: 1000,
      maxBackoffMs: 5_000,
      visibility: fakeVisibility(),
      ...clock,
      tick: async () => {
        starts.push(clock.now())
        if (failing) throw new Error('unreachable')
      },
    })
    await clock.advance(16_000)
    assert.deepEqual(starts, [0, 2_000, 6_000, 11_000, 16_000])
    failing = false
    await clock.advance(7_000)
    assert.deepEqual(starts.slice(5), [21_000, 22_000, 23_000])
    stop()
  })

  test('stop aborts the request in flight', async () => {
    const clock = fakeClock()
    let signal: AbortSignal | undefined
    const stop = startPoller({
      intervalMs: 1000,
      visibility: fakeVisibility(),
      ...clock,
      tick: (given) => {
        signal = given
        return new Promise<void>(() => {})
      },
    })
    await clock.advance(0)
    assert.equal(signal!.aborted, false)
    stop()
    assert.equal(signal!.aborted, true)
  })
})
