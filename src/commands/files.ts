/**
 * Claude Code's command and skill files, as it finds them:
 *
 * - commands: every `*.md` below `<config dir>/commands/` (user) and `<workspace>/.claude/commands/`
 *   (project); a file in a subfolder is named `folder:name`;
 * - skills: `<config dir>/skills/<name>/SKILL.md` (user) and `<workspace>/.claude/skills/<name>/SKILL.md`
 *   (project), named by their front matter `name` (the folder's name otherwise, and an alias when it differs).
 *
 * Both are Markdown with optional YAML front matter (`description`, `argument-hint`), the agent files' format:
 * they are read with the same parser. Without a `description`, Claude Code shows the body's first line.
 * Only files that really (symlinks resolved) are inside their folder are read, and a project's folders must
 * be inside the workspace.
 */
import { readdir, realpath } from 'node:fs/promises'
import { join, sep } from 'node:path'
import { parseAgentFile } from '../agents/index.js'
import { readFileInside } from '../tools/confined-files.js'
import { isInside } from '../tools/confinement.js'

export const FILE_SOURCES = ['user', 'project', 'skill-user', 'skill-project'] as const
export type FileSource = (typeof FILE_SOURCES)[number]

/** Where the files are: Claude Code's config folder (user scope) and a workspace (project scope, optional). */
export interface FileLocations {
  configDir: string
  workspace: string | null
}

export interface CommandFile {
  name: string
  description: string
  argumentHint: string
  aliases: string[]
  source: FileSource
  path: string
}

/** Command files larger than this are not read (Claude Code's prompts are small). */
const MAX_FILE_BYTES = 1024 * 1024
/** The most files read from one folder. */
const MAX_FILES = 2000

/** The command and skill files of both scopes (the project's only with a workspace). */
export async function commandFiles(locations: FileLocations): Promise<CommandFile[]> {
  const lists = await Promise.all(
    FILE_SOURCES.map(async (source) => {
      const dir = await confinedDir(source, locations)
      if (!dir) return []
      return source.startsWith('skill-') ? skillsIn(dir, source) : commandsIn(dir, source)
    }),
  )
  return lists.flat()
}

/** Which setting source loads a source's files: Claude Code reads a scope only when it is configured. */
export const scopeOf = (source: FileSource): 'user' | 'project' =>
  source === 'user' || source === 'skill-user' ? 'user' : 'project'

/** A source's folder as a real path; null when it does not exist or (project) leads out of the workspace. */
async function confinedDir(
  source: FileSource,
  { configDir, workspace }: FileLocations,
): Promise<string | null> {
  const kind = source.startsWith('skill-') ? 'skills' : 'commands'
  if (scopeOf(source) === 'user') return realpath(join(configDir, kind)).catch(() => null)
  if (!workspace) return null
  const [real, realWorkspace] = await Promise.all([
    realpath(join(workspace, '.claude', kind)).catch(() => null),
    realpath(workspace).catch(() => null),
  ])
  return real && realWorkspace && isInside(realWorkspace, real) ? real : null
}

async function commandsIn(dir: string, source: FileSource): Promise<CommandFile[]> {
  const names = (await readdir(dir, { recursive: true }).catch(() => [] as string[]))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .slice(0, MAX_FILES)
  const files = await Promise.all(
    names.map(async (name) => {
      const path = join(dir, name)
      const parsed = await readInside(path, dir)
      if (!parsed) return null
      const commandName = name.slice(0, -'.md'.length).split(sep).join(':')
      return { ...parsed, name: commandName, aliases: [], source, path }
    }),
  )
  return files.filter((file) => file !== null)
}

async function skillsIn(dir: string, source: FileSource): Promise<CommandFile[]> {
  const folders = (await readdir(dir, { withFileTypes: true }).catch(() => []))
    .filter((entry) => entry.isDirectory() || entry.isSymbolicLink())
    .map((entry) => entry.name)
    .sort()
    .slice(0, MAX_FILES)
  const files = await Promise.all(
    folders.map(async (folder) => {
      const path = join(dir, folder, 'SKILL.md')
      const parsed = await readInside(path, dir)
      if (!parsed) return null
      const name = parsed.name ?? folder
      return { ...parsed, name, aliases: name === folder ? [] : [folder], source, path }
    }),
  )
  return files.filter((file) => file !== null)
}

/** A file's front matter and first line, if it really is a file inside `dir`. */
async function readInside(
  path: string,
  dir: string,
): Promise<{ name: string | null; description: string; argumentHint: string } | null> {
  try {
    const real = await realpath(path)
    if (!isInside(dir, real)) return null
    // Read through a descriptor checked to lead inside `dir`: a folder swapped for a symlink since
    // `realpath` cannot make it read a file elsewhere.
    const parsed = parseAgentFile((await readFileInside(dir, real, path, MAX_FILE_BYTES)).toString('utf8'))
    const hint = parsed.other['argument-hint']
    return {
      name: parsed.name,
      description: parsed.description ?? firstLine(parsed.prompt),
      argumentHint: typeof hint === 'string' ? hint : '',
    }
  } catch {
    return null
  }
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((line) => line.trim())
      .find(Boolean) ?? ''
  )
}
