/**
 * Where a principal's sessions may work. The operator, and admins without roots of their own, have the
 * configured roots (`native.workspaceRoots`, `openai.workspaceRoots`) as a gateway without users always
 * had; a user given `workspaceRoots` has those; everyone else has one folder of their own,
 * `<users.workspacesDir>/<name>`, made on first use and readable by the gateway's account only. The API
 * confines every workspace a request names to these roots (src/api/workspaces.ts).
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Config } from '../config/index.js'
import type { GatewayContext } from '../gateway.js'
import type { Principal } from './principal.js'

export type WorkspaceApi = 'native' | 'openai'

export interface UserWorkspaces {
  roots: string[]
  /** What sets the roots, named when a workspace is refused (`native.workspaceRoots`, `users.workspacesDir`). */
  rootsKey: string
  /**
   * The workspace of a session that names none: null for the configured default (`claude.defaultWorkspace`),
   * else the first of the principal's own roots.
   */
  home: string | null
}

/** The folders `principal`'s sessions may work in through `api`. */
export async function rootsFor(
  gateway: Pick<GatewayContext, 'config' | 'users'>,
  principal: Principal,
  api: WorkspaceApi,
): Promise<string[]> {
  return (await workspacesFor(gateway, principal, api)).roots
}

/** `rootsFor` with where the roots come from and the default workspace. */
export async function workspacesFor(
  { config, users }: Pick<GatewayContext, 'config' | 'users'>,
  principal: Principal,
  api: WorkspaceApi,
): Promise<UserWorkspaces> {
  const configured = {
    roots: config[api].workspaceRoots,
    rootsKey: `${api}.workspaceRoots`,
    home: null,
  }
  if (principal.id === null) return configured
  const user = await users.directory.user(principal.id)
  const own = user?.workspaceRoots ?? []
  if (own.length > 0)
    return { roots: own, rootsKey: `the workspaceRoots of user ${principal.id}`, home: own[0] ?? null }
  if (principal.role === 'admin') return configured
  const folder = join(workspacesDir(config), principal.id)
  // 0o700: another account on the host has no business in a user's files; the gateway's runs every session.
  await mkdir(folder, { recursive: true, mode: 0o700 })
  return { roots: [folder], rootsKey: 'users.workspacesDir', home: folder }
}

/** Where users without roots of their own get their folder. */
export const workspacesDir = (config: Pick<Config, 'users' | 'store'>): string =>
  config.users.workspacesDir ?? join(config.store.dataDir, 'workspaces')
