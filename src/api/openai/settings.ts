/**
 * The session settings a Chat Completions request asks for: the gateway's own options (top-level or in
 * `extra_body`) held to what the configuration lets requests choose, with the model, system prompt,
 * thinking, effort, output schema, client tools and workspace.
 */
import type { Config } from '../../config/index.js'
import type { NewSession } from '../../engine/sessions.js'
import type { Effort, PermissionMode, ThinkingSetting } from '../../store/types.js'
import type { UserWorkspaces } from '../../users/workspaces.js'
import { defaultWorkspaceUnder, workspaceUnder } from '../workspaces.js'
import { invalidRequest } from './errors.js'
import type { CatalogueEntry } from './models.js'
import { type ChatCompletionRequest, GatewayOptions } from './schema.js'
import { checkedSchema, clientTools, instructionsFor } from './tools.js'

/** The gateway's own keys sent top-level (OpenAI SDKs merge `extra_body` into the body). */
export function pickOptions(body: ChatCompletionRequest): GatewayOptions {
  const picked: Record<string, unknown> = {}
  for (const key of Object.keys(GatewayOptions.properties)) {
    const value = (body as Record<string, unknown>)[key]
    if (value !== undefined) picked[key] = value
  }
  return picked as GatewayOptions
}

/** The settings of the session that answers the request (`system`: its system and developer messages). */
export function sessionSettings(
  body: ChatCompletionRequest,
  options: GatewayOptions,
  config: Config,
  model: CatalogueEntry,
  system: string[],
  workspaces: UserWorkspaces = {
    roots: config.openai.workspaceRoots,
    rootsKey: 'openai.workspaceRoots',
    home: null,
  },
  allowedTools?: readonly string[],
): NewSession {
  const { openai } = config
  const requested = options.allowed_tools ?? []
  for (const [i, tool] of requested.entries()) {
    if (!openai.requestableTools.includes(tool)) {
      throw invalidRequest(
        `Tool '${tool}' may not be enabled by requests; this gateway allows: ${openai.requestableTools.join(', ') || 'none'}.`,
        `allowed_tools[${i}]`,
      )
    }
  }
  const configured = config.claude.permissionMode
  const permissionMode = (options.permission_mode ??
    (openai.permissionModes.includes(configured) ? configured : 'default')) as PermissionMode
  if (!openai.permissionModes.includes(permissionMode)) {
    throw invalidRequest(
      `Permission mode '${options.permission_mode}' is not allowed; this gateway allows: ${openai.permissionModes.join(', ')}.`,
      'permission_mode',
    )
  }
  if (options.agent && !openai.requestableAgents.includes(options.agent)) {
    throw invalidRequest(
      `Agent '${options.agent}' may not be chosen by requests; this gateway allows: ${openai.requestableAgents.join(', ') || 'none'}.`,
      'agent',
    )
  }
  // The gateway's defaults are not the caller's asking: those their user may not have are left out, not
  // refused (src/users/policy.ts judges what the request itself names).
  const defaults = allowedTools
    ? openai.defaultTools.filter((tool) => allowedTools.includes(tool))
    : openai.defaultTools
  const tools = [...new Set([...defaults, ...requested])]
  const append = [...system, ...instructionsFor(body), options.append_system_prompt ?? '']
    .filter(Boolean)
    .join('\n\n')
  return {
    workspace: options.workspace
      ? confinedWorkspace(options.workspace, workspaces)
      : confinedDefaultWorkspace(config, workspaces),
    model: model.claudeModel,
    agent: options.agent ?? null,
    permissionMode,
    tools,
    allowedTools: tools,
    disallowedTools: options.disallowed_tools ?? [],
    systemPrompt: null,
    appendSystemPrompt: append || null,
    thinking: thinkingSetting(body, options),
    effort: effortOf(body.reasoning_effort),
    outputSchema: outputSchema(body),
    maxOutputTokens: body.max_completion_tokens ?? body.max_tokens ?? null,
    maxTurns: options.max_turns ?? null,
    clientTools: clientTools(body),
    additionalDirectories: [],
    ...(options.mcp_servers !== undefined ? { mcpServers: options.mcp_servers } : {}),
    askPermissions: false,
  }
}

function thinkingSetting(body: ChatCompletionRequest, options: GatewayOptions): ThinkingSetting | null {
  if (options.thinking?.type === 'enabled')
    return { type: 'enabled', budgetTokens: options.thinking.budget_tokens }
  if (options.thinking) return { type: options.thinking.type }
  if (body.reasoning_effort === 'none') return { type: 'disabled' }
  return null
}

function effortOf(effort: ChatCompletionRequest['reasoning_effort']): Effort | null {
  switch (effort) {
    case undefined:
    case 'none':
      return null
    case 'minimal':
      return 'low'
    default:
      return effort as Effort
  }
}

function outputSchema(body: ChatCompletionRequest): Record<string, unknown> | null {
  const format = body.response_format
  if (format?.type === 'json_schema') {
    return checkedSchema(
      format.json_schema.schema ?? { type: 'object' },
      'response_format.json_schema.schema',
    )
  }
  if (format?.type === 'json_object') return { type: 'object', additionalProperties: true }
  return null
}

/** A requested workspace must resolve (symlinks included) to a folder under one of the caller's roots. */
function confinedWorkspace(requested: string, { roots, rootsKey }: UserWorkspaces): string {
  if (roots.length === 0) {
    throw invalidRequest(
      `This gateway does not let requests choose a workspace (${rootsKey} is empty).`,
      'workspace',
    )
  }
  return workspacePath(workspaceUnder(requested, roots))
}

/**
 * The default workspace of a request that names none: a user's own folder when they have one. Else, where
 * requests may choose workspaces it must be under the same roots; where they may not (no roots), the
 * default is the only one /v1 uses, the operator's choice (undefined: the engine applies it).
 */
function confinedDefaultWorkspace(
  config: Config,
  { roots, rootsKey, home }: UserWorkspaces,
): string | undefined {
  if (home !== null) return workspacePath(workspaceUnder(home, roots))
  if (roots.length === 0) return undefined
  return workspacePath(defaultWorkspaceUnder(config, roots, rootsKey))
}

/** The folder a workspace lookup found, or its problem as the request's 400. */
function workspacePath(resolved: ReturnType<typeof workspaceUnder>): string {
  if ('problem' in resolved) throw invalidRequest(`${resolved.problem}.`, 'workspace')
  return resolved.path
}
