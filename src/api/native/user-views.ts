/**
 * Users and keys as the admin API shows and takes them (src/api/native/users.ts): snake_case fields, times as
 * ISO strings, and never a secret. A user's credentials show only as which of them are set; a key only as its
 * first characters, except in the one answer that creates it.
 */
import { isAbsolute } from 'node:path'
import { type Static, Type } from '@sinclair/typebox'
import type { Config } from '../../config/index.js'
import { USER_NAME_PATTERN } from '../../config/users-schema.js'
import type { KeyRecord, Quotas, UserRecord } from '../../store/access.js'
import { PERMISSION_MODES } from '../../store/types.js'
import type { UserPatch, UserSource } from '../../users/directory.js'
import { keyState } from '../../users/keys.js'
import { ROLES } from '../../users/principal.js'
import { Enum, Nullable } from '../responses.js'
import { invalid } from './errors.js'

/** Each quota's name in the API, and in the configuration (src/store/access.ts `Quotas`). */
export const QUOTA_FIELDS = {
  requests_per_minute: 'requestsPerMinute',
  concurrent_turns: 'concurrentTurns',
  live_sessions: 'liveSessions',
  tokens_per_day: 'tokensPerDay',
  tokens_per_month: 'tokensPerMonth',
  usd_per_day: 'usdPerDay',
  usd_per_month: 'usdPerMonth',
} as const satisfies Record<string, keyof Quotas>
type QuotaField = keyof typeof QUOTA_FIELDS

const Time = (description: string) => Type.String({ format: 'date-time', description })
const NullableTime = (description: string) => Nullable(Time(description))
const Strings = () => Type.Record(Type.String({ minLength: 1 }), Type.String())
const Names = (description: string) => Type.Array(Type.String({ minLength: 1 }), { description })

// Counts are whole (a fraction of a request per minute has no Retry-After); dollars are not.
const Count = () => Type.Optional(Type.Integer({ minimum: 0 }))
const Amount = () => Type.Optional(Type.Number({ minimum: 0 }))
export const QuotasBody = Type.Object(
  {
    requests_per_minute: Count(),
    concurrent_turns: Count(),
    live_sessions: Count(),
    tokens_per_day: Count(),
    tokens_per_month: Count(),
    usd_per_day: Amount(),
    usd_per_month: Amount(),
  } satisfies Record<QuotaField, unknown>,
  { additionalProperties: false, description: 'Limits by name; absent or 0: no limit (users.md, "Quotas").' },
)
type QuotasBody = Static<typeof QuotasBody>

const ClaudeBody = Type.Object(
  {
    config_dir: Type.Optional(Type.String({ minLength: 1, description: 'Their own CLAUDE_CONFIG_DIR.' })),
    env: Type.Optional(Strings()),
  },
  {
    additionalProperties: false,
    description: 'Their own Claude account. Kept encrypted (users.secretsKey).',
  },
)
const McpServersBody = Type.Record(
  Type.String({ minLength: 1 }),
  Type.Object(
    { env: Type.Optional(Strings()), headers: Type.Optional(Strings()) },
    { additionalProperties: false },
  ),
  { description: 'Approved MCP servers (users.mcpServers) they may name, with their credentials for each.' },
)

const userFields = (nullable: boolean) => {
  const field = <T extends Parameters<typeof Nullable>[0]>(schema: T) =>
    Type.Optional(nullable ? Nullable(schema) : schema)
  return {
    workspace_roots: field(Names('Absolute folders their sessions may work in.')),
    claude: field(ClaudeBody),
    quotas: field(QuotasBody),
    allowed_tools: field(Names('Built-in tools their sessions may have; absent: any.')),
    permission_modes: field(Type.Array(Enum(PERMISSION_MODES), { uniqueItems: true })),
    mcp_servers: field(McpServersBody),
  }
}

export const CreateUserBody = Type.Object(
  { name: Type.String({ pattern: USER_NAME_PATTERN }), role: Enum(ROLES), ...userFields(false) },
  { additionalProperties: false },
)
export type CreateUserBody = Static<typeof CreateUserBody>

export const PatchUserBody = Type.Object(
  { role: Type.Optional(Enum(ROLES)), ...userFields(true) },
  { additionalProperties: false, description: 'Fields given replace theirs; null removes one.' },
)
export type PatchUserBody = Static<typeof PatchUserBody>

/** The body's user fields in the record's terms (credentials still in the clear). */
export function userInput(body: Omit<PatchUserBody, 'role'>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const put = (field: string, value: unknown) => {
    if (value !== undefined) out[field] = value
  }
  put('workspaceRoots', body.workspace_roots)
  put('claude', body.claude && claudeIn(body.claude))
  put('quotas', body.quotas && quotasIn(body.quotas))
  put('allowedTools', body.allowed_tools)
  put('permissionModes', body.permission_modes)
  put('mcpServers', body.mcp_servers)
  return out
}

const claudeIn = ({ config_dir, env }: Static<typeof ClaudeBody>) => ({
  ...(config_dir === undefined ? {} : { configDir: config_dir }),
  ...(env ? { env } : {}),
})

const quotasIn = (body: QuotasBody): Quotas =>
  Object.fromEntries(
    Object.entries(body)
      .filter(([, value]) => value !== undefined)
      .map(([field, value]) => [QUOTA_FIELDS[field as QuotaField], value]),
  )

export const quotasView = (quotas: Quotas = {}): QuotasBody =>
  Object.fromEntries(
    Object.entries(QUOTA_FIELDS)
      .filter(([, name]) => quotas[name] !== undefined)
      .map(([field, name]) => [field, quotas[name]]),
  )

export const UserView = Type.Object(
  {
    name: Type.String(),
    role: Enum(ROLES),
    source: Enum(['config', 'store'] as const, {
      description: '`config`: declared in the configuration, read-only through the API.',
    }),
    quotas: QuotasBody,
    workspace_roots: Nullable(Type.Array(Type.String())),
    allowed_tools: Nullable(Type.Array(Type.String())),
    permission_modes: Nullable(Type.Array(Type.String())),
    mcp_servers: Type.Array(Type.String(), { description: 'The approved MCP servers they may name.' }),
    claude: Type.Object(
      {
        config_dir: Type.Boolean({ description: 'Whether they have a Claude config folder of their own.' }),
        env: Type.Array(Type.String(), {
          description: 'The names of the variables set; never their values.',
        }),
      },
      { description: 'Their own Claude account, as which credentials are set.' },
    ),
    created_at: NullableTime('null: declared in the configuration.'),
    updated_at: NullableTime('null: declared in the configuration.'),
  },
  { $id: 'User' },
)
export type UserView = Static<typeof UserView>

const iso = (at: number) => new Date(at).toISOString()
const isoOrNull = (at: number | null) => (at === null ? null : iso(at))

export function userView(user: UserRecord, source: UserSource): UserView {
  const stored = source === 'store'
  return {
    name: user.name,
    role: user.role,
    source,
    quotas: quotasView(user.quotas),
    workspace_roots: user.workspaceRoots ?? null,
    allowed_tools: user.allowedTools ?? null,
    permission_modes: user.permissionModes ?? null,
    mcp_servers: Object.keys(user.mcpServers ?? {}),
    claude: { config_dir: user.claude?.configDir !== undefined, env: Object.keys(user.claude?.env ?? {}) },
    created_at: stored ? iso(user.createdAt) : null,
    updated_at: stored ? iso(user.updatedAt) : null,
  }
}

export const CreateKeyBody = Type.Object(
  {
    label: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: '"laptop", "ci".' })),
    expires_in_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
    expires_at: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'When it stops working (ISO 8601); not with expires_in_days.',
      }),
    ),
  },
  { additionalProperties: false },
)
export type CreateKeyBody = Static<typeof CreateKeyBody>

const keyFields = {
  id: Type.String(),
  prefix: Type.String({ description: 'Its first characters, to recognise it.' }),
  label: Nullable(Type.String()),
  created_at: Time('When it was made.'),
  expires_at: NullableTime('When it stops working; null: never.'),
}

export const KeyView = Type.Object(
  {
    ...keyFields,
    revoked_at: NullableTime('When it was revoked.'),
    last_used_at: NullableTime('Its last use, to the minute.'),
    state: Enum(['active', 'revoked', 'expired'] as const),
  },
  { $id: 'ApiKey' },
)

export const NewKeyView = Type.Object({
  ...keyFields,
  key: Type.String({ description: 'The key itself: shown in this answer only, kept nowhere.' }),
})

export function keyView(key: KeyRecord, now: number): Static<typeof KeyView> {
  return {
    id: key.id,
    prefix: key.prefix,
    label: key.label,
    created_at: iso(key.createdAt),
    expires_at: isoOrNull(key.expiresAt),
    revoked_at: isoOrNull(key.revokedAt),
    last_used_at: isoOrNull(key.lastUsedAt),
    state: keyState(key, now),
  }
}

export const newKeyView = (key: KeyRecord, secret: string): Static<typeof NewKeyView> => ({
  id: key.id,
  key: secret,
  prefix: key.prefix,
  label: key.label,
  created_at: iso(key.createdAt),
  expires_at: isoOrNull(key.expiresAt),
})

export const MeView = Type.Object({
  user: Nullable(Type.String(), {
    description: "null: the gateway's operator (no users, or a server.apiKeys key).",
  }),
  role: Enum(ROLES),
  source: Nullable(Enum(['config', 'store'] as const)),
  quotas: QuotasBody,
  workspace_roots: Type.Array(Type.String(), { description: 'The folders their sessions may work in.' }),
})

/**
 * What the schema cannot say: credentials need `users.secretsKey` (they are never kept in the clear), MCP
 * servers must be approved ones, workspace roots absolute.
 */
export function checkFields(users: Config['users'], fields: Omit<PatchUserBody, 'role'>): void {
  const claude = fields.claude
  if (users.secretsKey === '') {
    if (claude && (claude.config_dir !== undefined || Object.keys(claude.env ?? {}).length > 0))
      throw invalid('Claude credentials are kept only with users.secretsKey set', 'body.claude')
    for (const [server, credentials] of Object.entries(fields.mcp_servers ?? {}))
      if (Object.keys(credentials.env ?? {}).length + Object.keys(credentials.headers ?? {}).length > 0)
        throw invalid('MCP credentials are kept only with users.secretsKey set', `body.mcp_servers.${server}`)
  }
  for (const server of Object.keys(fields.mcp_servers ?? {}))
    if (!Object.hasOwn(users.mcpServers, server))
      throw invalid(`MCP server ${server} is not one of users.mcpServers`, `body.mcp_servers.${server}`)
  fields.workspace_roots?.forEach((root, index) => {
    if (!isAbsolute(root))
      throw invalid('A workspace root is an absolute path', `body.workspace_roots.${index}`)
  })
}

/** A PATCH body's fields in the record's terms: null removes a field. */
export function patchOf(fields: Omit<PatchUserBody, 'role'>): UserPatch {
  const patch: Record<string, unknown> = {}
  const given = userInput(
    Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== null)) as Omit<
      PatchUserBody,
      'role'
    >,
  )
  const names: Record<string, string> = {
    workspace_roots: 'workspaceRoots',
    claude: 'claude',
    quotas: 'quotas',
    allowed_tools: 'allowedTools',
    permission_modes: 'permissionModes',
    mcp_servers: 'mcpServers',
  }
  for (const [field, value] of Object.entries(fields)) if (value === null) patch[names[field] ?? field] = null
  return { ...patch, ...given } as UserPatch
}
