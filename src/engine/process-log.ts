/**
 * The log of the Claude Code processes' lives: a line for each step (the pool and the runner binding announce
 * them), a line a second later of what the pool holds, and running totals of starts, failed starts, retries
 * and crashes counted from the same steps, which the metrics read (src/observability/gauges.ts).
 */
import type { Logger } from 'pino'
import type { ProcessPool } from './pool.js'
import { memorySummary } from './process-memory.js'
import type { Runner } from './runner.js'
import { Later } from './timers.js'
import type { ProcessCounts, ProcessDetail, ProcessLifecycle } from './types.js'

/** A line in the log for a process's life (`cliPid`: pino's own `pid` field is the gateway's). */
export function logLifecycle(
  log: Logger,
  event: ProcessLifecycle,
  runner: Runner | null,
  detail?: ProcessDetail,
): void {
  const line = { process: event, runner: runner?.id, cliPid: runner?.pid ?? undefined, ...detail }
  if (event === 'crash') log.warn(line, `claude process ${event}`)
  else log.info(line, `claude process ${event}`)
}

export class ProcessLog {
  private readonly totals: ProcessCounts = {
    starts: 0,
    startFailures: 0,
    startRetries: 0,
    crashes: 0,
    reuses: 0,
  }
  /** Changes of the pool within a second make one log line of what it holds. */
  private readonly summary = new Later(() => this.logSummary())
  private closed = false

  constructor(
    private readonly log: Logger,
    private readonly pool: Pick<ProcessPool, 'stats' | 'memory'>,
  ) {}

  /** Since the gateway started (read-only copy). */
  get counts(): ProcessCounts {
    return { ...this.totals }
  }

  /** One step of a process's life: counted, and logged. */
  record(event: ProcessLifecycle, runner: Runner | null, detail?: ProcessDetail): void {
    switch (event) {
      case 'spawn':
        this.totals.starts++
        if ((detail?.attempt ?? 0) > 0) this.totals.startRetries++
        break
      case 'fail':
        this.totals.startFailures++
        // Not logged here: the pool warns of it itself, with the error and what it does next.
        return
      case 'crash':
        this.totals.crashes++
        break
      case 'reuse':
        this.totals.reuses++
        this.changed()
        break
      case 'ready':
      case 'spare':
      case 'exit':
        this.changed()
    }
    logLifecycle(this.log, event, runner, detail)
  }

  /** The gateway is shutting down: no more summary lines. */
  close(): void {
    this.closed = true
    this.summary.cancel()
  }

  /**
   * The processes changed: one info line, a second later, of what the pool holds and how much memory its
   * processes and the gateway take (what an operator sizing `pool.*` needs; the per-process lines say what
   * happened). `rssMb` is null where it cannot be read (not Linux).
   */
  private changed(): void {
    if (!this.closed) this.summary.in(1_000)
  }

  private logSummary(): void {
    const { live, serving, busy, spares, spareTarget, max } = this.pool.stats
    const pool = { live, serving, busy, spares, spareTarget, max }
    this.log.info({ pool, ...memorySummary(this.pool.memory()) }, 'claude processes')
  }
}
