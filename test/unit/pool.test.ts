/**
 * The pool's policy with stand-in processes (no CLI): spares come back after a burst by evicting the idle
 * session idle the longest in the background, never one a request waits on; the spare target follows
 * bursts of new conversations within its bounds and falls back when they stop. test/integration/pool.test.ts
 * checks the same with the real CLI.
 */
import assert from 'node:assert/strict'
import { describe, type TestContext, test } from 'node:test'
import pino from 'pino'
import { ProcessPool } from '../../src/engine/pool.js'
import type { Runner, RunnerExit } from '../../src/engine/runner.js'
import { SpareDemand } from '../../src/engine/spare-demand.js'
import type { PoolLimits, RunnerProfile } from '../../src/engine/types.js'
import { waitUntil } from '../support/wait.js'

/** What the pool uses of a runner: its state, key, idle time, pid and life, and whether it can be reused. */
class StandIn {
  state: Runner['state'] = 'ready'
  idleSince = Date.now()
  pid: number | null = null
  readonly exited: Promise<RunnerExit>
  /** Whether only talk ran in it (process-reuse.ts): the pool may clear it for a new conversation. */
  reusable = false
  /** `/clear`s it was sent. */
  clears = 0
  private exit!: (exit: RunnerExit) => void
  constructor(
    readonly key: string,
    readonly name: string,
  ) {
    this.exited = new Promise((resolve) => {
      this.exit = resolve
    })
  }
  async clear(): Promise<void> {
    this.clears++
  }
  close(): Promise<RunnerExit> {
    this.state = 'closed'
    this.exit({ code: 0, signal: null, stderr: '' })
    return this.exited
  }
}

const profile: RunnerProfile = { key: 'p', options: {}, clientTools: null, niceness: 0 }

interface Harness {
  pool: ProcessPool
  evicted: string[]
  /** Runners whose session a request waits on: the session refuses to let them go. */
  waitedOn: Set<Runner>
  started: StandIn[]
}

/** `launch`: how a process starts (default: at once, as `started` records). The pool is closed after the test. */
function harness(
  t: TestContext,
  limits: Partial<PoolLimits>,
  launch?: (profile: RunnerProfile) => Promise<StandIn>,
): Harness {
  const evicted: string[] = []
  const waitedOn = new Set<Runner>()
  const started: StandIn[] = []
  let count = 0
  const pool = new ProcessPool(
    {
      maxRunners: 3,
      warmSpares: 1,
      queueSize: 4,
      queueTimeoutMs: 5_000,
      startTimeoutMs: 5_000,
      startRetries: 0,
      primeSpares: false,
      ...limits,
    },
    {
      evict: (runner) => {
        if (waitedOn.has(runner)) return false
        evicted.push((runner as unknown as StandIn).name)
        return true
      },
      lifecycle: () => undefined,
    },
    pino({ level: 'silent' }),
    async (p) => {
      if (launch) return (await launch(p)) as unknown as Runner
      const runner = new StandIn(p.key, `r${++count}`)
      started.push(runner)
      return runner as unknown as Runner
    },
  )
  t.after(() => pool.close())
  return { pool, evicted, waitedOn, started }
}

/** A new conversation takes a process, runs a turn and goes idle, as the engine does it. */
async function converse(pool: ProcessPool): Promise<Runner> {
  const runner = await pool.acquire(profile, true)
  runner.state = 'busy'
  pool.touch(runner)
  runner.state = 'ready'
  pool.idle(runner)
  return runner
}

/** The spare profile set and its first `count` spares up, as the gateway has them once started. */
async function sparesUp(pool: ProcessPool, count = 1): Promise<void> {
  pool.setSpareProfile(profile)
  await waitUntil(() => pool.stats.spares === count, 2_000, `${count} spare(s) up`)
}

const nameOf = (runner: Runner) => (runner as unknown as StandIn).name
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** With its spare up, three new conversations in a row, each idle after its turn, oldest first. */
async function threeIdleSessions(pool: ProcessPool): Promise<[Runner, Runner, Runner]> {
  await sparesUp(pool)
  const a = await converse(pool)
  await sleep(5)
  const b = await converse(pool)
  await sleep(5)
  return [a, b, await converse(pool)]
}

describe('process pool policy', () => {
  test('after a burst fills every slot, the session idle the longest gives way to a spare at once', async (t) => {
    const { pool, evicted } = harness(t, { spareReclaimIdleMs: 20 })
    const [a, b, c] = await threeIdleSessions(pool)
    // Three idle sessions hold the three slots; a spare is missing and nobody is left waiting.
    await waitUntil(() => pool.stats.spares === 1, 2_000, 'a spare in a reclaimed slot')
    assert.deepEqual(evicted, [nameOf(a)], 'only the session idle the longest gave way')
    assert.equal(pool.stats.live, 3)
    assert.equal(pool.stats.serving, 2)
    assert.ok([b, c].every((runner) => runner.state === 'ready'))
  })

  test('a session a request waits on is never evicted for a spare; the next idle one is', async (t) => {
    const { pool, evicted, waitedOn } = harness(t, { spareReclaimIdleMs: 20 })
    const [a, b, c] = await threeIdleSessions(pool)
    // A's and b's next messages are on their way (their turns queued): they must keep their processes.
    waitedOn.add(a)
    waitedOn.add(b)
    await waitUntil(() => pool.stats.spares === 1, 2_000, 'a spare')
    assert.deepEqual(evicted, [nameOf(c)])
    assert.equal(a.state, 'ready')
    assert.equal(b.state, 'ready')

    // Every idle session is waited on: no spare, however long they stay idle.
    const d = await converse(pool)
    waitedOn.add(d)
    await sleep(100)
    assert.equal(pool.stats.spares, 0)
    assert.deepEqual(evicted, [nameOf(c)])
    // A's request is done with it: now it may go.
    waitedOn.delete(a)
    pool.idle(a)
    await waitUntil(() => pool.stats.spares === 1, 2_000, 'a spare once a is free')
    assert.deepEqual(evicted, [nameOf(c), nameOf(a)])
  })

  test('a session just idle keeps its process for spareReclaimIdleMs; 0 never reclaims', async (t) => {
    const { pool, evicted } = harness(t, { maxRunners: 2, spareReclaimIdleMs: 0 })
    await sparesUp(pool)
    await converse(pool)
    await converse(pool)
    await sleep(100)
    assert.equal(pool.stats.spares, 0)
    assert.deepEqual(evicted, [])
    pool.updateLimits({ ...limitsOf(pool), spareReclaimIdleMs: 300 })
    await sleep(100)
    assert.deepEqual(evicted, [], 'not before it has been idle long enough')
    await waitUntil(() => pool.stats.spares === 1, 2_000, 'a spare')
    assert.equal(evicted.length, 1)
  })

  test('the spare target rises with a burst of new conversations, within maxSpares, and falls back', async (t) => {
    const { pool } = harness(t, {
      maxRunners: 8,
      warmSpares: 1,
      maxSpares: 3,
      spareDemandWindowMs: 400,
      spareReclaimIdleMs: 10_000,
    })
    await sparesUp(pool)
    assert.equal(pool.stats.spareTarget, 1)
    await Promise.all([converse(pool), converse(pool), converse(pool), converse(pool), converse(pool)])
    assert.equal(pool.stats.spareTarget, 3, 'five at once ask for the ceiling, not more')
    await waitUntil(() => pool.stats.spares === 3, 2_000, 'three spares')
    await waitUntil(() => pool.stats.spareTarget === 1, 3_000, 'the target back at the floor')
    await waitUntil(() => pool.stats.spares === 1, 3_000, 'the surplus spares gone')
    assert.equal(pool.stats.serving, 5)
  })

  test('the spare target never exceeds the slots, and needs a ceiling above the floor to move', async (t) => {
    const capped = harness(t, { maxRunners: 2, warmSpares: 1, maxSpares: 6, spareReclaimIdleMs: 10_000 })
    const fixed = harness(t, { maxRunners: 8, warmSpares: 2, spareReclaimIdleMs: 10_000 })
    for (const { pool } of [capped, fixed]) {
      pool.setSpareProfile(profile)
      await Promise.all([converse(pool), converse(pool), converse(pool)])
    }
    assert.equal(capped.pool.stats.spareTarget, 2)
    assert.equal(fixed.pool.stats.spareTarget, 2)
  })
})

describe('spares per account', () => {
  const alice: RunnerProfile = {
    key: 'pa',
    account: 'alice-digest',
    options: {},
    clientTools: null,
    niceness: 0,
  }
  const bob: RunnerProfile = { key: 'pb', account: 'bob-digest', options: {}, clientTools: null, niceness: 0 }
  const spareKeys = (pool: ProcessPool) =>
    (pool as unknown as { spares: StandIn[] }).spares.map((spare) => spare.key).sort()

  /** A new conversation of `p`'s account, as the engine asks for it: its profile first, then a process. */
  async function converseAs(pool: ProcessPool, p: RunnerProfile): Promise<Runner> {
    pool.setSpareProfile(p)
    const runner = await pool.acquire(p, true)
    pool.touch(runner)
    pool.idle(runner)
    return runner
  }

  test('accounts with recent conversations keep a spare each within maxSpares; one leaves after its window', async (t) => {
    const { pool } = harness(t, { maxRunners: 8, warmSpares: 1, maxSpares: 2, spareDemandWindowMs: 600 })
    pool.setSpareProfile(alice)
    await waitUntil(() => spareKeys(pool).join() === 'pa', 2_000, "alice's spare")
    assert.equal((await converseAs(pool, alice)).key, 'pa')
    const bobs = await converseAs(pool, bob)
    assert.equal(bobs.key, 'pb', "bob's conversation never gets alice's process")
    await waitUntil(() => spareKeys(pool).join() === 'pa,pb', 2_000, 'a spare for each account')
    assert.equal(pool.stats.spareTarget, 2)
    // Alice's arrival leaves the window: only the account heard of last keeps its floor.
    await waitUntil(() => spareKeys(pool).join() === 'pb', 3_000, "alice's spare gone")
    assert.equal(pool.stats.spareTarget, 1)
    assert.equal((await converseAs(pool, alice)).key, 'pa', 'a process of her own, started for her')
  })

  test("without maxSpares the spares are the last account's only, as with a single profile", async (t) => {
    const { pool, started } = harness(t, { maxRunners: 8, warmSpares: 1 })
    pool.setSpareProfile(alice)
    await waitUntil(() => spareKeys(pool).join() === 'pa', 2_000, "alice's spare")
    pool.setSpareProfile(bob)
    await waitUntil(() => spareKeys(pool).join() === 'pb', 2_000, "bob's spare instead")
    assert.equal(started.find((runner) => runner.key === 'pa')?.state, 'closed', "alice's spare stopped")
    assert.equal(pool.stats.spareTarget, 1)
  })

  test("an account's new profile replaces its old one; a reset keeps only the given profile", async (t) => {
    const { pool } = harness(t, { maxRunners: 8, warmSpares: 1, maxSpares: 3, spareDemandWindowMs: 60_000 })
    const alice2: RunnerProfile = { ...alice, key: 'pa2' }
    await converseAs(pool, alice)
    await converseAs(pool, bob)
    await waitUntil(() => spareKeys(pool).join() === 'pa,pb', 2_000, 'a spare for each account')
    await converseAs(pool, alice2)
    await waitUntil(() => spareKeys(pool).join() === 'pa2,pb', 2_000, "alice's new profile's spare")
    pool.resetSpareProfiles(profile)
    await waitUntil(() => spareKeys(pool).join() === 'p', 2_000, 'only the reset profile')
  })
})

/**
 * A launcher whose processes are up only when their gate is opened (`gates`, oldest first). The gates left
 * are opened after the test, before the pool made after this closes (hooks run in the order they are added).
 */
function gated(t: TestContext) {
  const launched: StandIn[] = []
  const gates: Array<() => void> = []
  const launch = async (p: RunnerProfile) => {
    const runner = new StandIn(p.key, `r${launched.length + 1}`)
    launched.push(runner)
    await new Promise<void>((resolve) => gates.push(resolve))
    return runner
  }
  t.after(() => {
    for (const open of gates) open()
  })
  return { launched, gates, launch }
}

describe('a spare on its way', () => {
  test('a new conversation takes over a spare still starting instead of starting a process of its own', async (t) => {
    const { launched, gates, launch } = gated(t)
    const { pool } = harness(t, { warmSpares: 1 }, launch)
    pool.setSpareProfile(profile)
    await waitUntil(() => launched.length === 1, 2_000, 'the spare starting')
    const acquired = pool.acquire(profile, true)
    // Its replacement may start (the claimed one is no spare any more), but no cold process for the request.
    await sleep(50)
    assert.ok(launched.length <= 2, `${launched.length} processes started`)
    gates.shift()!()
    // Only the spare's start is let through: a request that started its own process would still wait.
    const got = await Promise.race([acquired, sleep(1_000).then(() => null)])
    assert.ok(got, 'the conversation got a process once the spare was up')
    assert.equal(nameOf(got), 'r1', 'the conversation got the spare that was starting')
    assert.equal(pool.stats.serving, 1)
  })

  test('spares start pool.spareStarts at a time: the next once one is up', async (t) => {
    const { launched, gates, launch } = gated(t)
    const { pool } = harness(t, { maxRunners: 6, warmSpares: 3, spareStarts: 1 }, launch)
    pool.setSpareProfile(profile)
    await waitUntil(() => launched.length === 1, 2_000, 'the first spare starting')
    // Each of these looks at the spares again (as a burst's conversations and idle sessions do).
    pool.updateLimits(limitsOf(pool))
    pool.updateLimits(limitsOf(pool))
    await sleep(50)
    assert.equal(launched.length, 1, 'one at a time')
    gates.shift()!()
    await waitUntil(() => launched.length === 2, 2_000, 'the second once the first is up')
    assert.equal(pool.stats.spares, 1)
    pool.updateLimits({ ...limitsOf(pool), spareStarts: 2 })
    await waitUntil(() => launched.length === 3, 2_000, 'two at a time once allowed')
    for (const open of gates.splice(0)) open()
    await waitUntil(() => pool.stats.spares === 3, 2_000, 'all three up')
    assert.equal(launched.length, 3)
  })

  test('a claimed spare that fails to start leaves the conversation to start its own process', async (t) => {
    let attempt = 0
    let failFirst!: (error: Error) => void
    const { pool } = harness(t, { warmSpares: 1 }, async (p) => {
      attempt++
      if (attempt === 1) await new Promise<void>((_resolve, reject) => (failFirst = reject))
      return new StandIn(p.key, `r${attempt}`)
    })
    pool.setSpareProfile(profile)
    await waitUntil(() => attempt === 1, 2_000, 'the spare starting')
    const acquired = pool.acquire(profile, true)
    await sleep(20)
    failFirst(new Error('no CLI today'))
    const runner = await acquired
    assert.notEqual(nameOf(runner), 'r1')
    assert.equal(pool.stats.serving, 1)
  })
})

describe('a process given back', () => {
  const standIn = (runner: Runner) => runner as unknown as StandIn

  test('becomes the spare a reclaimed slot was freed for, after /clear, without a start', async (t) => {
    const { pool, evicted, started } = harness(t, { spareReclaimIdleMs: 20 })
    await sparesUp(pool)
    for (const runner of started) runner.reusable = true
    const a = await converse(pool)
    standIn(a).reusable = true
    await sleep(5)
    const [b, c] = [await converse(pool), await converse(pool)]
    for (const runner of [b, c]) standIn(runner).reusable = true
    await waitUntil(() => pool.stats.spares === 1, 2_000, 'a spare in a reclaimed slot')
    assert.deepEqual(evicted, [nameOf(a)], 'the session idle the longest gave its process up')
    assert.equal(standIn(a).clears, 1, 'its conversation was cleared')
    assert.equal(standIn(a).state, 'ready', 'and the process kept')
    assert.equal(started.length, 3, 'no process started for the spare')
    assert.equal(await pool.acquire(profile, true), a, 'the next new conversation gets it')
    assert.equal(pool.stats.live, 3)
  })

  test('by its session becomes a missing spare; stops when none is missing, ran a tool, or reuse is off', async (t) => {
    const { pool, started } = harness(t, { maxRunners: 4, warmSpares: 1, maxSpares: 4 })
    await sparesUp(pool)
    // A burst of three raises the target to four; with three sessions in four slots, one spare is all there is.
    const burst = [await converse(pool), await converse(pool), await converse(pool)] as [
      Runner,
      Runner,
      Runner,
    ]
    for (const runner of burst) standIn(runner).reusable = true
    await waitUntil(() => pool.stats.spares === 1, 2_000, 'the burst replaced')
    assert.equal(pool.stats.spareTarget, 4)
    const [first, second, third] = burst
    const starts = started.length
    await pool.retire(first)
    assert.equal(standIn(first).clears, 1)
    assert.equal(standIn(first).state, 'ready', 'cleared and kept')
    assert.equal(pool.stats.spares, 2, 'as a spare')
    assert.equal(started.length, starts, 'no process started for it')
    standIn(second).reusable = false
    await pool.retire(second)
    assert.equal(standIn(second).state, 'closed', 'a process that ran a tool stops')
    assert.equal(standIn(second).clears, 0)
    pool.updateLimits({ ...limitsOf(pool), reuseProcesses: false })
    await pool.retire(third)
    assert.equal(standIn(third).state, 'closed', 'reuse off: it stops')
    assert.equal(standIn(third).clears, 0)
    await waitUntil(() => pool.stats.spares === 4, 2_000, 'the freed slots filled by starts')
    assert.equal(started.length, starts + 2)
  })

  test('by its session stops when it holds more memory than pool.reuseMaxRssMb', async (t) => {
    const { pool } = harness(t, { maxRunners: 4, warmSpares: 1, maxSpares: 4, reuseMaxRssMb: 1 })
    await sparesUp(pool)
    const burst = [await converse(pool), await converse(pool), await converse(pool)]
    await waitUntil(() => pool.stats.spares === 1, 2_000, 'the burst replaced')
    const [big, small] = burst.map(standIn) as [StandIn, StandIn]
    // This test's own process stands in for a Claude Code process of its size (more than 1 MB).
    big.pid = process.pid
    big.reusable = small.reusable = true
    await pool.retire(burst[0]!)
    assert.equal(big.state, 'closed', 'grown past the bound: it stops')
    await pool.retire(burst[1]!)
    assert.equal(small.clears, 1, 'its size unknown (no pid): reused')
  })

  test('by its session stops when the spares are all there', async (t) => {
    const { pool } = harness(t, { maxRunners: 4, warmSpares: 1 })
    await sparesUp(pool)
    const runner = await converse(pool)
    standIn(runner).reusable = true
    await waitUntil(() => pool.stats.spares === 1, 2_000, 'the spare replaced')
    await pool.retire(runner)
    assert.equal(standIn(runner).state, 'closed')
    assert.equal(standIn(runner).clears, 0)
  })

  test('that fails to clear stops, and its slot is free again', async (t) => {
    const { pool, started } = harness(t, { maxRunners: 2, warmSpares: 2 })
    await sparesUp(pool, 2)
    const runner = await converse(pool)
    standIn(runner).reusable = true
    standIn(runner).clear = async () => {
      throw new Error('Claude Code exited while clearing its conversation')
    }
    await pool.retire(runner)
    assert.equal(standIn(runner).state, 'closed')
    await waitUntil(() => pool.stats.spares === 2 && pool.stats.live === 2, 2_000, 'a new spare in its slot')
    assert.equal(started.length, 3)
  })
})

describe('a process handed out', () => {
  test('is not evicted before its session used it or let it idle, though it is ready', async (t) => {
    const { pool, evicted } = harness(t, { maxRunners: 1, warmSpares: 0 })
    const first = await pool.acquire(profile, true)
    // The session binds its runner after acquire returns: a request for a slot meanwhile must wait.
    const second = pool.acquire(profile, true)
    await sleep(50)
    assert.deepEqual(evicted, [], 'the runner just handed out stayed with its session')
    pool.idle(first)
    assert.equal(nameOf(await second), 'r2')
    assert.deepEqual(evicted, ['r1'], 'once idle, it gives way')
  })
})

describe('memory budget', () => {
  test('pool.memoryBudgetMb keeps fewer processes than maxRunners, counted at their size', async (t) => {
    // Stand-ins have no pid, so no size is measured: the assumed ~190 MB each makes 400 MB two slots.
    const { pool, evicted } = harness(t, { maxRunners: 8, warmSpares: 0, memoryBudgetMb: 400 })
    assert.equal(pool.stats.max, 2)
    const a = await converse(pool)
    await converse(pool)
    await converse(pool)
    assert.deepEqual(evicted, [nameOf(a)], 'the third conversation took the slot of the least recent')
    assert.equal(pool.stats.live, 2)
    pool.updateLimits({ ...limitsOf(pool), memoryBudgetMb: 0 })
    assert.equal(pool.stats.max, 8)
  })
})

describe('spare demand', () => {
  test('a steady trickle keeps the floor; arrivals within one start-up count as a burst', () => {
    const demand = new SpareDemand(60_000)
    const t0 = 1_000_000
    for (let i = 0; i < 10; i++) demand.arrived('p', t0 + i * 5_000)
    assert.equal(demand.target('p', 1, 4, t0 + 50_000), 1)
    for (let i = 0; i < 3; i++) demand.arrived('p', t0 + 50_000 + i * 100)
    assert.equal(demand.target('p', 1, 8, t0 + 50_300), 4, 'the burst of three, and the floor on top')
    assert.equal(demand.target('p', 0, 8, t0 + 50_300), 3)
    assert.equal(demand.target('p', 1, 2, t0 + 50_300), 2, 'bounded by the ceiling')
    assert.equal(demand.target('other', 1, 4, t0 + 50_300), 1, 'each profile has its own demand')
    assert.equal(demand.target('p', 1, 4, t0 + 50_200 + 60_000), 1, 'back at the floor after the window')
    assert.equal(demand.nextChange('p', t0 + 50_200 + 60_000), null)
  })

  test('slower start-ups widen what counts as one burst', () => {
    const demand = new SpareDemand(60_000)
    const t0 = 1_000_000
    for (let i = 0; i < 4; i++) demand.arrived('p', t0 + i * 1_500)
    assert.equal(demand.target('p', 0, 8, t0 + 5_000), 1)
    for (let i = 0; i < 10; i++) demand.started(5_000)
    assert.equal(demand.target('p', 0, 8, t0 + 5_000), 4)
  })
})

function limitsOf(pool: ProcessPool): PoolLimits {
  return (pool as unknown as { limits: PoolLimits }).limits
}
