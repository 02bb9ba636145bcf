/**
 * The graceful stop (SIGTERM, SIGINT, or `Gateway.close()`), in the order that loses nothing:
 *
 * 1. not ready (/readyz 503) and new turns refused (503 `shutting_down` with Retry-After, both APIs);
 * 2. running turns finish, until `server.drainTimeoutMs` (or `hurry()`, a second signal); those still
 *    running then are interrupted, and recorded as interrupted: their sessions stay resumable;
 * 3. streams are told to reconnect and closed (SSE `retry:`, WebSocket 1012) and the server closes;
 * 4. sessions hibernate, Claude Code processes stop and waiting events are written (the engine's shutdown);
 * 5. the store closes.
 *
 * Each phase is logged.
 */
import type { FastifyInstance } from 'fastify'
import { SseWriter } from '../api/sse.js'
import type { GatewayContext } from '../gateway.js'
import { DRAIN_RETRY_AFTER_MS } from './readiness.js'

/** How often the drain looks whether the running turns have ended, and for connections gone idle. */
const POLL_MS = 100
/** How long the server's connections may take to close by themselves once the streams are closed. */
const CONNECTION_GRACE_MS = 5_000

export class Drain {
  private running: Promise<void> | null = null
  private hurried = false
  private wake: (() => void) | null = null

  constructor(
    private readonly app: FastifyInstance,
    private readonly gateway: GatewayContext,
  ) {}

  /** Drains and stops the gateway, once: a second call answers the same promise. */
  run(): Promise<void> {
    this.running ??= this.drain()
    return this.running
  }

  /** Ends the wait for running turns now: they are interrupted. */
  hurry(): void {
    this.hurried = true
    this.wake?.()
  }

  private async drain(): Promise<void> {
    const { engine, log, readiness, metrics } = this.gateway
    const started = Date.now()
    const timeoutMs = this.gateway.config.server.drainTimeoutMs
    readiness.draining = true
    log.info(
      { turns: (await this.busySessions()).length, drainTimeoutMs: timeoutMs },
      'draining: not ready, new turns refused; running turns may finish',
    )

    if (await this.turnsEnd(started + timeoutMs)) log.info('draining: no turn is running')
    else {
      const left = await this.busySessions()
      log.warn(
        { turns: left.length, waitedMs: Date.now() - started, hurried: this.hurried },
        'draining: interrupting the turns still running',
      )
      await Promise.all(left.map((id) => engine.interrupt(id).catch(() => false)))
    }

    const { websocket } = metrics.streams()
    // Closing first: a request arriving from here on is refused by the server (503, Connection: close),
    // so no stream opens after the ones ended below. WebSockets are closed by its preClose hook (1012).
    const serverClosed = this.app.close()
    const sse = SseWriter.endAll(this.app.server, `retry: ${DRAIN_RETRY_AFTER_MS}\n\n`)
    log.info({ sse, websocket }, 'draining: streams told to reconnect and closed')

    // The server's close let go of the connections idle then; those whose last answer ends later (the streams
    // just ended, a download) would otherwise stay open until their keep-alive timeout. What is still open
    // after CONNECTION_GRACE_MS (a client that sent half a request) is cut: no turn runs any more.
    const { server } = this.app
    const idle = setInterval(() => server.closeIdleConnections(), POLL_MS)
    const cut = setTimeout(() => {
      log.warn('draining: closing the connections still open')
      server.closeAllConnections()
    }, CONNECTION_GRACE_MS)
    const closed = serverClosed.finally(() => {
      clearInterval(idle)
      clearTimeout(cut)
    })
    await Promise.all([closed, engine.shutdown(0)])
    log.info('draining: sessions hibernated, Claude Code processes stopped, events written')
    await readiness.stop()
    metrics.close()
    await this.gateway.closeStorage()
    log.info({ durationMs: Date.now() - started }, 'stopped')
  }

  /**
   * This gateway's sessions with a turn running or about to (waiting for its process). A store that cannot be read names
   * none: the engine's shutdown still ends what runs.
   */
  private async busySessions(): Promise<string[]> {
    const ids: string[] = []
    try {
      for (const state of ['running', 'starting'] as const) {
        const page = await this.gateway.engine.listSessions({ state, limit: 100_000, offset: 0 })
        // Those of this gateway: with replicas, the shared store names the others' turns too.
        for (const record of page.items) if (this.gateway.engine.holds(record.id)) ids.push(record.id)
      }
    } catch (error) {
      this.gateway.log.error(
        { err: error },
        'draining: running sessions cannot be read; not waiting for them',
      )
      return []
    }
    return ids
  }

  /** True once no turn runs; false at `deadline` or when hurried. */
  private async turnsEnd(deadline: number): Promise<boolean> {
    while ((await this.busySessions()).length > 0) {
      const left = deadline - Date.now()
      if (this.hurried || left <= 0) return false
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(POLL_MS, left))
        this.wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.wake = null
    }
    return true
  }
}
