import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { ClaudeCliInfo } from '../../engine/claude-cli.js'
import type { GatewayContext } from '../../gateway.js'
import type { StoreErrorCode, StoreHealth } from '../../store/errors.js'
import { hasValidKey } from '../auth.js'
import { JSON_TYPE } from '../media-types.js'

/**
 * GET /v1/health: cheap (never calls the model), so load balancers and LiteLLM's probes can poll it.
 * `degraded` means the gateway runs but cannot reach Claude Code, or cannot use its database; `reason` says
 * why. The database failing (full disk, read-only, corrupt) also answers 503: the gateway cannot keep what
 * it is asked to until it recovers, which it does by itself once a write succeeds again.
 *
 * It is open, so it names no file: the CLI's path and the texts that carry paths (the CLI's failure, the
 * database's) are shown only to a caller with one of the configured API keys. With no keys configured
 * nobody presents one, so nobody sees them here.
 */
export const healthRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  // The bodies are serialised again only when something they show has changed.
  let shown: unknown[] = []
  let bodies: { full?: string; open?: string } = {}
  app.get(
    '/health',
    // Probes poll every few seconds: their request lines are debug lines.
    { config: { requestLogLevel: 'debug' } },
    (request, reply) => {
      const { engine, store } = gateway
      const cli = engine.cli
      const stats = engine.stats()
      const storage = store.health()
      const uptime = Math.round((Date.now() - gateway.startedAt) / 1000)
      const facts = [
        cli,
        uptime,
        stats.sessions,
        stats.activeSessions,
        ...Object.values(stats.processes),
        ...Object.values(storage),
      ]
      if (facts.length !== shown.length || facts.some((fact, i) => fact !== shown[i])) {
        shown = facts
        bodies = {}
      }
      const snapshot = { cli, storage, uptime, stats, version: gateway.version }
      const view = withKey(request, gateway.config.server.apiKeys) ? 'full' : 'open'
      bodies[view] ??= healthBody(snapshot, view === 'full')
      reply
        .code(storage.ok ? 200 : 503)
        .type(JSON_TYPE)
        .send(bodies[view])
    },
  )
}

/** Whether the caller presented one of the configured keys: with none configured, nobody did. */
const withKey = (request: FastifyRequest, keys: readonly string[]) =>
  keys.length > 0 && hasValidKey(request, keys)

interface HealthFacts {
  cli: ClaudeCliInfo
  storage: StoreHealth
  uptime: number
  stats: ReturnType<GatewayContext['engine']['stats']>
  version: string
}

/** Why the database fails, in words that name no file: what callers without a key are told. */
const STORAGE_REASONS: Record<StoreErrorCode, string> = {
  storage_full: "The gateway's database is full (no space left on its disk, or store.maxSizeBytes reached)",
  storage_unavailable: "The gateway's database is unavailable (read-only, corrupt, locked or an I/O error)",
}

/** The health answer; `full` adds what names files (the CLI's path, failure texts that carry paths). */
function healthBody({ cli, storage, uptime, stats, version }: HealthFacts, full: boolean): string {
  const ok = cli.usable && storage.ok
  let reason: string | null = null
  if (!storage.ok) reason = full ? storage.message : STORAGE_REASONS[storage.error]
  else if (!cli.usable) reason = full || cli.path === null ? cli.reason : 'The Claude Code CLI does not start'
  return JSON.stringify({
    status: ok ? 'ok' : 'degraded',
    ...(ok ? {} : { reason }),
    version,
    uptime_s: uptime,
    claude: full
      ? { path: cli.path, source: cli.source, version: cli.version, usable: cli.usable, reason: cli.reason }
      : { source: cli.source, version: cli.version, usable: cli.usable },
    sessions: { total: stats.sessions, active: stats.activeSessions },
    processes: stats.processes,
    store: storage.ok
      ? { ok: true }
      : {
          ok: false,
          error: storage.error,
          ...(full ? { message: storage.message } : {}),
          since: new Date(storage.since).toISOString(),
        },
  })
}
