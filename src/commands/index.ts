/**
 * The slash commands of a workspace, from every place that defines them, in the order in which a name is
 * picked when several define it (as Claude Code picks, observed with its 2.1 CLI):
 *
 * 1. skills (`skill-user`, then `skill-project`), then command files (`user`, then `project`): files.ts;
 * 2. the gateway's own commands (`gateway`): those Claude Code does not run headless;
 * 3. Claude Code's built-in commands (`builtin`), then those of its plugins and MCP servers (`plugin`), as a
 *    CLI process reports them.
 *
 * Files of a scope Claude Code does not load (its setting source is not configured) are listed, not run.
 */
import type { SlashCommand } from '@anthropic-ai/claude-agent-sdk'
import { distance } from 'fastest-levenshtein'
import { type CommandFile, commandFiles, type FileLocations, type FileSource, scopeOf } from './files.js'

export { type CommandFile, commandFiles, type FileLocations, type FileSource, scopeOf } from './files.js'
export { type SettingsFile, type SettingsScope, settingsFiles } from './settings.js'

export type CommandSource = FileSource | 'gateway' | 'builtin' | 'plugin'

export interface CommandInfo {
  /** Without the leading slash; `folder:name` for a command file in a subfolder. */
  name: string
  description: string
  /** What the arguments look like (`<file>`, `[focus]`); empty when the command takes none. */
  argumentHint: string
  /** Other names that run it (`reset` and `new` for `clear`). */
  aliases: string[]
}

/** A command a CLI process reported that no command or skill file defines. */
export interface ReportedCommand extends CommandInfo {
  source: 'builtin' | 'plugin'
}

export interface CommandEntry extends CommandInfo {
  source: CommandSource
  /** The file that defines it; null for the gateway's and Claude Code's own. */
  path: string | null
  /** It can run: a file's scope is loaded by Claude Code (the others always can). */
  loaded: boolean
  /** A loaded command of higher precedence has the same name: that one runs. */
  overridden: boolean
}

const PRECEDENCE: readonly CommandSource[] = [
  'skill-user',
  'skill-project',
  'user',
  'project',
  'gateway',
  'builtin',
  'plugin',
]

/**
 * What Claude Code reported (`supportedCommands()`) less what the command and skill files of the reporting
 * process's locations define: its own commands, and those of plugins and MCP servers.
 */
export async function reportedCommandsOf(
  reported: readonly SlashCommand[],
  locations: FileLocations,
): Promise<ReportedCommand[]> {
  const fromFiles = new Set(
    (await commandFiles(locations).catch(() => [])).flatMap((file) => [file.name, ...file.aliases]),
  )
  return reported
    .filter((command) => command.builtin === true || !fromFiles.has(command.name))
    .map((command) => ({
      name: command.name,
      description: command.description,
      argumentHint: command.argumentHint,
      aliases: command.aliases ?? [],
      source: command.builtin === true ? 'builtin' : 'plugin',
    }))
}

/** Every command of a workspace, by name, entries of one name in precedence order. */
export function catalog(parts: {
  files: readonly CommandFile[]
  gateway: readonly CommandInfo[]
  reported: readonly ReportedCommand[]
  /** Claude Code's configured setting sources (`claude.settingSources`). */
  settingSources: readonly string[]
}): CommandEntry[] {
  const entries: CommandEntry[] = [
    ...parts.files.map((file) => ({
      ...file,
      loaded: parts.settingSources.includes(scopeOf(file.source)),
      overridden: false,
    })),
    ...parts.gateway.map((command) => own(command, 'gateway')),
    ...parts.reported.map((command) => own(command, command.source)),
  ]
  entries.sort(
    (a, b) =>
      compare(a.name, b.name) ||
      PRECEDENCE.indexOf(a.source) - PRECEDENCE.indexOf(b.source) ||
      compare(a.path ?? '', b.path ?? ''),
  )
  const taken = new Set<string>()
  for (const entry of entries) {
    if (!entry.loaded) continue
    entry.overridden = taken.has(entry.name)
    taken.add(entry.name)
  }
  return entries
}

/** The command a name (without its slash) runs: by name first, then by alias. */
export function resolveCommand(entries: readonly CommandEntry[], name: string): CommandEntry | undefined {
  const runnable = entries.filter((entry) => entry.loaded && !entry.overridden)
  return (
    runnable.find((entry) => entry.name === name) ??
    runnable
      .toSorted((a, b) => PRECEDENCE.indexOf(a.source) - PRECEDENCE.indexOf(b.source))
      .find((entry) => entry.aliases.includes(name))
  )
}

/** Names (and aliases) of runnable commands close to a mistyped one, closest first. */
export function nearMatches(entries: readonly CommandEntry[], typed: string, limit = 3): string[] {
  const name = typed.toLowerCase()
  const allowed = Math.max(2, Math.floor(name.length / 3))
  const candidates = new Set(
    entries.filter((entry) => entry.loaded).flatMap((entry) => [entry.name, ...entry.aliases]),
  )
  return [...candidates]
    .map((candidate) => ({ candidate, cost: distance(name, candidate.toLowerCase()) }))
    .filter(({ cost }) => cost <= allowed)
    .sort((a, b) => a.cost - b.cost || compare(a.candidate, b.candidate))
    .slice(0, limit)
    .map(({ candidate }) => candidate)
}

function own(command: CommandInfo, source: CommandSource): CommandEntry {
  const { name, description, argumentHint, aliases } = command
  return { name, description, argumentHint, aliases, source, path: null, loaded: true, overridden: false }
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
