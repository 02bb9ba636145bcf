/**
 * The `users` section: people with their own keys, roles, workspaces, Claude accounts, MCP servers and
 * quotas (src/users/). Users declared here sit beside those the admin API keeps in the store.
 */
import { type TSchema, Type } from '@sinclair/typebox'
import { PERMISSION_MODES, type PermissionMode } from '../store/types.js'

/** A user's name: what owns their sessions and names them in the audit trail. */
export const USER_NAME_PATTERN = '^[a-z0-9][a-z0-9._-]{0,63}$'

const Strings = () => Type.Record(Type.String({ minLength: 1 }), Type.String())
const Limit = (description: string) => Type.Optional(Type.Number({ minimum: 0, description }))
/** A limit that counts things (requests, turns, sessions, tokens): a fraction of one would mean nothing. */
const CountLimit = (description: string) => Type.Optional(Type.Integer({ minimum: 0, description }))

export const QuotasSchema = Type.Object(
  {
    requestsPerMinute: CountLimit('Requests that start a turn, in any 60 seconds.'),
    concurrentTurns: CountLimit('Turns running at once across their sessions.'),
    liveSessions: CountLimit('Sessions they have that are not closed.'),
    tokensPerDay: CountLimit('Input and output tokens per UTC day.'),
    tokensPerMonth: CountLimit('Input and output tokens per UTC month.'),
    usdPerDay: Limit('Cost in USD per UTC day, as Claude Code reports it.'),
    usdPerMonth: Limit('Cost in USD per UTC month.'),
  },
  { additionalProperties: false },
)

export const ClaudeCredentialsSchema = Type.Object(
  {
    configDir: Type.Optional(Type.String({ minLength: 1 })),
    env: Type.Optional(Strings()),
  },
  { additionalProperties: false },
)

export const McpCredentialsSchema = Type.Object(
  { env: Type.Optional(Strings()), headers: Type.Optional(Strings()) },
  { additionalProperties: false },
)

/** What a user may be given, from the configuration or the admin API. */
export const userFields = {
  role: Type.Unsafe<'admin' | 'user' | 'viewer'>({ type: 'string', enum: ['admin', 'user', 'viewer'] }),
  workspaceRoots: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  claude: Type.Optional(ClaudeCredentialsSchema),
  quotas: Type.Optional(QuotasSchema),
  allowedTools: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  permissionModes: Type.Optional(
    Type.Array(Type.Unsafe<PermissionMode>({ type: 'string', enum: PERMISSION_MODES }), {
      uniqueItems: true,
    }),
  ),
  mcpServers: Type.Optional(Type.Record(Type.String({ minLength: 1 }), McpCredentialsSchema)),
} satisfies Record<string, TSchema>

export const ConfigUserSchema = Type.Object(
  {
    name: Type.String({ pattern: USER_NAME_PATTERN }),
    ...userFields,
    /** The user's keys: each as given (hashed at load), or `sha256:<hex>` of one. */
    keys: Type.Array(Type.String({ minLength: 16 }), { default: [] }),
  },
  { additionalProperties: false },
)

/** An MCP server the admin approved: sessions may name it (`mcp_servers`), with their users' credentials. */
export const McpServerSchema = Type.Object(
  {
    type: Type.Unsafe<'stdio' | 'http' | 'sse'>({
      type: 'string',
      enum: ['stdio', 'http', 'sse'],
      default: 'stdio',
    }),
    command: Type.Optional(Type.String({ minLength: 1 })),
    args: Type.Optional(Type.Array(Type.String())),
    env: Type.Optional(Strings()),
    url: Type.Optional(Type.String({ pattern: '^https?://' })),
    headers: Type.Optional(Strings()),
  },
  { additionalProperties: false },
)

export const usersSection = {
  list: Type.Array(ConfigUserSchema, {
    default: [],
    description: 'Users declared here (name, role, keys, ...); the admin API keeps more in the store.',
  }),
  mcpServers: Type.Record(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }), McpServerSchema, {
    default: {},
    description: 'MCP servers sessions may name; a user names only those their `mcpServers` lists.',
  }),
  defaultQuotas: Type.Object(QuotasSchema.properties, {
    additionalProperties: false,
    default: {},
    description: "Quotas of every user whose own `quotas` does not set a limit (admins' too).",
  }),
  workspacesDir: Type.Unsafe<string | null>({
    type: ['string', 'null'],
    minLength: 1,
    default: null,
    description:
      'Where a user without `workspaceRoots` works: <this>/<name>, created on first use; null: <store.dataDir>/workspaces.',
  }),
  auditPrompts: Type.Boolean({
    default: false,
    description: "Keep the text of messages in the audit trail (off: only their size and the session's id).",
  }),
  auditRetentionDays: Type.Integer({ minimum: 1, maximum: 36_500, default: 90 }),
  keyCacheMs: Type.Integer({
    minimum: 0,
    maximum: 600_000,
    default: 5_000,
    description:
      'How long a key read from the store is trusted before it is read again: the longest a key revoked on another replica still works there.',
  }),
  secretsKey: Type.String({
    default: '',
    description:
      'Encrypts the Claude and MCP credentials the admin API keeps in the store (AES-256-GCM); unset, the API refuses to keep credentials.',
  }),
}
