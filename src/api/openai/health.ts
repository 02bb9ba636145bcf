import type { FastifyPluginAsync } from 'fastify'
import type { GatewayContext } from '../../gateway.js'
import { JSON_TYPE } from '../media-types.js'

/**
 * GET /v1/health: cheap (never calls the model), so load balancers and LiteLLM's probes can poll it.
 * `degraded` means the gateway runs but cannot reach Claude Code, or cannot use its database; `reason` says
 * why. The database failing (full disk, read-only, corrupt) also answers 503: the gateway cannot keep what
 * it is asked to until it recovers, which it does by itself once a write succeeds again.
 */
export const healthRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  // The body is serialised again only when something it shows has changed.
  let shown: unknown[] = []
  let body = ''
  app.get(
    '/health',
    // Probes poll every few seconds: their request lines are debug lines.
    { config: { requestLogLevel: 'debug' } },
    (_request, reply) => {
      const { engine, store, version, startedAt } = gateway
      const cli = engine.cli
      const stats = engine.stats()
      const storage = store.health()
      const uptime = Math.round((Date.now() - startedAt) / 1000)
      const { processes } = stats
      const facts = [
        cli,
        uptime,
        stats.sessions,
        stats.activeSessions,
        ...Object.values(processes),
        ...Object.values(storage),
      ]
      if (facts.length !== shown.length || facts.some((fact, i) => fact !== shown[i])) {
        shown = facts
        const reason = storage.ok ? cli.reason : storage.message
        body = JSON.stringify({
          status: cli.usable && storage.ok ? 'ok' : 'degraded',
          ...(cli.usable && storage.ok ? {} : { reason }),
          version,
          uptime_s: uptime,
          claude: {
            path: cli.path,
            source: cli.source,
            version: cli.version,
            usable: cli.usable,
            reason: cli.reason,
          },
          sessions: { total: stats.sessions, active: stats.activeSessions },
          processes,
          store: storage.ok
            ? { ok: true }
            : {
                ok: false,
                error: storage.error,
                message: storage.message,
                since: new Date(storage.since).toISOString(),
              },
        })
      }
      reply
        .code(storage.ok ? 200 : 503)
        .type(JSON_TYPE)
        .send(body)
    },
  )
}
