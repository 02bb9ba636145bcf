/**
 * Claude Code's agents: the agent files of the user's scope (`<CLAUDE_CONFIG_DIR>/agents/`) and of a
 * workspace (`<workspace>/.claude/agents/`), listed with Claude Code's built-in agents, created, read,
 * changed and deleted; and a session's main agent switched for its next turns (`PUT /sessions/{id}/agent`).
 */
import type { AgentInfo } from '@anthropic-ai/claude-agent-sdk'
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import {
  AGENT_SCOPES,
  AgentError,
  type AgentInput,
  type AgentLocations,
  type AgentPatch,
  type AgentScope,
  createAgent,
  deleteAgent,
  listAgents,
  readAgent,
  updateAgent,
} from '../../agents/index.js'
import type { GatewayContext } from '../../gateway.js'
import type { SessionRecord } from '../../store/types.js'
import type { Principal } from '../../users/principal.js'
import { json, ref } from '../responses.js'
import { apiName, settingsFrom, settingsSchema } from './agent-fields.js'
import { AGENT_VIEW_SCHEMAS, type AgentListItem, configView, summaryView } from './agent-view.js'
import { ApiError, invalid, notFound } from './errors.js'
import {
  checkHomeWritable,
  claudeHome,
  confinedWorkspace,
  nativeWorkspaces,
  permittedPatch,
  sessionOrThrow,
} from './resolve.js'
import { AGENT_FILE_ERRORS, BODY_ERRORS, NATIVE_COMMON, nativeErrors, sessionResponses } from './responses.js'
import { SessionParams } from './schemas.js'
import { sessionView } from './views.js'

export interface AgentRouteOptions {
  gateway: GatewayContext
  /**
   * Claude Code's own agents (built-in, plugins'): what a CLI process reports (`supportedAgents()`) less the
   * agents of agent files (see `builtinAgentsOf`). Listed with scope `builtin`; none when not given.
   */
  builtinAgents?: () => readonly AgentInfo[]
}

const Scope = Type.Union(AGENT_SCOPES.map((scope) => Type.Literal(scope)))

const CreateAgent = Type.Object(
  {
    name: Type.String(),
    description: Type.String(),
    prompt: Type.String(),
    scope: Scope,
    workspace: Type.Optional(Type.String({ minLength: 1 })),
    overwrite: Type.Optional(Type.Boolean()),
    ...settingsSchema(false),
  },
  { additionalProperties: false },
)
type CreateBody = { name: string; description: string; prompt: string; scope: AgentScope } & {
  workspace?: string
  overwrite?: boolean
} & Record<string, unknown>

const UpdateAgent = Type.Object(
  {
    description: Type.Optional(Type.String()),
    prompt: Type.Optional(Type.String()),
    ...settingsSchema(true),
  },
  { additionalProperties: false },
)

const ListQuery = Type.Object(
  { workspace: Type.Optional(Type.String({ minLength: 1 })) },
  { additionalProperties: false },
)
const AgentQuery = Type.Object(
  { scope: Type.Optional(Scope), workspace: Type.Optional(Type.String({ minLength: 1 })) },
  { additionalProperties: false },
)
type AgentQuery = { scope?: AgentScope; workspace?: string }
const NameParams = Type.Object({ name: Type.String({ minLength: 1 }) })
const SessionAgent = Type.Object(
  { agent: Type.Union([Type.String({ minLength: 1 }), Type.Null()]) },
  { additionalProperties: false },
)

const AgentList = Type.Object({ agents: Type.Array(ref<AgentListItem>('AgentListItem')) })

/** What an agent file's scope and workspace (the query) can make an agent route answer. */
const AGENT_FILE_RESPONSES = nativeErrors(AGENT_FILE_ERRORS)

export const agentRoutes: FastifyPluginAsync<AgentRouteOptions> = async (app, options) => {
  const { gateway } = options
  const builtins = options.builtinAgents ?? (() => [])
  /** Which scopes Claude Code loads agents from, under the configured setting sources. */
  const loads = (scope: AgentScope) => loadsScope(gateway, scope)

  for (const schema of AGENT_VIEW_SCHEMAS) app.addSchema(schema)

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/agents',
    {
      schema: {
        operationId: 'listAgents',
        tags: ['agents'],
        summary: 'List agents',
        description:
          "The user's agent files, with `workspace` that workspace's, and Claude Code's own agents " +
          '(`builtin`, once a Claude Code process has reported them). A file that does not load is listed ' +
          'with its `error`.',
        querystring: ListQuery,
        response: {
          200: json('The agents.', AgentList),
          ...nativeErrors({
            400: 'validation_error: `workspace` is not a folder under native.workspaceRoots, or a query parameter is unknown.',
            ...NATIVE_COMMON,
          }),
        },
      },
    },
    async (request) => {
      const { principal, query } = request
      const folder =
        query.workspace === undefined
          ? null
          : await confined(principal, query.workspace, 'querystring.workspace')
      return agentList(gateway, principal.id, builtins(), folder)
    },
  )

  app.post<{ Body: CreateBody }>(
    '/agents',
    {
      schema: {
        operationId: 'createAgent',
        tags: ['agents'],
        summary: 'Create an agent file',
        description: "Writes `<name>.md` in the scope's agents folder (`project` needs `workspace`).",
        body: CreateAgent,
        response: {
          201: json('The agent.', ref('AgentConfig')),
          ...nativeErrors({
            ...BODY_ERRORS,
            403: 'path_outside_scope: the agents folder leads out of its scope.',
            409: 'already_exists: the scope has that agent and `overwrite` is not true.',
            ...NATIVE_COMMON,
          }),
        },
      },
    },
    async (request, reply) => {
      const { name, description, prompt, scope, workspace, overwrite, ...rest } = request.body
      const locations = await locationsFor(request.principal, scope, workspace, 'body.workspace', true)
      const input = { name, description, prompt, ...settingsFrom(rest) } as AgentInput
      const created = await run(() => createAgent(input, scope, locations, { overwrite }), 'body')
      return reply.code(201).send(configView(created))
    },
  )

  app.get<{ Params: Static<typeof NameParams>; Querystring: AgentQuery }>(
    '/agents/:name/config',
    {
      schema: {
        operationId: 'getAgent',
        tags: ['agents'],
        summary: 'Read an agent file',
        description:
          'Every setting, its prompt and its unknown front matter keys; without `scope`, the one Claude Code would use.',
        params: NameParams,
        querystring: AgentQuery,
        response: { 200: json('The agent.', ref('AgentConfig')), ...AGENT_FILE_RESPONSES },
      },
    },
    async (request) => {
      const { scope, workspace } = request.query
      const locations = await locationsFor(request.principal, scope, workspace, 'querystring.workspace')
      return configView(await run(() => readAgent(request.params.name, locations, scope)))
    },
  )

  app.put<{ Params: Static<typeof NameParams>; Querystring: AgentQuery; Body: Record<string, unknown> }>(
    '/agents/:name/config',
    {
      schema: {
        operationId: 'updateAgent',
        tags: ['agents'],
        summary: 'Change an agent file',
        description:
          'Merges the fields given (`null` removes a setting), keeping comments and unknown keys. No renaming.',
        params: NameParams,
        querystring: AgentQuery,
        body: UpdateAgent,
        response: {
          200: json('The agent after the change.', ref('AgentConfig')),
          ...nativeErrors({
            ...AGENT_FILE_ERRORS,
            ...BODY_ERRORS,
            400: `${AGENT_FILE_ERRORS[400]} Or the body does not match the schema (\`field\` names it); invalid_json.`,
          }),
        },
      },
    },
    async (request) => {
      const { scope, workspace } = request.query
      const locations = await locationsFor(request.principal, scope, workspace, 'querystring.workspace', true)
      const { description, prompt, ...rest } = request.body
      const patch: AgentPatch = settingsFrom(rest)
      if (description !== undefined) patch.description = description as string
      if (prompt !== undefined) patch.prompt = prompt as string
      return configView(await run(() => updateAgent(request.params.name, patch, locations, scope), 'body'))
    },
  )

  app.delete<{ Params: Static<typeof NameParams>; Querystring: AgentQuery }>(
    '/agents/:name',
    {
      schema: {
        operationId: 'deleteAgent',
        tags: ['agents'],
        summary: 'Delete an agent file',
        params: NameParams,
        querystring: AgentQuery,
        response: { 204: { description: 'Deleted.', type: 'null' }, ...AGENT_FILE_RESPONSES },
      },
    },
    async (request, reply) => {
      const { scope, workspace } = request.query
      const locations = await locationsFor(request.principal, scope, workspace, 'querystring.workspace', true)
      await run(() => deleteAgent(request.params.name, locations, scope))
      return reply.code(204).send()
    },
  )

  app.put<{ Params: Static<typeof SessionParams>; Body: Static<typeof SessionAgent> }>(
    '/sessions/:id/agent',
    {
      schema: {
        operationId: 'setSessionAgent',
        tags: ['agents'],
        summary: "Switch a session's main agent",
        description:
          'For its next turns, with the conversation kept (its process restarts with the agent); null: none.',
        params: SessionParams,
        body: SessionAgent,
        response: sessionResponses(
          { 200: json('The session with its new agent.', ref('Session')) },
          {
            ...BODY_ERRORS,
            404: 'not_found: no such session (or closed), or no such agent.',
            409: 'agent_unavailable: only a file that does not load, or of a scope Claude Code does not load, defines it.',
          },
        ),
      },
    },
    async (request) => {
      const { id } = request.params
      const session = await sessionOrThrow(gateway.engine, id)
      const { agent } = request.body
      if (agent !== null) await checkUsable(agent, session)
      const allowed = await permittedPatch(gateway, request.principal, { agent })
      return sessionView(await gateway.engine.updateSettings(id, allowed), gateway.engine)
    },
  )

  /**
   * An agent Claude Code will find for a session in `workspace`: defined by a file it loads, or one of its
   * own. Before a process has reported its own agents, names no file defines are let through.
   */
  async function checkUsable(name: string, session: SessionRecord): Promise<void> {
    const { dir } = await claudeHome(gateway, session.owner)
    const workspace = session.settings.workspace
    const files = (await run(() => listAgents({ configDir: dir, workspace }))).filter(
      (file) => file.name === name,
    )
    if (files.some((file) => loads(file.scope) && !file.error)) return
    const own = builtins()
    if (own.some((agent) => agent.name === name)) return
    const [file] = files
    if (file) {
      const why = file.error
        ? `its file ${file.path} does not load: ${file.error}`
        : `Claude Code does not load ${file.scope} agents (claude.settingSources lacks '${file.scope}')`
      throw new ApiError('agent_unavailable', `Agent ${name} cannot be used: ${why}`, { field: 'body.agent' })
    }
    if (own.length > 0) throw notFound(`Agent ${name}`, 'body.agent')
  }

  /** A workspace the request names, under the caller's roots. */
  async function confined(principal: Principal, workspace: string, field: string): Promise<string> {
    return confinedWorkspace(workspace, (await nativeWorkspaces(gateway, principal)).roots, field)
  }

  /**
   * Where the request's agent files are: the caller's user scope (their own Claude Code folder, else the
   * shared one) and the workspace it names. A `change` to the shared user scope is for admins only, so a
   * change names `scope=project` unless the caller has a folder of their own.
   */
  async function locationsFor(
    principal: Principal,
    scope: AgentScope | undefined,
    workspace: string | undefined,
    field: string,
    change = false,
  ): Promise<AgentLocations> {
    if (scope === 'project' && workspace === undefined)
      throw invalid('workspace is required for the project scope', field)
    const home = await claudeHome(gateway, principal.id)
    if (change && scope !== 'project')
      checkHomeWritable(home, principal, scope ? 'querystring.scope' : undefined)
    return {
      configDir: home.dir,
      workspace: workspace === undefined ? null : await confined(principal, workspace, field),
    }
  }
}

/**
 * `GET /agents`: the agents of `user`'s scope (their own Claude Code folder, else the shared one), those of
 * `folder` (a workspace already confined) and Claude Code's own (`builtins`), each saying whether Claude
 * Code loads it and whether another of the same name wins.
 */
export async function agentList(
  gateway: GatewayContext,
  user: string | null | undefined,
  builtins: readonly AgentInfo[],
  folder: string | null,
): Promise<{ agents: AgentListItem[] }> {
  const loads = (scope: AgentScope) => loadsScope(gateway, scope)
  const { dir } = await claudeHome(gateway, user)
  const files = await run(() => listAgents({ configDir: dir, workspace: folder }))
  const loadedNames = new Set(files.filter((a) => loads(a.scope) && !a.error).map((a) => a.name))
  const projectNames = new Set(
    files.filter((a) => a.scope === 'project' && loads('project') && !a.error).map((a) => a.name),
  )
  const agents: AgentListItem[] = files.map((agent) => ({
    ...summaryView(agent),
    loaded: loads(agent.scope) && !agent.error,
    overridden: agent.scope === 'user' && projectNames.has(agent.name),
  }))
  for (const agent of builtins) {
    agents.push({
      name: agent.name,
      description: agent.description,
      tools: null,
      model: agent.model ?? null,
      scope: 'builtin',
      path: null,
      loaded: true,
      overridden: loadedNames.has(agent.name),
    })
  }
  return { agents }
}

/** Whether Claude Code loads agents from `scope`, under the configured setting sources. */
const loadsScope = (gateway: GatewayContext, scope: AgentScope) =>
  (gateway.config.claude.settingSources as readonly string[]).includes(scope)

/** Runs an agent-module call, its errors in the native shape; `prefix` locates an `invalid` field. */
async function run<T>(action: () => Promise<T>, prefix = 'querystring'): Promise<T> {
  try {
    return await action()
  } catch (error) {
    if (!(error instanceof AgentError)) throw error
    const field = error.field
      ? error.field === 'scope' || error.field === 'workspace'
        ? `querystring.${error.field}`
        : `${prefix}.${apiName(error.field)}`
      : undefined
    switch (error.code) {
      case 'invalid':
        throw invalid(error.message, field)
      case 'not_found':
        throw new ApiError('not_found', error.message)
      case 'exists':
        throw new ApiError('already_exists', error.message, { field: 'body.name' })
      case 'ambiguous':
        throw new ApiError('ambiguous', error.message, { field: 'querystring.scope' })
      case 'unreadable':
        throw new ApiError('invalid_agent_file', error.message)
      case 'outside_scope':
        throw new ApiError('path_outside_scope', error.message)
    }
  }
}
