/**
 * Process memory: the resident size of a process, as the kernel counts it. Linux only (`/proc`); elsewhere
 * null, said so rather than guessed. Read synchronously: a procfs file is generated on read in microseconds,
 * and it is read only for the authenticated health detail and the pool's change log line.
 */
import { readFileSync } from 'node:fs'
import type { Runner } from './runner.js'

const onLinux = process.platform === 'linux'

/** Resident set size of `pid` in bytes (VmRSS), or null when unknown (not Linux, the process is gone). */
export function residentBytes(pid: number | null): number | null {
  if (!onLinux || pid === null) return null
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1')
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]
    return kb === undefined ? null : Number(kb) * 1024
  } catch {
    return null
  }
}

/** A live process as memory reports show it. */
export interface ProcessMemory {
  pid: number | null
  role: 'spare' | 'idle' | 'busy'
  /** Resident set size; null where it cannot be read (not Linux). */
  rssBytes: number | null
}

/** Every live process of a session or spare, with its resident memory (read now). */
export function memoryOf(spares: readonly Runner[], serving: Iterable<Runner>): ProcessMemory[] {
  const roles = [
    ...spares.map((runner) => ({ runner, role: 'spare' as const })),
    ...[...serving].map((runner) => ({
      runner,
      role: runner.state === 'busy' ? ('busy' as const) : ('idle' as const),
    })),
  ]
  return roles.map(({ runner, role }) => ({ pid: runner.pid, role, rssBytes: residentBytes(runner.pid) }))
}

/** The total of the sizes that could be read, in bytes; null when none could (not Linux). */
export function knownTotal(memory: readonly ProcessMemory[]): number | null {
  const known = memory.flatMap((process) => (process.rssBytes === null ? [] : [process.rssBytes]))
  return known.length ? known.reduce((sum, bytes) => sum + bytes, 0) : null
}

/** A warm Claude Code process's resident size before any is measured (CLAUDE-CODE-NOTES.md: ~200 MB). */
export const ASSUMED_PROCESS_MB = 190

/** The size of the pool's processes as last measured: what `pool.memoryBudgetMb` is counted in. */
export class ProcessSizes {
  private averageMb = ASSUMED_PROCESS_MB

  /**
   * How many processes may live at once: `maxRunners`, or fewer when `budgetMb` holds fewer of the size they
   * were last measured at (at least one). The count moves with their size; nothing is stopped for it, but no
   * process starts beyond it (an idle one gives way first, as when the count is reached).
   */
  slots(maxRunners: number, budgetMb: number | undefined): number {
    if (!budgetMb) return maxRunners
    return Math.max(1, Math.min(maxRunners, Math.floor(budgetMb / this.averageMb)))
  }

  /** Every live process with its resident memory, read now; the average size follows what was read. */
  measure(spares: readonly Runner[], serving: Iterable<Runner>): ProcessMemory[] {
    const memory = memoryOf(spares, serving)
    const total = knownTotal(memory)
    const measured = memory.filter((process) => process.rssBytes !== null).length
    if (total !== null) this.averageMb = total / measured / 2 ** 20
    return memory
  }
}

/** For the pool's log line: the processes' and the gateway's resident memory in MB (null: unknown). */
export function memorySummary(memory: readonly ProcessMemory[]): {
  rssMb: number | null
  gatewayRssMb: number
} {
  const claudeBytes = knownTotal(memory)
  return {
    rssMb: claudeBytes === null ? null : Math.round(claudeBytes / 2 ** 20),
    gatewayRssMb: Math.round(process.memoryUsage.rss() / 2 ** 20),
  }
}
