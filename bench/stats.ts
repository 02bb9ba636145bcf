/**
 * Small helpers shared by the benchmarks: order statistics, the result shape every benchmark returns and the
 * table they are printed as. Percentiles use the nearest-rank method (p90 of 20 samples is the 18th
 * smallest); the median of an even number of samples is the mean of the two middle ones.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

export interface Summary {
  n: number
  median: number
  p90: number
  p99: number
  min: number
  max: number
}

export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0)
    return { n: 0, median: Number.NaN, p90: Number.NaN, p99: Number.NaN, min: Number.NaN, max: Number.NaN }
  const sorted = [...samples].sort((a, b) => a - b)
  const n = sorted.length
  const middle = Math.floor(n / 2)
  const median = n % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
  return {
    n,
    median,
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    min: sorted[0]!,
    max: sorted[n - 1]!,
  }
}

/** Nearest-rank percentile of already sorted samples. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[Math.min(rank, sorted.length) - 1]!
}

/** Nearest-rank percentile of samples in any order. */
export const percentileOf = (samples: readonly number[], p: number): number =>
  percentile(
    [...samples].sort((a, b) => a - b),
    p,
  )

/** `p50 0.41 / p95 1.20 / p99 3.05 ms`: a latency distribution's tail in one note. */
export function spread(samples: readonly number[]): string {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (p: number) => {
    const value = percentile(sorted, p)
    return Number.isFinite(value) ? value.toFixed(2) : '-'
  }
  return `p50 ${at(50)} / p95 ${at(95)} / p99 ${at(99)} ms`
}

/** An integer of at least `least` from the environment (a benchmark knob), else the fallback. */
export function envInt(name: string, fallback: number, least = 1): number {
  const raw = process.env[name]
  const value = raw === undefined || raw === '' ? Number.NaN : Number(raw)
  return Number.isInteger(value) && value >= least ? value : fallback
}

/** A number (not only an integer) of at least `least` from the environment, else the fallback. */
export function envNumber(name: string, fallback: number, least = 0): number {
  const raw = process.env[name]
  const value = raw === undefined || raw === '' ? Number.NaN : Number(raw)
  return Number.isFinite(value) && value >= least ? value : fallback
}

/** One measured quantity: its samples and what they count in. */
export interface Row {
  name: string
  unit: 'ms' | 'MB'
  samples: number[]
  /** A short remark printed after the figures (e.g. how many conversations found a warm spare). */
  note?: string
}

/** `numerator / denominator` of two rows' medians, with the target it is checked against. */
export interface Ratio {
  name: string
  numerator: string
  denominator: string
  /** The ratio must be at least this for the check to pass; omitted when there is no target. */
  atLeast?: number
  /** Compare this nearest-rank percentile of both rows (e.g. 90) instead of their medians. */
  percentile?: number
}

/** A target on one row: its median, or the given percentile, `<= atMost`. */
export interface Target {
  row: string
  atMost: number
  /** Nearest-rank percentile checked instead of the median (e.g. 99). */
  percentile?: number
}

export interface BenchResult {
  title: string
  rows: Row[]
  ratios: Ratio[]
  targets: Target[]
  notes: string[]
  elapsedMs: number
  /** Print a p99 column too (benchmarks whose rows have enough samples for a tail). */
  p99?: boolean
}

const fmt = (value: number, unit: Row['unit']): string => {
  if (!Number.isFinite(value)) return '-'
  return unit === 'MB' ? value.toFixed(1) : value >= 100 ? value.toFixed(0) : value.toFixed(1)
}

function pad(cells: string[][]): string[] {
  const widths = cells[0]!.map((_, column) => Math.max(...cells.map((row) => row[column]!.length)))
  return cells.map((row) =>
    row
      .map((cell, column) =>
        // Names and notes (first and last columns) are left-aligned, figures right-aligned.
        column === 0 || column === row.length - 1
          ? cell.padEnd(widths[column]!)
          : cell.padStart(widths[column]!),
      )
      .join('  ')
      .trimEnd(),
  )
}

export function medianOf(result: BenchResult, name: string): number {
  const row = result.rows.find((r) => r.name === name)
  return row ? summarize(row.samples).median : Number.NaN
}

/** A ratio's value: of the two rows' medians, or of the percentile it names. */
export function ratioOf(result: BenchResult, ratio: Ratio): number {
  if (ratio.percentile === undefined)
    return medianOf(result, ratio.numerator) / medianOf(result, ratio.denominator)
  const at = (name: string) =>
    percentileOf(result.rows.find((r) => r.name === name)?.samples ?? [], ratio.percentile!)
  return at(ratio.numerator) / at(ratio.denominator)
}

/** The result as printable lines: a table of rows, then ratios and targets with their verdict, then notes. */
export function render(result: BenchResult): string[] {
  const tail = result.p99 === true
  const header = ['', 'n', 'median', 'p90', ...(tail ? ['p99'] : []), 'min', 'max', 'unit', '']
  const body = result.rows.map((row) => {
    const s = summarize(row.samples)
    return [
      row.name,
      String(s.n),
      fmt(s.median, row.unit),
      fmt(s.p90, row.unit),
      ...(tail ? [fmt(s.p99, row.unit)] : []),
      fmt(s.min, row.unit),
      fmt(s.max, row.unit),
      row.unit,
      row.note ?? '',
    ]
  })
  const lines = [`## ${result.title} (${(result.elapsedMs / 1000).toFixed(1)} s)`, ...pad([header, ...body])]
  for (const ratio of result.ratios) {
    const value = ratioOf(result, ratio)
    const verdict =
      ratio.atLeast === undefined
        ? ''
        : value >= ratio.atLeast
          ? `  (target >= ${ratio.atLeast}x: met)`
          : `  (target >= ${ratio.atLeast}x: NOT met)`
    const statistic = ratio.percentile === undefined ? '' : ` (p${ratio.percentile})`
    lines.push(`ratio ${ratio.name}${statistic}: ${formatRatio(value)}${verdict}`)
  }
  for (const target of result.targets) {
    const row = result.rows.find((r) => r.name === target.row)
    const value =
      target.percentile === undefined
        ? medianOf(result, target.row)
        : percentileOf(row?.samples ?? [], target.percentile)
    const statistic = target.percentile === undefined ? 'median' : `p${target.percentile}`
    const verdict = value <= target.atMost ? 'met' : 'NOT met'
    lines.push(
      `target ${target.row}: ${statistic} ${fmt(value, row?.unit ?? 'ms')} <= ${target.atMost} ${row?.unit ?? ''}: ${verdict}`,
    )
  }
  for (const note of result.notes) lines.push(`note: ${note}`)
  return lines
}

/** A ratio as `2.9x`, or `-` when a side has no samples. */
export const formatRatio = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(1)}x` : '-')

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** True when this module is the script node was started with (`node --import tsx bench/x.ts`). */
export function isMain(importMetaUrl: string): boolean {
  const entry = process.argv[1]
  return entry !== undefined && pathToFileURL(resolve(entry)).href === importMetaUrl
}

/**
 * Every benchmark file ends with this: started as the script (`node --import tsx bench/x.ts`) it runs the
 * benchmark and prints its table; imported (by run.ts) it does nothing. `--help` prints the file's opening
 * comment instead, which says what it measures and which variables set it. A failure rejects, so node
 * prints it and exits 1.
 */
export async function main(importMetaUrl: string, run: () => Promise<BenchResult>): Promise<void> {
  if (!isMain(importMetaUrl)) return
  if (process.argv.includes('--help')) {
    const source = readFileSync(fileURLToPath(importMetaUrl), 'utf8')
    console.log(/^\/\*\*\n([\s\S]*?)\n \*\//.exec(source)?.[1]?.replace(/^ \* ?/gm, '') ?? '')
    return
  }
  console.log(render(await run()).join('\n'))
}

/** A port that was free a moment ago on 127.0.0.1 (the OS picks it; it is released before returning). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const address = server.address()
  await new Promise<void>((done) => server.close(() => done()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/** Resident set size of one process (not its children) in MB, from /proc/<pid>/status. */
export async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
  if (!match) throw new Error(`no VmRSS for ${pid}`)
  return Number(match[1]) / 1024
}

/** The direct children of `pid` that are still running (zombies left out), from /proc. */
export async function liveChildren(pid: number): Promise<number[]> {
  const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => ''))
    .split(' ')
    .filter(Boolean)
    .map(Number)
  const states = await Promise.all(
    children.map(async (child) => {
      const stat = await readFile(`/proc/${child}/stat`, 'utf8').catch(() => '')
      // The state is the first field after the command name, which is in parentheses.
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    }),
  )
  return children.filter((_, i) => states[i] !== '' && states[i] !== 'Z')
}

/** Every descendant of `pid` (children, grandchildren...), found by scanning /proc/<pid>/stat. */
export async function descendants(pid: number): Promise<number[]> {
  const parents = new Map<number, number>()
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8')
      // The command name is in parentheses and may contain spaces: fields resume after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      parents.set(Number(entry), Number(fields[1]))
    } catch {
      // the process exited while we looked
    }
  }
  const found: number[] = []
  const queue = [pid]
  while (queue.length > 0) {
    const parent = queue.shift()!
    for (const [child, ppid] of parents) {
      if (ppid === parent) {
        found.push(child)
        queue.push(child)
      }
    }
  }
  return found
}

let ticksPerSecond: number | undefined
/** USER_HZ, the unit of /proc/<pid>/stat's CPU times (100 on every common Linux, asked once to be sure). */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      ticksPerSecond = 100
    }
  }
  return ticksPerSecond
}

/** CPU seconds of one process, from /proc/<pid>/stat. */
export interface ProcessCpu {
  /** Its own: utime + stime. */
  ownS: number
  /** Its children that exited and that it waited for (cutime + cstime, their own reaped children included). */
  reapedS: number
}

export async function processCpu(pid: number): Promise<ProcessCpu> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  // After the command name: the state (field 3 of proc(5)), ... utime, stime, cutime, cstime (14-17).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const seconds = (a: number, b: number) => (Number(fields[a]) + Number(fields[b])) / clockTicks()
  return { ownS: seconds(11, 12), reapedS: seconds(13, 14) }
}

/** Memory and CPU of a set of processes. */
export interface Usage {
  /** How many of them were running (a zombie or a process gone is not). */
  processes: number
  rssMb: number
  /** CPU seconds, own and reaped, of each process still in /proc. */
  cpuS: number
}

export async function usageOf(pids: readonly number[]): Promise<Usage> {
  const usage: Usage = { processes: 0, rssMb: 0, cpuS: 0 }
  await Promise.all(
    pids.map(async (pid) => {
      // A zombie has no VmRSS yet its time is not in its parent's reaped time either: count its CPU.
      const [rss, cpu] = await Promise.all([rssMb(pid).catch(() => null), processCpu(pid).catch(() => null)])
      if (cpu) usage.cpuS += cpu.ownS + cpu.reapedS
      if (rss !== null) {
        usage.processes++
        usage.rssMb += rss
      }
    }),
  )
  return usage
}

/**
 * A process with every descendant: their memory, and the CPU the whole tree has used since it started. A
 * descendant that exited has its time in its parent's reaped time, so the CPU figure only grows, and the
 * difference of two readings is what the tree used between them (unless a process left the tree alive).
 */
export async function treeUsage(pid: number): Promise<Usage> {
  return usageOf([pid, ...(await descendants(pid))])
}

/** A seeded generator (mulberry32): the same sequence on every run, so both sides of a comparison see one mix. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}
