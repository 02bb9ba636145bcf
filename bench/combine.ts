/**
 * Pools several `bench/run.ts --json` files (the same benchmarks run several times, e.g. at different
 * moments on a shared machine): every row's samples are put together and summarised again, and each run's
 * own median is listed beside them so the spread between runs stays visible. Ratios are of pooled medians,
 * with the range of the per-run ratios.
 *
 *   node --import tsx bench/combine.ts /tmp/bench-A.json /tmp/bench-B.json /tmp/bench-C.json
 */
import { readFileSync } from 'node:fs'
import type { BenchResult, Row } from './stats.js'
import { formatRatio, medianOf, render, summarize } from './stats.js'

interface RunFile {
  machine: { revision?: string; loadAtStart: string; loadAtEnd: string; startedAt: string }
  results: BenchResult[]
}

const files = process.argv.slice(2)
if (files.length === 0) {
  console.error('usage: node --import tsx bench/combine.ts RUN.json [RUN.json...]')
  process.exit(2)
}
const runs = files.map((file) => JSON.parse(readFileSync(file, 'utf8')) as RunFile)
runs.forEach((run, i) => {
  const { startedAt, revision, loadAtStart, loadAtEnd } = run.machine
  console.log(`run ${i + 1}: ${startedAt}, source ${revision ?? '?'}, load ${loadAtStart} -> ${loadAtEnd}`)
})
console.log('')

const fmt = (value: number) =>
  Number.isFinite(value) ? (value >= 100 ? value.toFixed(0) : value.toFixed(1)) : '-'
for (const first of runs[0]!.results) {
  const same = runs.map((run) => run.results.find((result) => result.title === first.title))
  const rows: Row[] = first.rows.map((row) => {
    const perRun = same.map((result) => result?.rows.find((r) => r.name === row.name))
    const medians = perRun.map((r) => fmt(r ? summarize(r.samples).median : Number.NaN))
    const notes = perRun.flatMap((r) => (r?.note ? [r.note] : []))
    return {
      ...row,
      samples: perRun.flatMap((r) => r?.samples ?? []),
      note: `run medians ${medians.join(' / ')}${notes.length > 0 ? `; ${notes.join(' | ')}` : ''}`,
    }
  })
  const pooled: BenchResult = {
    ...first,
    title: `${first.title}, ${runs.length} runs pooled; time summed over runs`,
    rows,
    elapsedMs: same.reduce((total, result) => total + (result?.elapsedMs ?? 0), 0),
  }
  console.log(render(pooled).join('\n'))
  for (const ratio of first.ratios) {
    const values = same
      .filter((result): result is BenchResult => result !== undefined)
      .map((result) => medianOf(result, ratio.numerator) / medianOf(result, ratio.denominator))
    console.log(`  per-run ratio ${ratio.name}: ${values.map(formatRatio).join(' / ')}`)
  }
  console.log('')
}
