import type { FastifyPluginAsync } from 'fastify'
import type { GatewayContext } from '../../gateway.js'
import { JSON_TYPE } from '../media-types.js'

/**
 * GET /v1/health: cheap (never calls the model), so load balancers and LiteLLM's probes can poll it.
 * `degraded` means the gateway runs but cannot reach Claude Code; `reason` says why.
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
      const { engine, version, startedAt } = gateway
      const cli = engine.cli
      const stats = engine.stats()
      const uptime = Math.round((Date.now() - startedAt) / 1000)
      const { processes } = stats
      const facts = [cli, uptime, stats.sessions, stats.activeSessions, ...Object.values(processes)]
      if (facts.length !== shown.length || facts.some((fact, i) => fact !== shown[i])) {
        shown = facts
        body = JSON.stringify({
          status: cli.usable ? 'ok' : 'degraded',
          ...(cli.usable ? {} : { reason: cli.reason }),
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
        })
      }
      reply.type(JSON_TYPE).send(body)
    },
  )
}
