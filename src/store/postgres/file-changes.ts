/**
 * The `file_changes` read model in PostgreSQL: each `file.changed` event with its line counts, counted once
 * as it is appended (../derive-changes.ts), read as SQLite's (../file-changes.ts) reads it.
 */
import type { EventOf } from '../../events/types.js'
import { type ChangeRow, changeRow, needsPrevious } from '../derive-changes.js'
import type { ChangedFile, FileChangeRef, FileChanges } from '../types.js'
import type { Queryable } from './pool.js'

type FileChangeEvent = EventOf<'file.changed'>

/** A count, null past the reader's limit on contents ($2): those changes are not compared. */
const COUNTED = (column: 'added' | 'removed') => `CASE WHEN size <= $2 THEN ${column} END`

/**
 * Derives the rows of a batch's changes, in order. A change whose tool reported only the content after it
 * is completed from the file's previous change: the batch's own, or else the one stored before the batch
 * (read in one statement for the whole batch).
 */
export async function changeRows(
  db: Queryable,
  changes: readonly FileChangeEvent[],
  maxBytes: number,
): Promise<ChangeRow[]> {
  const stored = await storedPrevious(db, changes.filter(needsPrevious))
  const rows = new Map<string, ChangeRow>()
  /** The batch's changes so far, by session and path. */
  const earlier = new Map<string, FileChangeEvent[]>()
  for (const event of changes) {
    const key = `${event.sessionId}\0${event.path}`
    let previous: FileChangeEvent | undefined
    if (needsPrevious(event)) {
      previous = stored.get(event)
      for (const candidate of earlier.get(key) ?? [])
        if (candidate.seq < event.seq && (!previous || candidate.seq > previous.seq)) previous = candidate
    }
    earlier.set(key, [...(earlier.get(key) ?? []), event])
    // A change written twice keeps its last row, as SQLite's INSERT OR REPLACE does.
    rows.set(`${event.sessionId}\0${event.seq}`, changeRow(event, previous, maxBytes))
  }
  return [...rows.values()]
}

/** Each change's previous change of its file stored before the batch, if any. */
async function storedPrevious(
  db: Queryable,
  changes: readonly FileChangeEvent[],
): Promise<Map<FileChangeEvent, FileChangeEvent>> {
  const found = new Map<FileChangeEvent, FileChangeEvent>()
  if (changes.length === 0) return found
  const { rows } = await db.query<{ n: number; event: string }>({
    name: 'file-changes-previous',
    text: `SELECT DISTINCT ON (batch.n) batch.n, e.event
           FROM unnest($1::text[], $2::text[], $3::integer[]) WITH ORDINALITY AS batch (session_id, path, seq, n)
           JOIN file_changes f ON f.session_id = batch.session_id AND f.path = batch.path AND f.seq < batch.seq
           JOIN events e ON e.session_id = f.session_id AND e.seq = f.seq AND e.seq > 0
           ORDER BY batch.n, f.seq DESC`,
    values: [
      changes.map((change) => change.sessionId),
      changes.map((change) => change.path),
      changes.map((change) => change.seq),
    ],
  })
  for (const row of rows) found.set(changes[row.n - 1]!, JSON.parse(row.event) as FileChangeEvent)
  return found
}

/** A session's changes, as SQLite's FileChangeModel.changes gives them; `maxBytes`: the reader's limit. */
export async function readChanges(
  db: Queryable,
  sessionId: string,
  page: { limit: number; offset: number },
  maxBytes: number,
): Promise<FileChanges> {
  // A file the session created is still its creation after edits; one it deleted is deleted.
  const { rows: files } = await db.query<ChangedFile & { first: number }>({
    name: 'file-changes-files',
    text: `SELECT path, count(*) AS changes, coalesce(sum(${COUNTED('added')}), 0) AS added,
             coalesce(sum(${COUNTED('removed')}), 0) AS removed, max(seq) AS "lastSeq", min(seq) AS first,
             CASE
               WHEN (SELECT kind FROM file_changes l WHERE l.session_id = f.session_id AND l.path = f.path ORDER BY seq DESC LIMIT 1) = 'deleted' THEN 'deleted'
               WHEN (SELECT creates FROM file_changes l WHERE l.session_id = f.session_id AND l.path = f.path ORDER BY seq LIMIT 1) THEN 'created'
               ELSE 'modified'
             END AS status
           FROM file_changes f WHERE session_id = $1 GROUP BY session_id, path ORDER BY first`,
    values: [sessionId, maxBytes],
  })
  const { rows: changes } = await db.query<FileChangeRef>({
    name: 'file-changes-page',
    text: `SELECT seq, ts, turn_id AS "turnId", tool_use_id AS "toolUseId", tool, path, kind,
             ${COUNTED('added')} AS added, ${COUNTED('removed')} AS removed, known
           FROM file_changes WHERE session_id = $1 ORDER BY seq LIMIT $3 OFFSET $4`,
    values: [sessionId, maxBytes, page.limit < 0 ? null : page.limit, page.offset],
  })
  const listed = files.map(({ first, ...file }) => file)
  return {
    totals: {
      files: listed.length,
      added: listed.reduce((sum, file) => sum + file.added, 0),
      removed: listed.reduce((sum, file) => sum + file.removed, 0),
    },
    files: listed,
    // Every change is one of its file's.
    changes: { items: changes, total: listed.reduce((sum, file) => sum + file.changes, 0) },
  }
}

/** A file's first change, and its last at or before `seq`; undefined when the session never changed it. */
export async function changeSeqs(
  db: Queryable,
  sessionId: string,
  path: string,
  seq: number,
): Promise<{ first: number; last: number | null } | undefined> {
  const { rows } = await db.query<{ first: number | null; last: number | null }>({
    name: 'file-changes-seqs',
    text: `SELECT min(seq) AS first, max(seq) FILTER (WHERE seq <= $3) AS last
           FROM file_changes WHERE session_id = $1 AND path = $2`,
    values: [sessionId, path, seq],
  })
  const { first, last } = rows[0]!
  return first === null ? undefined : { first, last }
}
