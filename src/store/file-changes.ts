/**
 * The `file_changes` read model: each `file.changed` event with its line counts, counted once as it is
 * appended, so a session's code changes are read without reading (or comparing) any file content. A change
 * whose tool did not report a side is completed from the session's previous change of the file when that
 * one reported its content; otherwise its counts are unknown. So are those of contents larger than the
 * limit, or too different to compare within the bounded diff.
 */
import type Database from 'better-sqlite3'
import type { EventOf } from '../events/types.js'
import { changeRow, needsPrevious } from './derive-changes.js'
import type { ChangedFile, FileChangeRef, FileChanges } from './types.js'

type FileChangeEvent = EventOf<'file.changed'>

/** A count, null past the reader's limit on contents (`@max`): those changes are not compared. */
const COUNTED = (column: 'added' | 'removed') => `CASE WHEN size <= @max THEN ${column} END`

interface Bounds {
  session: string
  max: number
}

/** A change as its page reads it, its flag as SQLite keeps it (0/1). */
type ChangeOfPage = Omit<FileChangeRef, 'known'> & { known: number }

export class FileChangeModel {
  private readonly statements

  /** `maxBytes`: contents larger than this are not compared (their counts are null). */
  constructor(
    db: Database.Database,
    private readonly maxBytes: number,
  ) {
    this.statements = {
      previous: db.prepare<[string, string, number], { event: string }>(
        `SELECT e.event FROM file_changes f JOIN events e ON e.session_id = f.session_id AND e.seq = f.seq
         WHERE f.session_id = ? AND f.path = ? AND f.seq < ? ORDER BY f.seq DESC LIMIT 1`,
      ),
      insert: db.prepare(
        `INSERT OR REPLACE INTO file_changes (session_id, seq, ts, turn_id, tool_use_id, tool, path, kind, creates, added, removed, known, size)
         VALUES (@session_id, @seq, @ts, @turn_id, @tool_use_id, @tool, @path, @kind, @creates, @added, @removed, @known, @size)`,
      ),
      page: db.prepare<Bounds & { limit: number; offset: number }, ChangeOfPage>(
        `SELECT seq, ts, turn_id AS turnId, tool_use_id AS toolUseId, tool, path, kind, ${COUNTED('added')} AS added,
           ${COUNTED('removed')} AS removed, known FROM file_changes
         WHERE session_id = @session ORDER BY seq LIMIT @limit OFFSET @offset`,
      ),
      count: db.prepare<[string], { n: number }>(
        'SELECT count(*) AS n FROM file_changes WHERE session_id = ?',
      ),
      // A file the session created is still its creation after edits; one it deleted is deleted.
      files: db.prepare<Bounds, ChangedFile & { first: number }>(
        `SELECT path, count(*) AS changes, coalesce(sum(${COUNTED('added')}), 0) AS added,
           coalesce(sum(${COUNTED('removed')}), 0) AS removed,
           max(seq) AS lastSeq, min(seq) AS first,
           CASE
             WHEN (SELECT kind FROM file_changes l WHERE l.session_id = f.session_id AND l.path = f.path ORDER BY seq DESC LIMIT 1) = 'deleted' THEN 'deleted'
             WHEN (SELECT creates FROM file_changes l WHERE l.session_id = f.session_id AND l.path = f.path ORDER BY seq LIMIT 1) THEN 'created'
             ELSE 'modified'
           END AS status
         FROM file_changes f WHERE session_id = @session GROUP BY path ORDER BY first`,
      ),
      first: db.prepare<[string, string], { seq: number | null }>(
        'SELECT min(seq) AS seq FROM file_changes WHERE session_id = ? AND path = ?',
      ),
      lastAt: db.prepare<[string, string, number], { seq: number | null }>(
        'SELECT max(seq) AS seq FROM file_changes WHERE session_id = ? AND path = ? AND seq <= ?',
      ),
      forget: db.prepare('DELETE FROM file_changes WHERE session_id = ?'),
    }
  }

  /** Derives a change's row; its event (and the file's earlier ones) are already written. */
  apply(event: FileChangeEvent): void {
    const row = changeRow(event, needsPrevious(event) ? this.previous(event) : undefined, this.maxBytes)
    this.statements.insert.run({ ...row, creates: Number(row.creates), known: Number(row.known) })
  }

  forget(sessionId: string): void {
    this.statements.forget.run(sessionId)
  }

  /** `maxBytes`: the reader's own limit on contents, below the store's (changes past it are not counted). */
  changes(sessionId: string, page: { limit: number; offset: number }, maxBytes: number): FileChanges {
    const bounds = { session: sessionId, max: maxBytes }
    const files = this.statements.files.all(bounds).map(({ first, ...file }) => file)
    const changes = this.statements.page
      .all({ ...bounds, ...page })
      .map((row): FileChangeRef => ({ ...row, known: row.known === 1 }))
    return {
      totals: {
        files: files.length,
        added: files.reduce((sum, file) => sum + file.added, 0),
        removed: files.reduce((sum, file) => sum + file.removed, 0),
      },
      files,
      changes: { items: changes, total: this.statements.count.get(sessionId)!.n },
    }
  }

  seqs(sessionId: string, path: string, seq: number): { first: number; last: number | null } | undefined {
    const first = this.statements.first.get(sessionId, path)!.seq
    if (first === null) return undefined
    return { first, last: this.statements.lastAt.get(sessionId, path, seq)!.seq }
  }

  /** The file's previous change in the session, if any. */
  private previous(event: FileChangeEvent): FileChangeEvent | undefined {
    const row = this.statements.previous.get(event.sessionId, event.path, event.seq)
    return row ? (JSON.parse(row.event) as FileChangeEvent) : undefined
  }
}
