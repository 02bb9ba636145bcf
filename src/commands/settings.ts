/**
 * Claude Code's settings files, read for what the gateway's `/hooks` and `/permissions` show:
 * `<config dir>/settings.json` (user), `<workspace>/.claude/settings.json` (project) and
 * `<workspace>/.claude/settings.local.json` (local). Claude Code reads a file only when its setting source is
 * configured (`loaded`). A project's files are read only if they really are inside the workspace.
 */
import { realpath, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { readFileInside } from '../tools/confined-files.js'
import { isInside } from '../tools/confinement.js'
import type { FileLocations } from './files.js'

export const SETTINGS_SCOPES = ['user', 'project', 'local'] as const
export type SettingsScope = (typeof SETTINGS_SCOPES)[number]

export interface SettingsFile {
  scope: SettingsScope
  path: string
  /** Claude Code reads it: its scope is one of the configured setting sources. */
  loaded: boolean
  /** The parsed file; null when it does not exist or cannot be read (`error` says why). */
  settings: Record<string, unknown> | null
  error?: string
}

const MAX_SETTINGS_BYTES = 1024 * 1024

/** The settings files of a user and a workspace (the project and local ones only with a workspace). */
export async function settingsFiles(
  locations: FileLocations,
  settingSources: readonly string[],
): Promise<SettingsFile[]> {
  const { configDir, workspace } = locations
  const paths: [SettingsScope, string][] = [['user', join(configDir, 'settings.json')]]
  if (workspace) {
    paths.push(['project', join(workspace, '.claude', 'settings.json')])
    paths.push(['local', join(workspace, '.claude', 'settings.local.json')])
  }
  return Promise.all(
    paths.map(async ([scope, path]) => ({
      scope,
      path,
      loaded: settingSources.includes(scope),
      ...(await readSettings(path, scope === 'user' ? null : workspace)),
    })),
  )
}

async function readSettings(
  path: string,
  workspace: string | null,
): Promise<Pick<SettingsFile, 'settings' | 'error'>> {
  let real: string
  try {
    real = await realpath(path)
  } catch {
    return { settings: null }
  }
  try {
    const root = workspace ? await realpath(workspace) : dirname(real)
    if (!isInside(root, real)) return { settings: null, error: 'The file links outside the workspace' }
    if ((await stat(real)).size > MAX_SETTINGS_BYTES)
      return { settings: null, error: `The file is larger than ${MAX_SETTINGS_BYTES} bytes` }
    // A project's file is read through a descriptor checked to lead inside the workspace (see readFileInside).
    const text = (await readFileInside(root, real, path, MAX_SETTINGS_BYTES)).toString('utf8')
    const parsed: unknown = JSON.parse(text)
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      return { settings: null, error: 'The file is not a JSON object' }
    return { settings: parsed as Record<string, unknown> }
  } catch (error) {
    return { settings: null, error: `Cannot read the file: ${(error as Error).message}` }
  }
}
