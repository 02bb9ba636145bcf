/**
 * Claude Code's agent files, listed, read, created, changed and deleted in their two scopes (where those
 * are: ./scopes.ts). Claude Code loads every `*.md` file below a scope's folder and names the agent by its
 * front matter `name`, not by the file name; where both scopes define a name, the project's wins. New files
 * are written as `<name>.md`.
 *
 * Every path stays inside its scope: a file is read or rewritten only if it really (symlinks resolved) is
 * inside its scope's folder, through checked descriptors.
 */
import { unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import {
  openFolder,
  openForReading,
  openForWriting,
  readUpTo,
  replaceContent,
} from '../tools/confined-files.js'
import { confineTo, errnoOf } from '../tools/confinement.js'
import {
  AgentError,
  type AgentInput,
  type AgentPatch,
  type AgentSettings,
  formatAgentFile,
  parseAgentFile,
  patchAgentFile,
} from './format.js'
import {
  AGENT_SCOPES,
  type AgentLocations,
  type AgentScope,
  confinedDir,
  confinedError,
  ensureDir,
  isOutside,
  linksOut,
  markdownFiles,
} from './scopes.js'

export * from './format.js'
export { AGENT_SCOPES, type AgentLocations, type AgentScope, agentsDir } from './scopes.js'

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
  if (!found.inside) throw linksOut(found.details.path)
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
  if (clash && !clash.inside) throw linksOut(path)
  await confinedWrite(dir, path, text, options.overwrite ? 'replace' : 'create', scope)
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
  if (!found.inside) throw linksOut(path)
  const text = patchAgentFile(found.text, patch)
  await confinedWrite(found.root, path, text, 'replace', found.details.scope)
  return detailsOf(path, found.details.scope, text)
}

/** Delete an agent's file (a link is removed, not its target). Same lookup as `updateAgent`. */
export async function deleteAgent(
  name: string,
  locations: AgentLocations,
  scope?: AgentScope,
): Promise<AgentSummary> {
  const found = await locate(name, locations, scope, 'write')
  // Removed in its folder as that folder's checked descriptor sees it: a link goes, not its target, and a
  // folder on the way swapped for a symlink since the scan cannot make it remove a file elsewhere.
  const { path } = found.details
  const folder = await confinedStep(path, () => openFolder(found.root, dirname(path), { shown: path }))
  try {
    await unlink(folder.at(basename(path)))
  } finally {
    await folder.close()
  }
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
  /** The real path of the scope's folder it was found in. */
  root: string
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
  const paths = await markdownFiles(dir, dir, 0)
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
  const unreadable = (why: string, inside: boolean): ScannedFile => ({
    root: realDir,
    details: detailsOf(path, scope, '', why),
    text: '',
    inside,
  })
  let real: string
  try {
    real = await confineTo(realDir, path)
  } catch (error) {
    if (isOutside(error)) return unreadable('The file links outside the agents folder', false)
    return unreadable(`Cannot read the file (${errnoOf(error) ?? (error as Error).message})`, false)
  }
  try {
    // Read through a descriptor checked to lead inside the folder (see openForReading).
    const handle = await openForReading(realDir, real, path)
    try {
      const info = await handle.stat()
      if (!info.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' })
      const data = await readUpTo(handle, MAX_AGENT_FILE_BYTES)
      if (data.length > MAX_AGENT_FILE_BYTES)
        return unreadable(`The file is larger than ${MAX_AGENT_FILE_BYTES} bytes`, true)
      const text = data.toString('utf8')
      return { root: realDir, details: detailsOf(path, scope, text), text, inside: true }
    } finally {
      await handle.close()
    }
  } catch (error) {
    if (isOutside(error)) return unreadable('The file links outside the agents folder', false)
    return unreadable(`Cannot read the file (${errnoOf(error) ?? 'EISDIR'})`, true)
  }
}

/** `*.md` files below `dir` (inside the scope's real folder `root`), listed from checked descriptors. */

/**
 * Writes an agent file inside the scope's real folder `root`: `create` only when it does not exist,
 * `replace` its content. Through checked descriptors (see openForWriting): never out of the folder.
 */
async function confinedWrite(
  root: string,
  path: string,
  text: string,
  mode: 'create' | 'replace',
  scope: AgentScope,
): Promise<void> {
  const real = await confinedStep(path, () => confineTo(root, path))
  if (mode === 'create') {
    const folder = await confinedStep(path, () => openFolder(root, dirname(real), { shown: path }))
    try {
      const handle = await folder.createFile(basename(real), { shown: path, field: 'name', mode: 0o666 })
      try {
        await replaceContent(handle, text)
      } finally {
        await handle.close()
      }
    } catch (error) {
      if (errnoOf(error) === 'EEXIST' || errnoOf(error) === 'EISDIR')
        throw new AgentError('exists', `${path} already exists in the ${scope} scope`)
      throw confinedError(error, path)
    } finally {
      await folder.close()
    }
    return
  }
  const { handle } = await confinedStep(path, () => openForWriting(root, real, path))
  try {
    await replaceContent(handle, text)
  } finally {
    await handle.close()
  }
}

async function confinedStep<T>(path: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (error) {
    throw confinedError(error, path)
  }
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
