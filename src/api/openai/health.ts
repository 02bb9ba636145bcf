/**
 * GET /v1/health: cheap (never calls the model), so load balancers and LiteLLM's probes can poll it.
 * `degraded` means the gateway runs but cannot reach Claude Code (no CLI, or Claude Code not logged in), or
 * cannot use its database; `reason` says why. The database failing (full disk, read-only, corrupt) also
 * answers 503: the gateway cannot keep what it is asked to until it recovers, which it does by itself once a
 * write succeeds again.
 *
 * It is open, so it names no file: the CLI's path and the texts that carry paths (the CLI's failure, the
 * database's) are shown only to a caller with one of the configured API keys. With no keys configured
 * nobody presents one, so nobody sees them here.
 */
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { ClaudeAuth } from '../../engine/claude-auth.js'
import type { ClaudeCliInfo } from '../../engine/claude-cli.js'
import { knownTotal } from '../../engine/process-memory.js'
import type { GatewayContext } from '../../gateway.js'
import type { StoreErrorCode, StoreHealth } from '../../store/errors.js'
import { isStaffWithKey } from '../auth.js'
import { JSON_TYPE } from '../media-types.js'
import { Enum, json, Nullable, NullableEnum, ref } from '../responses.js'

const KEYED = 'Only to a caller with an API key.'

/** Both views: what names files is optional, absent for a caller without a key. */
const HealthSchema = Type.Object(
  {
    status: Enum(['ok', 'degraded']),
    reason: Type.Optional(Nullable(Type.String({ description: 'Only when degraded: why.' }))),
    version: Type.String(),
    uptime_s: Type.Integer(),
    claude: Type.Object({
      path: Type.Optional(Nullable(Type.String({ description: KEYED }))),
      source: NullableEnum(['config', 'path', 'bundled']),
      version: Nullable(Type.String()),
      usable: Type.Boolean({
        description: 'The CLI starts and is authenticated (false while Claude Code is not logged in).',
      }),
      reason: Type.Optional(Nullable(Type.String({ description: KEYED }))),
      authenticated: Nullable(
        Type.Boolean({
          description:
            'What `claude auth status` says (checked at start, on reload and every claude.authCheckIntervalMs); null until it has answered, or when the CLI cannot tell.',
        }),
      ),
    }),
    sessions: Type.Object({ total: Type.Integer(), active: Type.Integer() }),
    processes: Type.Object({
      live: Type.Integer(),
      serving: Type.Integer(),
      busy: Type.Integer(),
      spares: Type.Integer(),
      spare_target: Type.Integer({ description: 'How many spares the pool keeps now.' }),
      starting: Type.Integer(),
      queued: Type.Integer(),
      max: Type.Integer(),
      memory: Type.Optional(
        Type.Object(
          {
            gateway_rss_bytes: Type.Integer(),
            claude_rss_bytes: Nullable(Type.Integer({ description: 'All Claude Code processes together.' })),
            processes: Type.Array(
              Type.Object({
                pid: Nullable(Type.Integer()),
                role: Enum(['spare', 'idle', 'busy']),
                rss_bytes: Nullable(Type.Integer()),
              }),
            ),
          },
          {
            description: `${KEYED} Resident memory of the gateway and of each live Claude Code process (~190 MB each), read at most once a second; null where it cannot be read (not Linux).`,
          },
        ),
      ),
    }),
    store: Type.Object(
      {
        ok: Type.Boolean(),
        error: Type.Optional(Enum(['storage_full', 'storage_unavailable'])),
        message: Type.Optional(Type.String({ description: KEYED })),
        since: Type.Optional(
          Type.String({ format: 'date-time', description: 'When the database started failing.' }),
        ),
      },
      { description: "The gateway's database: only while it fails, why and since when." },
    ),
  },
  { $id: 'Health' },
)

export const healthRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  app.addSchema(HealthSchema)
  // The bodies are serialised again only when something they show has changed.
  let shown: unknown[] = []
  let bodies: { full?: string; open?: string } = {}
  // Memory moves all the time: the full view reads it at most once a second, so polling stays cheap.
  let memory: { at: number; value: ProcessesMemory } | null = null
  app.get(
    '/health',
    {
      schema: {
        operationId: 'health',
        tags: ['health'],
        summary: "The gateway's health",
        description: 'Never calls the model; open without an API key (for load balancers and probes).',
        security: [],
        // The body is a string, sent as it is: the schema documents it.
        response: {
          200: json(
            'ok, or degraded with the reason (the Claude Code CLI is not usable, or not logged in).',
            ref('Health'),
          ),
          503: json(
            "degraded: the gateway's database fails (full, read-only, corrupt); `store` says how and since when.",
            ref('Health'),
          ),
        },
      },
      // Probes poll every few seconds: their request lines are debug lines.
      config: { requestLogLevel: 'debug' },
    },
    async (request, reply) => {
      const { engine, store } = gateway
      const stats = await engine.stats()
      const cli = engine.cli
      const auth = gateway.readiness.claudeAuth
      const { draining } = gateway.readiness
      const storage = store.health()
      const uptime = Math.round((Date.now() - gateway.startedAt) / 1000)
      const facts = [
        cli,
        auth,
        draining,
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
      const view = (await isStaffWithKey(gateway, request)) ? 'full' : 'open'
      if (view === 'full' && (!memory || Date.now() - memory.at >= 1_000)) {
        memory = { at: Date.now(), value: engine.memory() }
        bodies.full = undefined
      }
      const snapshot = {
        cli,
        auth,
        draining,
        storage,
        uptime,
        stats,
        version: gateway.version,
        memory: memory?.value,
      }
      bodies[view] ??= healthBody(snapshot, view === 'full')
      return reply
        .code(storage.ok ? 200 : 503)
        .type(JSON_TYPE)
        .send(bodies[view])
    },
  )
}

interface HealthFacts {
  cli: ClaudeCliInfo
  auth: ClaudeAuth | null
  draining: boolean
  storage: StoreHealth
  uptime: number
  stats: Awaited<ReturnType<GatewayContext['engine']['stats']>>
  version: string
  memory?: ProcessesMemory
}

type ProcessesMemory = ReturnType<GatewayContext['engine']['memory']>

/** Why the database fails, in words that name no file: what callers without a key are told. */
export const STORAGE_REASONS: Record<StoreErrorCode, string> = {
  storage_full: "The gateway's database is full (no space left on its disk, or store.maxSizeBytes reached)",
  storage_unavailable: "The gateway's database is unavailable (read-only, corrupt, locked or an I/O error)",
}

/** The health answer; `full` adds what names files (the CLI's path, failure texts that carry paths). */
function healthBody(
  { cli, auth, draining, storage, uptime, stats, version, memory }: HealthFacts,
  full: boolean,
): string {
  const loggedOut = auth?.state === 'not_authenticated'
  const usable = cli.usable && !loggedOut
  const ok = usable && storage.ok && !draining
  let reason: string | null = null
  if (!storage.ok) reason = full ? storage.message : STORAGE_REASONS[storage.error]
  else if (!cli.usable) reason = full || cli.path === null ? cli.reason : 'The Claude Code CLI does not start'
  else if (loggedOut) reason = auth.reason
  else if (draining) reason = 'The gateway is shutting down: new turns are refused'
  const authenticated = auth === null || auth.state === 'unknown' ? null : !loggedOut
  const health: Static<typeof HealthSchema> = {
    status: ok ? 'ok' : 'degraded',
    ...(ok ? {} : { reason }),
    version,
    uptime_s: uptime,
    claude: full
      ? {
          path: cli.path,
          source: cli.source,
          version: cli.version,
          usable,
          reason: cli.reason ?? (loggedOut ? auth.reason : null),
          authenticated,
        }
      : { source: cli.source, version: cli.version, usable, authenticated },
    sessions: { total: stats.sessions, active: stats.activeSessions },
    processes: processesView(stats.processes, full ? memory : undefined),
    store: storage.ok
      ? { ok: true }
      : {
          ok: false,
          error: storage.error,
          ...(full ? { message: storage.message } : {}),
          since: new Date(storage.since).toISOString(),
        },
  }
  return JSON.stringify(health)
}

/** The pool's counts in the API's snake_case, with the memory detail when it is shown. */
function processesView(stats: HealthFacts['stats']['processes'], memory: ProcessesMemory | undefined) {
  const { live, serving, busy, spares, spareTarget, starting, queued, max } = stats
  const view = { live, serving, busy, spares, spare_target: spareTarget, starting, queued, max }
  return memory ? { ...view, memory: memoryView(memory) } : view
}

/** Memory as health shows it: each process's resident size and the sum (null when none can be read). */
function memoryView({ gatewayRssBytes, processes }: ProcessesMemory) {
  return {
    gateway_rss_bytes: gatewayRssBytes,
    claude_rss_bytes: knownTotal(processes),
    processes: processes.map((p) => ({ pid: p.pid, role: p.role, rss_bytes: p.rssBytes })),
  }
}
