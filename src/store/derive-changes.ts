/**
 * A `file_changes` row's line counts, whatever database keeps it: a change whose tool did not report its
 * content before is completed from the file's previous change (the store finds that one), and contents
 * larger than the limit, or too different to compare within the bounded diff, get no counts. Pure.
 */
import { diffLines } from 'diff'
import type { EventOf } from '../events/types.js'
import type { FileChangeRef } from './types.js'

type FileChangeEvent = EventOf<'file.changed'>

/** The most line edits a count is worth: past it the diff gives up (its work is bounded by this). */
const MAX_EDIT_LENGTH = 10_000
/** And the longest it may take, whatever the edit length. */
const DIFF_TIMEOUT_MS = 200

/** What a change's row holds beside its event's fields. */
export interface ChangeCounts {
  /** It brought the file into existence. */
  creates: boolean
  /** Lines added and removed; null when unknown. */
  added: number | null
  removed: number | null
  /** Both sides are known. */
  known: boolean
  /** The larger side's length in bytes, when both are known. */
  size: number | null
}

/** A row of `file_changes` as both stores write it (flags as booleans). */
export interface ChangeRow extends ChangeCounts {
  session_id: string
  seq: number
  ts: number
  turn_id: string
  tool_use_id: string
  tool: string
  path: string
  kind: FileChangeRef['kind']
}

/** A change's resulting content: null for a deletion, undefined when the tool did not report it. */
export function afterOf(event: FileChangeEvent): string | null | undefined {
  return event.kind === 'deleted' ? null : event.after
}

/** Whether a change's counts need its file's previous change: its tool reported the content after only. */
export const needsPrevious = (event: FileChangeEvent): boolean =>
  event.before === undefined && afterOf(event) !== undefined

/**
 * The counts of a change; `previous`: the file's previous change in the session, if `needsPrevious` and
 * there is one. Contents over `maxBytes` are not compared.
 */
export function changeCounts(
  event: FileChangeEvent,
  previous: FileChangeEvent | undefined,
  maxBytes: number,
): ChangeCounts {
  const after = afterOf(event)
  const before = needsPrevious(event) ? previous && afterOf(previous) : event.before
  const known = before !== undefined && after !== undefined
  const size = known ? Math.max(Buffer.byteLength(before ?? ''), Buffer.byteLength(after ?? '')) : null
  const counts = size !== null && size <= maxBytes ? lineCounts(before ?? '', after ?? '') : undefined
  return {
    creates: event.kind === 'created' || event.before === null,
    added: counts?.added ?? null,
    removed: counts?.removed ?? null,
    known,
    size,
  }
}

/** A change's row: its event's fields and its counts (`changeCounts`). */
export function changeRow(
  event: FileChangeEvent,
  previous: FileChangeEvent | undefined,
  maxBytes: number,
): ChangeRow {
  return {
    session_id: event.sessionId,
    seq: event.seq,
    ts: event.ts,
    turn_id: event.turnId,
    tool_use_id: event.toolUseId,
    tool: event.tool,
    path: event.path,
    kind: event.kind,
    ...changeCounts(event, previous, maxBytes),
  }
}

/** Lines added and removed; undefined when the diff gives up. */
function lineCounts(before: string, after: string) {
  const parts = diffLines(before, after, { maxEditLength: MAX_EDIT_LENGTH, timeout: DIFF_TIMEOUT_MS })
  if (!parts) return undefined
  let added = 0
  let removed = 0
  for (const part of parts) {
    if (part.added) added += part.count
    else if (part.removed) removed += part.count
  }
  return { added, removed }
}
