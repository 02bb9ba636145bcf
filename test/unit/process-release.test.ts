/**
 * Letting a process go (process-release.ts): whether a runner given back is cleared and parked or stopped,
 * and what it counts meanwhile (its slot held, a spare on its way). The pool's own suite covers it in place.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import pino from 'pino'
import { ProcessRelease, type ReleaseContext } from '../../src/engine/process-release.js'
import type { Runner } from '../../src/engine/runner.js'
import type { PoolLimits } from '../../src/engine/types.js'

/** What letting go uses of a runner; `/clear` and exit are held until the test lets them end. */
class StandIn {
  readonly key = 'p'
  readonly pid = null
  reusable = true
  closed = false
  clearFails = false
  private cleared!: () => void
  private gone!: () => void
  clear(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.cleared = () => (this.clearFails ? reject(new Error('stuck')) : resolve())
    })
  }
  close(): Promise<void> {
    this.closed = true
    return new Promise((resolve) => {
      this.gone = resolve
    })
  }
  finishClear(): void {
    this.cleared()
  }
  exit(): void {
    this.gone()
  }
}

const limits = { startTimeoutMs: 5_000 } as PoolLimits
const tick = () => new Promise((resolve) => setImmediate(resolve))

function harness(context: Partial<ReleaseContext> = {}) {
  const parked: StandIn[] = []
  const events: string[] = []
  let left = 0
  const release = new ProcessRelease({
    hooks: { evict: () => true, lifecycle: (event) => events.push(event) },
    log: pino({ level: 'silent' }),
    limits: () => limits,
    closed: () => false,
    spareWanted: () => true,
    park: (runner) => parked.push(runner as unknown as StandIn),
    left: () => left++,
    ...context,
  })
  return { release, parked, events, left: () => left }
}

test('a reusable runner its profile wants is cleared and parked, a spare on its way meanwhile', async () => {
  const { release, parked, events, left } = harness()
  const runner = new StandIn()
  const done = release.letGo(runner as unknown as Runner)
  assert.equal(release.size, 1, 'it holds its slot')
  assert.equal(release.sparesOnTheirWay, 1)
  assert.equal(release.sparesOf('p'), 1)
  runner.finishClear()
  await done
  assert.deepEqual(parked, [runner])
  assert.deepEqual(events, ['reuse'])
  assert.equal(runner.closed, false)
  assert.equal(release.size, 0)
  assert.equal(release.sparesOnTheirWay, 0)
  assert.equal(left(), 1)
})

test('a runner no spare is wanted for stops; reclaimed for a spare, it counts as one on its way', async () => {
  const { release, parked, left } = harness({ spareWanted: () => false })
  const runner = new StandIn()
  const done = release.letGo(runner as unknown as Runner, true)
  await tick()
  assert.equal(runner.closed, true)
  assert.equal(release.size, 1)
  assert.equal(release.sparesOnTheirWay, 1, 'its slot is freed for a spare')
  assert.equal(release.sparesOf('p'), 0, 'not a spare of its own profile')
  runner.exit()
  await done
  assert.deepEqual(parked, [])
  assert.equal(release.size, 0)
  assert.equal(release.sparesOnTheirWay, 0)
  assert.equal(left(), 1)
})

test('a runner that ran tools, or whose /clear fails, stops', async () => {
  const { release, parked } = harness()
  const used = new StandIn()
  used.reusable = false
  const usedDone = release.letGo(used as unknown as Runner)
  await tick()
  assert.equal(used.closed, true)
  used.exit()
  await usedDone

  const stuck = new StandIn()
  stuck.clearFails = true
  const stuckDone = release.letGo(stuck as unknown as Runner)
  stuck.finishClear()
  await tick()
  assert.equal(stuck.closed, true)
  stuck.exit()
  await stuckDone
  assert.deepEqual(parked, [])
})

test('once the pool is closed, a runner cleared meanwhile stops instead of parking', async () => {
  let closed = false
  const { release, parked } = harness({ closed: () => closed })
  const runner = new StandIn()
  const done = release.letGo(runner as unknown as Runner)
  closed = true
  runner.finishClear()
  await done
  assert.equal(runner.closed, true)
  assert.deepEqual(parked, [])
})
