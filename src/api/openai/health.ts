import type { FastifyPluginAsync } from 'fastify'
import type { GatewayContext } from '../../gateway.js'

/**
 * GET /v1/health: cheap (never calls the model), so load balancers and LiteLLM's probes can poll it.
 * `degraded` means the gateway runs but cannot reach Claude Code; `reason` says why.
 */
export const healthRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  // Not async: the answer is at hand, and probes and load balancers poll this route.
  app.get('/health', () => {
    const { engine, version, startedAt } = gateway
    const cli = engine.cli
    const stats = engine.stats()
    return {
      status: cli.usable ? 'ok' : 'degraded',
      ...(cli.usable ? {} : { reason: cli.reason }),
      version,
      uptime_s: Math.round((Date.now() - startedAt) / 1000),
      claude: {
        path: cli.path,
        source: cli.source,
        version: cli.version,
        usable: cli.usable,
        reason: cli.reason,
      },
      sessions: { total: stats.sessions, active: stats.activeSessions },
      processes: stats.processes,
    }
  })
}
