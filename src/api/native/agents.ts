/**
 * Claude Code's agents: the agent files of the user's scope (`<CLAUDE_CONFIG_DIR>/agents/`) and of a
 * workspace (`<workspace>/.claude/agents/`), listed with Claude Code's built-in agents, created, read,
 * changed and deleted; and a session's main agent switched for its next turns (`PUT /sessions/{id}/agent`).
 */
import type { AgentInfo } from '@anthropic-ai/claude-agent-sdk'
import { type Static, type TSchema, Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import {
  AGENT_FIELDS,
  AGENT_SCOPES,
  type AgentDetails,
  AgentError,
  type AgentField,
  type AgentInput,
  type AgentLocations,
  type AgentPatch,
  type AgentScope,
  type AgentSummary,
  createAgent,
  deleteAgent,
  EFFORT_LEVELS,
  type FieldKind,
  listAgents,
  readAgent,
  updateAgent,
} from '../../agents/index.js'
import type { GatewayContext } from '../../gateway.js'
import { MAX_INTEGER } from '../validation.js'
import { ApiError, invalid, notFound } from './errors.js'
import { confinedWorkspace, sessionOrThrow } from './resolve.js'
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

/** The API's names of the optional agent settings: `disallowedTools` → `disallowed_tools`. */
const apiName = (field: string) => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
const FIELDS = Object.keys(AGENT_FIELDS) as AgentField[]

function kindSchema(kind: FieldKind): TSchema {
  switch (kind) {
    case 'names':
      return Type.Array(Type.String({ minLength: 1 }))
    case 'string':
      return Type.String({ minLength: 1 })
    case 'boolean':
      return Type.Boolean()
    case 'positiveInteger':
      return Type.Integer({ minimum: 1, maximum: MAX_INTEGER })
    case 'effort':
      return Type.Union([
        ...EFFORT_LEVELS.map((level) => Type.Literal(level)),
        Type.Integer({ minimum: 1, maximum: MAX_INTEGER }),
      ])
    case 'mcpServers':
      return Type.Array(
        Type.Union([Type.String({ minLength: 1 }), Type.Object({}, { additionalProperties: true })]),
      )
    case 'object':
      return Type.Object({}, { additionalProperties: true })
    default:
      return Type.Union(kind.map((value) => Type.Literal(value)))
  }
}

const settingsSchema = (nullable: boolean) =>
  Object.fromEntries(
    FIELDS.map((field) => {
      const schema = kindSchema(AGENT_FIELDS[field])
      return [apiName(field), Type.Optional(nullable ? Type.Union([schema, Type.Null()]) : schema)]
    }),
  )

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

export const agentRoutes: FastifyPluginAsync<AgentRouteOptions> = async (app, options) => {
  const { gateway } = options
  const builtins = options.builtinAgents ?? (() => [])
  // The user scope is in Claude Code's config folder as the CLI processes see it: the engine's, from their
  // environment (`claude.env` over the gateway's), never the gateway's own process.env.
  const configDir = () => gateway.engine.claudeConfigDir
  /** Which scopes Claude Code loads agents from, under the configured setting sources. */
  const loads = (scope: AgentScope) => loadsScope(gateway, scope)

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/agents',
    { schema: { querystring: ListQuery } },
    async (request) => agentList(gateway, builtins(), request.query.workspace),
  )

  app.post<{ Body: CreateBody }>('/agents', { schema: { body: CreateAgent } }, async (request, reply) => {
    const { name, description, prompt, scope, workspace, overwrite, ...rest } = request.body
    const locations = locationsFor(scope, workspace, 'body.workspace')
    const input = { name, description, prompt, ...settingsFrom(rest) } as AgentInput
    const created = await run(() => createAgent(input, scope, locations, { overwrite }), 'body')
    return reply.code(201).send(detailsView(created))
  })

  app.get<{ Params: Static<typeof NameParams>; Querystring: AgentQuery }>(
    '/agents/:name/config',
    { schema: { params: NameParams, querystring: AgentQuery } },
    async (request) => {
      const { scope, workspace } = request.query
      const locations = locationsFor(scope, workspace, 'querystring.workspace')
      return detailsView(await run(() => readAgent(request.params.name, locations, scope)))
    },
  )

  app.put<{ Params: Static<typeof NameParams>; Querystring: AgentQuery; Body: Record<string, unknown> }>(
    '/agents/:name/config',
    { schema: { params: NameParams, querystring: AgentQuery, body: UpdateAgent } },
    async (request) => {
      const { scope, workspace } = request.query
      const locations = locationsFor(scope, workspace, 'querystring.workspace')
      const { description, prompt, ...rest } = request.body
      const patch: AgentPatch = settingsFrom(rest)
      if (description !== undefined) patch.description = description as string
      if (prompt !== undefined) patch.prompt = prompt as string
      return detailsView(await run(() => updateAgent(request.params.name, patch, locations, scope), 'body'))
    },
  )

  app.delete<{ Params: Static<typeof NameParams>; Querystring: AgentQuery }>(
    '/agents/:name',
    { schema: { params: NameParams, querystring: AgentQuery } },
    async (request, reply) => {
      const { scope, workspace } = request.query
      const locations = locationsFor(scope, workspace, 'querystring.workspace')
      await run(() => deleteAgent(request.params.name, locations, scope))
      return reply.code(204).send()
    },
  )

  app.put<{ Params: Static<typeof SessionParams>; Body: Static<typeof SessionAgent> }>(
    '/sessions/:id/agent',
    { schema: { params: SessionParams, body: SessionAgent } },
    async (request) => {
      const { id } = request.params
      const session = sessionOrThrow(gateway.engine, id)
      const { agent } = request.body
      if (agent !== null) await checkUsable(agent, session.settings.workspace)
      return sessionView(gateway.engine.updateSettings(id, { agent }), gateway.engine)
    },
  )

  /**
   * An agent Claude Code will find for a session in `workspace`: defined by a file it loads, or one of its
   * own. Before a process has reported its own agents, names no file defines are let through.
   */
  async function checkUsable(name: string, workspace: string): Promise<void> {
    const files = (await run(() => listAgents({ configDir: configDir(), workspace }))).filter(
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

  function confined(workspace: string | undefined, field: string): string | null {
    if (workspace === undefined) return null
    return confinedWorkspace(workspace, gateway.config.native.workspaceRoots, field)
  }

  function locationsFor(
    scope: AgentScope | undefined,
    workspace: string | undefined,
    field: string,
  ): AgentLocations {
    if (scope === 'project' && workspace === undefined)
      throw invalid('workspace is required for the project scope', field)
    return { configDir: configDir(), workspace: confined(workspace, field) }
  }
}

/**
 * `GET /agents`: the user's agents, those of `workspace` (under the workspace roots) and Claude Code's own
 * (`builtins`), each saying whether Claude Code loads it and whether another of the same name wins.
 */
export async function agentList(
  gateway: GatewayContext,
  builtins: readonly AgentInfo[],
  workspace: string | undefined,
): Promise<{ agents: AgentListItem[] }> {
  const loads = (scope: AgentScope) => loadsScope(gateway, scope)
  const folder =
    workspace === undefined
      ? null
      : confinedWorkspace(workspace, gateway.config.native.workspaceRoots, 'querystring.workspace')
  const files = await run(() => listAgents({ configDir: gateway.engine.claudeConfigDir, workspace: folder }))
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

/** An entry of `GET /agents`. */
interface AgentListItem {
  name: string
  description: string | null
  tools: string[] | null
  model: string | null
  scope: AgentScope | 'builtin'
  /** The agent file; null for Claude Code's own agents. */
  path: string | null
  /** Claude Code loads it: its scope is among `claude.settingSources` and the file is valid. */
  loaded: boolean
  /** A definition of higher precedence has the same name (project over user over built-in). */
  overridden: boolean
  error?: string
}

/** The API's optional settings (snake_case keys) in the agent module's terms. */
function settingsFrom(body: Record<string, unknown>): AgentPatch {
  const settings: Record<string, unknown> = {}
  for (const field of FIELDS) {
    const value = body[apiName(field)]
    if (value !== undefined) settings[field] = value
  }
  return settings as AgentPatch
}

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

function summaryView(agent: AgentSummary) {
  const { name, description, tools, model, scope, path, error } = agent
  return { name, description, tools, model, scope, path, ...(error ? { error } : {}) }
}

function detailsView(agent: AgentDetails) {
  const settings: Record<string, unknown> = {}
  for (const field of FIELDS) settings[apiName(field)] = agent.settings[field] ?? null
  return {
    name: agent.name,
    scope: agent.scope,
    path: agent.path,
    description: agent.description,
    prompt: agent.prompt,
    ...settings,
    tools: agent.tools,
    model: agent.model,
    other_front_matter: agent.other,
    ...(agent.error ? { error: agent.error } : {}),
  }
}
