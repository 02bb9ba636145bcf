/**
 * Gateway start-up and idle memory: `node dist/cli.js --port N` as an operator starts it, with a fresh data
 * directory and the scripted model's environment (so the gateway's `claude --version` check and its warm
 * spares run the real CLI, with no network).
 *
 * Per run: from spawn to the "ready at" log line on stdout, and to the first successful `GET /v1/health`
 * (polled every 5 ms); then, after 2 s of idling, the resident memory (VmRSS) of the gateway's own node
 * process, and separately the sum over its CLI children (warm spares); then the time from SIGTERM to exit.
 * Runs alternate between `pool.warmSpares=0` and the default (1) so both see the same machine conditions.
 *
 * Needs a build: `npm run build && node --import tsx bench/startup.ts` (env: BENCH_STARTUP_RUNS).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync } from 'node:fs'
import { get } from 'node:http'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { bundledClaudeCli, type TestHome, testHome } from '../test/support/harness.js'
import { type BenchResult, descendants, envInt, freePort, main, type Row, rssMb, sleep } from './stats.js'

export interface StartupOptions {
  /** Runs per configuration. */
  runs: number
  /** How long the gateway idles after it is ready before its memory is read. */
  idleMs: number
}

export const defaultStartupOptions = (): StartupOptions => ({
  runs: envInt('BENCH_STARTUP_RUNS', 10),
  idleMs: 2_000,
})

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))
const CLI = join(ROOT, 'dist', 'cli.js')
const READY_TIMEOUT_MS = 30_000
const HEALTH_POLL_MS = 5

interface StartupRun {
  readyLogMs: number
  healthMs: number
  /**
   * What the gateway itself reports in its ready line: from entering startGateway to listening, which
   * includes loading the server's code (imported there, while `claude --version` runs).
   */
  internalMs: number
  rssMb: number
  childrenRssMb: number
  children: number
  stopMs: number
}

/** One GET; resolves with the status code, rejects when the connection fails. */
function getStatus(url: string): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const request = get(url, { agent: false, timeout: 1_000 }, (response) => {
      response.resume()
      response.on('end', () => resolvePromise(response.statusCode ?? 0))
    })
    request.on('timeout', () => request.destroy(new Error('timeout')))
    request.on('error', reject)
  })
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((done) => child.once('exit', () => done()))
}

async function startOnce(
  home: TestHome,
  cliPath: string,
  warmSpares: number | null,
  idleMs: number,
): Promise<StartupRun> {
  const port = await freePort()
  const env: NodeJS.ProcessEnv = {
    ...home.env,
    CCGW_STORE_DATA_DIR: mkdtempSync(join(home.root, 'data-')),
    CCGW_CLAUDE_CLI_PATH: cliPath,
    CCGW_CLAUDE_DEFAULT_WORKSPACE: home.workspace,
    CCGW_CLAUDE_SETTING_SOURCES: '',
    CCGW_LOG_LEVEL: 'info',
    CCGW_LOG_PRETTY: 'never',
  }
  if (warmSpares !== null) env.CCGW_POOL_WARM_SPARES = String(warmSpares)
  const started = performance.now()
  const child = spawn(process.execPath, [CLI, '--port', String(port)], {
    cwd: home.workspace,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let readyLogAt = 0
  let internalMs = Number.NaN
  let output = ''
  let buffered = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    const now = performance.now()
    output = (output + chunk).slice(-4000)
    buffered += chunk
    for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
      const line = buffered.slice(0, end)
      buffered = buffered.slice(end + 1)
      const match = /ready at \S+ \((\d+) ms\)/.exec(line)
      if (match && !readyLogAt) {
        readyLogAt = now
        internalMs = Number(match[1])
      }
    }
  })
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => {
    output = (output + chunk).slice(-4000)
  })
  try {
    let healthAt = 0
    while (!healthAt) {
      if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}: ${output}`)
      if (performance.now() - started > READY_TIMEOUT_MS) throw new Error(`gateway not ready: ${output}`)
      try {
        if ((await getStatus(`http://127.0.0.1:${port}/v1/health`)) === 200) healthAt = performance.now()
      } catch {
        await sleep(HEALTH_POLL_MS)
      }
    }
    const deadline = performance.now() + 5_000
    while (!readyLogAt && performance.now() < deadline) await sleep(HEALTH_POLL_MS)

    await sleep(idleMs)
    const pid = child.pid!
    const rss = await rssMb(pid)
    let childrenRss = 0
    const kids = await descendants(pid)
    for (const kid of kids) childrenRss += await rssMb(kid).catch(() => 0)

    const stopping = performance.now()
    child.kill('SIGTERM')
    await waitForExit(child)
    if (child.exitCode !== 0)
      throw new Error(`gateway stopped with ${child.exitCode ?? child.signalCode}: ${output}`)
    return {
      readyLogMs: readyLogAt ? readyLogAt - started : Number.NaN,
      healthMs: healthAt - started,
      internalMs,
      rssMb: rss,
      childrenRssMb: childrenRss,
      children: kids.length,
      stopMs: performance.now() - stopping,
    }
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await waitForExit(child)
    }
  }
}

export async function runStartup(options: StartupOptions = defaultStartupOptions()): Promise<BenchResult> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm run bench does)`)
  const began = performance.now()
  const home = await testHome()
  try {
    const cliPath = await bundledClaudeCli()
    // One discarded start, so the first measured one does not pay for a cold page cache.
    await startOnce(home, cliPath, 0, 0)
    const configs = [
      { label: 'warmSpares 0', warmSpares: 0 },
      { label: 'warmSpares 1 (default)', warmSpares: null },
    ]
    const runs = new Map<string, StartupRun[]>(configs.map((c) => [c.label, []]))
    for (let i = 0; i < options.runs; i++) {
      // Alternate the order too, so neither configuration always runs right after the other.
      const order = i % 2 === 0 ? configs : [...configs].reverse()
      for (const config of order)
        runs.get(config.label)!.push(await startOnce(home, cliPath, config.warmSpares, options.idleMs))
    }
    const rows: Row[] = []
    for (const { label } of configs) {
      const of = runs.get(label)!
      const pick = (key: keyof StartupRun) => of.map((run) => run[key])
      rows.push(
        { name: `${label}: spawn -> "ready at" log line`, unit: 'ms', samples: pick('readyLogMs') },
        { name: `${label}: spawn -> GET /v1/health 200`, unit: 'ms', samples: pick('healthMs') },
        { name: `${label}: startGateway -> listening (own log)`, unit: 'ms', samples: pick('internalMs') },
        { name: `${label}: idle RSS, gateway node process`, unit: 'MB', samples: pick('rssMb') },
        {
          name: `${label}: idle RSS, its CLI children (sum)`,
          unit: 'MB',
          samples: pick('childrenRssMb'),
          note: `children per run: ${[...new Set(pick('children'))].join('/')}`,
        },
        { name: `${label}: SIGTERM -> exit`, unit: 'ms', samples: pick('stopMs') },
      )
    }
    return {
      title: 'Gateway start-up and idle memory',
      rows,
      ratios: [],
      targets: configs.flatMap(({ label }) => [
        { row: `${label}: spawn -> GET /v1/health 200`, atMost: 1_000 },
        { row: `${label}: idle RSS, gateway node process`, atMost: 50 },
      ]),
      notes: [
        `${options.runs} runs per configuration, alternating; \`node dist/cli.js --port <free port>\` with a fresh CCGW_STORE_DATA_DIR each run`,
        `RSS read from /proc/<pid>/status (VmRSS) ${options.idleMs} ms after ready; CLI children are separate processes and not in the gateway's figure`,
      ],
      elapsedMs: performance.now() - began,
    }
  } finally {
    await home.close()
  }
}

await main(import.meta.url, () => runStartup())
