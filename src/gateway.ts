/**
 * Wires the gateway together: logger, Claude Code CLI, store, event bus, engine and HTTP server. The CLI
 * entry (cli.ts) and the tests both start it through `startGateway`.
 */
import type { SessionStore } from '@anthropic-ai/claude-agent-sdk'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { type Conversations, SharedConversations } from './api/openai/conversations.js'
import { defaultWorkspace, defaultWorkspaceUnder } from './api/workspaces.js'
import { openSharing } from './cluster/index.js'
import type { LeaseBook } from './cluster/leases.js'
import type { Replica } from './cluster/replica.js'
import { type Config, type ConfigChange, exposureProblem, isLoopbackHost } from './config/index.js'
import { readClaudeAuth } from './engine/claude-auth.js'
import { detectClaudeCli } from './engine/claude-cli.js'
import type { SessionManager } from './engine/sessions.js'
import { EventBus } from './events/bus.js'
import { Drain } from './lifecycle/drain.js'
import { Readiness } from './lifecycle/readiness.js'
import { createLogger } from './observability/logger.js'
import { GatewayMetrics } from './observability/metrics.js'
import { logStartup } from './startup.js'
import { openStore } from './store/open.js'
import type { Store } from './store/types.js'
import { claudeAccounts } from './users/credentials.js'
import { openUsers, type Users } from './users/index.js'
import { keysConfigured } from './users/keys.js'
import { VERSION } from './version.js'

export interface GatewayContext {
  /** The running configuration; replaced (never mutated) on hot reload. */
  config: Config
  engine: SessionManager
  bus: EventBus
  store: Store
  /** Users, their keys, roles, quotas and the audit trail (src/users/). */
  users: Users
  /**
   * Several replicas share the store: this one's identity and the leases of the sessions it owns (requests
   * for another's are forwarded to it); null for a gateway alone on its store.
   */
  cluster: { replica: Replica; leases: LeaseBook; conversations: Conversations } | null
  /** Closes the bus's feed, the cluster's connections and the store: the last step of a drain. */
  closeStorage(): Promise<void>
  /** Prometheus' /metrics and the dashboard's /api/metrics (src/observability/metrics.ts). */
  metrics: GatewayMetrics
  /** Claude's authentication and the drain: what /readyz and the turn routes' admission read. */
  readiness: Readiness
  log: Logger
  version: string
  startedAt: number
}

export interface Gateway {
  context: GatewayContext
  app: FastifyInstance
  /** Base URL the server listens on, e.g. http://127.0.0.1:8080 */
  url: string
  /**
   * Apply a reloaded configuration: the keys that apply live take effect now. A configuration that would
   * be refused at start on the bound address is refused (false), and the running one stays.
   */
  reconfigure(change: ConfigChange): boolean
  /**
   * Drain and stop (src/lifecycle/drain.ts): not ready, new turns refused, running turns finish (up to
   * server.drainTimeoutMs, then interrupted), streams told to reconnect, every process stopped, store closed.
   */
  close(): Promise<void>
  /** Cut a drain's wait for running turns short (a second signal): they are interrupted now. */
  hurry(): void
}

export interface StartOptions {
  config: Config
  log?: Logger
  /** The environment Claude Code inherits (before `claude.env` is applied); process.env by default. */
  env?: NodeJS.ProcessEnv
}

export async function startGateway({
  config,
  log: givenLog,
  env = process.env,
}: StartOptions): Promise<Gateway> {
  const startedAt = Date.now()
  const log = givenLog ?? createLogger(config.log)
  const exposure = checkExposure(config, log)
  if (exposure) throw new Error(`Refusing to start: ${exposure}`)

  const detecting = detectClaudeCli(config.claude.cliPath, { ...env, ...config.claude.env })
  // Loaded while `claude --version` runs (in its own process): most of the start-up is loading this code.
  const [{ buildServer }, { SessionManager }] = await Promise.all([
    import('./server.js'),
    import('./engine/sessions.js'),
  ])
  const cli = await detecting
  if (cli.usable)
    log.info({ path: cli.path, source: cli.source, version: cli.version }, 'Claude Code CLI found')
  else log.warn({ reason: cli.reason }, 'Claude Code CLI unusable: the gateway runs degraded')

  const storage = await openStore(config, log)
  const { store } = storage
  // What the start has opened, closed again (last first) when a later step fails.
  const opened: { what: string; close: () => unknown }[] = [{ what: 'store', close: () => storage.close() }]
  try {
    // On a log several replicas share, the engine is not there yet when a lease is lost: told through this.
    let engineRef: SessionManager | null = null
    const sharing = store.assignsPositions
      ? await openSharing(config, log, { onLeaseLost: (session) => engineRef?.ownershipLost(session) })
      : null
    if (sharing) opened.push({ what: 'cluster', close: () => sharing.close() })
    const bus = await EventBus.open(store, {
      maxPendingEvents: config.store.maxPendingEvents,
      onPersistError: (err, pending) =>
        log.error({ err, pending }, 'events cannot be written; they wait in memory and are written again'),
      onPersistRecovered: (written) => log.info({ written }, 'events are written again'),
      onListenerError: (err, event) =>
        log.error({ err, session: event.sessionId, seq: event.seq }, 'event listener failed'),
      shared: sharing
        ? { fanout: sharing.fanout, replica: sharing.replicaId, logger: log.child({ component: 'feed' }) }
        : undefined,
    })
    opened.push({ what: 'event feed', close: () => bus.close() })
    // Before the engine: a session's process starts with its owner's Claude account (src/users/credentials.ts).
    // Quotas ask the engine (made next) which sessions run a turn; through engineRef, once it exists.
    const users = openUsers(config, store, log.child({ component: 'users' }), bus, {
      sessions: {
        getSession: (id) => (engineRef ? engineRef.getSession(id) : store.getSession(id)),
        runnerOf: (id) => engineRef?.runnerOf(id) ?? null,
      },
      kv: sharing?.cluster?.kv ?? null,
    })
    opened.push({ what: 'users', close: () => users.close() })
    const engine = new SessionManager({
      store,
      bus,
      log: log.child({ component: 'engine' }),
      cli,
      ownership: sharing?.cluster?.leases,
      account: claudeAccounts(() => context.config, users.directory),
      ...engineSettings(config, env, cli.path, storage.transcripts),
    })
    engineRef = engine
    opened.push({ what: 'engine', close: () => engine.shutdown(0) })
    warnOnDefaultWorkspace(config, log)
    const metrics = new GatewayMetrics(
      { bus, engine, store },
      { historySeconds: config.metrics.historySeconds },
    )
    opened.push({ what: 'metrics', close: () => metrics.close() })
    // Asked with the environment the sessions get, which a reload may change (claude.env).
    const readiness = new Readiness(
      (signal) => readClaudeAuth(cli.path, { ...env, ...context.config.claude.env }, signal),
      log.child({ component: 'readiness' }),
      (auth) => engine.holdSpares(auth.state === 'not_authenticated'),
    )
    opened.push({ what: 'readiness', close: () => readiness.stop() })
    const context: GatewayContext = {
      config,
      engine,
      bus,
      store,
      users,
      cluster: sharing?.cluster
        ? {
            ...sharing.cluster,
            conversations: new SharedConversations(
              sharing.cluster.kv,
              config.cluster.keyPrefix,
              config.cluster.conversationTtlMs,
              log.child({ component: 'conversations' }),
            ),
          }
        : null,
      closeStorage: async () => {
        await users.close()
        bus.close()
        await sharing?.close()
        await storage.close()
      },
      metrics,
      readiness,
      log,
      version: VERSION,
      startedAt,
    }
    // Not awaited: the start does not wait for the CLI's answer; until it comes /readyz says it is checking.
    void readiness.checkAuth()
    readiness.recheckEvery(config.claude.authCheckIntervalMs)
    // Before the server takes requests: sessions a stop left running are settled first.
    await engine.start()
    const app = await buildServer(context)
    // Closes what the server's plugins opened too (the metrics.port listener).
    opened.push({ what: 'server', close: () => app.close() })
    await app.listen({ host: config.server.host, port: config.server.port })
    const url = listeningUrl(app)
    sharing?.cluster?.replica.listening(url)
    return running({ context, app, url, storage, env, cli, log, config, startedAt })
  } catch (error) {
    for (const { what, close } of opened.reverse()) {
      await Promise.resolve()
        .then(close)
        .catch((err: unknown) => log.warn({ err }, `closing the ${what} after a failed start failed`))
    }
    throw error
  }
}

interface Running {
  context: GatewayContext
  app: FastifyInstance
  url: string
  storage: Awaited<ReturnType<typeof openStore>>
  env: NodeJS.ProcessEnv
  cli: Awaited<ReturnType<typeof detectClaudeCli>>
  log: Logger
  config: Config
  startedAt: number
}

/** The started gateway: said at start, reconfigured on reload, drained on close. */
function running({ context, app, url, storage, env, cli, log, config, startedAt }: Running): Gateway {
  const { engine, bus, readiness } = context
  logStartup(log, {
    version: VERSION,
    config,
    cli,
    claudeEnv: { ...env, ...config.claude.env },
    url,
    startMs: Date.now() - startedAt,
    replicaId: context.cluster?.replica.id,
  })

  const drain = new Drain(app, context)
  return {
    context,
    app,
    url,
    reconfigure(change) {
      // server.host applies on restart only: keys and allowUnauthenticatedRemote are judged against the
      // address the server is bound to, whatever host the new configuration names.
      const refused = checkExposure(change.config, log, config.server.host)
      if (refused) {
        log.error(
          { changed: change.changed },
          `configuration reload refused: ${refused}; the running configuration stays`,
        )
        return false
      }
      context.config = change.config
      context.users.reconfigure(change.config)
      log.level = change.config.log.level
      storage.setMaxSize(change.config.store.maxSizeBytes)
      bus.setMaxPendingEvents(change.config.store.maxPendingEvents)
      engine.reconfigure(engineSettings(change.config, env, cli.path, storage.transcripts))
      log.info({ changed: change.changed, restartRequired: change.restartRequired }, 'configuration reloaded')
      warnOnDefaultWorkspace(change.config, log)
      readiness.recheckEvery(change.config.claude.authCheckIntervalMs)
      void readiness.checkAuth()
      if (change.restartRequired.length > 0) {
        log.warn({ keys: change.restartRequired }, 'some changed keys take effect only after a restart')
      }
      return true
    },
    close: () => drain.run(),
    hurry: () => drain.hurry(),
  }
}

/**
 * The environment less the gateway's own settings (`CCGW_*`: API keys, the secrets key, the database URL):
 * Claude Code's processes run what users ask, and `env` would show them. `claude.env` still sets anything.
 */
function withoutGatewaySettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.toUpperCase().startsWith('CCGW_')))
}

/** What the engine takes from the configuration; all of it applies live (to processes started later). */
function engineSettings(
  config: Config,
  env: NodeJS.ProcessEnv,
  cliPath: string | null,
  transcripts: SessionStore | null,
) {
  return {
    limits: { ...config.pool, clientToolTimeoutMs: config.openai.toolCallTimeoutMs, tools: config.tools },
    host: {
      cliPath: cliPath ?? undefined,
      env: { ...withoutGatewaySettings(env), ...config.claude.env },
      settingSources: [...config.claude.settingSources],
      niceness: config.claude.niceness,
      transcripts: transcripts ?? undefined,
    },
    defaults: {
      workspace: defaultWorkspace(config),
      model: config.claude.defaultModel,
      permissionMode: config.claude.permissionMode,
    },
  }
}

/**
 * A default workspace outside the roots is refused to every session that names none (400): said at start
 * and on reload, not only to the first client.
 */
function warnOnDefaultWorkspace(config: Config, log: Logger): void {
  const checks = [{ roots: config.native.workspaceRoots, key: 'native.workspaceRoots' }]
  if (config.openai.workspaceRoots.length > 0)
    checks.push({ roots: config.openai.workspaceRoots, key: 'openai.workspaceRoots' })
  for (const { roots, key } of checks) {
    const resolved = defaultWorkspaceUnder(config, roots, key)
    if ('problem' in resolved) log.warn({ workspace: defaultWorkspace(config) }, resolved.problem)
  }
}

/**
 * Binding beyond loopback without API keys exposes Claude Code (and the machine) to the network: why
 * `config` must not serve on `host`, if it must not; else, when it is allowed but open
 * (server.allowUnauthenticatedRemote), the loud warning, at start and on every reload that keeps it so.
 */
function checkExposure(config: Config, log: Logger, host = config.server.host): string | undefined {
  const problem = exposureProblem(config, host)
  if (problem === undefined && !isLoopbackHost(host) && !keysConfigured(config)) {
    log.warn(
      { host },
      'LISTENING ON A NON-LOOPBACK ADDRESS WITHOUT API KEYS: anyone who can reach it can run Claude Code',
    )
  }
  return problem
}

function listeningUrl(app: FastifyInstance): string {
  const address = app.server.address()
  if (address === null || typeof address === 'string') return String(address)
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return `http://${host}:${address.port}`
}
