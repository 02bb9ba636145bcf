/**
 * A listing of a workspace folder: its files and folders (down to a depth), with their size and
 * modification time. It is the walk of the direct tools (src/tools/walk.ts), so it leaves out what they
 * leave out: version control folders, symlinks that lead out of the workspace or to folders, and, unless
 * asked otherwise, what `.gitignore` and `.ignore` files ignore.
 */
import { lstat, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { confineTo, fsToolError, ToolError, workspaceRelative, workspaceRoot } from './confinement.js'
import { walk } from './walk.js'

export type EntryType = 'file' | 'dir' | 'symlink'

export interface ListedEntry {
  /** Relative to the workspace root, `/` separators. */
  path: string
  type: EntryType
  /** Bytes (a symlink's: its target's); null for a folder. */
  size: number | null
  modified: Date
  /** A symlink's target, relative to the workspace root (always inside it). */
  target?: string
}

export interface ListingOptions {
  /** The folder to list: relative to the workspace, or absolute inside it (default: the workspace). */
  path?: string
  /** Folder levels to list (1: the folder's own entries). */
  depth: number
  /** Also list what ignore files ignore. */
  includeIgnored: boolean
  /** The most entries returned; `truncated` says when there were more. */
  maxEntries: number
  /** Folder entries looked at before the walk stops (`tools.walkMaxEntries`). */
  walkMaxEntries: number
}

export interface Listing {
  /** The listed folder, relative to the workspace root (`.` for the root). */
  path: string
  /** Folders before their own entries, each folder's entries in name order. */
  entries: ListedEntry[]
  truncated: boolean
}

/** Lists a folder of `workspace`; the path is confined like the direct tools' (`path_outside_workspace`). */
export async function listWorkspace(workspace: string, options: ListingOptions): Promise<Listing> {
  const root = await workspaceRoot(workspace)
  const shown = options.path ?? '.'
  const start = await confineTo(root, shown, 'path')
  const info = await stat(start).catch((error: unknown) => {
    throw fsToolError(error, shown)
  })
  if (!info.isDirectory())
    throw new ToolError('invalid_input', `${shown} is not a directory`, { field: 'path' })

  const entries: ListedEntry[] = []
  let full = false
  const add = async (rel: string, real: string): Promise<boolean> => {
    if (entries.length >= options.maxEntries) {
      full = true
      return false
    }
    const entry = await describe(root, rel, real)
    if (entry) entries.push(entry)
    return true
  }
  const outcome = await walk({
    root,
    start,
    gitignore: !options.includeIgnored,
    maxEntries: options.walkMaxEntries,
    maxDepth: options.depth,
    onDirectory: (dir) => add(dir.rel, dir.abs),
    onFile: (file) => add(file.rel, file.abs),
  })
  return { path: workspaceRelative(root, start), entries, truncated: full || outcome.limitReached }
}

/** An entry as it is on disk now; undefined when it vanished since the walk saw it. */
async function describe(root: string, rel: string, real: string): Promise<ListedEntry | undefined> {
  const own = await lstat(join(root, rel)).catch(() => undefined)
  if (!own) return undefined
  if (own.isDirectory()) return { path: rel, type: 'dir', size: null, modified: own.mtime }
  if (!own.isSymbolicLink()) return { path: rel, type: 'file', size: own.size, modified: own.mtime }
  // The walk gives a symlink only when it leads to a file inside the workspace; `real` is that file.
  const target = await stat(real).catch(() => undefined)
  if (!target) return undefined
  return {
    path: rel,
    type: 'symlink',
    size: target.size,
    modified: target.mtime,
    target: workspaceRelative(root, real),
  }
}
