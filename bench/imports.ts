/**
 * Where the gateway's start-up time and idle memory go: each module is imported alone in a fresh node
 * process, which reports how long the `import()` took and its resident memory afterwards (the figures
 * include Node's own baseline, given first: a process that imports nothing). Runs are interleaved across
 * modules, so a slow phase of the machine spreads over all of them.
 *
 * These are tsc's modules in dist/, as the library entry (dist/server.js) and the worker threads load them:
 * the command, dist/cli.js, is the same code bundled into one file (scripts/bundle.ts), which loads faster
 * than the sum of its parts here.
 *
 * Needs a build (it imports dist/): `npm run build && node --import tsx bench/imports.ts`
 * (env: BENCH_IMPORT_RUNS).
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { type BenchResult, main, type Row } from './stats.js'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))
const dist = (path: string) => pathToFileURL(join(ROOT, 'dist', path)).href

/** Label and specifier; null imports nothing (Node's baseline). */
const MODULES: [string, string | null][] = [
  ['node alone (imports nothing)', null],
  ['@anthropic-ai/claude-agent-sdk', '@anthropic-ai/claude-agent-sdk'],
  ['fastify', 'fastify'],
  ['dist/config/index.js (typebox, ajv, yaml)', dist('config/index.js')],
  ['dist/gateway.js (everything)', dist('gateway.js')],
]

interface Sample {
  ms: number
  rssMb: number
}

function measure(specifier: string | null): Promise<Sample> {
  const script = `
    const started = performance.now()
    ${specifier ? `await import(${JSON.stringify(specifier)})` : ''}
    const ms = performance.now() - started
    console.log(JSON.stringify({ ms, rssMb: process.memoryUsage().rss / 2 ** 20 }))`
  return new Promise((done, fail) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      { cwd: ROOT, timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error) fail(new Error(`${specifier}: ${stderr || error.message}`))
        else done(JSON.parse(stdout) as Sample)
      },
    )
  })
}

export async function runImports(runs = envRuns()): Promise<BenchResult> {
  if (!existsSync(join(ROOT, 'dist', 'gateway.js')))
    throw new Error('dist/ is missing: run `npm run build` first (npm run bench does)')
  const began = performance.now()
  const samples = new Map<string, Sample[]>(MODULES.map(([label]) => [label, []]))
  for (let i = 0; i < runs; i++) {
    for (const [label, specifier] of MODULES) samples.get(label)!.push(await measure(specifier))
  }
  const rows: Row[] = MODULES.flatMap(([label]) => {
    const of = samples.get(label)!
    const rss: Row = { name: `${label}: RSS after`, unit: 'MB', samples: of.map((s) => s.rssMb) }
    if (label === MODULES[0]![0]) return [{ ...rss, name: `${label}: RSS` }]
    return [{ name: `${label}: import`, unit: 'ms', samples: of.map((s) => s.ms) }, rss]
  })
  return {
    title: 'Module import cost (fresh node process per sample)',
    rows,
    ratios: [],
    targets: [],
    notes: [
      `${runs} runs per module, interleaved; RSS is process.memoryUsage().rss right after the import, Node's baseline included`,
    ],
    elapsedMs: performance.now() - began,
  }
}

function envRuns(): number {
  const value = Number(process.env.BENCH_IMPORT_RUNS)
  return Number.isInteger(value) && value > 0 ? value : 5
}

await main(import.meta.url, () => runImports())
