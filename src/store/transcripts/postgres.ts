/**
 * Claude's transcripts in PostgreSQL: an Agent SDK `SessionStore` (alpha), so that a session written by one
 * replica can be resumed by any other.
 *
 * How the engine passes it to `query()` / `startup()`:
 * - `sessionStore: store` and `sessionStoreFlush: 'eager'`: each transcript line reaches `append()` as soon
 *   as the CLI has written it locally, so a finished turn is resumable elsewhere at once (the default,
 *   'batched', sends at the end of the turn). The CLI still writes its local JSONL under CLAUDE_CONFIG_DIR
 *   (the SDK mirrors it after each local write; `persistSession: false` is refused with a store). Every
 *   line is mirrored but the CLI's request records (`api-request`, `api-request-shape`, `api-request-blob`),
 *   which stay local.
 * - To resume, `resume: sessionId` with the same store: before spawning the CLI the SDK `load()`s the
 *   transcript (and `listSubkeys()` + `load()` each subagent transcript), writes them to a temporary
 *   config dir `claude-resume-*` in the OS temp dir (copying credentials and settings from the configured
 *   one), runs the CLI there, and removes it when the query closes. The resumed turns are mirrored from that
 *   temporary dir and never reach the configured CLAUDE_CONFIG_DIR: whatever reads local transcripts
 *   (engine/claude-home.ts) must read the store instead for such a session. Each `load()` / `listSubkeys()`
 *   is bounded by `loadTimeoutMs` (default 60 s); when `load()` gives null or nothing, the SDK leaves the
 *   CLI to look for the transcript in the configured dir.
 * - `projectKey` is the name of the transcript's folder under `<config dir>/projects`: the CLI's slug of the
 *   real path of `cwd` (every character but letters and digits becomes `-`, over 200 characters cut and
 *   hashed; see engine/claude-home.ts projectSlug), unless `env` sets both CLAUDE_CONFIG_DIR and
 *   CLAUDE_CODE_PROJECT_DIR_NAME (`[A-Za-z0-9_-]{1,64}`), whose value is then the key. Replicas that mount
 *   the same workspace at different paths must set CLAUDE_CODE_PROJECT_DIR_NAME (to the gateway session's
 *   id, say), or a resume looks under a key nothing was written to.
 * - `append()` is retried by the SDK (3 attempts) when it rejects, and not when it exceeds the SDK's 60 s:
 *   the statement timeout of the pool should be well below that. The batch is then dropped and the query
 *   emits a `system/mirror_error` message; the CLI goes on.
 *
 * Storage: every entry is a row, keyed by an identity ordinal (the append order) and kept as `json` (its
 * text as given: jsonb would refuse the `\u0000` a tool's output may hold), deduplicated on its `uuid`
 * within its transcript. The main transcripts have a row each in `transcript_sessions`, locked by every
 * append to them: the listing's mtime (the database's clock) and the SDK's folded summary are updated under
 * that lock, so appends from several replicas at once keep both consistent. Subagent transcripts (a
 * `subpath`) have entries only, like the SDK's InMemorySessionStore, which lists only main transcripts.
 *
 * Nothing here logs: errors reject the call they belong to, and neither contents nor credentials are put
 * in their messages.
 */
import {
  foldSessionSummary,
  type SessionKey,
  type SessionStore,
  type SessionStoreEntry,
  type SessionSummaryEntry,
} from '@anthropic-ai/claude-agent-sdk'
import pg from 'pg'
import { applySteps } from '../postgres/migrator.js'
import { transaction } from '../postgres/pool.js'

export type PostgresTranscriptStoreOptions = (
  | {
      /** A pool to share: the store never ends it, and names its tables with the schema whatever its search_path. */
      pool: pg.Pool
    }
  | {
      /** A connection URL: the store opens a pool of its own, ended by close(). */
      url: string
      /** Connections at most (default 4). */
      poolSize?: number
      /** The longest a statement may run, waiting for the session's lock included (default 20 s). */
      statementTimeoutMs?: number
      /** The longest a connection may take to open (default 5 s). */
      connectTimeoutMs?: number
    }
) & {
  /** The schema holding the tables, created when missing: lower-case letters, digits and `_`. */
  schema: string
}

/** A schema name used bare in SQL: only these, so nothing needs quoting. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/

/** Time the client waits for an answer past the server's statement timeout: the server is gone by then. */
const ANSWER_GRACE_MS = 5_000

/** The subpath of a main transcript: the SDK never gives an empty one (it means "no subpath"). */
const MAIN = ''

/**
 * The tables as numbered steps, applied in order at open; `transcript_migrations` records each one applied
 * (apart from the gateway store's `schema_migrations`, so both may share a schema). A step is never changed
 * once released: a change is a new step. Each is given the checked schema name.
 */
const MIGRATIONS: readonly ((schema: string) => string)[] = [
  // 1: entries in append order, and the main transcripts with their mtime and folded summary.
  (schema) => `
  CREATE TABLE ${schema}.transcript_entries (
    ordinal bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_key text NOT NULL,
    session_id text NOT NULL,
    subpath text NOT NULL, -- '' for the main transcript
    uuid text, -- NULL for an entry without one, never deduplicated (NULLs are distinct)
    entry json NOT NULL
  );
  CREATE UNIQUE INDEX transcript_entries_uuid ON ${schema}.transcript_entries (project_key, session_id, subpath, uuid);
  CREATE INDEX transcript_entries_by_key ON ${schema}.transcript_entries (project_key, session_id, subpath, ordinal);
  CREATE TABLE ${schema}.transcript_sessions (
    project_key text NOT NULL,
    session_id text NOT NULL,
    mtime bigint NOT NULL, -- ms since the epoch, the database's clock, at the last append to the main transcript
    summary json, -- foldSessionSummary's data, verbatim
    PRIMARY KEY (project_key, session_id)
  );
  `,
]

export const TRANSCRIPT_SCHEMA_VERSION = MIGRATIONS.length

/** Now in integer ms by the database's clock, never at or before the session's last mtime. */
const NEXT_MTIME = 'floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint'

export class PostgresTranscriptStore implements SessionStore {
  private readonly sql: ReturnType<typeof statements>

  private constructor(
    private readonly pool: pg.Pool,
    private readonly ownsPool: boolean,
    schema: string,
  ) {
    this.sql = statements(schema)
  }

  /** Connects and brings the schema up to date; rejects when the server cannot be reached or the schema is newer. */
  static async open(options: PostgresTranscriptStoreOptions): Promise<PostgresTranscriptStore> {
    const { schema } = options
    if (!SCHEMA_NAME.test(schema))
      throw new Error(
        `Transcript schema "${schema}" is not a plain schema name (lower-case letters, digits and _)`,
      )
    const ownsPool = !('pool' in options)
    const pool =
      'pool' in options
        ? options.pool
        : new pg.Pool({
            connectionString: options.url,
            max: options.poolSize ?? 4,
            application_name: 'claude-code-gateway transcripts',
            statement_timeout: options.statementTimeoutMs ?? 20_000,
            query_timeout: (options.statementTimeoutMs ?? 20_000) + ANSWER_GRACE_MS,
            connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
            keepAlive: true,
          })
    // An idle connection the server closed (a restart): the next statement opens another.
    if (ownsPool) pool.on('error', () => {})
    try {
      await migrate(pool, schema)
    } catch (error) {
      if (ownsPool) await pool.end().catch(() => {})
      throw error
    }
    return new PostgresTranscriptStore(pool, ownsPool, schema)
  }

  async append(key: SessionKey, entries: SessionStoreEntry[]): Promise<void> {
    // Nothing to keep: a key is written by its first entry.
    if (entries.length === 0) return
    const subpath = key.subpath || MAIN
    const batch = [JSON.stringify(entries), entries.map(uuidOf)]
    if (subpath !== MAIN) {
      await this.pool.query(this.sql.insertEntries, [key.projectKey, key.sessionId, subpath, ...batch])
      return
    }
    await transaction(this.pool, async (client) => {
      // The session's row first: its lock orders concurrent appends, their ordinals and their folds alike.
      const locked = await client.query<{ mtime: string | number; summary: string | null }>(
        this.sql.lockSession,
        [key.projectKey, key.sessionId],
      )
      const row = locked.rows[0]!
      const mtime = Number(row.mtime)
      const inserted = await client.query<{ uuid: string | null }>(this.sql.insertEntries, [
        key.projectKey,
        key.sessionId,
        MAIN,
        ...batch,
      ])
      const previous: SessionSummaryEntry | undefined =
        row.summary === null
          ? undefined
          : { sessionId: key.sessionId, mtime, data: JSON.parse(row.summary) as Record<string, unknown> }
      // Only what was kept is folded: a replayed batch must not take last-wins fields back in time.
      const kept = keptEntries(entries, inserted.rows)
      const summary = foldSessionSummary(previous, key, kept, { mtime })
      await client.query(this.sql.saveSummary, [key.projectKey, key.sessionId, JSON.stringify(summary.data)])
    })
  }

  async load(key: SessionKey): Promise<SessionStoreEntry[] | null> {
    const { rows } = await this.pool.query<{ entry: string }>(this.sql.load, [
      key.projectKey,
      key.sessionId,
      key.subpath || MAIN,
    ])
    if (rows.length === 0) return null
    return rows.map((row) => JSON.parse(row.entry) as SessionStoreEntry)
  }

  async listSessions(projectKey: string): Promise<Array<{ sessionId: string; mtime: number }>> {
    const { rows } = await this.pool.query<{ session_id: string; mtime: string | number }>(
      this.sql.listSessions,
      [projectKey],
    )
    return rows.map((row) => ({ sessionId: row.session_id, mtime: Number(row.mtime) }))
  }

  async listSessionSummaries(projectKey: string): Promise<SessionSummaryEntry[]> {
    const { rows } = await this.pool.query<{ session_id: string; mtime: string | number; summary: string }>(
      this.sql.listSummaries,
      [projectKey],
    )
    return rows.map((row) => ({
      sessionId: row.session_id,
      mtime: Number(row.mtime),
      data: JSON.parse(row.summary) as Record<string, unknown>,
    }))
  }

  /** The main transcript takes its subagent transcripts and its summary with it; a subpath goes alone. */
  async delete(key: SessionKey): Promise<void> {
    const subpath = key.subpath || MAIN
    if (subpath === MAIN) await this.pool.query(this.sql.deleteSession, [key.projectKey, key.sessionId])
    else await this.pool.query(this.sql.deleteSubkey, [key.projectKey, key.sessionId, subpath])
  }

  /** The session's subpaths, in the order they were first written. */
  async listSubkeys(key: { projectKey: string; sessionId: string }): Promise<string[]> {
    const { rows } = await this.pool.query<{ subpath: string }>(this.sql.listSubkeys, [
      key.projectKey,
      key.sessionId,
    ])
    return rows.map((row) => row.subpath)
  }

  private closed = false

  /** Ends the store's own pool (once, however often called); a shared one is the caller's to end. */
  async close(): Promise<void> {
    if (!this.ownsPool || this.closed) return
    this.closed = true
    await this.pool.end()
  }
}

/** The statements, with the schema named in each: a shared pool's search_path may be another schema. */
function statements(schema: string) {
  const entries = `${schema}.transcript_entries`
  const sessions = `${schema}.transcript_sessions`
  return {
    // One statement per batch whatever its size: the batch as one json array taken apart in its order, beside
    // the uuids read in JavaScript (json operators on an entry fail on a \u0000 anywhere in it). ON CONFLICT
    // DO NOTHING also skips a uuid repeated within the batch.
    insertEntries: `
      INSERT INTO ${entries} (project_key, session_id, subpath, uuid, entry)
      SELECT $1, $2, $3, e.uuid, e.entry
      FROM ROWS FROM (json_array_elements($4::json), unnest($5::text[])) WITH ORDINALITY AS e(entry, uuid, n)
      ORDER BY e.n
      ON CONFLICT (project_key, session_id, subpath, uuid) DO NOTHING
      RETURNING uuid`,
    // Creates or locks the session's row until the transaction ends, and stamps this append's mtime;
    // the summary returned is the one before this append.
    lockSession: `
      INSERT INTO ${sessions} AS s (project_key, session_id, mtime) VALUES ($1, $2, ${NEXT_MTIME})
      ON CONFLICT (project_key, session_id) DO UPDATE SET mtime = greatest(excluded.mtime, s.mtime + 1)
      RETURNING s.mtime, s.summary::text AS summary`,
    saveSummary: `UPDATE ${sessions} SET summary = $3::json WHERE project_key = $1 AND session_id = $2`,
    load: `
      SELECT entry::text AS entry FROM ${entries}
      WHERE project_key = $1 AND session_id = $2 AND subpath = $3 ORDER BY ordinal`,
    listSessions: `SELECT session_id, mtime FROM ${sessions} WHERE project_key = $1`,
    listSummaries: `
      SELECT session_id, mtime, summary::text AS summary FROM ${sessions}
      WHERE project_key = $1 AND summary IS NOT NULL`,
    listSubkeys: `
      SELECT subpath FROM ${entries} WHERE project_key = $1 AND session_id = $2 AND subpath <> ''
      GROUP BY subpath ORDER BY min(ordinal)`,
    deleteSession: `
      WITH gone AS (DELETE FROM ${sessions} WHERE project_key = $1 AND session_id = $2)
      DELETE FROM ${entries} WHERE project_key = $1 AND session_id = $2`,
    deleteSubkey: `DELETE FROM ${entries} WHERE project_key = $1 AND session_id = $2 AND subpath = $3`,
  }
}

/**
 * The entries of a batch that were stored, in order, given the uuids the insert returned: every entry
 * without a uuid, and the first of each uuid returned (a uuid already stored, or repeated, was skipped).
 */
function keptEntries(entries: SessionStoreEntry[], inserted: { uuid: string | null }[]): SessionStoreEntry[] {
  const fresh = new Set<string>()
  for (const row of inserted) if (row.uuid !== null) fresh.add(row.uuid)
  return entries.filter((entry) => {
    const uuid = uuidOf(entry)
    return uuid === null || fresh.delete(uuid)
  })
}

/** An entry's idempotency key: its uuid when it has one (a string), else none. */
const uuidOf = (entry: SessionStoreEntry): string | null =>
  typeof entry.uuid === 'string' ? entry.uuid : null

/**
 * Brings `schema` (created when missing) to TRANSCRIPT_SCHEMA_VERSION under an advisory lock of its own
 * (../postgres/migrator.ts): replicas opening at once migrate one after the other, the first doing the work.
 */
function migrate(pool: pg.Pool, schema: string): Promise<void> {
  return applySteps(pool, schema, {
    steps: MIGRATIONS.map((step) => step(schema)),
    table: `${schema}.transcript_migrations`,
    lock: `claude-code-gateway transcripts ${schema}`,
    refused: `The transcripts in schema ${schema} have schema version`,
  })
}
