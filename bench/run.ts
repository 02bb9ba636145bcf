/**
 * Runs every benchmark and prints one compact table each, with the machine they ran on.
 * `npm run bench` builds first (startup.ts runs dist/cli.js) and then runs this file.
 *
 *   node --import tsx bench/run.ts [--only ttft,startup,imports] [--json results.json]
 *   node --import tsx bench/run.ts --only native,native-scale [--sessions 200]
 *   node --import tsx bench/run.ts --only sustained
 *   node --import tsx bench/run.ts --only admin-ui
 *   node --import tsx bench/run.ts --only idle-streams   (10,000 idle SSE connections, about 2 minutes)
 *   node --import tsx bench/run.ts --only soak           (BENCH_SOAK_MINUTES of mixed traffic, 30 by default)
 *   node --import tsx bench/run.ts --only replicas       (1-3 replicas on PostgreSQL and Redis, about 7 minutes)
 *
 * `native`, `native-scale`, `sustained` and `admin-ui` run only when named in --only: they take minutes
 * (native-scale tens of minutes for its default 1000 sessions, sustained about a quarter of an hour) or, for
 * admin-ui, a browser (Chromium) and the built admin UI.
 */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { parseArgs } from 'node:util'
import { detectClaudeCli } from '../src/engine/claude-cli.js'
import { runAdminUi } from './admin-ui.js'
import { runIdleStreams } from './idle-streams.js'
import { runImports } from './imports.js'
import { runNative } from './native.js'
import { defaultScaleOptions, runNativeScale } from './native-scale.js'
import { runReplicas } from './replicas.js'
import { runSoak } from './soak.js'
import { runStartup } from './startup.js'
import { type BenchResult, render, summarize } from './stats.js'
import { runSustained } from './sustained.js'
import { runTtft } from './ttft.js'

const { values } = parseArgs({
  options: { only: { type: 'string' }, json: { type: 'string' }, sessions: { type: 'string' } },
  strict: true,
})
const sessions = values.sessions === undefined ? defaultScaleOptions().sessions : Number(values.sessions)
if (!Number.isInteger(sessions) || sessions < 1) throw new Error('--sessions must be a positive integer')

const BENCHES: Record<string, () => Promise<BenchResult>> = {
  ttft: () => runTtft(),
  startup: () => runStartup(),
  imports: () => runImports(),
}
/** Run only when named in --only. */
const ON_REQUEST: Record<string, () => Promise<BenchResult>> = {
  native: () => runNative(),
  'native-scale': () => runNativeScale({ ...defaultScaleOptions(), sessions }),
  sustained: () => runSustained(),
  'admin-ui': () => runAdminUi(),
  'idle-streams': () => runIdleStreams(),
  soak: () => runSoak(),
  replicas: () => runReplicas(),
}
const known = { ...BENCHES, ...ON_REQUEST }

const selected = values.only ? values.only.split(',').map((name) => name.trim()) : Object.keys(BENCHES)
for (const name of selected) {
  if (!known[name]) throw new Error(`unknown benchmark ${name}; known: ${Object.keys(known).join(', ')}`)
}

const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ')
/** The commit measured, with `+changes` when the working tree differs from it. */
function revision(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8', stdio: 'pipe' }).trim()
    return `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--', 'src') ? '+changes' : ''}`
  } catch {
    return 'unknown (not a git checkout)'
  }
}

const cli = await detectClaudeCli(null, { PATH: '' })
const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memoryGb: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  revision: revision(),
  claudeCli: cli.version,
  startedAt: new Date().toISOString(),
  loadAtStart: load(),
}
console.log(
  `# claude-code-gateway benchmarks: ${machine.cpus} x ${machine.cpuModel}, ${machine.memoryGb} GB, Node ${machine.node}, Claude Code ${machine.claudeCli}`,
)
console.log(`source: ${machine.revision}; load average at start (1/5/15 min): ${machine.loadAtStart}\n`)

const began = performance.now()
const results: BenchResult[] = []
for (const name of selected) {
  const result = await known[name]!()
  results.push(result)
  console.log(`${render(result).join('\n')}\n`)
}
console.log(`total ${((performance.now() - began) / 1000).toFixed(1)} s; load average at end: ${load()}`)

if (values.json) {
  const out = {
    machine: { ...machine, loadAtEnd: load() },
    results: results.map((result) => ({
      ...result,
      rows: result.rows.map((row) => ({ ...row, summary: summarize(row.samples) })),
    })),
  }
  writeFileSync(values.json, `${JSON.stringify(out, null, 2)}\n`)
  console.log(`raw samples written to ${values.json}`)
}
