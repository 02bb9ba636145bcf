/** What a request names, resolved for a native route: or the native error that says why it cannot be. */
import type { Config } from '../../config/index.js'
import type { SessionManager } from '../../engine/sessions.js'
import type { GatewayContext } from '../../gateway.js'
import type { SessionRecord, SessionSettings } from '../../store/types.js'
import { forbidden } from '../../users/errors.js'
import { allowedPatch, allowedSettings } from '../../users/policy.js'
import type { Principal } from '../../users/principal.js'
import { type UserWorkspaces, workspacesFor } from '../../users/workspaces.js'
import { defaultWorkspaceUnder, workspaceUnder } from '../workspaces.js'
import { ApiError, invalid, notFound } from './errors.js'

/**
 * The one rule for "session missing or closed", for both APIs: a closed session is gone for every request
 * that reads it or runs something in it, exactly as if it had never existed. Undefined when it is either.
 */
export async function liveSession(engine: SessionManager, id: string): Promise<SessionRecord | undefined> {
  const record = await engine.getSession(id)
  return record && record.state !== 'closed' ? record : undefined
}

export interface SessionLookup {
  /**
   * How a closed session is answered. `'missing'` (the default): 404 `not_found`, as `liveSession` sees it.
   * `'refused'`: 409 `session_closed`, for resume and pause only: they act on the session's state itself,
   * so the caller is told the session exists but nothing can reopen it (docs/api.md, "Errors").
   */
  closed?: 'missing' | 'refused'
}

/** The session `id` names: else 404 `not_found` when there is none, and for a closed one see `SessionLookup`. */
export async function sessionOrThrow(
  engine: SessionManager,
  id: string,
  { closed = 'missing' }: SessionLookup = {},
): Promise<SessionRecord> {
  const record = await liveSession(engine, id)
  if (record) return record
  if (closed === 'refused' && (await engine.getSession(id)))
    throw new ApiError('session_closed', `Session ${id} is closed`)
  throw notFound(`Session ${id}`)
}

/** The real path of a workspace folder under one of `roots`; else a 400 naming `field`. */
export function confinedWorkspace(requested: string, roots: readonly string[], field: string): string {
  const resolved = workspaceUnder(requested, roots)
  if ('problem' in resolved) throw invalid(resolved.problem, field)
  return resolved.path
}

/** The real path of the default workspace when it is under `roots` (`rootsKey`); else a 400 naming `field`. */
export function confinedDefaultWorkspace(
  config: Config,
  roots: readonly string[],
  rootsKey: string,
  field: string,
): string {
  const resolved = defaultWorkspaceUnder(config, roots, rootsKey)
  if ('problem' in resolved) throw invalid(resolved.problem, field)
  return resolved.path
}

/** Where `principal`'s sessions may work through /api (src/users/workspaces.ts). */
export const nativeWorkspaces = (gateway: GatewayContext, principal: Principal): Promise<UserWorkspaces> =>
  workspacesFor(gateway, principal, 'native')

/**
 * The workspace of a session that names none: the principal's own folder when they have one, else the
 * configured default, which must be under the roots too; else a 400 naming `field`.
 */
export function homeWorkspace(config: Config, workspaces: UserWorkspaces, field: string): string {
  const { roots, rootsKey, home } = workspaces
  return home === null
    ? confinedDefaultWorkspace(config, roots, rootsKey, field)
    : confinedWorkspace(home, roots, field)
}

/** A check of src/users/policy.ts, run with the gateway's configuration and user directory. */
const heldToPolicy =
  (check: typeof allowedSettings) =>
  (
    gateway: GatewayContext,
    principal: Principal,
    settings: Partial<SessionSettings>,
  ): Promise<Partial<SessionSettings>> =>
    check(gateway.config, gateway.users.directory, principal, settings)

/**
 * The settings `principal` asked a new session for, held to their user's policy (src/users/policy.ts): what
 * they may not have is a 403 `forbidden` naming the field.
 */
export const permittedSettings = heldToPolicy(allowedSettings)

/**
 * A change to a session's settings, held to its user's policy for the fields it has only (no new-session
 * defaults are added: a change of the model keeps the session's tools and permission mode).
 */
export const permittedPatch = heldToPolicy(allowedPatch)

/** Claude Code's config folder (user scope: agents, commands, memory) as `user`'s sessions see it. */
export interface ClaudeHome {
  dir: string
  /** The user's own (`claude.configDir`); false: the gateway's, shared by everyone without one. */
  own: boolean
}

/** The config folder of `user` (a name; null: the operator): their own when they have one, else the shared one. */
export async function claudeHome(
  gateway: GatewayContext,
  user: string | null | undefined,
): Promise<ClaudeHome> {
  const { engine } = gateway
  // As the engine runs their processes (`configDirOf`): their Claude account's folder, else the shared one.
  const dir = await engine.configDirOf(user ?? null)
  return { dir, own: dir !== engine.claudeConfigDir }
}

/** A change to the user scope: the shared folder is everyone's, so only admins change it. */
export function checkHomeWritable(home: ClaudeHome, principal: Principal, field?: string): void {
  if (!home.own && principal.role !== 'admin')
    throw forbidden("The user scope is the gateway's shared Claude Code folder: only admins change it", field)
}
