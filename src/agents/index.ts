/**
 * Claude Code's agent files in their two scopes: the user's (`<CLAUDE_CONFIG_DIR>/agents/`, by default
 * `~/.claude/agents/`) and a project's (`<workspace>/.claude/agents/`). Claude Code loads every `*.md` file
 * below those folders (subfolders too) and names the agent by its front matter `name`, not by the file name;
 * where both scopes define a name, the project's wins. New files are written as `<name>.md`.
 *
 * Every path stays inside its scope: a project's agents folder must really (symlinks resolved) be inside the
 * workspace, and a file is read or rewritten only if it really is inside its scope's folder.
 */
import type { Dirent } from 'node:fs'
import { lstat, mkdir, readdir, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises'
import { basename, dirname, join, sep } from 'node:path'
import {
  AgentError,
  type AgentInput,
  type AgentPatch,
  type AgentSettings,
  formatAgentFile,
  parseAgentFile,
  patchAgentFile,
} from './format.js'

export * from './format.js'

export const AGENT_SCOPES = ['user', 'project'] as const
export type AgentScope = (typeof AGENT_SCOPES)[number]

/** Where the scopes are. */
export interface AgentLocations {
  /** Claude Code's config folder as the CLI sees it (see `claudeConfigDir`): the user scope is its `agents/`. */
  configDir: string
  /** A workspace: the project scope is its `.claude/agents/`. Without one there is no project scope. */
  workspace?: string | null
}

/** One agent file, as a list shows it. */
export interface AgentSummary {
  /** The front matter `name`; for a file without one, the file name without `.md`. */
  name: string
  description: string | null
  /** Allowed tools; null: every tool. */
  tools: string[] | null
  /** Alias, full model id or `inherit`; null: Claude Code's default for agents. */
  model: string | null
  scope: AgentScope
  /** The file's absolute path. */
  path: string
  /** Why Claude Code would not load this file (it does not parse, lacks a name, …). */
  error?: string
}

/** One agent file with everything in it. */
export interface AgentDetails extends AgentSummary {
  /** The system prompt (the file's body). */
  prompt: string
  /** The optional settings Claude Code reads, as the file has them. */
  settings: AgentSettings
  /** Other front matter keys, kept as they are when the file is rewritten. */
  other: Record<string, unknown>
}

/** Agent files larger than this are not read. */
export const MAX_AGENT_FILE_BYTES = 1024 * 1024
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
 * The agent files of both scopes (the project's only with a workspace), user's first, each scope by name
 * then path. A file that cannot be read or parsed is listed with an `error`.
 */
export async function listAgents(
  locations: AgentLocations,
  scopes: readonly AgentScope[] = AGENT_SCOPES,
): Promise<AgentSummary[]> {
  const lists = await Promise.all(
    scopes
      .filter((scope) => scope === 'user' || locations.workspace)
      .map(async (scope) => (await scan(scope, locations)).map(({ details }) => summary(details))),
  )
  return lists.flat()
}

/**
 * One agent. Without `scope`, the one Claude Code would use (the project's over the user's). Throws
 * `not_found`, or `outside_scope` for a file that links out of its folder.
 */
export async function readAgent(
  name: string,
  locations: AgentLocations,
  scope?: AgentScope,
): Promise<AgentDetails> {
  const found = await locate(name, locations, scope, 'read')
  if (!found.inside)
    throw new AgentError('outside_scope', `${found.details.path} links outside the agents folder`)
  return found.details
}

/**
 * Write a new agent file `<name>.md` in a scope. Throws `invalid` (naming the field), `exists` when the scope
 * already defines the name (unless `overwrite`: then the file that defines it is replaced).
 */
export async function createAgent(
  input: AgentInput,
  scope: AgentScope,
  locations: AgentLocations,
  options: { overwrite?: boolean } = {},
): Promise<AgentDetails> {
  const text = formatAgentFile(input)
  const dir = await ensureDir(scope, locations)
  const files = await scan(scope, locations)
  const existing = files.find((file) => file.details.name === input.name)
  const target = join(dir, `${input.name}.md`)
  const clash = existing ?? files.find((file) => file.details.path === target)
  if (clash && !options.overwrite) {
    throw new AgentError(
      'exists',
      `Agent ${input.name} already exists in the ${scope} scope (${clash.details.path})`,
    )
  }
  const path = clash?.details.path ?? target
  if (clash && !clash.inside) throw new AgentError('outside_scope', `${path} links outside the agents folder`)
  try {
    await writeFile(path, text, { flag: options.overwrite ? 'w' : 'wx' })
  } catch (error) {
    if (errno(error) === 'EEXIST' || errno(error) === 'EISDIR')
      throw new AgentError('exists', `${path} already exists in the ${scope} scope`)
    throw error
  }
  return detailsOf(path, scope, text)
}

/**
 * Change an agent (see `AgentPatch`) and rewrite its file. Without `scope` the name must be defined in one
 * scope only (`ambiguous` otherwise). Throws `not_found`, `invalid`, `unreadable`, `outside_scope`.
 */
export async function updateAgent(
  name: string,
  patch: AgentPatch,
  locations: AgentLocations,
  scope?: AgentScope,
): Promise<AgentDetails> {
  const found = await locate(name, locations, scope, 'write')
  const { path } = found.details
  if (!found.inside) throw new AgentError('outside_scope', `${path} links outside the agents folder`)
  const text = patchAgentFile(found.text, patch)
  await writeFile(path, text)
  return detailsOf(path, found.details.scope, text)
}

/** Delete an agent's file (a link is removed, not its target). Same lookup as `updateAgent`. */
export async function deleteAgent(
  name: string,
  locations: AgentLocations,
  scope?: AgentScope,
): Promise<AgentSummary> {
  const found = await locate(name, locations, scope, 'write')
  await rm(found.details.path)
  return summary(found.details)
}

/**
 * The agents Claude Code reports (`supportedAgents()`, the init message's `agents`) that no agent file of
 * these locations defines: its built-in ones (and plugins'). Pass the locations the reporting process ran
 * with (its config folder and working directory).
 */
export async function builtinAgentsOf<T extends { name: string }>(
  reported: readonly T[],
  locations: AgentLocations,
): Promise<T[]> {
  const defined = new Set((await listAgents(locations).catch(() => [])).map((agent) => agent.name))
  return reported.filter((agent) => !defined.has(agent.name))
}

// ------------------------------------------------------------------------------------------------ internals

interface ScannedFile {
  details: AgentDetails
  /** The file's text ('' when it could not be read). */
  text: string
  /** Its real path is inside the scope's real folder. */
  inside: boolean
}

function summary(details: AgentDetails): AgentSummary {
  const { name, description, tools, model, scope, path, error } = details
  return { name, description, tools, model, scope, path, ...(error ? { error } : {}) }
}

function detailsOf(path: string, scope: AgentScope, text: string, readError?: string): AgentDetails {
  const parsed = parseAgentFile(text)
  const error = readError ?? parsed.error
  return {
    name: parsed.name ?? basename(path, '.md'),
    description: parsed.description,
    tools: parsed.settings.tools ?? null,
    model: typeof parsed.settings.model === 'string' ? parsed.settings.model : null,
    scope,
    path,
    ...(error ? { error } : {}),
    prompt: readError ? '' : parsed.prompt,
    settings: readError ? {} : parsed.settings,
    other: readError ? {} : parsed.other,
  }
}

/** Every agent file of a scope, read and parsed. */
async function scan(scope: AgentScope, locations: AgentLocations): Promise<ScannedFile[]> {
  const dir = await confinedDir(scope, locations)
  if (!dir) return []
  const paths = await markdownFiles(dir, 0)
  const files = await Promise.all(paths.map((path) => readAgentFile(path, dir, scope)))
  return files.sort(
    (a, b) =>
      compare(a.details.name, b.details.name) ||
      Number(basename(b.details.path) === `${b.details.name}.md`) -
        Number(basename(a.details.path) === `${a.details.name}.md`) ||
      compare(a.details.path, b.details.path),
  )
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

async function readAgentFile(path: string, realDir: string, scope: AgentScope): Promise<ScannedFile> {
  let real: string
  try {
    real = await realpath(path)
  } catch (error) {
    return {
      details: detailsOf(path, scope, '', `Cannot read the file (${errno(error)})`),
      text: '',
      inside: false,
    }
  }
  const inside = isInside(real, realDir)
  if (!inside) {
    return {
      details: detailsOf(path, scope, '', 'The file links outside the agents folder'),
      text: '',
      inside,
    }
  }
  try {
    const info = await stat(real)
    if (!info.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' })
    if (info.size > MAX_AGENT_FILE_BYTES) {
      const error = `The file is larger than ${MAX_AGENT_FILE_BYTES} bytes`
      return { details: detailsOf(path, scope, '', error), text: '', inside }
    }
    const text = await readFile(real, 'utf8')
    return { details: detailsOf(path, scope, text), text, inside }
  } catch (error) {
    return { details: detailsOf(path, scope, '', `Cannot read the file (${errno(error)})`), text: '', inside }
  }
}

async function markdownFiles(dir: string, depth: number): Promise<string[]> {
  let entries: Dirent[]
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch (error) {
    if (depth > 0 || errno(error) === 'ENOENT' || errno(error) === 'ENOTDIR') return []
    throw error
  }
  const found: string[] = []
  for (const entry of entries) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      if (depth < MAX_DEPTH) found.push(...(await markdownFiles(path, depth + 1)))
    } else if (entry.name.endsWith('.md') && (entry.isFile() || entry.isSymbolicLink())) {
      found.push(path)
    }
  }
  return found
}

/**
 * Find the file defining `name`: in `scope`, or else the project's then the user's (`read`), or the only
 * scope defining it (`write`). Prefers `<name>.md` where one scope has several.
 */
async function locate(
  name: string,
  locations: AgentLocations,
  scope: AgentScope | undefined,
  mode: 'read' | 'write',
): Promise<ScannedFile> {
  const scopes: AgentScope[] = scope ? [scope] : locations.workspace ? ['project', 'user'] : ['user']
  const matches: ScannedFile[] = []
  for (const each of scopes) {
    const match = (await scan(each, locations)).find((file) => file.details.name === name)
    if (match) matches.push(match)
  }
  const [first, second] = matches
  if (!first) {
    const where = scope ? `the ${scope} scope` : scopes.map((each) => `the ${each} scope`).join(' or ')
    throw new AgentError('not_found', `Agent ${name} does not exist in ${where}`)
  }
  if (second && mode === 'write') {
    throw new AgentError(
      'ambiguous',
      `Agent ${name} exists in both the project and the user scope: say which (scope)`,
      'scope',
    )
  }
  return first
}

/**
 * A scope's folder, real path, or null when it does not exist. A project's must be inside its workspace
 * (`outside_scope` otherwise).
 */
async function confinedDir(scope: AgentScope, locations: AgentLocations): Promise<string | null> {
  const dir = agentsDir(scope, locations)
  let real: string
  try {
    real = await realpath(dir)
  } catch (error) {
    if (errno(error) === 'ENOENT' || errno(error) === 'ENOTDIR') return null
    throw error
  }
  if (scope === 'project') await checkInsideWorkspace(real, locations.workspace!)
  return real
}

/** A scope's folder, created if needed (never outside the workspace for a project). */
async function ensureDir(scope: AgentScope, locations: AgentLocations): Promise<string> {
  const dir = agentsDir(scope, locations)
  if (scope === 'project') {
    // Check what exists of the path before creating the rest: `.claude` may be a link out of the workspace.
    let existing = dir
    while (!(await exists(existing)) && dirname(existing) !== existing) existing = dirname(existing)
    await checkInsideWorkspace(await realpath(existing), locations.workspace!)
  }
  try {
    await mkdir(dir, { recursive: true })
  } catch (error) {
    if (errno(error) !== 'EEXIST' && errno(error) !== 'ENOTDIR') throw error
    throw new AgentError('invalid', `${dir} cannot be created: something else is in its way`, 'scope')
  }
  const real = await confinedDir(scope, locations)
  if (!real) throw new AgentError('not_found', `${dir} could not be created`)
  if (!(await stat(real)).isDirectory()) throw new AgentError('invalid', `${dir} is not a folder`, 'scope')
  return real
}

async function checkInsideWorkspace(real: string, workspace: string): Promise<void> {
  const realWorkspace = await realpath(workspace)
  if (!isInside(real, realWorkspace))
    throw new AgentError('outside_scope', `The project's agents folder is outside the workspace ${workspace}`)
}

function isInside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep)
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path)
    return true
  } catch {
    return false
  }
}

function errno(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined
}

export * from './transcript.js'
