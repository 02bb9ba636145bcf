/**
 * Sustained traffic on the OpenAI API (issue 13): the gateway as an operator runs it (`node dist/cli.js`, its
 * own process, its default configuration unless CCGW_* variables say otherwise) against the spawn-per-request
 * baseline (bench/cli-baseline.ts: `claude -p --output-format stream-json --verbose
 * --include-partial-messages --append-system-prompt <system> <prompt>`, plus `--resume <id>` for a
 * follow-up), both talking to the scripted model of the tests with the same CLI binary, no network.
 *
 * 1. Interleaved rounds (the side that goes first alternates): (a) a new streamed conversation, time to the
 *    first text; (b) a new non-streamed conversation, time to the whole answer (the baseline: to its
 *    `result` line); (c) the follow-up of (a) carrying its history (baseline: `--resume`), time to first
 *    text; (d) BENCH_SUSTAINED_BURST new non-streamed conversations at once, wall time until the last answer.
 *    Sessions are never deleted, as OpenAI clients never do.
 * 2. An open-loop arrival stream: new streamed conversations arriving as a Poisson process, a share of them
 *    getting one follow-up after an exponentially distributed think time; first-text latency of each. The
 *    gateway's stream runs a warm-up first (unmeasured, so idle sessions fill the pool), then the measured
 *    part; the baseline runs the same arrivals (same seed) as the measured part, after the gateway's.
 * 3. Memory of the gateway's whole process tree (its node process and every descendant, VmRSS), sampled
 *    throughout, printed as a small time series, and once more after the stream when the gateway has idled
 *    BENCH_SUSTAINED_SETTLE_MS; the baseline's spawned CLI processes sampled too.
 * 4. CPU seconds per request: the gateway tree's utime+stime (live processes, plus what they reaped) over the
 *    rounds and the measured stream, divided by the requests sent meanwhile; the baseline's from this
 *    process's cutime+cstime (the spawned CLIs it reaped) over its rounds and stream.
 *
 * Every model request is checked: no request may carry texts of two conversations, and every answer must
 * carry its own conversation's tag; a failure fails the run after the table.
 *
 * Run: `npm run build && node --import tsx bench/sustained.ts`, or `npm run bench -- --only sustained`.
 * Env (defaults): BENCH_SUSTAINED_ROUNDS (20), BENCH_SUSTAINED_BURST (4), BENCH_SUSTAINED_PAUSE_MS (200),
 * BENCH_SUSTAINED_RATE (0.5 new conversations/s), BENCH_SUSTAINED_FOLLOWUP (0.3),
 * BENCH_SUSTAINED_THINK_MS (20000, mean), BENCH_SUSTAINED_WARMUP_S (60), BENCH_SUSTAINED_SECONDS (300),
 * BENCH_SUSTAINED_BASELINE_SECONDS (= SECONDS), BENCH_SUSTAINED_SETTLE_MS (60000),
 * BENCH_SUSTAINED_SAMPLE_MS (1000), BENCH_SUSTAINED_SERIES (12 points), BENCH_SUSTAINED_SEED (1),
 * BENCH_SUSTAINED_SOURCE (0; 1 runs src/cli.ts through tsx, no build needed). Every CCGW_* variable set
 * when the benchmark starts is passed to the gateway (e.g. CCGW_POOL_MAX_RUNNERS, CCGW_POOL_WARM_SPARES,
 * CCGW_CONFIG=<file>), so pool policies can be compared; the effective pool section is printed.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../src/config/index.js'
import { bundledClaudeCli, type TestHome, testHome } from '../test/support/harness.js'
import { conversationTexts, lastUserText, text } from '../test/support/scripted-anthropic.js'
import { ANSWER, FOLLOW_UP, PROMPT, spawnOnce, TURN_TIMEOUT_MS } from './cli-baseline.js'
import { CLI, gatewayChild } from './http.js'
import { type ChatMessage, MODEL, type Streamed, SYSTEM, streamCompletion } from './openai.js'
import {
  type BenchResult,
  descendants,
  envInt,
  envNumber,
  main,
  processCpu,
  type Ratio,
  type Row,
  render,
  seeded,
  sleep,
  treeUsage,
  type Usage,
  usageOf,
} from './stats.js'

export interface SustainedOptions {
  rounds: number
  /** Conversations started at once in (d). */
  burst: number
  pauseMs: number
  /** New conversations per second in the arrival stream (0: no stream). */
  rate: number
  /** Share of the stream's conversations that get one follow-up. */
  followUpShare: number
  /** Mean think time before a follow-up. */
  thinkMs: number
  warmupS: number
  seconds: number
  baselineSeconds: number
  settleMs: number
  sampleMs: number
  seriesPoints: number
  seed: number
  fromSource: boolean
}

export const defaultSustainedOptions = (): SustainedOptions => {
  const seconds = envInt('BENCH_SUSTAINED_SECONDS', 300, 0)
  return {
    rounds: envInt('BENCH_SUSTAINED_ROUNDS', 20, 0),
    burst: envInt('BENCH_SUSTAINED_BURST', 4),
    pauseMs: envInt('BENCH_SUSTAINED_PAUSE_MS', 200, 0),
    rate: envNumber('BENCH_SUSTAINED_RATE', 0.5),
    followUpShare: Math.min(1, envNumber('BENCH_SUSTAINED_FOLLOWUP', 0.3)),
    thinkMs: envNumber('BENCH_SUSTAINED_THINK_MS', 20_000),
    warmupS: envInt('BENCH_SUSTAINED_WARMUP_S', 60, 0),
    seconds,
    baselineSeconds: Math.min(seconds, envInt('BENCH_SUSTAINED_BASELINE_SECONDS', seconds, 0)),
    settleMs: envInt('BENCH_SUSTAINED_SETTLE_MS', 60_000, 0),
    sampleMs: envInt('BENCH_SUSTAINED_SAMPLE_MS', 1000, 50),
    seriesPoints: envInt('BENCH_SUSTAINED_SERIES', 12, 2),
    seed: envInt('BENCH_SUSTAINED_SEED', 1, 0),
    fromSource: process.env.BENCH_SUSTAINED_SOURCE === '1',
  }
}

/** The command that runs this benchmark again with the same settings (and the same CCGW_* variables). */
function reproduce(options: SustainedOptions, passed: Record<string, string>): string {
  const knobs = {
    ROUNDS: options.rounds,
    BURST: options.burst,
    PAUSE_MS: options.pauseMs,
    RATE: options.rate,
    FOLLOWUP: options.followUpShare,
    THINK_MS: options.thinkMs,
    WARMUP_S: options.warmupS,
    SECONDS: options.seconds,
    BASELINE_SECONDS: options.baselineSeconds,
    SETTLE_MS: options.settleMs,
    SAMPLE_MS: options.sampleMs,
    SERIES: options.seriesPoints,
    SEED: options.seed,
    SOURCE: options.fromSource ? 1 : 0,
  }
  const env = [
    ...Object.entries(knobs).map(([name, value]) => `BENCH_SUSTAINED_${name}=${value}`),
    ...Object.entries(passed).map(([name, value]) => `${name}=${JSON.stringify(value)}`),
  ]
  const build = options.fromSource ? '' : 'npm run build && '
  return `${build}${env.join(' ')} node --import tsx bench/sustained.ts`
}

// ---------------------------------------------------------------------------------------------------------
// Conversations: tagged, so what the model receives can be checked

/** Tags every conversation's texts and checks, for each model request, that no other conversation's text is in it. */
class Conversations {
  checked = 0
  /** Model requests that carried texts of more than one conversation. */
  mixed: string[] = []
  /** Answers received that did not carry their own conversation's tag. */
  wrongAnswers: string[] = []
  private count = 0

  tag = () => `c${++this.count}`
  prompt = (tag: string) => `${PROMPT} [conversation ${tag}]`
  followUp = (tag: string) => `${FOLLOW_UP} [conversation ${tag}]`

  /** The scripted model's answer: it names the conversation its last user message belongs to. */
  reply = (body: Parameters<typeof lastUserText>[0]) => {
    const tags = new Set(
      conversationTexts(body).flatMap(({ text: said }) =>
        [...said.matchAll(/\[conversation (c\d+)\]/g)].map((match) => match[1]!),
      ),
    )
    this.checked++
    if (tags.size > 1) this.mixed.push([...tags].join('+'))
    const own = /\[conversation (c\d+)\]/.exec(lastUserText(body))?.[1]
    return text(own ? `${ANSWER} [conversation ${own}]` : ANSWER, { chunkSize: 5 })
  }

  expect(tag: string, answer: string): void {
    if (!answer.includes(`[conversation ${tag}]`)) this.wrongAnswers.push(`${tag}: ${answer.slice(0, 80)}`)
  }
}

// ---------------------------------------------------------------------------------------------------------
// The two sides

interface Answer {
  ms: number
  content: string
  sessionId: string
}

/** One non-streamed completion: time to the whole JSON answer. */
async function complete(url: string, messages: ChatMessage[]): Promise<Answer> {
  const started = performance.now()
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, messages }),
    signal: AbortSignal.timeout(TURN_TIMEOUT_MS),
  })
  const body = await response.text()
  const ms = performance.now() - started
  if (!response.ok) throw new Error(`status ${response.status}: ${body.slice(0, 300)}`)
  const parsed = JSON.parse(body) as { choices?: { message?: { content?: string | null } }[] }
  return {
    ms,
    content: parsed.choices?.[0]?.message?.content ?? '',
    sessionId: response.headers.get('x-session-id') ?? '',
  }
}

/** The gateway through /v1/chat/completions, every answer checked against its conversation. */
class GatewaySide {
  constructor(
    readonly url: string,
    private readonly conversations: Conversations,
  ) {}

  /** Whether a warm spare is ready (`processes.spares` of GET /v1/health), asked just before a new conversation. */
  async spareReady(): Promise<boolean> {
    const response = await fetch(`${this.url}/v1/health`, { signal: AbortSignal.timeout(10_000) })
    const health = (await response.json()) as { processes?: { spares?: number } }
    return (health.processes?.spares ?? 0) > 0
  }

  async health(): Promise<Record<string, unknown>> {
    const response = await fetch(`${this.url}/v1/health`, { signal: AbortSignal.timeout(10_000) })
    return (await response.json()) as Record<string, unknown>
  }

  /** Process starts and reuses since the gateway started (its /metrics counters). */
  async processCounts(): Promise<{ starts: number; reuses: number }> {
    const response = await fetch(`${this.url}/metrics`, { signal: AbortSignal.timeout(10_000) })
    const text = await response.text()
    const counter = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN)
    return { starts: counter('gateway_cli_starts_total'), reuses: counter('gateway_cli_reuses_total') }
  }

  history = (tag: string): ChatMessage[] => [
    { role: 'system', content: SYSTEM },
    { role: 'user', content: this.conversations.prompt(tag) },
  ]

  async streamed(tag: string): Promise<Streamed> {
    const run = await streamCompletion(this.url, this.history(tag))
    this.conversations.expect(tag, run.content)
    return run
  }

  async whole(tag: string): Promise<Answer> {
    const answer = await complete(this.url, this.history(tag))
    this.conversations.expect(tag, answer.content)
    return answer
  }

  /**
   * The follow-up of a streamed conversation, carrying its history; whether its session answered it, and
   * whether that session still had its process when the follow-up came (`GET /api/sessions/{id}` just
   * before: `idle`), or had given it up after `openai.unfollowedIdleMs` and resumes from Claude's transcript.
   */
  async followUp(
    tag: string,
    first: Streamed,
  ): Promise<{ ttftMs: number; sameSession: boolean; live: boolean }> {
    const session = await fetch(`${this.url}/api/sessions/${first.sessionId}`, {
      signal: AbortSignal.timeout(10_000),
    })
    const live = session.ok && ((await session.json()) as { state?: string }).state === 'idle'
    const run = await streamCompletion(this.url, [
      ...this.history(tag),
      { role: 'assistant', content: first.content },
      { role: 'user', content: this.conversations.followUp(tag) },
    ])
    this.conversations.expect(tag, run.content)
    return { ttftMs: run.ttftMs, sameSession: run.sessionId === first.sessionId, live }
  }
}

/** The CLI spawned per request, with the same system prompt on every request as a proxy passes it. */
class SpawnSide {
  constructor(
    private readonly cliPath: string,
    private readonly home: TestHome,
    private readonly conversations: Conversations,
  ) {}

  fresh = (tag: string) =>
    spawnOnce(this.cliPath, this.home, this.conversations.prompt(tag), ['--append-system-prompt', SYSTEM])

  followUp = (tag: string, sessionId: string) =>
    spawnOnce(this.cliPath, this.home, this.conversations.followUp(tag), [
      '--append-system-prompt',
      SYSTEM,
      '--resume',
      sessionId,
    ])
}

// ---------------------------------------------------------------------------------------------------------
// Sampling memory (and CPU) of both sides

interface Sample {
  atS: number
  phase: string
  gateway: Usage
  /** The baseline's CLI processes: this process's descendants outside the gateway's tree, new since the start. */
  spawned: Usage
}

class Sampler {
  readonly samples: Sample[] = []
  phase = 'start'
  private running = true
  private readonly loop: Promise<void>
  private readonly began = performance.now()

  constructor(gatewayPid: number, everyMs: number, home: TestHome) {
    this.loop = (async () => {
      // What ran before the first request (tsx's esbuild service) is nobody's.
      const before = new Set(await descendants(process.pid))
      while (this.running) {
        // Ours first, the gateway's after: a CLI the gateway starts in between is still counted as its own.
        const ours = await descendants(process.pid)
        const gatewayTree = [gatewayPid, ...(await descendants(gatewayPid))]
        const inGateway = new Set(gatewayTree)
        const [gateway, spawned] = await Promise.all([
          usageOf(gatewayTree),
          usageOf(ours.filter((pid) => !inGateway.has(pid) && !before.has(pid))),
        ])
        this.samples.push({
          atS: (performance.now() - this.began) / 1000,
          phase: this.phase,
          gateway,
          spawned,
        })
        // The scripted model keeps every request (each carries Claude Code's whole system prompt); the checks
        // have read them already.
        home.model.requests.length = 0
        await sleep(everyMs)
      }
    })()
  }

  during = (phase: string) => this.samples.filter((sample) => sample.phase === phase)

  async stop(): Promise<void> {
    this.running = false
    await this.loop
  }
}

/** CPU seconds used so far by the gateway's tree, and by the CLI processes this process spawned and reaped. */
async function cpuNow(
  gatewayPid: number,
): Promise<{ gatewayS: number; gatewayNodeS: number; spawnedS: number }> {
  const [gateway, node, self] = await Promise.all([
    treeUsage(gatewayPid),
    processCpu(gatewayPid),
    processCpu(process.pid),
  ])
  return { gatewayS: gateway.cpuS, gatewayNodeS: node.ownS, spawnedS: self.reapedS }
}

// ---------------------------------------------------------------------------------------------------------
// The arrival stream

interface Arrival {
  atMs: number
  /** Think time before its follow-up, or null when it gets none. */
  thinkMs: number | null
}

/** Poisson arrivals at `rate` per second over `durationMs`, each with a follow-up with probability `share`. */
function arrivals(options: SustainedOptions, durationMs: number): Arrival[] {
  const random = seeded(options.seed)
  const exponential = (meanMs: number) => -Math.log(1 - random()) * meanMs
  const out: Arrival[] = []
  if (options.rate <= 0) return out
  for (let at = exponential(1000 / options.rate); at < durationMs; at += exponential(1000 / options.rate)) {
    // Both draws every time, so the arrival times do not depend on the share.
    const followed = random() < options.followUpShare
    const think = exponential(options.thinkMs)
    out.push({ atMs: at, thinkMs: followed ? think : null })
  }
  return out
}

interface StreamRun {
  fresh: number[]
  followUps: number[]
  /** Of `followUps`, those whose session still had its process (the gateway only). */
  liveFollowUps: number[]
  /** New conversations (measured) that found a ready spare; null when the side has none. */
  warm: number | null
  /** Measured follow-ups answered by their conversation's session. */
  sameSession: number | null
  failures: string[]
  /** Requests sent from the start of the measurement, and CPU seconds from then until the last one ended. */
  requests: number
  cpuS: number
  /** Of `cpuS`, the gateway's own node process (0 for the baseline). */
  nodeCpuS: number
  durationS: number
}

/** One side of a conversation in the stream: its first message and its follow-up. */
interface StreamSide<T> {
  fresh(tag: string): Promise<{ ttftMs: number; state: T; warm?: boolean }>
  followUp(tag: string, state: T): Promise<{ ttftMs: number; sameSession?: boolean; live?: boolean }>
  /** CPU seconds so far: all of the side's processes, and the gateway's own node process among them. */
  cpuS(): Promise<{ totalS: number; nodeS: number }>
}

/**
 * Open loop: each arrival starts its conversation at its time whether or not earlier ones have ended.
 * Conversations arriving from `measureFromMs` are measured, follow-ups included whenever they come.
 */
async function arrivalStream<T>(
  side: StreamSide<T>,
  schedule: Arrival[],
  measureFromMs: number,
  conversations: Conversations,
  onMeasuring: () => void,
): Promise<StreamRun> {
  const run: StreamRun = {
    fresh: [],
    followUps: [],
    liveFollowUps: [],
    warm: null,
    sameSession: null,
    failures: [],
    requests: 0,
    cpuS: 0,
    nodeCpuS: 0,
    durationS: 0,
  }
  const began = performance.now()
  let measuring = false
  let cpuAtStart = { totalS: 0, nodeS: 0 }
  const startMeasuring = async () => {
    measuring = true
    onMeasuring()
    cpuAtStart = await side.cpuS()
  }
  const count = () => {
    if (measuring) run.requests++
  }
  const conversation = async (arrival: Arrival) => {
    const measured = arrival.atMs >= measureFromMs
    const tag = conversations.tag()
    try {
      count()
      const first = await side.fresh(tag)
      if (measured) {
        run.fresh.push(first.ttftMs)
        if (first.warm !== undefined) run.warm = (run.warm ?? 0) + (first.warm ? 1 : 0)
      }
      if (arrival.thinkMs === null) return
      await sleep(arrival.thinkMs)
      count()
      const next = await side.followUp(tag, first.state)
      if (measured) {
        run.followUps.push(next.ttftMs)
        if (next.live) run.liveFollowUps.push(next.ttftMs)
        if (next.sameSession !== undefined)
          run.sameSession = (run.sameSession ?? 0) + (next.sameSession ? 1 : 0)
      }
    } catch (error) {
      run.failures.push(`${tag}: ${(error as Error).message.slice(0, 200)}`)
    }
  }
  const started: Promise<void>[] = []
  for (const arrival of schedule) {
    if (!measuring && arrival.atMs >= measureFromMs) {
      await sleep(began + measureFromMs - performance.now())
      await startMeasuring()
    }
    await sleep(began + arrival.atMs - performance.now())
    started.push(conversation(arrival))
  }
  if (!measuring) await startMeasuring()
  const measuredSince = performance.now()
  await Promise.all(started)
  const cpuAtEnd = await side.cpuS()
  run.cpuS = cpuAtEnd.totalS - cpuAtStart.totalS
  run.nodeCpuS = cpuAtEnd.nodeS - cpuAtStart.nodeS
  run.durationS = (performance.now() - measuredSince) / 1000
  return run
}

// ---------------------------------------------------------------------------------------------------------

const WORKLOADS = {
  a: '(a) new conversation, streamed: first text',
  b: '(b) new conversation, non-streamed: whole answer',
  c: '(c) follow-up with its history: first text',
  d: (burst: number) => `(d) ${burst} new conversations at once: wall time`,
  streamFresh: 'stream: new conversation, first text',
  streamFollowUp: 'stream: follow-up, first text',
  streamLiveFollowUp: 'stream: follow-up to a session still live, first text',
  cpu: 'CPU per request (ms of CPU)',
}
const GATEWAY = 'gateway'
const SPAWN = 'spawn per request'
const of = (workload: string, side: string) => `${workload}: ${side}`

export async function runSustained(
  options: SustainedOptions = defaultSustainedOptions(),
): Promise<BenchResult> {
  if (!options.fromSource && !existsSync(CLI))
    throw new Error(`${CLI} is missing: run \`npm run build\` first, or set BENCH_SUSTAINED_SOURCE=1`)
  const began = performance.now()
  const log = (line: string) =>
    console.log(`[sustained ${((performance.now() - began) / 1000).toFixed(0)} s] ${line}`)
  const home = await testHome()
  const conversations = new Conversations()
  home.model.fallback = (request) => conversations.reply(request.body)
  const cliPath = await bundledClaudeCli()

  // The gateway's own defaults (bench/http.ts's gatewayChild would start it with no spare), then whatever
  // CCGW_* variables this benchmark was started with: the policy under test.
  const defaults = loadConfig({ env: {}, cwd: home.root }).config
  const passed = Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] => entry[0].startsWith('CCGW_') && entry[1] !== undefined,
    ),
  )
  const gatewayEnv = { CCGW_POOL_WARM_SPARES: String(defaults.pool.warmSpares), ...passed }
  const pool = loadConfig({ env: gatewayEnv, cwd: home.workspace }).config.pool
  const command = reproduce(options, passed)
  log(`reproduce with: ${command}`)

  const gateway = await gatewayChild(home, cliPath, {
    level: 'info',
    logFile: join(home.root, 'sustained.log'),
    env: gatewayEnv,
    fromSource: options.fromSource,
  })
  const gatewayPid = gateway.child.pid!
  const sampler = new Sampler(gatewayPid, options.sampleMs, home)
  const client = new GatewaySide(gateway.url, conversations)
  const spawner = new SpawnSide(cliPath, home, conversations)
  const failures: string[] = []
  /** A request that failed is counted and left out; the run goes on. */
  const attempt = async <T>(what: string, work: () => Promise<T>): Promise<T | null> => {
    try {
      return await work()
    } catch (error) {
      failures.push(`${what}: ${(error as Error).message.slice(0, 200)}`)
      return null
    }
  }
  const waitForSpares = async () => {
    const deadline = performance.now() + 60_000
    while (performance.now() < deadline) {
      const health = (await client.health()) as { processes?: { spares?: number } }
      if ((health.processes?.spares ?? 0) >= pool.warmSpares) return
      await sleep(50)
    }
  }

  try {
    // Warm-up: the spares start, and one of each kind of request runs unmeasured (page cache, JIT).
    sampler.phase = 'warm-up'
    await waitForSpares()
    const warmTag = conversations.tag()
    await client.followUp(warmTag, await client.streamed(warmTag))
    await spawner.fresh(conversations.tag())
    await waitForSpares()

    // 1. Interleaved rounds.
    log(`${options.rounds} interleaved rounds`)
    sampler.phase = 'rounds'
    const samples: Record<string, number[]> = {}
    const add = (name: string, value: number) => {
      samples[name] ??= []
      if (Number.isFinite(value)) samples[name].push(value)
    }
    const warmHits = { a: 0, b: 0 }
    let sameSession = 0
    let roundRequests = 0
    const cpuBeforeRounds = await cpuNow(gatewayPid)
    for (let round = 0; round < options.rounds; round++) {
      const pair = async (gatewayTurn: () => Promise<void>, spawnTurn: () => Promise<void>) => {
        const [first, second] = round % 2 === 0 ? [gatewayTurn, spawnTurn] : [spawnTurn, gatewayTurn]
        await first()
        await sleep(options.pauseMs)
        await second()
        await sleep(options.pauseMs)
      }
      const tagA = { gateway: conversations.tag(), spawn: conversations.tag() }
      let streamed: Streamed | null = null
      let spawnedSession = ''
      await pair(
        async () => {
          const warm = await client.spareReady()
          streamed = await attempt('(a) gateway', () => client.streamed(tagA.gateway))
          if (!streamed) return
          if (warm) warmHits.a++
          add(of(WORKLOADS.a, GATEWAY), streamed.ttftMs)
        },
        async () => {
          const run = await attempt('(a) spawn', () => spawner.fresh(tagA.spawn))
          if (!run) return
          spawnedSession = run.sessionId
          add(of(WORKLOADS.a, SPAWN), run.ttftMs)
        },
      )
      await pair(
        async () => {
          const warm = await client.spareReady()
          const answer = await attempt('(b) gateway', () => client.whole(conversations.tag()))
          if (!answer) return
          if (warm) warmHits.b++
          add(of(WORKLOADS.b, GATEWAY), answer.ms)
        },
        async () => {
          const run = await attempt('(b) spawn', () => spawner.fresh(conversations.tag()))
          if (run) add(of(WORKLOADS.b, SPAWN), run.answerMs)
        },
      )
      await pair(
        async () => {
          const first = streamed as Streamed | null
          if (!first) return
          const next = await attempt('(c) gateway', () => client.followUp(tagA.gateway, first))
          if (!next) return
          if (next.sameSession) sameSession++
          add(of(WORKLOADS.c, GATEWAY), next.ttftMs)
        },
        async () => {
          if (!spawnedSession) return
          const run = await attempt('(c) spawn', () => spawner.followUp(tagA.spawn, spawnedSession))
          if (run) add(of(WORKLOADS.c, SPAWN), run.ttftMs)
        },
      )
      const many = <T>(start: () => Promise<T>) => Promise.all(Array.from({ length: options.burst }, start))
      await pair(
        async () => {
          const started = performance.now()
          const answers = await attempt('(d) gateway', () => many(() => client.whole(conversations.tag())))
          if (answers) add(of(WORKLOADS.d(options.burst), GATEWAY), performance.now() - started)
        },
        async () => {
          // Started together: the wall time is the slowest one's time to its answer.
          const runs = await attempt('(d) spawn', () => many(() => spawner.fresh(conversations.tag())))
          if (runs) add(of(WORKLOADS.d(options.burst), SPAWN), Math.max(...runs.map((run) => run.answerMs)))
        },
      )
      roundRequests += 3 + options.burst
      if ((round + 1) % 5 === 0 || round + 1 === options.rounds) {
        const last = sampler.samples.at(-1)
        log(
          `round ${round + 1}/${options.rounds}; gateway tree ${last?.gateway.rssMb.toFixed(0)} MB in ${last?.gateway.processes} processes`,
        )
      }
    }
    const cpuAfterRounds = await cpuNow(gatewayPid)

    // 2. The arrival stream: the gateway's (warm-up, then measured), its settling, then the baseline's.
    const warmupMs = options.warmupS * 1000
    const gatewaySchedule = arrivals(options, warmupMs + options.seconds * 1000)
    const spawnSchedule = gatewaySchedule
      .filter(
        (arrival) => arrival.atMs >= warmupMs && arrival.atMs < warmupMs + options.baselineSeconds * 1000,
      )
      .map((arrival) => ({ ...arrival, atMs: arrival.atMs - warmupMs }))
    const streaming = options.rate > 0 && options.seconds > 0
    let gatewayStream: StreamRun | null = null
    let spawnStream: StreamRun | null = null
    if (streaming) {
      log(
        `arrival stream on the gateway: ${gatewaySchedule.length} conversations over ${options.warmupS} s warm-up + ${options.seconds} s`,
      )
      sampler.phase = 'stream warm-up'
      gatewayStream = await arrivalStream<Streamed>(
        {
          fresh: async (tag) => {
            const warm = await client.spareReady()
            const run = await client.streamed(tag)
            return { ttftMs: run.ttftMs, state: run, warm }
          },
          followUp: (tag, first) => client.followUp(tag, first),
          cpuS: async () => {
            const cpu = await cpuNow(gatewayPid)
            return { totalS: cpu.gatewayS, nodeS: cpu.gatewayNodeS }
          },
        },
        gatewaySchedule,
        warmupMs,
        conversations,
        () => {
          sampler.phase = 'stream'
        },
      )
    }
    // The gateway idles: its tree should shrink to what its configuration keeps.
    log(`gateway idle for ${options.settleMs} ms`)
    sampler.phase = 'settle'
    const cpuBeforeSettle = await cpuNow(gatewayPid)
    await sleep(options.settleMs)
    const settled = await treeUsage(gatewayPid)
    const idleCpuS = (await cpuNow(gatewayPid)).gatewayS - cpuBeforeSettle.gatewayS
    const settledHealth = await client.health()
    const processCounts = await client.processCounts()
    if (streaming) {
      log(
        `arrival stream spawning per request: ${spawnSchedule.length} conversations over ${options.baselineSeconds} s`,
      )
      sampler.phase = 'baseline stream'
      spawnStream = await arrivalStream<string>(
        {
          fresh: async (tag) => {
            const run = await spawner.fresh(tag)
            return { ttftMs: run.ttftMs, state: run.sessionId }
          },
          followUp: (tag, sessionId) => spawner.followUp(tag, sessionId),
          cpuS: async () => ({ totalS: (await cpuNow(gatewayPid)).spawnedS, nodeS: 0 }),
        },
        spawnSchedule,
        0,
        conversations,
        () => undefined,
      )
    }
    sampler.phase = 'end'
    await sampler.stop()

    // -----------------------------------------------------------------------------------------------------
    const cpuPerRequestMs = (seconds: number, requests: number) =>
      requests > 0 ? (seconds / requests) * 1000 : Number.NaN
    const gatewayCpuS = cpuAfterRounds.gatewayS - cpuBeforeRounds.gatewayS + (gatewayStream?.cpuS ?? 0)
    const gatewayNodeCpuS =
      cpuAfterRounds.gatewayNodeS - cpuBeforeRounds.gatewayNodeS + (gatewayStream?.nodeCpuS ?? 0)
    const spawnCpuS = cpuAfterRounds.spawnedS - cpuBeforeRounds.spawnedS + (spawnStream?.cpuS ?? 0)
    const gatewayRequests = roundRequests + (gatewayStream?.requests ?? 0)
    const spawnRequests = roundRequests + (spawnStream?.requests ?? 0)
    const rss = (phase: string, side: 'gateway' | 'spawned') =>
      sampler.during(phase).map((sample) => sample[side].rssMb)
    const processes = (phase: string) => {
      const counts = sampler.during(phase).map((sample) => sample.gateway.processes)
      return counts.length > 0 ? `${Math.min(...counts)}-${Math.max(...counts)} processes` : 'no sample'
    }
    const d = WORKLOADS.d(options.burst)
    /** A workload's two rows: the gateway's and the baseline's. */
    const sides = (workload: string, gateway: number[], spawn: number[], notes: [string, string]): Row[] => [
      { name: of(workload, GATEWAY), unit: 'ms', samples: gateway, note: notes[0] },
      { name: of(workload, SPAWN), unit: 'ms', samples: spawn, note: notes[1] },
    ]
    const roundRows = (workload: string, notes: [string, string]) =>
      sides(workload, samples[of(workload, GATEWAY)] ?? [], samples[of(workload, SPAWN)] ?? [], notes)
    const rows: Row[] = [
      ...roundRows(WORKLOADS.a, [`a spare was ready for ${warmHits.a}`, '']),
      ...roundRows(WORKLOADS.b, [`a spare was ready for ${warmHits.b}`, 'to the result line']),
      ...roundRows(WORKLOADS.c, [`answered by the same session: ${sameSession}`, '--resume']),
      ...roundRows(d, ['', 'the slowest one to its result line']),
    ]
    if (gatewayStream && spawnStream) {
      rows.push(
        ...sides(WORKLOADS.streamFresh, gatewayStream.fresh, spawnStream.fresh, [
          `a spare was ready for ${gatewayStream.warm ?? 0}; ${gatewayStream.failures.length} failed`,
          `${spawnStream.failures.length} failed`,
        ]),
        ...sides(WORKLOADS.streamFollowUp, gatewayStream.followUps, spawnStream.followUps, [
          `answered by the same session: ${gatewayStream.sameSession ?? 0}; the others resumed after openai.unfollowedIdleMs`,
          '--resume',
        ]),
        // The baseline has no live process to reach: each of its follow-ups is a --resume, compared as is.
        ...sides(WORKLOADS.streamLiveFollowUp, gatewayStream.liveFollowUps, spawnStream.followUps, [
          `${gatewayStream.liveFollowUps.length} of ${gatewayStream.followUps.length} came within the session's life`,
          'all of its follow-ups (--resume)',
        ]),
      )
    }
    rows.push(
      {
        name: of(WORKLOADS.cpu, 'gateway and its CLI processes'),
        unit: 'ms',
        samples: [cpuPerRequestMs(gatewayCpuS, gatewayRequests)],
        note: `${gatewayCpuS.toFixed(1)} s for ${gatewayRequests} requests, ${gatewayNodeCpuS.toFixed(1)} s of it the gateway's node process`,
      },
      {
        name: of(WORKLOADS.cpu, 'spawned CLI processes'),
        unit: 'ms',
        samples: [cpuPerRequestMs(spawnCpuS, spawnRequests)],
        note: `${spawnCpuS.toFixed(1)} s for ${spawnRequests} requests`,
      },
      {
        name: 'gateway tree memory: rounds',
        unit: 'MB',
        samples: rss('rounds', 'gateway'),
        note: processes('rounds'),
      },
      {
        name: 'gateway tree memory: arrival stream (measured)',
        unit: 'MB',
        samples: rss('stream', 'gateway'),
        note: processes('stream'),
      },
      {
        name: `gateway tree memory: idle ${(options.settleMs / 1000).toFixed(0)} s after the stream`,
        unit: 'MB',
        samples: [settled.rssMb],
        note: `${settled.processes} processes`,
      },
      {
        name: 'spawn per request: memory of the running CLI processes (rounds and stream)',
        unit: 'MB',
        samples: [...rss('rounds', 'spawned'), ...rss('baseline stream', 'spawned')],
        note: 'idle: none (a proxy process of its own not counted)',
      },
    )
    const ratio = (name: string, workload: string, atLeast?: number, percentile?: number): Ratio => ({
      name: `${name}, ${SPAWN} / ${GATEWAY}`,
      numerator: of(workload, SPAWN),
      denominator: of(workload, GATEWAY),
      ...(atLeast === undefined ? {} : { atLeast }),
      ...(percentile === undefined ? {} : { percentile }),
    })
    const ratios: Ratio[] = [
      ratio('(a) first text', WORKLOADS.a, 3, 90),
      ratio('(a) first text', WORKLOADS.a),
      ratio('(b) whole answer', WORKLOADS.b, 2),
      ratio('(c) follow-up', WORKLOADS.c, 10),
      ratio('(d) burst wall time', d, 1.5),
      ...(gatewayStream && spawnStream
        ? [
            ratio('stream: new conversation', WORKLOADS.streamFresh, 3, 90),
            ratio('stream: new conversation', WORKLOADS.streamFresh),
            ratio('stream: follow-up', WORKLOADS.streamFollowUp),
            ratio('stream: follow-up to a live session', WORKLOADS.streamLiveFollowUp, 10),
          ]
        : []),
      {
        name: `CPU per request, ${SPAWN} / ${GATEWAY}`,
        numerator: of(WORKLOADS.cpu, 'spawned CLI processes'),
        denominator: of(WORKLOADS.cpu, 'gateway and its CLI processes'),
        atLeast: 1,
      },
    ]
    // A few evenly spread samples and the last one: how the tree grows and shrinks.
    const all = sampler.samples
    const step = Math.max(1, Math.floor(all.length / (options.seriesPoints - 1)))
    const series = all.filter((_, i) => i % step === 0 || i === all.length - 1)
    const isolation = [
      conversations.mixed.length === 0 && conversations.wrongAnswers.length === 0 ? 'passed' : 'FAILED',
      `${conversations.checked} model requests checked, ${conversations.mixed.length} carried texts of several conversations${conversations.mixed.length ? ` (${conversations.mixed.slice(0, 5).join(', ')})` : ''}, ${conversations.wrongAnswers.length} answers did not carry their own conversation's tag${conversations.wrongAnswers.length ? ` (${conversations.wrongAnswers.slice(0, 3).join('; ')})` : ''}`,
    ]
    const streamFailures = [...(gatewayStream?.failures ?? []), ...(spawnStream?.failures ?? [])]
    const result: BenchResult = {
      title: `Sustained traffic on /v1/chat/completions: ${options.rounds} rounds, ${streaming ? `${options.rate}/s arrivals for ${options.seconds} s` : 'no arrival stream'}`,
      rows,
      ratios,
      targets: [],
      p99: true,
      notes: [
        `reproduce: ${command}`,
        `gateway: ${options.fromSource ? 'src/cli.ts through tsx' : 'node dist/cli.js'} in its own process, log level info to a file; pool ${JSON.stringify(pool)}`,
        `rounds: ${options.rounds} of (a), (b), (c), (d) with ${options.burst} at once, gateway and spawn alternating which goes first, ${options.pauseMs} ms pause after each request; sessions never deleted; (b) and (d) non-streamed; after one unmeasured conversation of each side`,
        streaming
          ? `stream: Poisson arrivals at ${options.rate}/s (seed ${options.seed}), ${Math.round(options.followUpShare * 100)}% get one follow-up after an exponential think time of mean ${options.thinkMs} ms; gateway: ${gatewaySchedule.length} conversations over ${options.warmupS} s warm-up (unmeasured) + ${options.seconds} s (measured: ${gatewayStream?.fresh.length} new, ${gatewayStream?.followUps.length} follow-ups, done in ${gatewayStream?.durationS.toFixed(0)} s); spawn per request, after the gateway's settling: the measured arrivals of the first ${options.baselineSeconds} s (${spawnSchedule.length} conversations, done in ${spawnStream?.durationS.toFixed(0)} s)`
          : 'stream: not run (BENCH_SUSTAINED_RATE or BENCH_SUSTAINED_SECONDS is 0)',
        `CPU: gateway = utime+stime of its node process and every descendant (with what they reaped), over the rounds (${(cpuAfterRounds.gatewayS - cpuBeforeRounds.gatewayS).toFixed(1)} s, idling while the baseline ran included) and the measured stream; spawn per request = cutime+cstime of this process (the CLIs it spawned and reaped) over its rounds and stream; idle gateway while settling: ${((idleCpuS / Math.max(options.settleMs, 1)) * 1e5).toFixed(1)}% of a CPU`,
        `Claude Code processes over the whole run (warm-up and settling included): ${processCounts.starts} started, ${processCounts.reuses} given back and reused after /clear, for ${options.rounds * (2 + options.burst) + gatewaySchedule.length + 1} new conversations and ${options.rounds + gatewaySchedule.filter((arrival) => arrival.thinkMs !== null).length + 1} follow-ups (rounds, stream with its warm-up, and one of each before)`,
        `idle after ${options.settleMs} ms: ${settled.rssMb.toFixed(0)} MB in ${settled.processes} processes (the gateway and ${settled.processes - 1} descendants); GET /v1/health processes ${JSON.stringify(settledHealth.processes)}`,
        ...series.map(
          (sample) =>
            `memory at ${sample.atS.toFixed(0).padStart(4)} s (${sample.phase}): gateway tree ${sample.gateway.rssMb.toFixed(0)} MB in ${sample.gateway.processes} processes; spawned CLIs ${sample.spawned.rssMb.toFixed(0)} MB in ${sample.spawned.processes}`,
        ),
        `isolation ${isolation.join(': ')}`,
        failures.length + streamFailures.length === 0
          ? 'every request answered'
          : `${failures.length} round requests and ${streamFailures.length} stream conversations FAILED: ${[...failures, ...streamFailures].slice(0, 5).join('; ')}`,
      ],
      elapsedMs: performance.now() - began,
    }
    if (isolation[0] === 'FAILED') {
      console.log(render(result).join('\n'))
      throw new Error(`sustained: a conversation's content reached another one (${isolation[1]})`)
    }
    return result
  } finally {
    await sampler.stop()
    await gateway.stop()
    await home.close()
  }
}

await main(import.meta.url, () => runSustained())
