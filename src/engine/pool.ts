/**
 * The process pool: how many Claude Code processes may live at once, which of them are warm spares, which
 * idle one gives way (least recently used) when a new one is needed, and who waits when none can.
 */
import type { Options } from '@anthropic-ai/claude-agent-sdk'
import type { Logger } from 'pino'
import type { ClientToolSpec } from '../store/types.js'
import { GatewayError } from './errors.js'
import { PrimingUnsupportedError } from './priming.js'
import { Runner } from './runner.js'
import { after } from './timers.js'

export interface PoolLimits {
  maxRunners: number
  warmSpares: number
  queueSize: number
  queueTimeoutMs: number
  startTimeoutMs: number
  startRetries: number
  /** Warm each spare up with a blocked prompt before it serves (see priming.ts); on unless false. */
  primeSpares?: boolean
  /**
   * With every slot taken and a spare missing, a session idle this long gives its process up for the spare
   * (it resumes on its next message); 0: never.
   */
  spareReclaimIdleMs?: number
}

/** Start-up options of a process, with the key that says which sessions it can serve. */
export interface RunnerProfile {
  key: string
  options: Options
  /** Functions the API client executes, served to this process by the gateway. */
  clientTools: ClientToolSpec[] | null
  niceness: number
}

export interface PoolHooks {
  /**
   * The pool needs the slot of this idle runner: the session it serves must let it go (hibernate).
   * Returns false when the runner is no longer idle.
   */
  evict(runner: Runner): boolean
  /** A runner started or stopped; for logs and metrics. */
  lifecycle(event: ProcessLifecycle, runner: Runner | null, detail?: object): void
}

/** The life of a CLI process: started, initialised, parked as a spare, given up by its session, gone. */
export type ProcessLifecycle = 'spawn' | 'ready' | 'spare' | 'hibernate' | 'crash' | 'exit'

interface Waiter {
  grant(): void
  fail(error: GatewayError): void
}

export type RunnerLauncher = (profile: RunnerProfile, timeoutMs: number, prime: boolean) => Promise<Runner>

const SPARE_RETRY_MIN_MS = 1_000
const SPARE_RETRY_MAX_MS = 60_000

export class ProcessPool {
  /** Runners serving sessions, least recently used first. */
  private readonly serving = new Map<Runner, true>()
  private readonly spares: Runner[] = []
  /** Processes being started or stopped: they hold a slot until they are up or gone. */
  private transient = 0
  private sparesStarting = 0
  private readonly waiters: Waiter[] = []
  private spareProfile: RunnerProfile | null = null
  private spareRetryMs = 0
  private spareTimer: NodeJS.Timeout | null = null
  private reclaimTimer: NodeJS.Timeout | null = null
  /** The CLI let a priming prompt through once: spares are started without priming from then on. */
  private primingUnsupported = false
  private closed = false

  constructor(
    private limits: PoolLimits,
    private readonly hooks: PoolHooks,
    private readonly log: Logger,
    private readonly launch: RunnerLauncher = (profile, timeoutMs, prime) =>
      Runner.start(profile, timeoutMs, prime),
  ) {}

  get stats() {
    return {
      live: this.serving.size + this.spares.length + this.transient,
      serving: this.serving.size,
      busy: [...this.serving.keys()].filter((r) => r.state === 'busy').length,
      spares: this.spares.length,
      starting: this.transient,
      queued: this.waiters.length,
      max: this.limits.maxRunners,
    }
  }

  private get occupied(): number {
    return this.serving.size + this.spares.length + this.transient
  }

  updateLimits(limits: PoolLimits): void {
    this.limits = limits
    while (this.spares.length > limits.warmSpares) this.discard(this.spares.pop()!)
    this.serveWaiters()
    this.fillSpares()
  }

  /** Which profile spares are started with: the one new conversations asked for last. */
  setSpareProfile(profile: RunnerProfile): void {
    if (this.spareProfile?.key === profile.key) return
    this.spareProfile = profile
    for (const spare of this.spares.splice(0)) this.discard(spare)
    this.fillSpares()
  }

  /**
   * A runner for a session: a matching warm spare when there is one, else a new process in a free slot,
   * an evicted idle one's slot, or a place in the queue. Fails with `busy` when the queue is full too.
   */
  async acquire(profile: RunnerProfile, canUseSpare: boolean): Promise<Runner> {
    if (this.closed) throw new GatewayError('shutting_down', 'The gateway is shutting down')
    if (canUseSpare) {
      const index = this.spares.findIndex((spare) => spare.key === profile.key && spare.state === 'ready')
      if (index >= 0) {
        const [spare] = this.spares.splice(index, 1)
        this.serving.set(spare!, true)
        // The replacement starts after this request is on its way, not in its path.
        setImmediate(() => this.fillSpares())
        return spare!
      }
    }
    await this.reserveSlot()
    try {
      const runner = await this.startWithRetry(profile)
      this.serving.set(runner, true)
      return runner
    } finally {
      this.transient--
      this.fillSpares()
    }
  }

  /** Mark a runner as just used, so it is the last to be evicted. */
  touch(runner: Runner): void {
    if (!this.serving.delete(runner)) return
    this.serving.set(runner, true)
  }

  /** A session is done with its runner for now: a waiter may take the slot, a spare may later reclaim it. */
  idle(runner: Runner | null): void {
    if (runner) runner.idleSince = Date.now()
    this.serveWaiters()
    this.fillSpares()
  }

  /** Stop a serving runner and free its slot once the process is gone. */
  async retire(runner: Runner): Promise<void> {
    if (!this.serving.delete(runner)) return
    this.transient++
    try {
      await runner.close()
    } finally {
      this.transient--
      this.serveWaiters()
      this.fillSpares()
    }
  }

  /** A serving runner's process ended by itself (crash, kill): its slot is free. */
  exited(runner: Runner): void {
    if (!this.serving.delete(runner)) return
    this.serveWaiters()
    this.fillSpares()
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.spareTimer) clearTimeout(this.spareTimer)
    if (this.reclaimTimer) clearTimeout(this.reclaimTimer)
    for (const waiter of this.waiters.splice(0)) {
      waiter.fail(new GatewayError('shutting_down', 'The gateway is shutting down'))
    }
    const all = [...this.spares.splice(0), ...this.serving.keys()]
    this.serving.clear()
    await Promise.all(all.map((runner) => runner.close()))
  }

  private reserveSlot(): Promise<void> {
    const reservation = this.tryReserve()
    if (reservation) return reservation
    // A spare still starting gives its slot to a waiter once it is up: such a wait is not queueing.
    if (this.waiters.length >= this.limits.queueSize + this.sparesStarting) {
      return Promise.reject(
        new GatewayError(
          'busy',
          `All ${this.limits.maxRunners} Claude Code processes are busy and ${this.waiters.length} requests are already waiting`,
          this.retryAfterMs(),
        ),
      )
    }
    return new Promise<void>((resolve, reject) => {
      const timer = after(this.limits.queueTimeoutMs, () => {
        const index = this.waiters.indexOf(waiter)
        // Not queued any more: a slot is already being handed over to it.
        if (index < 0) return
        this.waiters.splice(index, 1)
        reject(
          new GatewayError(
            'busy',
            `No Claude Code process became free within ${this.limits.queueTimeoutMs} ms`,
            this.retryAfterMs(),
          ),
        )
      })
      const waiter: Waiter = {
        grant: () => {
          if (timer) clearTimeout(timer)
          resolve()
        },
        fail: (error) => {
          if (timer) clearTimeout(timer)
          reject(error)
        },
      }
      this.waiters.push(waiter)
    })
  }

  /**
   * Take a slot if one is free, or free one: a spare, else the least recently used idle runner. A freed
   * slot is handed over once its process has exited, so the number of live processes never exceeds the
   * maximum. Returns null when every slot is busy.
   */
  private tryReserve(): Promise<void> | null {
    if (this.occupied < this.limits.maxRunners) {
      this.transient++
      return Promise.resolve()
    }
    const spare = this.spares.pop()
    if (spare) return this.handOver(spare)
    for (const runner of this.serving.keys()) {
      if (runner.state !== 'ready' || !this.hooks.evict(runner)) continue
      this.serving.delete(runner)
      return this.handOver(runner)
    }
    return null
  }

  private handOver(runner: Runner): Promise<void> {
    this.transient++
    return runner.close().then(() => undefined)
  }

  private serveWaiters(): void {
    while (this.waiters.length > 0) {
      const reservation = this.tryReserve()
      if (!reservation) return
      const waiter = this.waiters.shift()!
      void reservation.then(waiter.grant)
    }
  }

  private async startWithRetry(profile: RunnerProfile): Promise<Runner> {
    let lastError: Error | undefined
    for (let attempt = 0; attempt <= this.limits.startRetries; attempt++) {
      if (this.closed) break
      this.hooks.lifecycle('spawn', null, { attempt })
      try {
        // Priming would only delay a turn that is waiting for this process.
        const runner = await this.launch(profile, this.limits.startTimeoutMs, false)
        this.watch(runner, 'ready')
        return runner
      } catch (error) {
        lastError = error as Error
        this.log.warn({ attempt, err: lastError.message }, 'Claude Code failed to start')
      }
    }
    throw new GatewayError(
      'start_failed',
      `Claude Code failed to start: ${lastError?.message ?? 'shutting down'}`,
    )
  }

  private fillSpares(): void {
    if (this.closed || this.spareTimer || !this.spareProfile) return
    const wanted = this.limits.warmSpares - this.spares.length - this.sparesStarting
    if (wanted <= 0 || this.waiters.length > 0) return
    if (this.occupied >= this.limits.maxRunners) {
      this.reclaimForSpare()
      return
    }
    const profile = this.spareProfile
    const prime = this.limits.primeSpares !== false && !this.primingUnsupported
    this.hooks.lifecycle('spawn', null, { spare: true, prime })
    this.sparesStarting++
    this.transient++
    this.launch(profile, this.limits.startTimeoutMs, prime)
      .then((runner) => {
        this.spareRetryMs = 0
        if (this.closed || profile !== this.spareProfile) {
          void runner.close()
          return
        }
        this.spares.push(runner)
        this.watch(runner, 'spare')
        void runner.exited.then(() => {
          const index = this.spares.indexOf(runner)
          if (index < 0) return
          this.spares.splice(index, 1)
          this.fillSpares()
        })
      })
      .catch((error: Error) => {
        if (error instanceof PrimingUnsupportedError) {
          this.primingUnsupported = true
          this.log.warn({ err: error.message }, 'warm spare could not be primed')
          return
        }
        // A CLI that cannot start must not be restarted in a hot loop: back off, doubling up to a minute.
        this.spareRetryMs = Math.min(SPARE_RETRY_MAX_MS, Math.max(SPARE_RETRY_MIN_MS, this.spareRetryMs * 2))
        this.log.warn({ err: error.message, retryInMs: this.spareRetryMs }, 'warm spare failed to start')
        this.spareTimer = setTimeout(() => {
          this.spareTimer = null
          this.fillSpares()
        }, this.spareRetryMs)
        this.spareTimer.unref()
      })
      .finally(() => {
        this.sparesStarting--
        this.transient--
        this.serveWaiters()
        this.fillSpares()
      })
  }

  /**
   * Every slot is taken and a spare is missing: the session idle the longest gives its process up once it
   * has been idle `spareReclaimIdleMs`. Sessions that stopped talking (OpenAI clients rarely end theirs)
   * would otherwise hold every slot until their idle timeout, and every new conversation would start cold.
   */
  private reclaimForSpare(): void {
    const idleMs = this.limits.spareReclaimIdleMs ?? 0
    if (idleMs <= 0 || this.reclaimTimer) return
    let longestIdle: Runner | null = null
    for (const runner of this.serving.keys()) {
      if (runner.state === 'ready' && (!longestIdle || runner.idleSince < longestIdle.idleSince))
        longestIdle = runner
    }
    if (!longestIdle) return
    const wait = longestIdle.idleSince + idleMs - Date.now()
    if (wait > 0) {
      this.reclaimTimer = setTimeout(() => {
        this.reclaimTimer = null
        this.fillSpares()
      }, wait)
      this.reclaimTimer.unref()
      return
    }
    if (!this.hooks.evict(longestIdle)) return
    this.serving.delete(longestIdle)
    void this.handOver(longestIdle).then(() => {
      this.transient--
      this.serveWaiters()
      this.fillSpares()
    })
  }

  private watch(runner: Runner, event: 'ready' | 'spare'): void {
    this.hooks.lifecycle(event, runner)
    void runner.exited.then(({ code, signal }) => this.hooks.lifecycle('exit', runner, { code, signal }))
  }

  private discard(spare: Runner): void {
    this.transient++
    void spare.close().finally(() => {
      this.transient--
      this.serveWaiters()
    })
  }

  private retryAfterMs(): number {
    return Math.max(1_000, Math.min(this.limits.queueTimeoutMs || 30_000, 30_000))
  }
}
