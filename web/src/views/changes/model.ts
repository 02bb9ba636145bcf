/**
 * The code changes view's logic, without React or the DOM: the file list (flat or as a tree, filtered),
 * the points of the conversation a comparison picks from, the selection kept in the page's address, and
 * which changes a live event makes stale. node:test checks it.
 */
import type { ChangedFile, ChangeKind, ChangeRollup, FileChange } from '../../api/types/changes.js'
import type { LiveEvent } from '../../api/types/events.js'

/** What the page shows: a file (or every file), and the two points it compares that file at. */
export interface Selection {
  /** A changed file's path; undefined: every file's changes. */
  file: string | undefined
  /** A sequence number (0: before the session changed it). */
  from: number
  /** A sequence number; undefined: as the session has left it (now). */
  to: number | undefined
}

export function readSelection(query: URLSearchParams): Selection {
  const point = (value: string | null) => {
    if (value === null || !/^\d+$/.test(value)) return undefined
    return Number(value)
  }
  return {
    file: query.get('path') || undefined,
    from: point(query.get('from')) ?? 0,
    to: point(query.get('to')),
  }
}

/** The address's query for a selection: `?path=…&from=…&to=…`, defaults left out. */
export function selectionQuery({ file, from, to }: Selection): string {
  const query = new URLSearchParams()
  if (file !== undefined) query.set('path', file)
  if (from !== 0) query.set('from', String(from))
  if (to !== undefined) query.set('to', String(to))
  const text = query.toString()
  return text ? `?${text}` : ''
}

/** The folder every path is under (ending with `/`), or '' when they share none: what the list leaves out. */
export function commonFolder(paths: readonly string[]): string {
  if (paths.length === 0) return ''
  let shared = paths[0]!.split('/').slice(0, -1)
  for (const path of paths.slice(1)) {
    const parts = path.split('/').slice(0, -1)
    let length = 0
    while (length < shared.length && length < parts.length && shared[length] === parts[length]) length++
    shared = shared.slice(0, length)
  }
  return shared.length === 0 ? '' : `${shared.join('/')}/`
}

export function relativeTo(path: string, folder: string): string {
  return folder && path.startsWith(folder) ? path.slice(folder.length) : path
}

export interface FileFilter {
  /** Part of the path, any case. */
  text: string
  status: ChangeKind | ''
}

export const NO_FILTER: FileFilter = { text: '', status: '' }

export function filterFiles(files: readonly ChangedFile[], { text, status }: FileFilter): ChangedFile[] {
  const needle = text.trim().toLowerCase()
  return files.filter(
    (file) => (!status || file.status === status) && (!needle || file.path.toLowerCase().includes(needle)),
  )
}

export type TreeRow =
  | { type: 'folder'; name: string; path: string; depth: number; open: boolean }
  | { type: 'file'; name: string; file: ChangedFile; depth: number }

interface Folder {
  folders: Map<string, Folder>
  files: ChangedFile[]
}

/**
 * The files as a tree under `base` (a commonFolder), folders first then files, each by name; a folder
 * holding only one folder shows as one row (`src/api`). Folders in `closed` show without their content.
 */
export function treeRows(
  files: readonly ChangedFile[],
  base: string,
  closed: ReadonlySet<string>,
): TreeRow[] {
  const root: Folder = { folders: new Map(), files: [] }
  for (const file of files) {
    const parts = relativeTo(file.path, base).split('/')
    parts.pop()
    let folder = root
    for (const part of parts) {
      let next = folder.folders.get(part)
      if (!next) {
        next = { folders: new Map(), files: [] }
        folder.folders.set(part, next)
      }
      folder = next
    }
    folder.files.push(file)
  }
  const rows: TreeRow[] = []
  const walk = (folder: Folder, prefix: string, depth: number) => {
    for (const name of [...folder.folders.keys()].sort()) {
      let label = name
      let inner = folder.folders.get(name)!
      while (inner.files.length === 0 && inner.folders.size === 1) {
        const [only, next] = [...inner.folders][0]!
        label = `${label}/${only}`
        inner = next
      }
      const path = `${prefix}${label}/`
      const open = !closed.has(path)
      rows.push({ type: 'folder', name: label, path, depth, open })
      if (open) walk(inner, path, depth + 1)
    }
    const byName = folder.files
      .map((file) => ({ file, name: file.path.slice(file.path.lastIndexOf('/') + 1) }))
      .sort((a, b) => a.name.localeCompare(b.name))
    for (const { file, name } of byName) rows.push({ type: 'file', name, file, depth })
  }
  walk(root, base, 0)
  return rows
}

/** The changes to show: the selected file's, or every change; oldest first, as the rollup has them. */
export function changesOf(rollup: ChangeRollup, file: string | undefined): FileChange[] {
  return file === undefined ? rollup.changes : rollup.changes.filter((change) => change.path === file)
}

/** The points a change compares: just before it, and just after it. */
export const changeRange = (change: FileChange) => ({ from: change.seq - 1, to: change.seq })

export interface PointOption {
  /** The select's value: a sequence number, or `now`. */
  value: string
  label: string
}

export interface PointGroup {
  label: string
  options: PointOption[]
}

export const NOW = 'now'

export const pointValue = (seq: number | undefined) => (seq === undefined ? NOW : String(seq))
export const pointOf = (value: string) => (value === NOW ? undefined : Number(value))

const clock = (ts: string) =>
  new Date(ts).toLocaleTimeString([], {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  })

/**
 * What a comparison can pick from: the start, each change of the session (grouped by the turn that made it,
 * with its time; the compared file's own changes say so), and now.
 */
export function pointGroups(
  rollup: ChangeRollup,
  file: string | undefined,
  base: string,
  timeOf: (ts: string) => string = clock,
): PointGroup[] {
  const groups: PointGroup[] = [
    { label: 'Start', options: [{ value: '0', label: 'Start: before the session changed it' }] },
  ]
  const turns = new Map<string, PointGroup>()
  for (const change of rollup.changes) {
    let group = turns.get(change.turn_id)
    if (!group) {
      group = { label: `Turn at ${timeOf(change.ts)}`, options: [] }
      turns.set(change.turn_id, group)
      groups.push(group)
    }
    const own = change.path === file ? ' ●' : ''
    group.options.push({
      value: String(change.seq),
      label: `#${change.seq} · ${timeOf(change.ts)} · ${change.tool} ${relativeTo(change.path, base)} (${change.kind})${own}`,
    })
  }
  groups.push({ label: 'Now', options: [{ value: NOW, label: 'Now: as the session has left it' }] })
  return groups
}

/** The session's changed files: a live event of this session that changes the rollup. */
export function changesRollupStale(events: readonly LiveEvent[], sessionId: string): boolean {
  return events.some((event) => event.sessionId === sessionId && event.type === 'file.changed')
}

/** +12 −3, or "lines unknown" when the tool did not report both sides. */
export function countsText(added: number | null, removed: number | null): string {
  if (added === null || removed === null) return 'lines unknown'
  return `+${added} −${removed}`
}
