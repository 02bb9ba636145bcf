/**
 * Letting a process go: what becomes of a runner leaving its place (given back by its session, reclaimed for
 * a spare, a spare no longer wanted). It is cleared (`/clear`, see process-reuse.ts) and becomes a missing
 * spare of its profile when it can, else (or when clearing fails) it stops. Apart from the pool, which
 * decides when a process leaves and where a spare goes: this decides whether it can serve again, and counts
 * the processes on their way out, each holding its slot until it is a spare or gone.
 */
import type { Logger } from 'pino'
import { residentBytes } from './process-memory.js'
import { Clearings } from './process-reuse.js'
import type { Runner } from './runner.js'
import type { PoolHooks, PoolLimits } from './types.js'

/** What letting a process go needs of the pool. */
export interface ReleaseContext {
  readonly hooks: PoolHooks
  readonly log: Logger
  limits(): PoolLimits
  closed(): boolean
  /** Whether a spare of this profile is missing and no request waits for a slot (it would come first). */
  spareWanted(key: string): boolean
  /** A process cleared for another conversation: a spare now. */
  park(runner: Runner): void
  /** A process left (stopped, or parked as a spare): its slot may serve a waiter or a spare. */
  left(): void
}

export class ProcessRelease {
  /** Processes being cleared or stopped: each holds its slot until it is a spare or gone. */
  private leaving = 0
  /** Slots being freed for spares (their sessions' processes exiting): counted as spares on their way. */
  private reclaiming = 0
  private readonly clearings = new Clearings()

  constructor(private readonly pool: ReleaseContext) {}

  /** Processes on their way out, holding a slot. */
  get size(): number {
    return this.leaving
  }

  /** Spares on their way from here: processes being cleared, and slots being freed for one. */
  get sparesOnTheirWay(): number {
    return this.reclaiming + this.clearings.size
  }

  /** Processes of a profile being cleared to become its spares. */
  sparesOf(key: string): number {
    return this.clearings.of(key)
  }

  /**
   * Clear the runner and park it as a missing spare when it can be, else stop it, its slot free once the
   * process is gone. `forSpare`: its slot is freed for a spare, which counts as on its way meanwhile.
   */
  async letGo(runner: Runner, forSpare = false): Promise<void> {
    this.leaving++
    const cleared =
      this.reusable(runner) &&
      (await this.clearings.clear(runner, this.pool.limits().startTimeoutMs, this.pool.log))
    if (!cleared) {
      if (forSpare) this.reclaiming++
      await runner.close()
      if (forSpare) this.reclaiming--
    }
    this.leaving--
    if (cleared && this.pool.closed()) void runner.close()
    else if (cleared) {
      this.pool.hooks.lifecycle('reuse', runner)
      this.pool.park(runner)
    }
    this.pool.left()
  }

  /**
   * Whether a runner given back becomes a spare: reuse is on, its process only talked and has not grown past
   * `reuseMaxRssMb`, and its profile is short of spares; requests waiting come first.
   */
  private reusable(runner: Runner): boolean {
    const limits = this.pool.limits()
    if (this.pool.closed() || limits.reuseProcesses === false || !runner.reusable) return false
    const rss = residentBytes(runner.pid)
    if (rss !== null && rss > (limits.reuseMaxRssMb ?? Number.POSITIVE_INFINITY) * 2 ** 20) return false
    return this.pool.spareWanted(runner.key)
  }
}
