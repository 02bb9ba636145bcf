/**
 * A session's code changes (src/api/native/changes.ts), mirrored by hand.
 */

export type ChangeKind = 'created' | 'modified' | 'deleted'

/** A file a session changed (`GET /api/sessions/{id}/changes`), as of its last change. */
export interface ChangedFile {
  path: string
  status: ChangeKind
  changes: number
  added: number
  removed: number
  last_seq: number
}

/** One `file.changed` of the rollup; `added`/`removed` null when a side is unknown or too large. */
export interface FileChange {
  seq: number
  ts: string
  turn_id: string
  tool_use_id: string
  tool: string
  path: string
  kind: ChangeKind
  added: number | null
  removed: number | null
  known: boolean
}

/** `ChangeRollup` of src/api/native/changes.ts: files in first-changed order, changes oldest first. */
export interface ChangeRollup {
  totals: { files: number; added: number; removed: number }
  files: ChangedFile[]
  changes: FileChange[]
}

/** A file as of a point (`content` null when it did not exist, or is unknown: `known` false). */
export interface FileAtPoint {
  seq: number
  content: string | null
  exists: boolean
  known: boolean
}

/** `FileComparison`: `GET /api/sessions/{id}/changes/file?path&from&to`. */
export interface FileComparison {
  path: string
  from: FileAtPoint
  to: FileAtPoint
}
