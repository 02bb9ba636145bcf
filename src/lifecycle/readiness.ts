/**
 * What decides whether the gateway may take a turn, beyond the CLI and the store that the engine and the
 * store report themselves: Claude Code's authentication (checked at start, on reload and every
 * `claude.authCheckIntervalMs`) and the drain. GET /readyz, GET /v1/health and the turn routes' admission
 * (src/api/admission.ts) all read it.
 */
import type { Logger } from 'pino'
import type { ClaudeAuth } from '../engine/claude-auth.js'

/** Why a turn cannot start now; null when it can. */
export type Refusal =
  | { code: 'shutting_down'; message: string; retryAfterMs: number }
  | { code: 'claude_not_authenticated'; message: string }

/**
 * How long a client refused during a drain is asked to wait (Retry-After, and the SSE `retry:` of the
 * streams a drain closes): long enough for a load balancer to have taken the instance out, short enough
 * that a restarted one is found soon after it is back.
 */
export const DRAIN_RETRY_AFTER_MS = 5_000

export class Readiness {
  private auth: ClaudeAuth | null = null
  private checking: Promise<ClaudeAuth> | null = null
  private timer: NodeJS.Timeout | null = null
  private intervalMs = 0
  private stopped = false
  /** Ends a check under way when the gateway stops. */
  private readonly abort = new AbortController()
  draining = false

  constructor(
    /** Asks the CLI (src/engine/claude-auth.ts), with the environment the sessions get now. */
    private readonly probe: (signal: AbortSignal) => Promise<ClaudeAuth>,
    private readonly log: Logger,
    /** Told when the answer changes (the pool keeps no spare while Claude Code is not logged in). */
    private readonly onChange: (auth: ClaudeAuth) => void = () => {},
  ) {}

  /** The last answer about Claude's authentication; null until the first check has answered. */
  get claudeAuth(): ClaudeAuth | null {
    return this.auth
  }

  /** Checks Claude's authentication now (one check at a time: a caller during one gets its answer). */
  checkAuth(): Promise<ClaudeAuth> {
    this.checking ??= this.probe(this.abort.signal)
      .then((auth) => {
        if (!this.stopped) this.report(auth)
        return auth
      })
      .finally(() => {
        this.checking = null
      })
    return this.checking
  }

  /** Checks again every `intervalMs` from now (0: only at start and on reload). */
  recheckEvery(intervalMs: number): void {
    if (this.stopped || intervalMs === this.intervalMs) return
    this.intervalMs = intervalMs
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    if (intervalMs === 0) return
    this.timer = setInterval(() => void this.checkAuth(), intervalMs)
    // The gateway's life is its server's; the check never keeps a stopping process alive.
    this.timer.unref()
  }

  /** Why a turn may not start now, in the words its refusal carries; null when it may. */
  refusal(): Refusal | null {
    if (this.draining)
      return {
        code: 'shutting_down',
        message:
          'The gateway is shutting down: send this to another instance, or again once this one is back',
        retryAfterMs: DRAIN_RETRY_AFTER_MS,
      }
    // A check that has not answered yet, or a CLI that cannot tell, refuses nothing: the turn says the rest.
    if (this.auth?.state === 'not_authenticated')
      return { code: 'claude_not_authenticated', message: this.auth.reason ?? 'Claude Code is not logged in' }
    return null
  }

  /** Stops the checks; resolves once a check under way has ended (its process is gone). */
  async stop(): Promise<void> {
    this.stopped = true
    this.abort.abort()
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    const ended = this.checking?.catch(() => undefined)
    if (ended) await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 2_000).unref())])
  }

  /** Logged at the first answer and whenever the answer changes: a warning while turns cannot run. */
  private report(auth: ClaudeAuth): void {
    const previous = this.auth
    this.auth = auth
    if (previous?.state === auth.state && previous.method === auth.method) return
    this.onChange(auth)
    const facts = { method: auth.method, provider: auth.provider, apiKeySource: auth.apiKeySource }
    if (auth.state === 'authenticated') this.log.info(facts, 'Claude Code is authenticated')
    else if (auth.state === 'not_authenticated')
      this.log.warn(facts, `${auth.reason}; until then turns are refused and /readyz answers 503`)
    else this.log.warn(auth.reason ?? "Claude's authentication was not checked")
  }
}
