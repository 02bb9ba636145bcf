/**
 * The process pool: how many Claude Code processes may live at once, which of them are warm spares (as many
 * as recent new conversations ask for, see spare-demand.ts, for each account they came from, see
 * spare-profiles.ts), which idle one gives way (least recently used) when a new one or a spare is needed,
 * when a process leaves its place (whether it then becomes a spare or stops: process-release.ts), and who
 * waits when none can.
 */
import { availableParallelism } from 'node:os'
import type { Logger } from 'pino'
import { GatewayError } from './errors.js'
import { PrimingUnsupportedError } from './priming.js'
import { type ProcessMemory, ProcessSizes } from './process-memory.js'
import { ProcessRelease } from './process-release.js'
import { startForSession } from './process-start.js'
import { Runner } from './runner.js'
import { SpareDemand } from './spare-demand.js'
import { firstShort, SpareProfiles, type SpareTarget, surplus } from './spare-profiles.js'
import { reclaimOne } from './spare-reclaim.js'
import { StartingSpares } from './starting-spares.js'
import { Backoff, Later } from './timers.js'
import type { PoolHooks, PoolLimits, ProcessDetail, RunnerLauncher, RunnerProfile } from './types.js'
import { WaitQueue } from './wait-queue.js'

const SPARE_RETRY_MIN_MS = 1_000
const SPARE_RETRY_MAX_MS = 60_000
/** The target is looked at again at most this often while it is above the floor (cheap, but not per ms). */
const DEMAND_RECHECK_MIN_MS = 1_000

export class ProcessPool {
  /** Runners serving sessions, least recently used first. */
  private readonly serving = new Map<Runner, true>()
  private readonly spares: Runner[] = []
  /** Processes being started (and slots reserved for one): they hold a slot until they are up. */
  private transient = 0
  private readonly starting = new StartingSpares()
  /**
   * Runners handed to a session that has not used them yet (`touch`) nor let them idle (`idle`): not
   * evictable, though their state is `ready`. The session binds its runner a few microtasks after `acquire`
   * returns; a slot freed meanwhile (another session idling, a spare coming up) must not take it away.
   */
  private readonly handedOut = new WeakSet<Runner>()
  private readonly waiters = new WaitQueue()
  private readonly profiles: SpareProfiles
  private sparesHeld = false
  /** Starts spares again after a failed start, backing off. */
  private readonly spareRetry = new Backoff(() => this.fillSpares(), SPARE_RETRY_MIN_MS, SPARE_RETRY_MAX_MS)
  private readonly reclaim = new Later(() => this.reclaimForSpare())
  /** Processes leaving their place, on their way to being spares or gone: they hold a slot meanwhile. */
  private readonly release: ProcessRelease
  private readonly demand: SpareDemand
  /** Looks at the spare target again when arrivals leave its window, so surplus spares go. */
  private readonly demandRecheck = new Later(() => this.fillSpares())
  private readonly sizes = new ProcessSizes()
  /** The CLI let a priming prompt through once: spares are started without priming from then on. */
  private primingUnsupported = false
  private closed = false

  constructor(
    private limits: PoolLimits,
    private readonly hooks: PoolHooks,
    private readonly log: Logger,
    private readonly launch: RunnerLauncher = (profile, timeoutMs, prime) =>
      Runner.start(profile, timeoutMs, prime, log),
  ) {
    this.demand = new SpareDemand(limits.spareDemandWindowMs)
    this.profiles = new SpareProfiles(this.demand)
    this.release = new ProcessRelease({
      hooks,
      log,
      limits: () => this.limits,
      closed: () => this.closed,
      spareWanted: (key) => this.waiters.length === 0 && this.sparesOf(key) < this.spareTargetOf(key),
      park: (runner) => this.park(runner),
      left: () => {
        this.serveWaiters()
        this.fillSpares()
      },
    })
  }

  get stats() {
    return {
      live: this.occupied,
      serving: this.serving.size,
      busy: [...this.serving.keys()].filter((r) => r.state === 'busy').length,
      spares: this.spares.length,
      spareTarget: this.spareTarget,
      starting: this.transient + this.release.size,
      queued: this.waiters.length,
      max: this.slots,
    }
  }

  private evictable(runner: Runner): boolean {
    return runner.state === 'ready' && !this.handedOut.has(runner)
  }

  private get occupied(): number {
    return this.serving.size + this.spares.length + this.transient + this.release.size
  }

  /** How many processes may live at once (`maxRunners`, or fewer under `memoryBudgetMb`). */
  private get slots(): number {
    return this.sizes.slots(this.limits.maxRunners, this.limits.memoryBudgetMb)
  }

  /**
   * How many spares the pool keeps now: `warmSpares`, raised up to `maxSpares` by recent bursts of new
   * conversations (see spare-demand.ts) and by other accounts' (spare-profiles.ts), never more than the slots.
   */
  get spareTarget(): number {
    if (this.sparesHeld) return 0
    if (!this.profiles.latest) return Math.min(this.slots, this.limits.warmSpares)
    return this.spareTargets().reduce((sum, { target }) => sum + target, 0)
  }

  /** The spares wanted per profile now (none while held). */
  private spareTargets(): SpareTarget[] {
    if (this.sparesHeld) return []
    return this.profiles.targets(this.limits.warmSpares, this.limits.maxSpares, this.slots)
  }

  private spareTargetOf(key: string): number {
    return this.spareTargets().find((candidate) => candidate.profile.key === key)?.target ?? 0
  }

  /** How many spares may be starting at once (0: half the CPUs, at least one). */
  private get spareStarts(): number {
    return this.limits.spareStarts || Math.max(1, Math.floor(availableParallelism() / 2))
  }

  /** Every live process of a session or spare, with its resident memory (read now). */
  memory(): ProcessMemory[] {
    return this.sizes.measure(this.spares, this.serving.keys())
  }

  updateLimits(limits: PoolLimits): void {
    this.limits = limits
    this.demand.setWindow(limits.spareDemandWindowMs)
    this.serveWaiters()
    this.fillSpares()
  }

  /**
   * Keeps no spare while `held` (Claude Code is not logged in: a spare could serve no turn and would only
   * hold its memory); released, spares start again.
   */
  holdSpares(held: boolean): void {
    if (held === this.sparesHeld) return
    this.sparesHeld = held
    if (held) for (const spare of this.spares.splice(0)) void this.release.letGo(spare)
    else this.fillSpares()
  }

  /**
   * Which profile spares of its account are started with: the one a new conversation asks for now. Spares
   * of the account's previous profile go.
   */
  setSpareProfile(profile: RunnerProfile): void {
    if (this.profiles.set(profile)) this.fillSpares()
  }

  /** Spares of this profile only (the host options changed: every other profile is stale). */
  resetSpareProfiles(profile: RunnerProfile): void {
    this.profiles.reset(profile)
    this.fillSpares()
  }

  /**
   * A runner for a session: a matching warm spare when there is one, else a new process in a free slot,
   * an evicted idle one's slot, or a place in the queue. Fails with `busy` when the queue is full too.
   */
  async acquire(profile: RunnerProfile, canUseSpare: boolean): Promise<Runner> {
    if (this.closed) throw new GatewayError('shutting_down', 'The gateway is shutting down')
    if (canUseSpare) {
      // A new conversation: what the spare target follows, whether a spare serves it or not.
      this.demand.arrived(profile.key)
      const index = this.spares.findIndex((spare) => spare.key === profile.key && spare.state === 'ready')
      if (index >= 0) {
        const [spare] = this.spares.splice(index, 1)
        this.serve(spare!)
        // The replacement starts after this request is on its way, not in its path.
        setImmediate(() => this.fillSpares())
        return spare!
      }
      const claimed = await this.claimStartingSpare(profile.key)
      if (claimed) return claimed
    }
    await this.reserveSlot()
    try {
      const runner = await startForSession(this.launch, profile, this.limits, {
        hooks: this.hooks,
        log: this.log,
        closed: () => this.closed,
      })
      this.watch(runner, 'ready')
      this.serve(runner)
      return runner
    } finally {
      this.transient--
      this.fillSpares()
    }
  }

  /** A spare of this profile already starting, taken over (see starting-spares.ts); null: start one. */
  private async claimStartingSpare(key: string): Promise<Runner | null> {
    const handOff = this.starting.claim(key)
    if (!handOff) return null
    // Counted no more as a spare on its way: its replacement may start.
    setImmediate(() => this.fillSpares())
    const runner = await handOff
    if (runner) this.serve(runner)
    return runner
  }

  private serve(runner: Runner): void {
    this.serving.set(runner, true)
    this.handedOut.add(runner)
  }

  /** Mark a runner as just used, so it is the last to be evicted. */
  touch(runner: Runner): void {
    this.handedOut.delete(runner)
    if (!this.serving.delete(runner)) return
    this.serving.set(runner, true)
  }

  /** A session is done with its runner for now: a waiter may take the slot, a spare may later reclaim it. */
  idle(runner: Runner | null): void {
    if (runner) {
      this.handedOut.delete(runner)
      runner.idleSince = Date.now()
    }
    this.serveWaiters()
    this.fillSpares()
  }

  /**
   * A session gives its runner back: it becomes a missing spare of its profile when it can (process-release.ts),
   * else it stops and its slot is free once the process is gone. Resolves once the process no longer
   * writes the session's conversation.
   */
  async retire(runner: Runner): Promise<void> {
    if (this.serving.delete(runner)) await this.release.letGo(runner)
  }

  /** A serving runner's process ended by itself (crash, kill): its slot is free. `detail`: for the log. */
  exited(runner: Runner, detail: ProcessDetail): void {
    if (!this.serving.delete(runner)) return
    this.hooks.lifecycle('crash', runner, detail)
    this.serveWaiters()
    this.fillSpares()
  }

  async close(): Promise<void> {
    this.closed = true
    for (const later of [this.spareRetry, this.reclaim, this.demandRecheck]) later.cancel()
    this.waiters.failAll(new GatewayError('shutting_down', 'The gateway is shutting down'))
    const all = [...this.spares.splice(0), ...this.serving.keys()]
    this.serving.clear()
    await Promise.all(all.map((runner) => runner.close()))
  }

  private reserveSlot(): Promise<void> {
    const { queueSize, queueTimeoutMs } = this.limits
    // A spare still starting gives its slot to a waiter once it is up: such a wait is not queueing.
    return (
      this.tryReserve() ?? this.waiters.join(queueSize + this.starting.unclaimed, queueTimeoutMs, this.slots)
    )
  }

  /**
   * Take a slot if one is free, or free one: a spare, else the least recently used idle runner. A freed
   * slot is handed over once its process has exited, so the number of live processes never exceeds the
   * maximum. Returns null when every slot is busy.
   */
  private tryReserve(): Promise<void> | null {
    if (this.occupied < this.slots) {
      this.transient++
      return Promise.resolve()
    }
    const freed = this.spares.pop() ?? this.evictOne()
    if (!freed) return null
    this.transient++
    return freed.close().then(() => undefined)
  }

  /** The least recently used idle runner whose session lets it go now, taken out of `serving`. */
  private evictOne(): Runner | undefined {
    for (const runner of this.serving.keys()) {
      if (!this.evictable(runner) || !this.hooks.evict(runner)) continue
      this.serving.delete(runner)
      return runner
    }
    return undefined
  }

  private serveWaiters(): void {
    while (this.waiters.length > 0) {
      const reservation = this.tryReserve()
      if (!reservation) return
      this.waiters.grantNext(reservation)
    }
  }

  private fillSpares(): void {
    if (this.closed || !this.profiles.latest) return
    const targets = this.spareTargets()
    this.followDemand(targets)
    if (this.spareRetry.pending) return
    const target = targets.reduce((sum, { target }) => sum + target, 0)
    const wanted = target - this.sparesOnTheirWay
    // Requests waiting for a slot come first: a spare would only make one of them wait longer.
    if (wanted <= 0 || this.waiters.length > 0) return
    // The next one starts when one of these is up (`.finally` below).
    if (this.starting.size >= this.spareStarts) return
    if (this.occupied >= this.slots) {
      this.scheduleReclaim(0)
      return
    }
    const profile = firstShort(targets, (key) => this.sparesOf(key))
    if (!profile) return
    const prime = this.limits.primeSpares !== false && !this.primingUnsupported
    this.hooks.lifecycle('spawn', null, { spare: true, prime })
    const starting = this.starting.add(profile.key)
    this.transient++
    const startedAt = Date.now()
    this.launch(profile, this.limits.startTimeoutMs, prime)
      .then((runner) => {
        this.spareRetry.succeeded()
        this.demand.started(Date.now() - startedAt)
        if (this.closed) {
          void runner.close()
          return
        }
        if (starting.claimed) {
          this.watch(runner, 'spare')
          this.starting.settle(starting, runner)
          return
        }
        if (!this.profiles.has(profile.key)) {
          void runner.close()
          return
        }
        this.watch(runner, 'spare')
        this.park(runner)
      })
      .catch((error: Error) => {
        if (error instanceof PrimingUnsupportedError) {
          this.primingUnsupported = true
          this.log.warn({ err: error.message }, 'warm spare could not be primed')
          return
        }
        this.hooks.lifecycle('fail', null, { spare: true })
        // A CLI that cannot start must not be restarted in a hot loop: back off, doubling up to a minute.
        const retryInMs = this.spareRetry.failed()
        this.log.warn({ err: error.message, retryInMs }, 'warm spare failed to start')
      })
      .finally(() => {
        // A claim not handed a process (failure, shut down) starts its own.
        this.starting.settle(starting, null)
        this.transient--
        this.serveWaiters()
        this.fillSpares()
      })
  }

  /**
   * Keep the spares at the target as it moves: surplus spares go (a burst's memory returns once its window
   * has passed), and while the target is above the floor it is looked at again when it can fall.
   */
  private followDemand(targets: readonly SpareTarget[]): void {
    for (const spare of surplus(this.spares, targets)) {
      this.spares.splice(this.spares.indexOf(spare), 1)
      void this.release.letGo(spare)
    }
    const next = this.profiles.nextChange(targets, this.limits.warmSpares)
    if (next !== null) this.demandRecheck.in(Math.max(DEMAND_RECHECK_MIN_MS, next))
  }

  /**
   * Free a slot for a missing spare in `delayMs`, in the background: never within a request's own call
   * (evicting publishes the session's state change and stops its process, work no request should wait
   * for). A sooner need replaces a later one.
   */
  private scheduleReclaim(delayMs: number): void {
    this.reclaim.in(delayMs, { sooner: true })
  }

  /**
   * Every slot is taken and spares are missing: a session idle long enough gives its process up (see
   * spare-reclaim.ts), one at a time until the spares on their way make the target.
   */
  private reclaimForSpare(): void {
    if (this.closed || !this.profiles.latest || this.waiters.length > 0) return
    const wanted = this.spareTarget - this.sparesOnTheirWay
    if (wanted <= 0) return
    if (this.occupied < this.slots) {
      this.fillSpares()
      return
    }
    const idleMs = this.limits.spareReclaimIdleMs ?? 0
    if (idleMs <= 0) return
    const idle = [...this.serving.keys()].filter((runner) => this.evictable(runner))
    const reclaimed = reclaimOne(idle, idleMs, (runner) => this.hooks.evict(runner))
    if (!reclaimed) return
    if ('waitMs' in reclaimed) {
      this.scheduleReclaim(reclaimed.waitMs)
      return
    }
    this.serving.delete(reclaimed.runner)
    if (wanted > 1) this.scheduleReclaim(0)
    void this.release.letGo(reclaimed.runner, true)
  }

  /** Spares up, starting, or on their way in a slot being freed or a process being cleared. */
  private get sparesOnTheirWay(): number {
    return this.spares.length + this.starting.unclaimed + this.release.sparesOnTheirWay
  }

  /** A spare is up: new conversations of its profile take it; if its process ends first, it is replaced. */
  private park(runner: Runner): void {
    this.spares.push(runner)
    void runner.exited.then(() => {
      const index = this.spares.indexOf(runner)
      if (index < 0) return
      this.spares.splice(index, 1)
      this.fillSpares()
    })
  }

  private watch(runner: Runner, event: 'ready' | 'spare'): void {
    this.hooks.lifecycle(event, runner)
    void runner.exited.then(({ code, signal }) => this.hooks.lifecycle('exit', runner, { code, signal }))
  }

  /** Spares of a profile, up or on their way (starting, or a process given back being cleared). */
  private sparesOf(key: string): number {
    const up = this.spares.filter((spare) => spare.key === key).length
    return up + this.starting.unclaimedOf(key) + this.release.sparesOf(key)
  }
}
