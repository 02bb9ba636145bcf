/**
 * A file as of a point of a session, read back from its `file.changed` events: after the last of its changes
 * at or before the point, or before its first change. The store's `file_changes` read model tells which
 * events those are (store/file-changes.ts), so only they are read.
 */
import type { EventOf } from '../../events/types.js'
import { afterOf } from '../../store/derive-changes.js'

export type FileChangeEvent = EventOf<'file.changed'>

/** A file as of a point: `content` null when it did not exist or is unknown (`known` false). */
export interface FileAt {
  seq: number
  content: string | null
  exists: boolean
  known: boolean
}

/**
 * The file as of sequence number `seq`, from its first change and its last at or before `seq` (undefined
 * when there is none: before its first change, seq 0 being as the session found it). A change that did not
 * report its result leaves the content unknown (a later one may report it again).
 */
export function fileAt(first: FileChangeEvent, last: FileChangeEvent | undefined, seq: number): FileAt {
  // Before its first change: that change's `before` (null: the session created it).
  const content = last ? afterOf(last) : first.kind === 'created' ? null : first.before
  if (content === undefined) return { seq, content: null, exists: true, known: false }
  return { seq, content, exists: content !== null, known: true }
}
