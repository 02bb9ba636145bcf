/**
 * The folder walk behind glob and search. It stays inside the workspace: it never descends through a
 * symlinked folder, gives a symlinked file only when its real path is inside the workspace, skips version
 * control folders, and stops after a number of entries. Entries come in name order, folder by folder.
 */
import type { Dirent } from 'node:fs'
import { realpath, stat } from 'node:fs/promises'
import { join, posix } from 'node:path'
import ignore, { type Ignore } from 'ignore'
import { listFolder, openForReading } from './confined-files.js'
import { isInside, workspaceRelative } from './confinement.js'

/** Version control folders never walked into (Claude Code's Grep and Glob leave them out too). */
export const VCS_FOLDERS: ReadonlySet<string> = new Set(['.git', '.svn', '.hg', '.bzr', '.jj', '.sl'])

/** Ignore files read in every folder when `gitignore` is set (ripgrep reads both). */
const IGNORE_FILES = ['.gitignore', '.ignore']

export interface WalkFile {
  /** The real path to read (a symlinked file's target). */
  abs: string
  /** Relative to the workspace root, `/` separators (a symlinked file's own path, not its target's). */
  rel: string
  /** Relative to the folder the walk started in. */
  relToStart: string
}

export interface WalkOptions {
  /** The workspace's real path. */
  root: string
  /** The real path of the folder to walk, inside `root`. */
  start: string
  /** Leave out what `.gitignore` and `.ignore` files (in `start`, below it and above it up to `root`) ignore. */
  gitignore: boolean
  /** Folder entries looked at before the walk stops. */
  maxEntries: number
  /** Folder levels below `start` to walk (1: `start`'s own entries only); unlimited when not set. */
  maxDepth?: number
  signal?: AbortSignal
  /** Called for each file; returning `false` stops the walk. */
  onFile(file: WalkFile): boolean | undefined | Promise<boolean | undefined>
  /**
   * Called for each folder found (not ignored), before its entries and also when `maxDepth` keeps the walk
   * out of it; returning `false` stops the walk.
   */
  onDirectory?(dir: WalkFile): boolean | undefined | Promise<boolean | undefined>
}

export interface WalkOutcome {
  entries: number
  /** The walk stopped at `maxEntries`. */
  limitReached: boolean
  /** `onFile` stopped the walk. */
  stopped: boolean
}

interface IgnoreLayer {
  /** The folder of the ignore files, relative to the workspace root ('' for the root). */
  base: string
  rules: Ignore
}

/** The ignore files of a folder; read through checked descriptors, as every file of the workspace is. */
async function loadIgnoreLayer(root: string, dirAbs: string, base: string): Promise<IgnoreLayer | undefined> {
  let rules: Ignore | undefined
  for (const name of IGNORE_FILES) {
    const text = await readIgnoreFile(root, join(dirAbs, name))
    if (text !== undefined) rules = (rules ?? ignore()).add(text)
  }
  return rules && { base, rules }
}

async function readIgnoreFile(root: string, path: string): Promise<string | undefined> {
  const handle = await openForReading(root, path, path).catch(() => undefined)
  if (!handle) return undefined
  try {
    return (await handle.stat()).isFile() ? await handle.readFile('utf8') : undefined
  } catch {
    return undefined
  } finally {
    await handle.close()
  }
}

function isIgnored(layers: readonly IgnoreLayer[], rel: string, isDir: boolean): boolean {
  let ignored = false
  for (const layer of layers) {
    const sub =
      layer.base === '' ? rel : rel.startsWith(`${layer.base}/`) ? rel.slice(layer.base.length + 1) : ''
    if (sub === '') continue
    let verdict: ReturnType<Ignore['test']>
    try {
      verdict = layer.rules.test(isDir ? `${sub}/` : sub)
    } catch {
      continue // a name the ignore rules cannot judge: not ignored by them
    }
    if (verdict.ignored) ignored = true
    else if (verdict.unignored) ignored = false
  }
  return ignored
}

class Stop extends Error {}

/** `rel` (relative to the workspace root) relative to the folder `startRel` the walk started in. */
const relativeTo = (startRel: string, rel: string) => (startRel === '.' ? rel : posix.relative(startRel, rel))

export async function walk(options: WalkOptions): Promise<WalkOutcome> {
  const { root, start, maxEntries, signal } = options
  const outcome: WalkOutcome = { entries: 0, limitReached: false, stopped: false }
  const startRel = workspaceRelative(root, start)
  const layers: IgnoreLayer[] = []
  if (options.gitignore && startRel !== '.') {
    // The ignore files of the folders above the start count too, up to the workspace root.
    const parts = startRel.split('/')
    for (let i = 0; i < parts.length; i++) {
      const base = parts.slice(0, i).join('/')
      const layer = await loadIgnoreLayer(root, join(root, ...parts.slice(0, i)), base)
      if (layer) layers.push(layer)
    }
  }

  const visit = async (dirAbs: string, dirRel: string, depth: number): Promise<void> => {
    let entries: Dirent[]
    try {
      // From the folder's checked descriptor: a folder swapped for a symlink since is not listed.
      entries = await listFolder(root, dirAbs)
    } catch {
      return // unreadable, vanished or swapped: skipped, as ripgrep skips what it cannot read
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    const own = options.gitignore
      ? await loadIgnoreLayer(root, dirAbs, dirRel === '.' ? '' : dirRel)
      : undefined
    if (own) layers.push(own)
    try {
      for (const entry of entries) {
        if (signal?.aborted) throw signal.reason
        if (++outcome.entries > maxEntries) {
          outcome.limitReached = true
          throw new Stop()
        }
        const rel = dirRel === '.' ? entry.name : `${dirRel}/${entry.name}`
        const abs = join(dirAbs, entry.name)
        if (entry.isDirectory()) {
          if (VCS_FOLDERS.has(entry.name)) continue
          if (options.gitignore && isIgnored(layers, rel, true)) continue
          if ((await options.onDirectory?.({ abs, rel, relToStart: relativeTo(startRel, rel) })) === false) {
            outcome.stopped = true
            throw new Stop()
          }
          if (options.maxDepth !== undefined && depth + 1 >= options.maxDepth) continue
          await visit(abs, rel, depth + 1)
          continue
        }
        let fileAbs = abs
        if (entry.isSymbolicLink()) {
          const target = await realpath(abs).catch(() => undefined)
          if (target === undefined || !isInside(root, target)) continue
          const info = await stat(target).catch(() => undefined)
          if (!info?.isFile()) continue // symlinked folders are not walked: no cycles, no escapes
          fileAbs = target
        } else if (!entry.isFile()) continue
        if (options.gitignore && isIgnored(layers, rel, false)) continue
        if ((await options.onFile({ abs: fileAbs, rel, relToStart: relativeTo(startRel, rel) })) === false) {
          outcome.stopped = true
          throw new Stop()
        }
      }
    } finally {
      if (own) layers.pop()
    }
  }

  try {
    await visit(start, startRel, 0)
  } catch (error) {
    if (!(error instanceof Stop)) throw error
  }
  return outcome
}
