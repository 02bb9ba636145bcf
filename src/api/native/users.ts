/**
 * Users and their keys (`/api/users`), and who the caller is (`/api/me`). Admins manage every user; viewers
 * read them; a user reads themself and makes and revokes their own keys. Another user's name answers a user
 * as a name that does not exist (404): names do not leak. Users declared in the configuration are shown but
 * not changed here (409 `conflict`). Views and bodies are in user-views.ts.
 */
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { GatewayContext } from '../../gateway.js'
import type { UserRecord } from '../../store/access.js'
import type { UserInput, UserPatch, UserSource } from '../../users/directory.js'
import { forbidden } from '../../users/errors.js'
import { keysConfigured } from '../../users/keys.js'
import type { Principal } from '../../users/principal.js'
import { effectiveQuotas } from '../../users/quotas.js'
import { workspacesFor } from '../../users/workspaces.js'
import { json, ref } from '../responses.js'
import { ApiError, invalid, notFound } from './errors.js'
import { BODY_ERRORS, NATIVE_COMMON, nativeErrors } from './responses.js'
import {
  CreateKeyBody,
  CreateUserBody,
  checkFields,
  KeyView,
  keyView,
  MeView,
  NewKeyView,
  newKeyView,
  PatchUserBody,
  patchOf,
  quotasView,
  UserView,
  userInput,
  userView,
} from './user-views.js'

const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) })
const KeyParams = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 64 }),
  key_id: Type.String({ minLength: 1, maxLength: 64 }),
})
type NameParams = Static<typeof NameParams>

const DAY_MS = 86_400_000
const USER_NOT_FOUND = { 404: 'not_found: no such user (for a user: any other user).' }
const STAFF_ONLY = { 403: 'forbidden: for admins (and, to read, viewers) only.' }
const ADMIN_ONLY = { 403: 'forbidden: for admins only (a viewer changes nothing).' }
/** A user's body (created or changed) refused for what it holds. */
const USER_BODY_400 = `${BODY_ERRORS[400]} Also: credentials without users.secretsKey, an MCP server not in users.mcpServers, a workspace root that is not absolute.`

export const userRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  const directory = () => gateway.users.directory
  app.addSchema(UserView)
  app.addSchema(KeyView)

  /**
   * The user a route names, as the caller may see them: a user sees only themself, and another user's name
   * is answered as one that does not exist.
   */
  async function named(
    principal: Principal,
    name: string,
  ): Promise<{ user: UserRecord; source: UserSource }> {
    const found =
      principal.role === 'user' && principal.id !== name ? undefined : await directory().kept(name)
    if (!found) throw notFound(`User ${name}`, 'params.name')
    return found
  }

  app.get(
    '/users',
    {
      schema: {
        operationId: 'listUsers',
        tags: ['users'],
        summary: 'List users',
        description:
          'Every user: those declared in the configuration (`source: config`) and those made through this ' +
          'API (`source: store`). Credentials show only as which are set.',
        response: {
          200: json('The users, declared ones first.', Type.Object({ items: Type.Array(ref('User')) })),
          ...nativeErrors({ ...STAFF_ONLY, ...NATIVE_COMMON }),
        },
      },
    },
    async (request) => {
      if (request.principal.role === 'user') throw forbidden('The list of users is for admins and viewers')
      const users = await directory().list()
      return { items: users.map(({ user, source }) => userView(user, source)) }
    },
  )

  app.post<{ Body: CreateUserBody }>(
    '/users',
    {
      schema: {
        operationId: 'createUser',
        tags: ['users'],
        summary: 'Create a user',
        description:
          'Kept in the store, which replicas share. Claude and MCP credentials are kept encrypted, and only ' +
          'when `users.secretsKey` is set. A user gets keys with POST /api/users/{name}/keys.',
        body: CreateUserBody,
        response: {
          201: json('The user.', ref('User')),
          ...nativeErrors({
            ...BODY_ERRORS,
            400: USER_BODY_400,
            ...ADMIN_ONLY,
            409:
              'already_exists: a user of that name exists (declared or kept). conflict: no key is configured ' +
              '(every caller is the operator): declare an admin key first.',
            ...NATIVE_COMMON,
          }),
        },
      },
    },
    async (request, reply) => {
      adminOnly(request.principal)
      keysRequired(gateway, 'users')
      const { name, role, ...fields } = request.body
      checkFields(gateway.config.users, fields)
      const taken = () =>
        new ApiError('already_exists', `User ${name} already exists`, { field: 'body.name' })
      if (await directory().exists(name)) throw taken()
      // Made by another request since the check: the store keeps the first.
      const user = await directory().create(name, { role, ...userInput(fields) } as UserInput)
      if (!user) throw taken()
      return reply.code(201).send(userView(user, 'store'))
    },
  )

  app.get<{ Params: NameParams }>(
    '/users/:name',
    {
      schema: {
        operationId: 'getUser',
        tags: ['users'],
        summary: 'Read a user',
        description: 'Admins and viewers read anyone; a user reads themself.',
        params: NameParams,
        response: {
          200: json('The user.', ref('User')),
          ...nativeErrors({ ...USER_NOT_FOUND, ...NATIVE_COMMON }),
        },
      },
    },
    async (request) => {
      const { user, source } = await named(request.principal, request.params.name)
      return userView(user, source)
    },
  )

  app.patch<{ Params: NameParams; Body: PatchUserBody }>(
    '/users/:name',
    {
      schema: {
        operationId: 'updateUser',
        tags: ['users'],
        summary: 'Change a user',
        description:
          'Fields given replace theirs; null removes one. A role changed applies to their keys at the next ' +
          'request (within users.keyCacheMs on other replicas).',
        params: NameParams,
        body: PatchUserBody,
        response: {
          200: json('The user.', ref('User')),
          ...nativeErrors({
            ...BODY_ERRORS,
            400: USER_BODY_400,
            ...ADMIN_ONLY,
            ...USER_NOT_FOUND,
            409: 'conflict: the user is declared in the configuration.',
            ...NATIVE_COMMON,
          }),
        },
      },
    },
    async (request) => {
      const { name } = request.params
      const { source } = await named(request.principal, name)
      adminOnly(request.principal)
      if (source === 'config') throw declared(name)
      const { role, ...fields } = request.body
      checkFields(gateway.config.users, fields)
      const patch: UserPatch = { ...(role ? { role } : {}), ...patchOf(fields) }
      const user = await directory().update(name, patch)
      if (!user) throw notFound(`User ${name}`, 'params.name')
      return userView(user, 'store')
    },
  )

  app.delete<{ Params: NameParams }>(
    '/users/:name',
    {
      schema: {
        operationId: 'deleteUser',
        tags: ['users'],
        summary: 'Delete a user',
        description:
          'Removes the user and their keys; streams open with their keys end. Their sessions, usage and ' +
          'audit entries stay.',
        params: NameParams,
        response: {
          204: { description: 'Deleted.', type: 'null' },
          ...nativeErrors({
            ...ADMIN_ONLY,
            ...USER_NOT_FOUND,
            409: 'conflict: the user is declared in the configuration.',
            ...NATIVE_COMMON,
          }),
        },
      },
    },
    async (request, reply) => {
      const { name } = request.params
      const { source } = await named(request.principal, name)
      adminOnly(request.principal)
      if (source === 'config') throw declared(name)
      if (!(await directory().remove(name))) throw notFound(`User ${name}`, 'params.name')
      return reply.code(204).send()
    },
  )

  app.post<{ Params: NameParams; Body: CreateKeyBody }>(
    '/users/:name/keys',
    {
      schema: {
        operationId: 'createKey',
        tags: ['users'],
        summary: 'Make a key',
        description:
          'An admin makes keys for anyone, a user for themself. The key is in this answer only: the ' +
          'gateway keeps its SHA-256 and first characters. A key a user makes for themself with a key made ' +
          'through this API expires no later than that key (its `expires_at` says when) and is revoked ' +
          'with it.',
        params: NameParams,
        body: CreateKeyBody,
        response: {
          201: json('The key, shown once.', NewKeyView),
          ...nativeErrors({
            ...BODY_ERRORS,
            400: `${BODY_ERRORS[400]} Also: both expires_in_days and expires_at, or expires_at not a time or in the past.`,
            403: 'forbidden: a viewer changes nothing; or the key used was revoked meanwhile.',
            ...USER_NOT_FOUND,
            409: 'conflict: no key is configured (every caller is the operator): declare an admin key first.',
            ...NATIVE_COMMON,
          }),
        },
      },
    },
    async (request, reply) => {
      const { name } = request.params
      const { principal } = request
      keysRequired(gateway, 'keys')
      await named(principal, name)
      notViewer(principal)
      const { label, expires_in_days: days, expires_at: at } = request.body
      if (days !== undefined && at !== undefined)
        throw invalid('Give expires_in_days or expires_at, not both', 'body.expires_at')
      const now = Date.now()
      const expiresAt = days !== undefined ? now + days * DAY_MS : at !== undefined ? Date.parse(at) : null
      if (Number.isNaN(expiresAt)) throw invalid('expires_at is not an ISO 8601 time', 'body.expires_at')
      if (expiresAt !== null && expiresAt <= now)
        throw invalid('expires_at is in the past', 'body.expires_at')
      const { record, key } = await directory().issueKey(name, {
        label: label ?? null,
        expiresAt,
        // A user's own key is bound to the one they used (an admin's are not: they manage keys).
        issuedWith: principal.role === 'admin' ? null : principal.keyId,
      })
      return reply.code(201).send(newKeyView(record, key))
    },
  )

  app.get<{ Params: NameParams }>(
    '/users/:name/keys',
    {
      schema: {
        operationId: 'listKeys',
        tags: ['users'],
        summary: "List a user's keys",
        description: 'Newest first, revoked and expired ones included; never the keys themselves.',
        params: NameParams,
        response: {
          200: json('The keys.', Type.Object({ items: Type.Array(ref('ApiKey')) })),
          ...nativeErrors({ ...USER_NOT_FOUND, ...NATIVE_COMMON }),
        },
      },
    },
    async (request) => {
      const { name } = request.params
      await named(request.principal, name)
      const now = Date.now()
      return { items: (await directory().keysOf(name)).map((key) => keyView(key, now)) }
    },
  )

  app.delete<{ Params: Static<typeof KeyParams> }>(
    '/users/:name/keys/:key_id',
    {
      schema: {
        operationId: 'revokeKey',
        tags: ['users'],
        summary: 'Revoke a key',
        description:
          'The key, and the keys its user made with it, stop working at once on this replica, within ' +
          'users.keyCacheMs on the others; streams opened with them (SSE, WebSockets, streamed chat ' +
          'completions) end.',
        params: KeyParams,
        response: {
          204: { description: 'Revoked (or revoked already).', type: 'null' },
          ...nativeErrors({
            ...ADMIN_ONLY,
            404: 'not_found: no such user (for a user: any other user), or no such key of theirs.',
            ...NATIVE_COMMON,
          }),
        },
      },
    },
    async (request, reply) => {
      const { name, key_id: keyId } = request.params
      await named(request.principal, name)
      notViewer(request.principal)
      if (!(await directory().revokeKey(name, keyId))) throw notFound(`Key ${keyId}`, 'params.key_id')
      return reply.code(204).send()
    },
  )

  app.get(
    '/me',
    {
      schema: {
        operationId: 'getMe',
        tags: ['users'],
        summary: 'Who the key belongs to',
        description:
          "The caller's user (null: the gateway's operator), role, limits and workspace roots. What they " +
          'used against the limits: GET /api/me/usage.',
        response: { 200: json('The caller.', MeView), ...nativeErrors(NATIVE_COMMON) },
      },
    },
    async (request) => {
      const { principal } = request
      const found = principal.id === null ? undefined : await directory().kept(principal.id)
      const limits = effectiveQuotas(gateway.config.users.defaultQuotas, found?.user)
      const { roots } = await workspacesFor(gateway, principal, 'native')
      return {
        user: principal.id,
        role: principal.role,
        source: found?.source ?? null,
        quotas: quotasView(
          Object.fromEntries(Object.entries(limits).filter(([, value]) => value !== null)) as Record<
            string,
            number
          >,
        ),
        workspace_roots: roots,
      }
    },
  )
}

function adminOnly(principal: Principal): void {
  if (principal.role !== 'admin') throw forbidden('Only an admin may manage users')
}

function notViewer(principal: Principal): void {
  if (principal.role === 'viewer') throw forbidden('A viewer may read, not change anything')
}

/**
 * Without a configured key every caller, with a key or without, is the operator: users and keys made then
 * would be isolated from no one, so they are refused until an admin key is declared.
 */
function keysRequired(gateway: GatewayContext, what: 'users' | 'keys'): void {
  if (!keysConfigured(gateway.config))
    throw new ApiError(
      'conflict',
      `No API key is configured, so every caller is the operator and ${what} made now would not be isolated: ` +
        'declare an admin key first (server.apiKeys, or a user of role admin with keys in users.list)',
    )
}

const declared = (name: string) =>
  new ApiError('conflict', `User ${name} is declared in the configuration: change it there`, {
    field: 'params.name',
  })
