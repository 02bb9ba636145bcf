/**
 * A structured patch (`diff`'s structuredPatch) laid out as the rows a diff shows: unified (one column,
 * removed lines before the added ones) or split (the old file left, the new one right, a removed line beside
 * the added line that replaced it). Pure: node:test checks it, and only the types of `diff` are imported
 * here, so the library itself stays in the lazy chunk that computes patches.
 */
import type { StructuredPatch, StructuredPatchHunk } from 'diff'

export type LineKind = 'context' | 'added' | 'removed'

export interface DiffLine {
  kind: LineKind
  /** 1-based line numbers in the old and the new file; absent on the side the line is not on. */
  old?: number
  new?: number
  text: string
}

/** A hunk's start, with how many unchanged lines the diff leaves out before it. */
export interface HunkRow {
  type: 'hunk'
  header: string
  skipped: number
}

/** `\ No newline at end of file`, under the line it is about. */
export interface NoNewlineRow {
  type: 'no-newline'
  side: 'old' | 'new' | 'both'
}

export type UnifiedRow = HunkRow | NoNewlineRow | { type: 'line'; line: DiffLine }
export type SplitRow =
  | HunkRow
  | NoNewlineRow
  | { type: 'pair'; left: DiffLine | null; right: DiffLine | null }

export type DiffMode = 'unified' | 'split'

/** One column: each hunk's header, then its lines as the patch has them. */
export function unifiedRows(patch: StructuredPatch): UnifiedRow[] {
  const rows: UnifiedRow[] = []
  for (const hunk of withSkipped(patch.hunks)) {
    rows.push(hunk.row)
    for (const entry of linesOf(hunk.hunk))
      rows.push('noNewline' in entry ? entry.noNewline : { type: 'line', line: entry })
  }
  return rows
}

/**
 * Two columns: context lines on both sides; a run of removed lines paired, in order, with the run of added
 * lines that follows it, the longer run's rest beside nothing.
 */
export function splitRows(patch: StructuredPatch): SplitRow[] {
  const rows: SplitRow[] = []
  for (const hunk of withSkipped(patch.hunks)) {
    rows.push(hunk.row)
    let removed: DiffLine[] = []
    let added: DiffLine[] = []
    const flush = () => {
      for (let index = 0; index < Math.max(removed.length, added.length); index++)
        rows.push({ type: 'pair', left: removed[index] ?? null, right: added[index] ?? null })
      removed = []
      added = []
    }
    for (const entry of linesOf(hunk.hunk)) {
      if ('noNewline' in entry) {
        flush()
        rows.push(entry.noNewline)
      } else if (entry.kind === 'removed') {
        // A removal after additions starts a new change: pair what came before first.
        if (added.length > 0) flush()
        removed.push(entry)
      } else if (entry.kind === 'added') added.push(entry)
      else {
        flush()
        rows.push({ type: 'pair', left: entry, right: entry })
      }
    }
    flush()
  }
  return rows
}

/** The first `limit` rows and how many are left for "show more". */
export function capped<T>(rows: readonly T[], limit: number): { shown: readonly T[]; hidden: number } {
  return rows.length <= limit
    ? { shown: rows, hidden: 0 }
    : { shown: rows.slice(0, limit), hidden: rows.length - limit }
}

/** The last line of either file the rows show: how far a side needs highlighting. */
export function lastLines(rows: readonly (UnifiedRow | SplitRow)[]): { old: number; new: number } {
  const last = { old: 0, new: 0 }
  const see = (line: DiffLine | null) => {
    if (line?.old !== undefined) last.old = Math.max(last.old, line.old)
    if (line?.new !== undefined) last.new = Math.max(last.new, line.new)
  }
  for (const row of rows) {
    if (row.type === 'line') see(row.line)
    else if (row.type === 'pair') {
      see(row.left)
      see(row.right)
    }
  }
  return last
}

/** The first `count` lines of `text` (without the last one's line break). */
export function firstLines(text: string, count: number): string {
  let end = -1
  for (let line = 0; line < count; line++) {
    end = text.indexOf('\n', end + 1)
    if (end === -1) return text
  }
  return text.slice(0, Math.max(end, 0))
}

function* withSkipped(hunks: readonly StructuredPatchHunk[]) {
  // The old file's next line not shown yet. `diff` numbers a hunk's first line even when it has none.
  let next = 1
  for (const hunk of hunks) {
    const header = `@@ -${range(hunk.oldStart, hunk.oldLines)} +${range(hunk.newStart, hunk.newLines)} @@`
    yield {
      hunk,
      row: { type: 'hunk', header, skipped: Math.max(0, hunk.oldStart - next) } satisfies HunkRow,
    }
    next = hunk.oldStart + hunk.oldLines
  }
}

/** A hunk's range as unified diffs write it: an empty range names the line before it. */
function range(start: number, count: number): string {
  return `${count === 0 ? start - 1 : start},${count}`
}

function* linesOf(hunk: StructuredPatchHunk): Generator<DiffLine | { noNewline: NoNewlineRow }> {
  let oldLine = hunk.oldStart
  let newLine = hunk.newStart
  let previous: LineKind | undefined
  for (const raw of hunk.lines) {
    const text = raw.slice(1)
    switch (raw[0]) {
      case '+':
        yield { kind: 'added', new: newLine++, text }
        previous = 'added'
        break
      case '-':
        yield { kind: 'removed', old: oldLine++, text }
        previous = 'removed'
        break
      case '\\': {
        const side = previous === 'added' ? 'new' : previous === 'removed' ? 'old' : 'both'
        yield { noNewline: { type: 'no-newline', side } }
        break
      }
      default:
        yield { kind: 'context', old: oldLine++, new: newLine++, text }
        previous = 'context'
    }
  }
}
