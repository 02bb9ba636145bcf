import { type Static, type TInteger, type TSchema, Type } from '@sinclair/typebox'
import { PERMISSION_MODES } from '../store/types.js'
import { DEFAULT_TOOL_LIMITS, type ToolLimits } from '../tools/types.js'
import { usersSection } from './users-schema.js'

// Plain `enum`/`type: [..., 'null']` instead of TypeBox unions: ajv reports one readable error
// ("must be one of: ...") rather than one per anyOf branch.
function StringEnum<const T extends readonly string[]>(
  values: T,
  options: { default?: T[number]; description?: string } = {},
) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: values, ...options })
}

function NullableString() {
  return Type.Unsafe<string | null>({ type: ['string', 'null'], minLength: 1, default: null })
}

function Section<T extends Parameters<typeof Type.Object>[0]>(properties: T) {
  return Type.Object(properties, { additionalProperties: false, default: {} })
}

/** A string matching `pattern`, or null (the default): a URL or a name that may be left unset. */
function NullableMatching(pattern: string, description: string) {
  return Type.Unsafe<string | null>({ type: ['string', 'null'], pattern, default: null, description })
}

function NullableModel() {
  return Type.Unsafe<string | null>({ type: ['string', 'null'], minLength: 1 })
}

const Millis = (value: number) => Type.Integer({ minimum: 0, default: value })

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export const SETTING_SOURCES = ['user', 'project', 'local'] as const

export const ConfigSchema = Type.Object(
  {
    server: Section({
      host: Type.String({ minLength: 1, default: '127.0.0.1' }),
      port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
      bodyLimitBytes: Type.Integer({ minimum: 1, default: 10 * 1024 * 1024 }),
      // The gateway serialises what clients send with recursive code (JSON.stringify, the SDK, SQLite's
      // JSON): past a few thousand levels that overflows the stack, so the limit has a ceiling well below.
      maxJsonDepth: Type.Integer({ minimum: 1, maximum: 1000, default: 128 }),
      keepAliveTimeoutMs: Millis(72_000),
      requestTimeoutMs: Millis(0),
      drainTimeoutMs: Type.Integer({
        minimum: 0,
        default: 30_000,
        description:
          'On SIGTERM/SIGINT, how long running turns may finish before they are interrupted (src/lifecycle/drain.ts).',
      }),
      apiKeys: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
      allowUnauthenticatedRemote: Type.Boolean({ default: false }),
      // src/api/origin.ts: names the gateway may be addressed by, and pages that may drive it.
      allowedHosts: Type.Array(Type.String({ pattern: String.raw`^(\*|\.?[^\s/?#@\\]+)$` }), { default: [] }),
      allowedOrigins: Type.Array(
        Type.String({ pattern: String.raw`^(\*|[A-Za-z][A-Za-z\d+.-]*://[^\s/?#@\\]+/?)$` }),
        { default: [] },
      ),
    }),
    claude: Section({
      cliPath: NullableString(),
      env: Type.Record(Type.String(), Type.String(), { default: {} }),
      defaultModel: NullableString(),
      settingSources: Type.Array(StringEnum(SETTING_SOURCES), {
        uniqueItems: true,
        default: [...SETTING_SOURCES],
      }),
      defaultWorkspace: NullableString(),
      permissionMode: StringEnum(PERMISSION_MODES, { default: 'default' }),
      niceness: Type.Integer({ minimum: 0, maximum: 19, default: 10 }),
      authCheckIntervalMs: Type.Integer({
        minimum: 0,
        default: 60_000,
        description:
          'How often `claude auth status` is asked again (it never calls the model); 0: at start and on reload only.',
      }),
    }),
    pool: Section({
      maxRunners: Type.Integer({ minimum: 1, default: 8 }),
      warmSpares: Type.Integer({ minimum: 0, default: 1 }),
      idleTimeoutMs: Millis(300_000),
      queueSize: Type.Integer({ minimum: 0, default: 64 }),
      queueTimeoutMs: Millis(30_000),
      sessionQueueSize: Type.Integer({ minimum: 0, default: 4 }),
      turnTimeoutMs: Millis(600_000),
      retryBudgetMs: Millis(30_000),
      permissionTimeoutMs: Millis(120_000),
      startTimeoutMs: Millis(60_000),
      startRetries: Type.Integer({ minimum: 0, default: 1 }),
      primeSpares: Type.Boolean({ default: true }),
      // src/engine/pool.ts: a session idle this long may give its process up for a missing spare. Short, so
      // that spares come back within seconds of a burst (clients that return every 20 s never reach a
      // minute); not 0, which means never: a client about to send its next message keeps its process.
      spareReclaimIdleMs: Millis(2_000),
      // src/engine/spare-demand.ts: bursts of new conversations raise the spare target up to this (about
      // 190 MB each while it lasts) for spareDemandWindowMs; never more than maxRunners.
      maxSpares: Type.Integer({ minimum: 0, maximum: 1_000, default: 5 }),
      spareDemandWindowMs: Type.Integer({ minimum: 1_000, maximum: 3_600_000, default: 120_000 }),
      // src/engine/pool.ts: spares started at once; 0: half the CPUs (at least one).
      spareStarts: Type.Integer({ minimum: 0, maximum: 64, default: 0 }),
      // src/engine/process-reuse.ts: a process its session gives back becomes a missing spare after `/clear`
      // (~50 ms) instead of stopping, when it only talked; false: processes given back always stop.
      reuseProcesses: Type.Boolean({ default: true }),
      // A process grown past this (a long conversation's leftovers) stops instead, returning its memory.
      reuseMaxRssMb: Type.Integer({ minimum: 1, maximum: 1_048_576, default: 400 }),
      // src/engine/pool.ts: a cap in memory instead of (below) the count; 0: the count alone.
      memoryBudgetMb: Type.Integer({ minimum: 0, maximum: 1_048_576, default: 0 }),
    }),
    store: Section({
      dataDir: Type.String({ minLength: 1, default: '~/.claude-code-gateway' }),
      maxSizeBytes: Type.Integer({ minimum: 0, default: 0 }),
      maxPendingEvents: Type.Integer({ minimum: 1, default: 100_000 }),
      changeCountMaxBytes: Type.Integer({ minimum: 1, default: 1024 * 1024 }),
      url: NullableMatching(
        '^postgres(ql)?://',
        'null: SQLite in store.dataDir. A postgres:// URL: sessions, events and Claude transcripts in PostgreSQL, which several replicas share (docs/scaling.md).',
      ),
      schema: Type.String({
        pattern: '^[a-z_][a-z0-9_]{0,62}$',
        default: 'public',
        description: 'The PostgreSQL schema holding the tables (created when missing).',
      }),
      poolSize: Type.Integer({ minimum: 1, maximum: 1_000, default: 10 }),
      statementTimeoutMs: Type.Integer({ minimum: 100, default: 10_000 }),
    }),
    cluster: Section({
      redisUrl: NullableMatching(
        '^rediss?://',
        'With store.url: Redis that wakes every replica when another stored events (live streams across replicas). null: one gateway.',
      ),
      keyPrefix: Type.String({ minLength: 1, maxLength: 100, default: 'ccgw:' }),
      replicaId: NullableMatching(
        '^[A-Za-z0-9._-]{1,100}$',
        "This replica's name (null: the host name and process id).",
      ),
      advertiseUrl: NullableMatching(
        '^https?://',
        'Where the other replicas reach this one to forward requests for its sessions (a pod address, say).',
      ),
      secret: Type.String({
        default: '',
        description: 'Shared by the replicas: authenticates the requests they forward to each other.',
      }),
      leaseTtlMs: Type.Integer({ minimum: 1_000, maximum: 600_000, default: 15_000 }),
      // src/api/openai/conversations.ts: how long an OpenAI conversation's next request finds its session.
      conversationTtlMs: Type.Integer({ minimum: 1_000, maximum: 30 * 86_400_000, default: 86_400_000 }),
      workspaces: StringEnum(['shared', 'pinned'] as const, {
        default: 'shared',
        description:
          "shared: every replica sees the same workspaces (a ReadWriteMany volume), so any may take a session over; pinned: a session's workspace is on its replica's disk only, and takeover is refused.",
      }),
    }),
    openai: Section({
      models: Type.Record(Type.String({ minLength: 1 }), NullableModel(), {
        default: {
          'claude-code': null,
          'claude-code-opus': 'opus',
          'claude-code-sonnet': 'sonnet',
          'claude-code-haiku': 'haiku',
        },
      }),
      defaultTools: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
      requestableTools: Type.Array(Type.String({ minLength: 1 }), {
        default: ['Read', 'Glob', 'Grep', 'WebSearch', 'WebFetch'],
      }),
      permissionModes: Type.Array(StringEnum(PERMISSION_MODES), {
        uniqueItems: true,
        default: ['default', 'plan'],
      }),
      requestableAgents: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
      workspaceRoots: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
      remoteImages: Type.Boolean({ default: false }),
      toolCallTimeoutMs: Millis(300_000),
      keepAliveMs: Millis(15_000),
      retryBudgetMs: Millis(30_000),
      // src/api/openai/chat.ts: most OpenAI conversations get no follow-up; their first answer's process
      // stays this long for one (a later follow-up resumes from the transcript), then its memory is free.
      unfollowedIdleMs: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 15_000 }),
    }),
    tools: Section(
      Object.fromEntries(
        Object.entries(DEFAULT_TOOL_LIMITS).map(([key, value]) => [
          key,
          Type.Integer({ minimum: 1, default: value }),
        ]),
      ) as Record<keyof ToolLimits, TInteger>,
    ),
    native: Section({
      workspaceRoots: Type.Array(Type.String({ minLength: 1 }), { default: ['~'] }),
      heartbeatMs: Millis(15_000),
      maxBufferedBytes: Type.Integer({ minimum: 1024, default: 1024 * 1024 }),
      stallTimeoutMs: Millis(30_000),
      // 300 session ids (about 11 KB of query string) stay under Node's 16 KiB limit of a request's headers.
      eventStreamMaxSessions: Type.Integer({ minimum: 1, maximum: 300, default: 200 }),
      uploadMaxFileBytes: Type.Integer({ minimum: 1, default: 50 * 1024 * 1024 }),
      uploadMaxFiles: Type.Integer({ minimum: 1, default: 100 }),
      filesListMaxEntries: Type.Integer({ minimum: 1, default: 5000 }),
      changeContentMaxBytes: Type.Integer({ minimum: 1, default: 1024 * 1024 }),
    }),
    users: Section(usersSection),
    admin: Section({
      enabled: Type.Boolean({
        default: true,
        description: 'Serve the admin UI (the built dist/admin) at /admin; false answers /admin with 404.',
      }),
    }),
    metrics: Section({
      enabled: Type.Boolean({
        default: true,
        description:
          'Serve Prometheus metrics at GET /metrics (behind the API key when server.apiKeys is set).',
      }),
      port: Type.Integer({
        minimum: 0,
        maximum: 65535,
        default: 0,
        description:
          '0: /metrics on the main port; else a second listener on server.host serves /metrics only.',
      }),
      token: Type.String({
        default: '',
        description:
          'A bearer token for GET /metrics only (a scraper then holds no API key); set, it is required.',
      }),
      historySeconds: Type.Integer({
        minimum: 1,
        maximum: 86_400,
        default: 900,
        description: "One-second samples of the dashboard's figures kept for GET /api/metrics/history.",
      }),
    }),
    log: Section({
      level: StringEnum(LOG_LEVELS, { default: 'info' }),
      pretty: StringEnum(['auto', 'always', 'never'] as const, { default: 'auto' }),
    }),
  },
  { additionalProperties: false },
)

export type Config = Static<typeof ConfigSchema>

/**
 * Keys read once at start: the HTTP server options, the data directory, the CLI binary and the
 * log transport. A reload that changes one of them is accepted but takes effect on restart.
 */
export const RESTART_REQUIRED_KEYS: readonly string[] = [
  'server.host',
  'server.port',
  'server.bodyLimitBytes',
  'server.keepAliveTimeoutMs',
  'server.requestTimeoutMs',
  'claude.cliPath',
  'store.dataDir',
  'store.changeCountMaxBytes',
  'store.url',
  'store.schema',
  'store.poolSize',
  'store.statementTimeoutMs',
  'cluster.redisUrl',
  'cluster.keyPrefix',
  'cluster.replicaId',
  'cluster.advertiseUrl',
  'cluster.secret',
  'cluster.conversationTtlMs',
  'cluster.workspaces',
  'log.pretty',
  'metrics.enabled',
  'metrics.port',
  'metrics.historySeconds',
  'admin.enabled',
]

/** Keys holding filesystem paths: `~` is expanded and relative paths are resolved at load. */
export const PATH_KEYS: readonly string[] = [
  'claude.cliPath',
  'claude.defaultWorkspace',
  'store.dataDir',
  'users.workspacesDir',
  'openai.workspaceRoots',
  'native.workspaceRoots',
]

const upperSnake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()

/** Every configurable key (dotted) with its schema and environment variable, in schema order. */
export const CONFIG_KEYS: readonly { key: string; env: string; schema: TSchema }[] = Object.entries(
  ConfigSchema.properties,
).flatMap(([section, sectionSchema]) =>
  Object.entries(sectionSchema.properties as Record<string, TSchema>).map(([name, schema]) => ({
    key: `${section}.${name}`,
    env: `CCGW_${upperSnake(section)}_${upperSnake(name)}`,
    schema,
  })),
)
