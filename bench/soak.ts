/**
 * Soak (issue 15): mixed chat traffic through the scripted model against the built gateway (`node dist/cli.js`,
 * its own process, its default pool unless CCGW_* variables say otherwise) for BENCH_SOAK_MINUTES, sampling
 * every BENCH_SOAK_SAMPLE_S seconds what would show a leak: the gateway's RSS, its V8 heap (GET /api/metrics),
 * its open file descriptors (/proc/<pid>/fd), its CLI processes (descendants) and its whole tree's memory (and that per CLI process).
 *
 * The traffic, BENCH_SOAK_CONCURRENCY workers each picking one at random, BENCH_SOAK_PAUSE_MS apart:
 * a new OpenAI conversation streamed or not, the follow-up of an earlier one, a native session with two turns
 * and a follower on its `/events` for the second, and a client following `GET /api/events` for a few seconds.
 * Every session is deleted after use (OpenAI ones by their `x-session-id`), as a long-running deployment's
 * clients or retention would, so what remains is what the gateway itself keeps.
 *
 * At the end: first / last / max of each series and its least-squares slope per 10 minutes, fitted after the
 * first sixth of the run (the pool filling up is not a leak). The run fails when a request failed, when the
 * CLI processes ever exceeded `pool.maxRunners + 1`, or when a series grows past its threshold (GROWTH below:
 * slope per 10 min AND last minus first of the fitted part both above it).
 *
 * Run: `npm run build && node --import tsx bench/soak.ts`, or `npm run bench -- --only soak`.
 * Env (defaults): BENCH_SOAK_MINUTES (30), BENCH_SOAK_SAMPLE_S (10), BENCH_SOAK_CONCURRENCY (2),
 * BENCH_SOAK_PAUSE_MS (500), BENCH_SOAK_SEED (1).
 */
import { existsSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { loadConfig } from '../src/config/index.js'
import { bundledClaudeCli, testHome } from '../test/support/harness.js'
import { text } from '../test/support/scripted-anthropic.js'
import { ANSWER, FOLLOW_UP, PROMPT, TURN_TIMEOUT_MS } from './cli-baseline.js'
import { CLI, gatewayChild } from './http.js'
import { jsonCall } from './json-call.js'
import { type ChatMessage, MODEL, type Streamed, SYSTEM, streamCompletion } from './openai.js'
import {
  type BenchResult,
  descendants,
  envInt,
  main,
  type Row,
  render,
  rssMb,
  seeded,
  sleep,
  treeUsage,
} from './stats.js'

export interface SoakOptions {
  minutes: number
  sampleS: number
  concurrency: number
  pauseMs: number
  seed: number
}

export const defaultSoakOptions = (): SoakOptions => ({
  minutes: envInt('BENCH_SOAK_MINUTES', 30),
  sampleS: envInt('BENCH_SOAK_SAMPLE_S', 10),
  concurrency: envInt('BENCH_SOAK_CONCURRENCY', 2),
  pauseMs: envInt('BENCH_SOAK_PAUSE_MS', 500, 0),
  seed: envInt('BENCH_SOAK_SEED', 1, 0),
})

/** Growth per 10 minutes (and over the fitted part) above which a series is called unbounded. */
const GROWTH = { rssMb: 10, heapMb: 10, fds: 5, cliMbEach: 20 } as const

interface Sample {
  atS: number
  rssMb: number
  heapMb: number
  fds: number
  cliProcesses: number
  treeMb: number
  /** The tree's memory beyond the gateway's own, per CLI process: the pool's size changes, a leak does not. */
  cliMbEach: number
}

type SeriesName = keyof Omit<Sample, 'atS'>

/** Least-squares slope of `values` over `times` (seconds), per 10 minutes. */
function slopePer10Min(times: number[], values: number[]): number {
  const n = times.length
  if (n < 2) return 0
  const meanT = times.reduce((a, b) => a + b, 0) / n
  const meanV = values.reduce((a, b) => a + b, 0) / n
  let num = 0
  let den = 0
  for (let i = 0; i < n; i++) {
    num += (times[i]! - meanT) * (values[i]! - meanV)
    den += (times[i]! - meanT) ** 2
  }
  return den === 0 ? 0 : (num / den) * 600
}

class Client {
  constructor(readonly url: string) {}

  json(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
    return jsonCall(this.url, method, path, body)
  }

  /** A non-streamed completion: its answer and session. */
  async complete(messages: ChatMessage[]): Promise<{ content: string; sessionId: string }> {
    const response = await fetch(`${this.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages }),
      signal: AbortSignal.timeout(TURN_TIMEOUT_MS),
    })
    const raw = await response.text()
    if (!response.ok) throw new Error(`completion: ${response.status} ${raw.slice(0, 200)}`)
    const parsed = JSON.parse(raw) as { choices?: { message?: { content?: string | null } }[] }
    return {
      content: parsed.choices?.[0]?.message?.content ?? '',
      sessionId: response.headers.get('x-session-id') ?? '',
    }
  }

  deleteSession = (id: string) => this.json('DELETE', `/api/sessions/${id}`)

  /**
   * Follows an SSE route until `until` is seen in the stream (or `forMs` passes), then disconnects; resolves
   * once the response is open, with a promise of the end.
   */
  async follow(path: string, until: string | null, forMs: number): Promise<{ ended: Promise<string> }> {
    const controller = new AbortController()
    const response = await fetch(`${this.url}${path}`, {
      headers: { accept: 'text/event-stream' },
      signal: controller.signal,
    })
    if (!response.ok || !response.body) throw new Error(`GET ${path}: ${response.status}`)
    const reader = response.body.getReader()
    const decoder = new TextDecoder()
    const timer = setTimeout(() => controller.abort(), forMs)
    const ended = (async () => {
      let seen = ''
      try {
        for (;;) {
          const part = await reader.read()
          if (part.done) break
          seen = (seen + decoder.decode(part.value, { stream: true })).slice(-4096)
          if (until !== null && seen.includes(until)) break
        }
      } catch (error) {
        if (!controller.signal.aborted) throw error
      } finally {
        clearTimeout(timer)
        controller.abort()
      }
      return seen
    })()
    return { ended }
  }
}

const history = (tag: string): ChatMessage[] => [
  { role: 'system', content: SYSTEM },
  { role: 'user', content: `${PROMPT} [${tag}]` },
]

export async function runSoak(options: SoakOptions = defaultSoakOptions()): Promise<BenchResult> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`)
  const began = performance.now()
  const elapsedS = () => (performance.now() - began) / 1000
  const log = (line: string) => console.log(`[soak ${elapsedS().toFixed(0)} s] ${line}`)
  const home = await testHome()
  home.model.fallback = () => text(ANSWER, { chunkSize: 5 })
  const cliPath = await bundledClaudeCli()
  const defaults = loadConfig({ env: {}, cwd: home.root }).config
  const passed = Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] => entry[0].startsWith('CCGW_') && entry[1] !== undefined,
    ),
  )
  const gatewayEnv = {
    CCGW_POOL_WARM_SPARES: String(defaults.pool.warmSpares),
    // Native sessions use the default workspace, which is in the test home, not under `~`.
    CCGW_NATIVE_WORKSPACE_ROOTS: home.root,
    ...passed,
  }
  const pool = loadConfig({ env: gatewayEnv, cwd: home.workspace }).config.pool
  const gateway = await gatewayChild(home, cliPath, {
    level: 'warn',
    logFile: join(home.root, 'soak.log'),
    env: gatewayEnv,
  })
  const pid = gateway.child.pid!
  const client = new Client(gateway.url)
  const random = seeded(options.seed)
  const counts: Record<string, number> = {}
  const failures: string[] = []
  /** Streamed OpenAI conversations waiting for their follow-up. */
  const pending: { tag: string; first: Streamed }[] = []
  let tags = 0

  const operations: [string, number, () => Promise<void>][] = [
    [
      'openai streamed',
      3,
      async () => {
        const tag = `c${++tags}`
        const first = await streamCompletion(gateway.url, history(tag))
        if (pending.length < 50) pending.push({ tag, first })
        else await client.deleteSession(first.sessionId)
      },
    ],
    [
      'openai non-streamed',
      2,
      async () => {
        const answer = await client.complete(history(`c${++tags}`))
        if (!answer.content.includes(ANSWER)) throw new Error(`unexpected answer ${answer.content}`)
        await client.deleteSession(answer.sessionId)
      },
    ],
    [
      'openai follow-up',
      2,
      async () => {
        const earlier = pending.shift()
        if (!earlier) return
        const run = await streamCompletion(gateway.url, [
          ...history(earlier.tag),
          { role: 'assistant', content: earlier.first.content },
          { role: 'user', content: `${FOLLOW_UP} [${earlier.tag}]` },
        ])
        await client.deleteSession(run.sessionId)
        if (run.sessionId !== earlier.first.sessionId) await client.deleteSession(earlier.first.sessionId)
      },
    ],
    [
      'native session, 2 turns, follower',
      2,
      async () => {
        const id = String((await client.json('POST', '/api/sessions', { title: 'soak' })).id)
        await client.json('POST', `/api/sessions/${id}/messages`, { content: PROMPT })
        const follower = await client.follow(`/api/sessions/${id}/events`, 'turn.completed', TURN_TIMEOUT_MS)
        const turn = await client.json('POST', `/api/sessions/${id}/messages`, { content: FOLLOW_UP })
        if (turn.status !== 'success') throw new Error(`native turn ${String(turn.status)}`)
        if (!(await follower.ended).includes('turn.completed'))
          throw new Error('follower missed turn.completed')
        await client.deleteSession(id)
      },
    ],
    [
      'follow /api/events',
      1,
      async () => {
        const follower = await client.follow('/api/events', null, 2000 + random() * 8000)
        await follower.ended
      },
    ],
  ]
  const totalWeight = operations.reduce((sum, [, weight]) => sum + weight, 0)
  const pick = () => {
    let draw = random() * totalWeight
    for (const operation of operations) {
      draw -= operation[1]
      if (draw < 0) return operation
    }
    return operations[0]!
  }

  const samples: Sample[] = []
  const sample = async (): Promise<Sample> => {
    const metrics = await client.json('GET', '/api/metrics')
    const memory = metrics.memory as { gateway_heap_used_bytes: number }
    const [rss, fds, cli, tree] = await Promise.all([
      rssMb(pid),
      readdir(`/proc/${pid}/fd`).then((entries) => entries.length),
      descendants(pid),
      treeUsage(pid),
    ])
    // The scripted model keeps every request; nothing here reads them.
    home.model.requests.length = 0
    return {
      atS: elapsedS(),
      rssMb: rss,
      heapMb: memory.gateway_heap_used_bytes / 2 ** 20,
      fds,
      cliProcesses: cli.length,
      treeMb: tree.rssMb,
      cliMbEach: cli.length > 0 ? (tree.rssMb - rss) / cli.length : 0,
    }
  }

  const endAt = performance.now() + options.minutes * 60_000
  let running = true
  const sampler = (async () => {
    while (running) {
      const at = await sample()
      samples.push(at)
      if (samples.length % 6 === 1)
        log(
          `rss ${at.rssMb.toFixed(0)} MB, heap ${at.heapMb.toFixed(0)} MB, ${at.fds} fds, ${at.cliProcesses} CLI processes, tree ${at.treeMb.toFixed(0)} MB; ${Object.values(counts).reduce((a, b) => a + b, 0)} operations, ${failures.length} failed`,
        )
      await sleep(options.sampleS * 1000)
    }
  })()
  const worker = async () => {
    while (performance.now() < endAt) {
      const [name, , work] = pick()
      try {
        await work()
        counts[name] = (counts[name] ?? 0) + 1
      } catch (error) {
        failures.push(`${name}: ${(error as Error).message}`)
      }
      await sleep(options.pauseMs * (0.5 + random()))
    }
  }
  try {
    log(`${options.minutes} min of traffic, ${options.concurrency} workers; pool ${JSON.stringify(pool)}`)
    await Promise.all(Array.from({ length: options.concurrency }, worker))
    for (const { first } of pending.splice(0))
      await client.deleteSession(first.sessionId).catch(() => undefined)
    running = false
    await sampler
    samples.push(await sample())
  } finally {
    running = false
    await gateway.stop()
    await home.close()
  }

  // ---------------------------------------------------------------------------------------------------------
  const fitted = samples.filter((at) => at.atS >= (options.minutes * 60) / 6)
  const verdicts: string[] = []
  const describe = (name: SeriesName, unit: string) => {
    const all = samples.map((at) => at[name])
    const part = fitted.map((at) => at[name])
    const slope = slopePer10Min(
      fitted.map((at) => at.atS),
      part,
    )
    const rise = (part.at(-1) ?? 0) - (part[0] ?? 0)
    const limit = name in GROWTH ? GROWTH[name as keyof typeof GROWTH] : null
    const grows = limit !== null && slope > limit && rise > limit
    if (grows) verdicts.push(`${name} grows ${slope.toFixed(1)} ${unit}/10 min (limit ${limit})`)
    return `${name}: first ${all[0]?.toFixed(1)}, last ${all.at(-1)?.toFixed(1)}, max ${Math.max(...all).toFixed(1)} ${unit}; slope after the first sixth ${slope >= 0 ? '+' : ''}${slope.toFixed(2)} ${unit}/10 min${limit === null ? '' : ` (limit ${limit})`}${grows ? ' GROWS' : ''}`
  }
  const series = [
    describe('rssMb', 'MB'),
    describe('heapMb', 'MB'),
    describe('fds', 'fds'),
    describe('cliProcesses', 'processes'),
    describe('treeMb', 'MB'),
    describe('cliMbEach', 'MB'),
  ]
  const processCap = pool.maxRunners + 1
  const mostProcesses = Math.max(...samples.map((at) => at.cliProcesses))
  if (mostProcesses > processCap)
    verdicts.push(`${mostProcesses} CLI processes, more than pool.maxRunners + 1 = ${processCap}`)
  if (failures.length > 0)
    verdicts.push(`${failures.length} operations failed: ${failures.slice(0, 3).join('; ')}`)
  const rows: Row[] = [
    { name: 'gateway RSS', unit: 'MB', samples: samples.map((at) => at.rssMb) },
    { name: 'gateway heap used (GET /api/metrics)', unit: 'MB', samples: samples.map((at) => at.heapMb) },
    {
      name: 'gateway tree memory',
      unit: 'MB',
      samples: samples.map((at) => at.treeMb),
      note: `max ${mostProcesses} CLI processes`,
    },
  ]
  const result: BenchResult = {
    title: `Soak: ${options.minutes} min of mixed traffic, ${samples.length} samples every ${options.sampleS} s`,
    rows,
    ratios: [],
    targets: [],
    notes: [
      `reproduce: npm run build && BENCH_SOAK_MINUTES=${options.minutes} BENCH_SOAK_SAMPLE_S=${options.sampleS} BENCH_SOAK_CONCURRENCY=${options.concurrency} BENCH_SOAK_PAUSE_MS=${options.pauseMs} BENCH_SOAK_SEED=${options.seed} node --import tsx bench/soak.ts`,
      `gateway: node dist/cli.js, pool ${JSON.stringify(pool)}`,
      `operations: ${Object.entries(counts)
        .map(([name, count]) => `${name} ${count}`)
        .join(', ')}; ${failures.length} failed`,
      ...series,
      verdicts.length === 0 ? 'verdict: flat, nothing leaked' : `verdict: FAILED: ${verdicts.join('; ')}`,
    ],
    elapsedMs: performance.now() - began,
  }
  if (verdicts.length > 0) {
    console.log(render(result).join('\n'))
    throw new Error(`soak: ${verdicts.join('; ')}`)
  }
  return result
}

await main(import.meta.url, () => runSoak())
