/**
 * Time to first text: how long a client waits from sending a message to the first streamed token.
 *
 * Pool: the engine with warm spares (what the gateway runs). Each new conversation is `createSession` +
 * `send`, timed from just before `send()` to the first `text.delta` event of that turn on the bus; then a
 * follow-up message on the same session (its runner is live), timed the same way.
 *
 * Baseline: a CLI process per request, the way gateways that shell out to `claude -p` do it:
 * `claude -p --output-format stream-json --verbose --include-partial-messages "<prompt>"` with the same
 * environment and working directory, timed from spawn to the first `stream_event` text_delta line on stdout;
 * its follow-up is the same command with `--resume <session id>`. Each process is left to exit before the
 * next one starts.
 *
 * Floor: one CLI process started as the pool starts a spare (`Runner.start` with the pool's options), primed
 * or not, idle a moment, then sent one message: what a warm spare can at best do, without pool, sessions,
 * store or bus.
 *
 * All talk to the same scripted model on 127.0.0.1 (test/support/scripted-anthropic.ts), which answers at
 * once, so the figures are the gateway's and the CLI's own overhead, not a real model's latency.
 *
 * Run: `node --import tsx bench/ttft.ts` (env: BENCH_CONVERSATIONS, BENCH_PAUSE_MS, BENCH_WARM_SPARES,
 * BENCH_FLOOR_IDLE_MS).
 */
import { runnerProfile } from '../src/engine/options.js'
import { Runner } from '../src/engine/runner.js'
import type { GatewayEvent } from '../src/events/types.js'
import { bundledClaudeCli, type TestHome, testEngine, testHome } from '../test/support/harness.js'
import { text } from '../test/support/scripted-anthropic.js'
import { waitUntil } from '../test/support/wait.js'
import {
  ANSWER,
  FOLLOW_UP,
  PROMPT,
  spawnOnce,
  type Timing,
  TURN_TIMEOUT_MS,
  toModel,
  unique,
} from './cli-baseline.js'
import { type BenchResult, envInt, main, type Row, sleep } from './stats.js'

export interface TtftOptions {
  /** New conversations per scenario (and spawn-per-request runs). */
  conversations: number
  /** Pause between two conversations in the paced scenarios. */
  pauseMs: number
  warmSpares: number
  maxRunners: number
}

export const defaultTtftOptions = (): TtftOptions => ({
  conversations: envInt('BENCH_CONVERSATIONS', 20, 0),
  pauseMs: envInt('BENCH_PAUSE_MS', 300, 0),
  warmSpares: envInt('BENCH_WARM_SPARES', 2, 0),
  maxRunners: 8,
})

/** `claude.niceness` of the engine testEngine() builds (test/support/harness.ts): the floor runs at the same. */
const ENGINE_NICENESS = 10
/** How long the floor's process idles between start-up and its message, as a spare would. */
const FLOOR_IDLE_MS = Number(process.env.BENCH_FLOOR_IDLE_MS ?? 300)

/** The 1-based positions where `flags` equals `value`, as ranges: "1-8, 10". */
function ranges(flags: boolean[], value: boolean): string {
  const out: string[] = []
  for (let i = 0; i < flags.length; i++) {
    if (flags[i] !== value) continue
    let end = i
    while (end + 1 < flags.length && flags[end + 1] === value) end++
    out.push(end > i ? `${i + 1}-${end + 1}` : `${i + 1}`)
    i = end
  }
  return out.length > 0 ? out.join(', ') : 'none'
}

// ---------------------------------------------------------------------------------------------------------
// Baseline: one CLI process per request (bench/cli-baseline.ts)

async function spawnPerRequest(cliPath: string, home: TestHome, count: number, pauseMs: number) {
  const fresh: Timing[] = []
  const resumed: Timing[] = []
  for (let i = 0; i < count; i++) {
    const first = await spawnOnce(cliPath, home, unique(PROMPT))
    fresh.push(first)
    // Every other conversation gets its follow-up: it varies little and costs a whole process each time.
    if (i % 2 === 0)
      resumed.push(await spawnOnce(cliPath, home, unique(FOLLOW_UP), ['--resume', first.sessionId]))
    await sleep(pauseMs)
  }
  return { fresh, resumed }
}

// ---------------------------------------------------------------------------------------------------------
// The warm pool

interface PoolScenario {
  warmSpares: number
  maxRunners: number
  primeSpares: boolean
  pauseMs: number
  /** Delete each session after its follow-up (its runner stops); otherwise sessions stay open (idle). */
  endConversations: boolean
  /** Wait before each conversation until every spare is ready: no process is starting during its turns. */
  waitForSpares?: boolean
  count: number
}

interface PoolRun {
  fresh: Timing[]
  followUp: Timing[]
  /** Conversations that found a ready warm spare when they sent their first message. */
  warmHits: number
  /** Per conversation, in order: whether a ready spare was there when it sent its first message. */
  warm: boolean[]
}

async function poolScenario(home: TestHome, scenario: PoolScenario): Promise<PoolRun> {
  const bench = await testEngine(home, {
    warmSpares: scenario.warmSpares,
    maxRunners: scenario.maxRunners,
    primeSpares: scenario.primeSpares,
    // Long enough that no session hibernates during the run: "kept open" means kept open.
    idleTimeoutMs: 10 * 60_000,
    turnTimeoutMs: TURN_TIMEOUT_MS,
    queueTimeoutMs: TURN_TIMEOUT_MS,
  })
  const { engine, bus } = bench
  const firstText = new Map<string, number>()
  const listener = bus.subscribeAll((event: GatewayEvent) => {
    if (event.type === 'text.delta' && !firstText.has(event.turnId))
      firstText.set(event.turnId, performance.now())
  })
  const timeTurn = async (sessionId: string, content: string): Promise<Timing> => {
    const wallStart = Date.now()
    const started = performance.now()
    const turn = await engine.send(sessionId, content)
    const done = await turn.done
    if (done.status !== 'success') throw new Error(`turn ended ${done.status}: ${JSON.stringify(done.error)}`)
    const at = firstText.get(turn.id)
    if (at === undefined) throw new Error(`turn ${turn.id} completed without a text.delta event`)
    return { ttftMs: at - started, toModelMs: toModel(home, content, wallStart) }
  }
  const run: PoolRun = { fresh: [], followUp: [], warmHits: 0, warm: [] }
  try {
    await waitUntil(() => engine.processStats.spares >= scenario.warmSpares, 60_000, 'warm spares')
    for (let i = 0; i < scenario.count; i++) {
      if (scenario.waitForSpares)
        await waitUntil(() => engine.processStats.spares >= scenario.warmSpares, 60_000, 'warm spares')
      const session = await engine.createSession({})
      const warm = engine.processStats.spares > 0
      run.warm.push(warm)
      if (warm) run.warmHits++
      run.fresh.push(await timeTurn(session.id, unique(PROMPT)))
      run.followUp.push(await timeTurn(session.id, unique(FOLLOW_UP)))
      if (scenario.endConversations) await engine.deleteSession(session.id, false)
      if (scenario.pauseMs > 0) await sleep(scenario.pauseMs)
    }
  } finally {
    listener.close()
    await bench.close()
  }
  return run
}

// ---------------------------------------------------------------------------------------------------------
// The floor: one warm CLI process on its own, without pool, session manager, store or event bus

/**
 * The first message to a CLI process started the way the pool starts a spare (`Runner.start` with the
 * options the pool uses for a new conversation), primed or not, left idle like a spare, then sent a message
 * with nothing of the gateway but the runner in between: what a warm spare can at best do with this CLI.
 * Timed to the first text `stream_event` the runner hands over. Primed and unprimed processes alternate, so a
 * slow phase of the machine does not land on one kind only.
 */
async function cliFloor(
  home: TestHome,
  cliPath: string,
  count: number,
  idleMs: number,
  pauseMs: number,
): Promise<{ primed: Timing[]; unprimed: Timing[] }> {
  const probe = await testEngine(home, { warmSpares: 0 })
  const settings = (await probe.engine.createSession({})).settings
  await probe.close()
  const host = { cliPath, env: home.env, settingSources: [], niceness: ENGINE_NICENESS }
  const profile = runnerProfile(settings, null, host, 0)
  const floor = { primed: [] as Timing[], unprimed: [] as Timing[] }
  for (let i = 0; i < 2 * count; i++) {
    const prime = i % 2 === 1
    const runner = await Runner.start(profile, TURN_TIMEOUT_MS, prime)
    try {
      await sleep(idleMs)
      let firstText = 0
      const ended = new Promise<void>((resolve, reject) =>
        runner.attach({
          onMessage: (message) => {
            if (!firstText && message.type === 'stream_event' && message.event.type === 'content_block_delta')
              firstText = performance.now()
            if (message.type === 'result') resolve()
          },
          onExit: () => reject(new Error('the CLI exited during the turn')),
          onPermission: async () => ({ behavior: 'deny', message: 'no tools in this benchmark' }),
          onClientTool: async () => ({ content: 'no tools in this benchmark', isError: true }),
        }),
      )
      const prompt = unique(PROMPT)
      const wallStart = Date.now()
      const started = performance.now()
      runner.send(prompt)
      await ended
      if (!firstText) throw new Error('the CLI produced no text')
      const timing = { ttftMs: firstText - started, toModelMs: toModel(home, prompt, wallStart) }
      ;(prime ? floor.primed : floor.unprimed).push(timing)
    } finally {
      await runner.close()
    }
    await sleep(pauseMs)
  }
  return floor
}

// ---------------------------------------------------------------------------------------------------------

export async function runTtft(options: TtftOptions = defaultTtftOptions()): Promise<BenchResult> {
  const began = performance.now()
  const home = await testHome()
  home.model.fallback = () => text(ANSWER, { chunkSize: 5 })
  try {
    // The CLI testEngine runs (the SDK's bundled one): the baseline runs the same binary.
    const cliPath = await bundledClaudeCli()
    const { conversations: count, pauseMs, warmSpares, maxRunners } = options
    const half = Math.ceil(count / 2)

    // One discarded run, so the first measured process does not pay for a cold page cache.
    await spawnOnce(cliPath, home, unique(PROMPT))

    // The baseline runs in two halves, before and after the pool scenarios, so a slow phase of the (shared)
    // machine does not land on one side only.
    const spawnA = await spawnPerRequest(cliPath, home, half, pauseMs)
    // Each scenario: conversations on primed spares, paced, ended after their follow-up, unless it says.
    const scenario = (changes: Partial<PoolScenario> = {}) =>
      poolScenario(home, {
        warmSpares,
        maxRunners,
        primeSpares: true,
        pauseMs,
        endConversations: true,
        count,
        ...changes,
      })
    const paced = await scenario()
    const pacedUnprimed = await scenario({ primeSpares: false })
    const burst = await scenario({ pauseMs: 0 })
    const open = await scenario({ endConversations: false })
    // With as many slots as spares, taking a spare cannot start a replacement during the turn: the
    // difference to "paced" is what the replacement's start-up costs the turn on this machine.
    const quiet = await scenario({ maxRunners: warmSpares, waitForSpares: true, count: half })
    const floor = await cliFloor(home, cliPath, half, FLOOR_IDLE_MS, pauseMs)
    const spawnB = await spawnPerRequest(cliPath, home, count - half, pauseMs)

    const hits = (run: PoolRun, of = count) => `warm spare ready for ${run.warmHits}/${of}`
    const ttft = (runs: Timing[]) => runs.map((run) => run.ttftMs)
    const toModelMs = (runs: Timing[]) => runs.map((run) => run.toModelMs)
    const spawnFresh = [...spawnA.fresh, ...spawnB.fresh]
    const spawnResumed = [...spawnA.resumed, ...spawnB.resumed]
    const name = {
      spawnFresh: 'spawn per request: new conversation',
      spawnResumed: 'spawn per request: follow-up (--resume)',
      paced: 'pool: new conversation, paced',
      pacedUnprimed: 'pool: new conversation, paced, spares not primed',
      burst: 'pool: new conversation, back-to-back',
      openWarm: 'pool: sessions kept open, a spare was ready',
      openCold: 'pool: sessions kept open, no spare (slots full)',
      followUp: 'pool: follow-up on a live session',
      quiet: 'pool: new conversation, no process starting meanwhile',
      floor: 'floor: one primed CLI process alone, first message',
      floorUnprimed: 'floor: one unprimed CLI process alone, first message',
    }
    const rows: Row[] = [
      { name: name.spawnFresh, unit: 'ms', samples: ttft(spawnFresh) },
      { name: name.spawnResumed, unit: 'ms', samples: ttft(spawnResumed) },
      { name: name.paced, unit: 'ms', samples: ttft(paced.fresh), note: hits(paced) },
      {
        name: name.pacedUnprimed,
        unit: 'ms',
        samples: ttft(pacedUnprimed.fresh),
        note: hits(pacedUnprimed),
      },
      { name: name.burst, unit: 'ms', samples: ttft(burst.fresh), note: hits(burst) },
      {
        name: name.openWarm,
        unit: 'ms',
        samples: ttft(open.fresh.filter((_, i) => open.warm[i])),
        note: `conversations ${ranges(open.warm, true)} of ${count}`,
      },
      {
        name: name.openCold,
        unit: 'ms',
        samples: ttft(open.fresh.filter((_, i) => !open.warm[i])),
        note: `conversations ${ranges(open.warm, false)} of ${count}`,
      },
      { name: name.followUp, unit: 'ms', samples: ttft(paced.followUp) },
      { name: name.quiet, unit: 'ms', samples: ttft(quiet.fresh), note: hits(quiet, half) },
      { name: name.floor, unit: 'ms', samples: ttft(floor.primed) },
      { name: name.floorUnprimed, unit: 'ms', samples: ttft(floor.unprimed) },
      // Where the time goes: how long until the model even sees the request (the rest is streaming back).
      ...(
        [
          [name.spawnFresh, spawnFresh],
          [name.paced, paced.fresh],
          [name.pacedUnprimed, pacedUnprimed.fresh],
          [name.followUp, paced.followUp],
          [name.floor, floor.primed],
          [name.floorUnprimed, floor.unprimed],
        ] as const
      ).map(([label, runs]) => ({
        name: `${label}: until the model gets the request`,
        unit: 'ms' as const,
        samples: toModelMs(runs),
      })),
    ]
    return {
      title: 'Time to first text',
      rows,
      ratios: [
        {
          name: 'spawn / pool, new conversation, paced',
          numerator: name.spawnFresh,
          denominator: name.paced,
          atLeast: 5,
        },
        {
          name: 'spawn / pool, new conversation, paced, spares not primed',
          numerator: name.spawnFresh,
          denominator: name.pacedUnprimed,
        },
        {
          name: 'spawn / pool, new conversation, back-to-back',
          numerator: name.spawnFresh,
          denominator: name.burst,
          atLeast: 5,
        },
        {
          name: 'spawn / pool, sessions kept open, no spare',
          numerator: name.spawnFresh,
          denominator: name.openCold,
        },
        {
          name: 'spawn --resume / pool, follow-up',
          numerator: name.spawnResumed,
          denominator: name.followUp,
        },
        {
          name: 'spawn / primed floor (the most a warm spare can give)',
          numerator: name.spawnFresh,
          denominator: name.floor,
        },
        {
          name: 'spawn / unprimed floor',
          numerator: name.spawnFresh,
          denominator: name.floorUnprimed,
        },
        { name: 'pool paced / primed floor', numerator: name.paced, denominator: name.floor },
        { name: 'pool, no process starting / primed floor', numerator: name.quiet, denominator: name.floor },
      ],
      targets: [],
      notes: [
        `${count} conversations per row; each has a first message and a follow-up; pool: warmSpares ${warmSpares}, maxRunners ${maxRunners}, spares primed (pool.primeSpares) unless the row says otherwise`,
        `paced = ${pauseMs} ms pause after each conversation; back-to-back = the next conversation starts as soon as the previous one ended`,
        'paced and back-to-back delete each session after its follow-up (its process stops); "kept open" (paced too) leaves every session idle with its process, as clients that never delete sessions do, and is split by whether a spare was ready',
        'spawn per request: half the runs before the pool scenarios and half after, same pacing, each process exits before the next starts; every other one gets a --resume follow-up',
        `no process starting meanwhile: ${half} paced conversations with maxRunners = warmSpares = ${warmSpares}, each started once every spare is ready, so no replacement spare starts during its turns`,
        `floor: ${half} primed and ${half} unprimed CLI processes, alternating, each started as the pool starts a spare (Runner.start, the pool's options for a new conversation), idle ${FLOOR_IDLE_MS} ms, then sent one message with no pool, session manager, store or bus: the best a warm spare can do with this CLI`,
        '"until the model gets the request": from send()/spawn to the scripted model receiving the turn (Date.now, 1 ms resolution)',
      ],
      elapsedMs: performance.now() - began,
    }
  } finally {
    await home.close()
  }
}

await main(import.meta.url, () => runTtft())
