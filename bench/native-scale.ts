/**
 * Many sessions on a small pool, through the native API: `sessions` sessions created with
 * `POST /api/sessions`, each given one turn (a Claude Code conversation: one CLI start each, as the pool
 * hibernates the least recently used idle session to make room), all listed page by page, then every one
 * resumed with a follow-up whose request to the model must carry that session's own first turn.
 *
 * The gateway runs as an operator starts it (`node dist/cli.js`, `pool.maxRunners` 8, the default warm
 * spare, log level info to a file) in its own process, so its memory is its own: VmRSS from
 * /proc/<pid>/status, and its V8 heap from a small probe loaded with `--import` that answers over an IPC
 * channel (heap used, then heap used after a full GC: what the gateway retains). Throughout, every
 * `sampleMs`: `processes.live` of `GET /v1/health`, the gateway's running child processes (/proc) and its
 * RSS; the maximum of both process counts must stay within `pool.maxRunners`.
 *
 * It asserts as it goes and throws (a non-zero exit) if any turn fails, a listing misses or repeats a
 * session, a follow-up reached the model without its own first turn, or more processes ran than allowed.
 *
 * Needs a build: `npm run build && node --import tsx bench/native-scale.ts [--sessions N] [--concurrency C]`
 * (defaults 1000 and 8; env BENCH_SCALE_SESSIONS). Expect minutes: every turn starts a CLI process.
 */
import type { ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { bundledClaudeCli, type TestHome, testHome } from '../test/support/harness.js'
import { conversationTexts, lastUserText, text } from '../test/support/scripted-anthropic.js'
import { CLI, gatewayChild } from './http.js'
import { callJson, type Json } from './native.js'
import { type BenchResult, envInt, liveChildren, main, type Row, render, rssMb, sleep } from './stats.js'

export interface ScaleOptions {
  sessions: number
  /** Requests in flight at once, in every phase. */
  concurrency: number
  maxRunners: number
  sampleMs: number
}

export const defaultScaleOptions = (): ScaleOptions => ({
  sessions: envInt('BENCH_SCALE_SESSIONS', 1000),
  concurrency: 8,
  maxRunners: 8,
  sampleMs: 250,
})

const TURN_TIMEOUT_MS = 180_000
/** The most `GET /api/sessions` returns at once. */
const PAGE_SIZE = 500

/**
 * Loaded into the gateway with `--import` (and `--expose-gc`): answers `memory?` on the IPC channel with
 * its heap before and after a full GC. The channel is unref'd so it never keeps the gateway alive.
 */
const MEMORY_PROBE = `data:text/javascript,${encodeURIComponent(`
process.on('message', (message) => {
  if (message !== 'memory?') return
  const before = process.memoryUsage()
  globalThis.gc()
  process.send({ heapUsed: before.heapUsed, heapTotal: before.heapTotal, heapAfterGc: process.memoryUsage().heapUsed })
})
process.channel.unref()
`)}`

interface Memory {
  rssMb: number
  heapUsedMb: number
  heapTotalMb: number
  heapAfterGcMb: number
}

async function memoryOf(child: ChildProcess): Promise<Memory> {
  const rss = await rssMb(child.pid!)
  const heap = await new Promise<{ heapUsed: number; heapTotal: number; heapAfterGc: number }>(
    (done, fail) => {
      const timer = setTimeout(() => fail(new Error('the memory probe did not answer')), 10_000)
      child.once('message', (message) => {
        clearTimeout(timer)
        done(message as { heapUsed: number; heapTotal: number; heapAfterGc: number })
      })
      child.send('memory?')
    },
  )
  const mb = (bytes: number) => bytes / 2 ** 20
  return {
    rssMb: rss,
    heapUsedMb: mb(heap.heapUsed),
    heapTotalMb: mb(heap.heapTotal),
    heapAfterGcMb: mb(heap.heapAfterGc),
  }
}

const call = (url: string, method: string, path: string, body?: unknown): Promise<Json> =>
  callJson(url, method, path, body, TURN_TIMEOUT_MS)

/** Run `task(0..count-1)` with at most `concurrency` at once; each one's duration in ms, by index. */
async function inParallel(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<void>,
  onDone: (done: number) => void = () => undefined,
): Promise<number[]> {
  const durations = new Array<number>(count).fill(Number.NaN)
  let next = 0
  let done = 0
  const worker = async () => {
    while (next < count) {
      const index = next++
      const started = performance.now()
      await task(index)
      durations[index] = performance.now() - started
      onDone(++done)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  return durations
}

/** What the scripted model saw: first turns by session, follow-ups that carried their own conversation. */
class ConversationCheck {
  readonly firstTurns = new Map<number, number>()
  readonly resumed = new Set<number>()
  readonly wrong: string[] = []
  others = 0
  private readonly token = randomUUID().slice(0, 8)

  first = (index: number) => `First message of session ${index} (${this.token})`
  answer = (index: number) => `Answer to session ${index} (${this.token})`
  followUp = (index: number) => `Follow-up for session ${index} (${this.token})`
  resumedAnswer = (index: number) => `Resumed session ${index} (${this.token})`

  /** The scripted model's reply to one request; records what the request carried. */
  reply(body: Parameters<typeof lastUserText>[0]) {
    const last = lastUserText(body)
    const first = new RegExp(`^First message of session (\\d+) \\(${this.token}\\)$`).exec(last)
    if (first) {
      const index = Number(first[1])
      this.firstTurns.set(index, (this.firstTurns.get(index) ?? 0) + 1)
      return text(this.answer(index))
    }
    const followUp = new RegExp(`^Follow-up for session (\\d+) \\(${this.token}\\)$`).exec(last)
    if (followUp) {
      const index = Number(followUp[1])
      const expected = [
        { role: 'user', text: this.first(index) },
        { role: 'assistant', text: this.answer(index) },
        { role: 'user', text: this.followUp(index) },
      ]
      const seen = conversationTexts(body)
      if (JSON.stringify(seen) === JSON.stringify(expected)) this.resumed.add(index)
      else this.wrong.push(`session ${index}: the model received ${JSON.stringify(seen).slice(0, 400)}`)
      return text(this.resumedAnswer(index))
    }
    this.others++
    return text('ok')
  }
}

interface Samples {
  health: number[]
  children: number[]
  rss: number[]
}

/** Polls the gateway every `everyMs` until stopped: processes by its own account and by /proc, its RSS. */
function sampler(
  url: string,
  pid: number,
  home: TestHome,
  everyMs: number,
  onError: (problem: string) => void,
) {
  const samples: Samples = { health: [], children: [], rss: [] }
  let running = true
  const loop = (async () => {
    while (running) {
      try {
        const health = (await call(url, 'GET', '/v1/health')) as { processes: { live: number } }
        samples.health.push(health.processes.live)
        samples.children.push((await liveChildren(pid)).length)
        samples.rss.push(await rssMb(pid))
      } catch (error) {
        onError(`sampling the gateway: ${(error as Error).message}`)
      }
      // The scripted model keeps every request; the check has read them already.
      home.model.requests.length = 0
      await sleep(everyMs)
    }
  })()
  return {
    samples,
    async stop(): Promise<Samples> {
      running = false
      await loop
      return samples
    },
  }
}

const max = (values: number[]) => values.reduce((a, b) => Math.max(a, b), 0)

export async function runNativeScale(options: ScaleOptions = defaultScaleOptions()): Promise<BenchResult> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm run bench does)`)
  const began = performance.now()
  const home = await testHome()
  const check = new ConversationCheck()
  home.model.fallback = (request) => check.reply(request.body)
  const cliPath = await bundledClaudeCli()
  const gateway = await gatewayChild(home, cliPath, {
    level: 'info',
    logFile: join(home.root, 'native-scale.log'),
    env: { CCGW_POOL_MAX_RUNNERS: String(options.maxRunners), CCGW_POOL_WARM_SPARES: '1' },
    nodeArgs: ['--expose-gc', '--import', MEMORY_PROBE],
    ipc: true,
  })
  const { url, child } = gateway
  const failures: string[] = []
  const fail = (problem: string) => {
    failures.push(problem)
    console.log(`[native-scale] FAILED: ${problem}`)
  }
  const n = options.sessions
  const watch = sampler(url, child.pid!, home, options.sampleMs, fail)
  const progress = (phase: string, startedAt: number) => (done: number) => {
    if (done % Math.max(1, Math.round(n / 20)) !== 0 && done !== n) return
    const seconds = (performance.now() - startedAt) / 1000
    console.log(
      `[native-scale] ${phase} ${done}/${n} in ${seconds.toFixed(1)} s (${(done / seconds).toFixed(2)}/s); live processes max ${max(watch.samples.health)}, gateway RSS ${(watch.samples.rss.at(-1) ?? 0).toFixed(0)} MB`,
    )
  }
  try {
    const idle = await memoryOf(child)
    const phases: Record<string, number> = {}
    const timed = async <T>(phase: string, work: () => Promise<T>): Promise<T> => {
      const started = performance.now()
      const value = await work()
      phases[phase] = (performance.now() - started) / 1000
      return value
    }

    // Creation: records only, no process.
    const ids: string[] = new Array<string>(n)
    const createMs = await timed('create', () =>
      inParallel(n, options.concurrency, async (i) => {
        ids[i] = String((await call(url, 'POST', '/api/sessions', { title: `scale ${i}` })).id)
      }),
    )

    // One turn each: a CLI start per session, the pool hibernating the least recently used idle one.
    const turnOf = async (i: number, content: string, answer: string) => {
      try {
        const result = await call(url, 'POST', `/api/sessions/${ids[i]}/messages`, { content })
        if (result.status !== 'success' || result.text !== answer)
          fail(`session ${i}: turn ${String(result.status)} answered ${JSON.stringify(result.text)}`)
      } catch (error) {
        fail(`session ${i}: ${(error as Error).message}`)
      }
    }
    // A turn of every session, `options.concurrency` at a time, with its progress.
    const everySession = (label: string, turn: (i: number) => Promise<void>) => {
      const started = performance.now()
      return timed(label, () => inParallel(n, options.concurrency, turn, progress(label, started)))
    }
    const firstMs = await everySession('first turns', (i) => turnOf(i, check.first(i), check.answer(i)))
    const afterCreation = await memoryOf(child)

    // Listing, page by page: every session exactly once, each with a Claude conversation to resume.
    const pageMs: number[] = []
    const listed = new Map<string, Json>()
    let total = Number.NaN
    await timed('list', async () => {
      for (let offset = 0; offset === 0 || offset < total; offset += PAGE_SIZE) {
        const started = performance.now()
        const page = await call(url, 'GET', `/api/sessions?limit=${PAGE_SIZE}&offset=${offset}`)
        pageMs.push(performance.now() - started)
        total = Number(page.total)
        for (const item of page.items as Json[]) {
          if (listed.has(String(item.id))) fail(`session ${String(item.id)} listed twice`)
          listed.set(String(item.id), item)
        }
      }
    })
    if (total !== n) fail(`GET /api/sessions total is ${total}, not ${n}`)
    const missing = ids.filter((id) => !listed.has(id))
    if (missing.length > 0) fail(`${missing.length} sessions missing from the listing, e.g. ${missing[0]}`)
    const unresumable = [...listed.values()].filter(
      (item) => !item.claude_session_id || !['idle', 'hibernated'].includes(String(item.state)),
    )
    if (unresumable.length > 0)
      fail(
        `${unresumable.length} listed sessions have no conversation or are not at rest, e.g. ${JSON.stringify(unresumable[0]).slice(0, 300)}`,
      )
    const hibernated = [...listed.values()].filter((item) => item.state === 'hibernated').length
    const afterListing = await memoryOf(child)

    // Every session resumed: its follow-up must reach the model with its own first turn.
    const resumeMs = await everySession('follow-ups', (i) =>
      turnOf(i, check.followUp(i), check.resumedAnswer(i)),
    )
    const atEnd = await memoryOf(child)
    const samples = await watch.stop()

    const notResumed = ids.map((_, i) => i).filter((i) => !check.resumed.has(i))
    if (notResumed.length > 0)
      fail(
        `${notResumed.length} follow-ups did not reach the model with their own first turn, e.g. session ${notResumed[0]}`,
      )
    for (const problem of check.wrong.slice(0, 5)) fail(problem)
    const maxHealth = max(samples.health)
    const maxChildren = max(samples.children)
    if (maxHealth > options.maxRunners) fail(`GET /v1/health reported ${maxHealth} live processes`)
    if (maxChildren > options.maxRunners) fail(`the gateway had ${maxChildren} running child processes`)

    const memoryRows = (label: string, memory: Memory): Row[] => [
      { name: `gateway RSS, ${label}`, unit: 'MB', samples: [memory.rssMb] },
      {
        name: `gateway heap used, ${label}`,
        unit: 'MB',
        samples: [memory.heapUsedMb],
        note: `${memory.heapAfterGcMb.toFixed(1)} MB after a full GC, heap total ${memory.heapTotalMb.toFixed(1)} MB`,
      },
    ]
    const rate = (phase: string) => `${(n / (phases[phase] ?? Number.NaN)).toFixed(2)}/s`
    const result: BenchResult = {
      title: `Native API at scale: ${n} sessions created, listed and resumed with pool.maxRunners ${options.maxRunners}`,
      rows: [
        { name: 'POST /api/sessions', unit: 'ms', samples: createMs, note: `${rate('create')}` },
        {
          name: 'first turn (a new conversation: one CLI start)',
          unit: 'ms',
          samples: firstMs,
          note: `${rate('first turns')}, ${phases['first turns']?.toFixed(0)} s in all`,
        },
        {
          name: `GET /api/sessions?limit=${PAGE_SIZE}&offset=k`,
          unit: 'ms',
          samples: pageMs,
          note: `${pageMs.length} pages`,
        },
        {
          name: 'follow-up turn (resumed: one CLI start with --resume)',
          unit: 'ms',
          samples: resumeMs,
          note: `${rate('follow-ups')}, ${phases['follow-ups']?.toFixed(0)} s in all`,
        },
        ...memoryRows('idle, before the first session', idle),
        ...memoryRows(`after ${n} sessions with one turn each`, afterCreation),
        ...memoryRows('after listing them all', afterListing),
        ...memoryRows('at the end (every session resumed)', atEnd),
        {
          name: 'gateway RSS, sampled throughout',
          unit: 'MB',
          samples: samples.rss,
          note: `every ${options.sampleMs} ms`,
        },
      ],
      ratios: [],
      targets: [],
      notes: [
        `gateway: node --expose-gc --import <memory probe> dist/cli.js in its own process, pool.maxRunners ${options.maxRunners}, warmSpares 1, claude.niceness 10, log level info to a file; client concurrency ${options.concurrency} in every phase; each turn a POST /api/sessions/{id}/messages answered as JSON`,
        `live processes, sampled ${samples.health.length} times: max ${maxHealth} by GET /v1/health (processes.live: serving, spares and those starting or stopping), max ${maxChildren} running children of the gateway by /proc (limit ${options.maxRunners})`,
        `listing: total ${total}, ${listed.size} distinct sessions listed, ${hibernated} hibernated and ${listed.size - hibernated} with a live process, all with a claude_session_id`,
        `resumption: ${check.resumed.size}/${n} follow-ups reached the model with exactly [their first message, its answer, the follow-up]; first turns seen by the model ${[...check.firstTurns.values()].reduce((a, b) => a + b, 0)} for ${check.firstTurns.size} sessions; ${check.others} other model requests`,
        `phases: create ${phases.create?.toFixed(1)} s, first turns ${phases['first turns']?.toFixed(1)} s, list ${phases.list?.toFixed(2)} s, follow-ups ${phases['follow-ups']?.toFixed(1)} s`,
        failures.length === 0
          ? 'every check passed'
          : `${failures.length} checks FAILED: ${failures.slice(0, 10).join('; ')}`,
      ],
      elapsedMs: performance.now() - began,
    }
    if (failures.length > 0) {
      console.log(render(result).join('\n'))
      throw new Error(`native-scale: ${failures.length} checks failed (first: ${failures[0]})`)
    }
    return result
  } finally {
    await watch.stop()
    await gateway.stop()
    await home.close()
  }
}

await main(import.meta.url, () => {
  const { values } = parseArgs({
    options: { sessions: { type: 'string' }, concurrency: { type: 'string' } },
    strict: true,
  })
  const options = defaultScaleOptions()
  if (values.sessions !== undefined) options.sessions = Number(values.sessions)
  if (values.concurrency !== undefined) options.concurrency = Number(values.concurrency)
  if (!Number.isInteger(options.sessions) || options.sessions < 1)
    throw new Error('--sessions must be a positive integer')
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1)
    throw new Error('--concurrency must be a positive integer')
  return runNativeScale(options)
})
