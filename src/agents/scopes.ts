/**
 * Where Claude Code's agent files live: the user's scope (`<CLAUDE_CONFIG_DIR>/agents/`, by default
 * `~/.claude/agents/`) and a project's (`<workspace>/.claude/agents/`), each folder by its real path, a
 * project's only inside its workspace, and the `*.md` files below a folder (subfolders too).
 */
import type { Dirent } from 'node:fs'
import { mkdir, realpath, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { listFolder, openFolder } from '../tools/confined-files.js'
import { confineTo, errnoOf, isInside, isToolError } from '../tools/confinement.js'
import { AgentError } from './format.js'

export const AGENT_SCOPES = ['user', 'project'] as const
export type AgentScope = (typeof AGENT_SCOPES)[number]

/** Where the scopes are. */
export interface AgentLocations {
  /** Claude Code's config folder as the CLI sees it (see `claudeConfigDir`): the user scope is its `agents/`. */
  configDir: string
  /** A workspace: the project scope is its `.claude/agents/`. Without one there is no project scope. */
  workspace?: string | null
}

/** How deep below a scope's folder files are looked for. */
const MAX_DEPTH = 8

/** The folder of a scope. Throws `invalid` for the project scope without a workspace. */
export function agentsDir(scope: AgentScope, locations: AgentLocations): string {
  if (scope === 'user') return join(locations.configDir, 'agents')
  if (!locations.workspace)
    throw new AgentError('invalid', 'The project scope needs a workspace', 'workspace')
  return join(locations.workspace, '.claude', 'agents')
}

/**
 * A scope's folder, real path, or null when it does not exist. A project's must be inside its workspace
 * (`outside_scope` otherwise).
 */
export async function confinedDir(scope: AgentScope, locations: AgentLocations): Promise<string | null> {
  const dir = agentsDir(scope, locations)
  let real: string
  try {
    real = await realpath(dir)
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return null
    throw error
  }
  if (scope === 'project' && !isInside(await realpath(locations.workspace!), real))
    throw outsideWorkspace(locations.workspace!)
  return real
}

/** A scope's folder, created if needed (never outside the workspace for a project). */
export async function ensureDir(scope: AgentScope, locations: AgentLocations): Promise<string> {
  const dir = agentsDir(scope, locations)
  if (scope === 'project') {
    // Created one folder at a time from the workspace's checked descriptors: `.claude` may be (or become)
    // a link out of the workspace, and nothing may be created through it. The folder as opened is the one.
    try {
      const workspace = await realpath(locations.workspace!)
      const real = await confineTo(workspace, dir)
      await (await openFolder(workspace, real, { shown: dir, create: true })).close()
      return real
    } catch (error) {
      if (isOutside(error)) throw outsideWorkspace(locations.workspace!)
      if (isToolError(error) && error.code === 'not_found')
        throw new AgentError('not_found', `${dir} could not be created: ${error.message}`)
      if (isToolError(error) || errnoOf(error) === 'ENOENT') throw inTheWay(dir)
      throw error
    }
  }
  try {
    await mkdir(dir, { recursive: true })
  } catch (error) {
    if (errnoOf(error) !== 'EEXIST' && errnoOf(error) !== 'ENOTDIR') throw error
    throw inTheWay(dir)
  }
  const real = await confinedDir(scope, locations)
  if (!real) throw new AgentError('not_found', `${dir} could not be created`)
  if (!(await stat(real)).isDirectory()) throw new AgentError('invalid', `${dir} is not a folder`, 'scope')
  return real
}

const inTheWay = (dir: string) =>
  new AgentError('invalid', `${dir} cannot be created: something else is in its way`, 'scope')

const outsideWorkspace = (workspace: string) =>
  new AgentError('outside_scope', `The project's agents folder is outside the workspace ${workspace}`)

/** A file (named by its path) whose real path is not inside its scope's folder. */
export const linksOut = (path: string) =>
  new AgentError('outside_scope', `${path} links outside the agents folder`)

/** The confinement's refusal of a path that leads out of its folder. */
export const isOutside = (error: unknown) => isToolError(error) && error.code === 'path_outside_workspace'

/** The confinement's refusals as AgentErrors. */
export function confinedError(error: unknown, path: string): unknown {
  if (!isToolError(error)) return error
  if (error.code === 'path_outside_workspace') return linksOut(path)
  if (error.code === 'invalid_input' && /directory/.test(error.message))
    return new AgentError('exists', `${path} exists and is not a file`)
  return new AgentError('invalid', `${path}: ${error.message}`)
}

/** `*.md` files below `dir` (inside the scope's real folder `root`), listed from checked descriptors. */
export async function markdownFiles(root: string, dir: string, depth: number): Promise<string[]> {
  let entries: Dirent[]
  try {
    entries = await listFolder(root, dir)
  } catch (error) {
    if (depth > 0 || isMissing(error)) return []
    throw confinedError(error, dir)
  }
  const found: string[] = []
  for (const entry of entries) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      if (depth < MAX_DEPTH) found.push(...(await markdownFiles(root, path, depth + 1)))
    } else if (entry.name.endsWith('.md') && (entry.isFile() || entry.isSymbolicLink())) {
      found.push(path)
    }
  }
  return found
}

const isMissing = (error: unknown) =>
  errnoOf(error) === 'ENOENT' ||
  errnoOf(error) === 'ENOTDIR' ||
  (isToolError(error) && error.code === 'not_found')
