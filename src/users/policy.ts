/**
 * What a user's sessions may ask of Claude Code: their allowed tools, permission modes and MCP servers
 * (`users.list[].allowedTools`, `permissionModes`, `mcpServers`; approved servers in `users.mcpServers`).
 * The API layer runs a new session's requested settings through `allowedSettings`, and a change to a
 * session's settings through `allowedPatch`; what is refused is a 403 naming the field, an MCP server nobody
 * approved a 400.
 */
import type { Config } from '../config/index.js'
import { GatewayError } from '../engine/errors.js'
import type { UserRecord } from '../store/access.js'
import { PERMISSION_MODES, type PermissionMode, type SessionSettings } from '../store/types.js'
import type { UserDirectory } from './directory.js'
import { forbidden } from './errors.js'
import type { Principal } from './principal.js'

/** A user's modes when their record names none: everything but skipping every permission check. */
const USER_MODES: readonly PermissionMode[] = PERMISSION_MODES.filter((mode) => mode !== 'bypassPermissions')

/**
 * Runs the settings `principal` asked for through what they may have: throws AccessError `forbidden` naming
 * the field when they asked for something they may not, GatewayError `invalid_request` for an MCP server
 * that is not approved.
 */
type SettingsCheck = (
  config: Config,
  directory: Pick<UserDirectory, 'user'>,
  principal: Principal,
  requested: Partial<SessionSettings>,
) => Promise<Partial<SessionSettings>>

/**
 * The settings of a new session, limited to what its user may have. Absent `tools` become the user's
 * `allowedTools` when those are set; an absent permission mode becomes one they may use when the gateway's
 * default is not (`claude.permissionMode`).
 */
export const allowedSettings: SettingsCheck = async (config, directory, principal, requested) => {
  const user = await userOf(directory, principal)
  const allowed = checked(config, principal, user, requested)
  const modes = permissionModes(principal, user)
  if (allowed.permissionMode === undefined && !modes.includes(config.claude.permissionMode))
    allowed.permissionMode = modes.includes('default') ? 'default' : modes[0]
  if (user?.allowedTools && allowed.tools === undefined) allowed.tools = [...user.allowedTools]
  return allowed
}

/**
 * A change to an existing session's settings, held to the same rules as `allowedSettings` but for the
 * fields it has only: a change of the model alone must leave the session's tools and permission mode as
 * they are, not put the defaults of a new session back (which could give back tools taken away).
 */
export const allowedPatch: SettingsCheck = async (config, directory, principal, patch) =>
  checked(config, principal, await userOf(directory, principal), patch)

const userOf = async (directory: Pick<UserDirectory, 'user'>, principal: Principal) =>
  principal.id === null ? undefined : await directory.user(principal.id)

/** `requested` with each field it has checked; `tools: null` (Claude Code's whole set) becomes what they may use. */
function checked(
  config: Config,
  principal: Principal,
  user: UserRecord | undefined,
  requested: Partial<SessionSettings>,
): Partial<SessionSettings> {
  const allowed = { ...requested }
  const modes = permissionModes(principal, user)
  if (requested.permissionMode !== undefined && !modes.includes(requested.permissionMode)) {
    throw forbidden(
      `Permission mode ${requested.permissionMode} is not allowed for you (allowed: ${modes.join(', ')})`,
      'body.permission_mode',
    )
  }
  const tools = user?.allowedTools
  if (tools && requested.tools !== undefined) {
    const refused = requested.tools?.filter((tool) => !tools.includes(tool)) ?? []
    if (refused.length > 0) throw forbidden(`Tools not allowed for you: ${refused.join(', ')}`, 'body.tools')
    allowed.tools = requested.tools ?? [...tools]
  }
  for (const name of requested.mcpServers ?? []) {
    if (!Object.hasOwn(config.users.mcpServers, name))
      throw new GatewayError(
        'invalid_request',
        `No MCP server ${name} is approved (users.mcpServers)`,
        undefined,
        'body.mcp_servers',
      )
    if (principal.role !== 'admin' && !(user?.mcpServers && Object.hasOwn(user.mcpServers, name)))
      throw forbidden(`MCP server ${name} is not allowed for you`, 'body.mcp_servers')
  }
  return allowed
}

/** The modes a principal may use: their record's, else all for admins and every mode but bypass for others. */
function permissionModes(principal: Principal, user: UserRecord | undefined): readonly PermissionMode[] {
  if (user?.permissionModes) return user.permissionModes
  return principal.role === 'admin' ? PERMISSION_MODES : USER_MODES
}

/**
 * Refuses a direct tool call (`POST /api/sessions/{id}/tools/{name}`) a user's Claude could not make in that
 * session: the call runs at once, without a permission prompt, so it is held to the session's `tools` and
 * `disallowedTools` and to the user's `allowedTools` (`claudeName`: the tool's Claude Code name, `Bash`).
 * Admins and the operator run any; viewers change nothing (refused before).
 */
export async function allowedDirectTool(
  directory: Pick<UserDirectory, 'user'>,
  principal: Principal,
  settings: Pick<SessionSettings, 'tools' | 'disallowedTools'>,
  claudeName: string,
): Promise<void> {
  if (principal.role === 'admin') return
  const user = await userOf(directory, principal)
  const refused =
    (user?.allowedTools !== undefined && !user.allowedTools.includes(claudeName)) ||
    (settings.tools !== null && !settings.tools.includes(claudeName)) ||
    settings.disallowedTools.includes(claudeName)
  if (refused) throw forbidden(`${claudeName} is not among the tools this session may use`, 'params.name')
}
