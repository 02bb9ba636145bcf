import { realpathSync, statSync } from 'node:fs'
import type { Config } from '../config/index.js'
import { isInside } from '../tools/confinement.js'

/**
 * A workspace a client asks for, resolved to its real path (symlinks included) and accepted only under one
 * of the allowed roots. Returns the path, or why it is refused.
 */
export function workspaceUnder(
  requested: string,
  roots: readonly string[],
): { path: string } | { problem: string } {
  let real: string
  try {
    real = realpathSync(requested)
  } catch {
    return { problem: `Workspace '${requested}' does not exist` }
  }
  if (!statSync(real).isDirectory()) return { problem: `Workspace '${requested}' is not a directory` }
  const inside = roots.some((root) => {
    const realRoot = realOrNull(root)
    return realRoot !== null && isInside(realRoot, real)
  })
  return inside ? { path: real } : { problem: `Workspace '${requested}' is outside the allowed roots` }
}

function realOrNull(path: string): string | null {
  try {
    return realpathSync(path)
  } catch {
    return null
  }
}

/** The workspace of a session that names none: `claude.defaultWorkspace`, else the gateway's working folder. */
export function defaultWorkspace(config: Config): string {
  return config.claude.defaultWorkspace ?? process.cwd()
}

/**
 * The default workspace under `roots` (the configuration key `rootsKey` holds them), like a workspace a
 * client names: its real path, or why it may not be used, naming the key to set. A gateway started from
 * `/` (systemd's default working folder) would otherwise give every session that names no workspace the
 * whole file system.
 */
export function defaultWorkspaceUnder(
  config: Config,
  roots: readonly string[],
  rootsKey: string,
): { path: string } | { problem: string } {
  const workspace = defaultWorkspace(config)
  const resolved = workspaceUnder(workspace, roots)
  if (!('problem' in resolved)) return resolved
  const source =
    config.claude.defaultWorkspace === null
      ? "the gateway's working folder, as claude.defaultWorkspace is not set"
      : 'claude.defaultWorkspace'
  return {
    problem:
      `The default workspace '${workspace}' (${source}) cannot be used: ${resolved.problem} ` +
      `(${rootsKey}: ${roots.length > 0 ? roots.join(', ') : 'none'}). Set claude.defaultWorkspace to a ` +
      `folder under ${rootsKey}, or name a workspace`,
  }
}
