/**
 * Two builds of the gateway against each other on its cheap routes, with a bare `node:http` server answering
 * the same bytes in the same run: what a change did to the CPU a request costs and to throughput.
 *
 * Identical gateway processes differ by 10–25% here for their whole life (and a run's machine phase moves
 * every figure), more than most changes measure. So each build runs in BENCH_AB_PROCESSES processes (5),
 * started interleaved, all loaded in rotating rounds (bench/http.ts's `alternate`); a build's figure is
 * the median over its processes of each process's median run. Logs at `info` (BENCH_AB_LOG_LEVEL).
 *
 * The other build needs its own dependencies beside it, e.g. for the commit before a change:
 *   git worktree add /tmp/before <commit> && (cd /tmp/before && npm ci && npm run build)
 *   npm run build && node --import tsx bench/ab.ts /tmp/before/dist/cli.js
 * (a second path replaces this checkout's build as "after"; env: BENCH_HTTP_SECONDS 2, BENCH_HTTP_RUNS 4,
 * BENCH_HTTP_CONNECTIONS, BENCH_AB_PROCESSES, BENCH_AB_LOG_LEVEL).
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { bundledClaudeCli, testHome } from '../test/support/harness.js'
import {
  alternate,
  bodiesOf,
  CLI,
  defaultHttpOptions,
  gatewayChild,
  MICROS,
  referenceChild,
  runKey,
  type Target,
} from './http.js'
import { type BenchResult, envInt, main, type Ratio, type Row, summarize } from './stats.js'

const PATHS = ['/v1/models', '/v1/health'] as const
/** Throughput as a percentage of the raw server's: a unit stats.ts prints as given. */
const PERCENT_OF_RAW = '% of raw' as string as Row['unit']

export async function runAb(before: string, after: string): Promise<BenchResult> {
  for (const build of [before, after]) if (!existsSync(build)) throw new Error(`${build} does not exist`)
  const options = {
    ...defaultHttpOptions(),
    durationS: envInt('BENCH_HTTP_SECONDS', 2),
    runs: envInt('BENCH_HTTP_RUNS', 4),
  }
  const processes = envInt('BENCH_AB_PROCESSES', 5)
  const level = process.env.BENCH_AB_LOG_LEVEL === 'warn' ? 'warn' : 'info'
  const began = performance.now()
  const home = await testHome()
  const targets: Target[] = []
  try {
    const cliPath = await bundledClaudeCli()
    const builds = { before, after }
    const gateways: Record<keyof typeof builds, Target[]> = { before: [], after: [] }
    for (let i = 0; i < processes; i++) {
      for (const name of ['before', 'after'] as const) {
        const logFile = join(home.root, `gateway-${name}.log`)
        const gateway = await gatewayChild(home, cliPath, { level, logFile, build: builds[name] })
        // One label per process: each has its own runs, reduced to its median below.
        const target = { ...gateway, label: `${name} #${i + 1}` }
        targets.push(target)
        gateways[name].push(target)
      }
    }
    const raw = await referenceChild(await bodiesOf(gateways.after[0]!.url, PATHS))
    targets.push(raw)

    const runs = await alternate([raw, ...gateways.before, ...gateways.after], PATHS, options)
    const medianOf = (server: Target, path: string, of: 'reqPerS' | 'cpuUsPerRequest') =>
      summarize((runs.get(runKey(server, path)) ?? []).map((run) => run[of])).median
    const rows: Row[] = []
    const ratios: Ratio[] = []
    for (const path of PATHS) {
      const rawRate = medianOf(raw, path, 'reqPerS')
      rows.push({
        name: `${path} raw node:http: server CPU per request`,
        unit: MICROS,
        samples: [medianOf(raw, path, 'cpuUsPerRequest')],
      })
      for (const name of ['before', 'after'] as const) {
        const of = gateways[name]
        rows.push(
          {
            name: `${path} ${name}: server CPU per request`,
            unit: MICROS,
            samples: of.map((server) => medianOf(server, path, 'cpuUsPerRequest')),
          },
          {
            name: `${path} ${name}: throughput`,
            unit: PERCENT_OF_RAW,
            samples: of.map((server) => (100 * medianOf(server, path, 'reqPerS')) / rawRate),
          },
        )
      }
      ratios.push({
        name: `${path} after / before, req/s`,
        numerator: `${path} after: throughput`,
        denominator: `${path} before: throughput`,
      })
    }
    return {
      title: `Two builds, ${processes} processes each: before ${before}, after ${after}`,
      rows,
      ratios,
      targets: [],
      notes: [
        `autocannon: ${options.connections} connections, ${options.runs} runs of ${options.durationS} s per process and path (order rotating), log level ${level}`,
        'one sample per gateway process (the median of its runs); throughput as a percentage of the raw server’s median; CPU per request from /proc (user + system)',
      ],
      elapsedMs: performance.now() - began,
    }
  } finally {
    for (const target of targets.reverse()) await target.stop().catch(() => undefined)
    await home.close()
  }
}

await main(import.meta.url, () => {
  const [before, after = CLI] = process.argv.slice(2)
  if (!before)
    throw new Error('usage: node --import tsx bench/ab.ts <before/dist/cli.js> [after/dist/cli.js]')
  return runAb(resolve(before), resolve(after))
})
