import type Database from 'better-sqlite3'

/**
 * The SQLite schema as numbered steps, applied in order at open; `PRAGMA user_version` records the last one
 * applied, so a database written by an older gateway is brought up to date and a newer one is refused
 * (an older gateway must not write a schema it does not know). A step is never changed once released:
 * a change is a new step.
 */
const MIGRATIONS: readonly string[] = [
  // 1: sessions and their event log (the schema of every release before versions were recorded).
  `
  CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    workspace TEXT NOT NULL,
    agent TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    record TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS sessions_by_update ON sessions (updated_at DESC);
  CREATE TABLE IF NOT EXISTS events (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
  ) WITHOUT ROWID;
  `,
  // 2: every event's global position (events/positions.ts), the order of GET /api/events; NULL for the
  // events written before it, which that stream cannot replay.
  `
  ALTER TABLE events ADD COLUMN pos INTEGER;
  CREATE INDEX events_by_pos ON events (pos);
  `,
  // 3: the read models derived from the log (read-models.ts).
  `
  CREATE TABLE tool_calls (
    session_id TEXT NOT NULL,
    tool_use_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    name TEXT NOT NULL,
    turn_id TEXT NOT NULL,
    caller TEXT NOT NULL,
    agent TEXT,
    subagent TEXT, -- a Task (Agent) call: the subagent type it ran
    status TEXT NOT NULL,
    finished_at INTEGER,
    duration_ms INTEGER,
    input_tokens INTEGER NOT NULL, -- a subagent run's tokens, as its result reports them
    output_tokens INTEGER NOT NULL,
    PRIMARY KEY (session_id, tool_use_id)
  ) WITHOUT ROWID;
  CREATE INDEX tool_calls_by_ts ON tool_calls (ts DESC, seq DESC);
  CREATE INDEX tool_calls_by_name ON tool_calls (name, ts DESC);
  CREATE INDEX tool_calls_by_session ON tool_calls (session_id, ts DESC);
  CREATE INDEX tool_calls_by_turn ON tool_calls (session_id, turn_id);
  CREATE INDEX tool_calls_by_status ON tool_calls (status, ts DESC);
  CREATE INDEX tool_calls_by_subagent ON tool_calls (subagent, ts) WHERE subagent IS NOT NULL;
  CREATE TABLE turns (
    session_id TEXT NOT NULL,
    turn_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    agent TEXT,
    model TEXT,
    status TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    PRIMARY KEY (session_id, turn_id)
  ) WITHOUT ROWID;
  CREATE INDEX turns_by_start ON turns (started_at);
  `,
  // 4: each event's type as a column, so that filtered reads walk an index rather than the log (the rows
  // SQLite's JSON cannot read keep NULL, and are checked as they are read; filling it takes about half a
  // second per 100,000 events); the high-water mark of the positions handed out (`reserved_pos`, see
  // EventBus), so that none is handed out twice.
  `
  ALTER TABLE events ADD COLUMN type TEXT;
  UPDATE events SET type = json_extract(event, '$.type') WHERE json_valid(event);
  CREATE INDEX events_by_type ON events (type, pos);
  CREATE INDEX events_by_session_pos ON events (session_id, pos);
  CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
  `,
  // 5: the facts a call's status is decided from, kept in its row so that each event updates only the rows
  // it names (store/tool-call-index.ts); each code change with its line counts (store/file-changes.ts); and
  // the sessions whose rows are (re)built from their events in the background (read-models.ts): every
  // session with events, as the rows of step 3 lack the new facts.
  `
  ALTER TABLE tool_calls ADD COLUMN request_id TEXT;
  ALTER TABLE tool_calls ADD COLUMN result_error INTEGER; -- NULL: no result yet
  ALTER TABLE tool_calls ADD COLUMN result_denied INTEGER;
  ALTER TABLE tool_calls ADD COLUMN resolved_behavior TEXT;
  ALTER TABLE tool_calls ADD COLUMN resolved_by TEXT;
  ALTER TABLE tool_calls ADD COLUMN ended TEXT;
  ALTER TABLE tool_calls ADD COLUMN ended_at INTEGER;
  ALTER TABLE tool_calls ADD COLUMN unanswered TEXT; -- a failure the model has not answered: its thread
  ALTER TABLE tool_calls ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX tool_calls_open ON tool_calls (session_id, turn_id) WHERE result_error IS NULL AND ended IS NULL;
  CREATE INDEX tool_calls_by_request ON tool_calls (session_id, request_id) WHERE request_id IS NOT NULL;
  CREATE INDEX tool_calls_unanswered ON tool_calls (session_id, unanswered) WHERE unanswered IS NOT NULL;
  CREATE TABLE file_changes (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    turn_id TEXT NOT NULL,
    tool_use_id TEXT NOT NULL,
    tool TEXT NOT NULL,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    creates INTEGER NOT NULL, -- it brought the file into existence
    added INTEGER, -- NULL: unknown
    removed INTEGER,
    known INTEGER NOT NULL,
    size INTEGER, -- the larger side's length in bytes, when both are known
    PRIMARY KEY (session_id, seq)
  ) WITHOUT ROWID;
  CREATE INDEX file_changes_by_path ON file_changes (session_id, path, seq);
  CREATE TABLE read_model_builds (session_id TEXT PRIMARY KEY, next_seq INTEGER NOT NULL) WITHOUT ROWID;
  DELETE FROM tool_calls;
  DELETE FROM turns;
  INSERT INTO read_model_builds (session_id, next_seq)
    SELECT id, 0 FROM sessions WHERE EXISTS (SELECT 1 FROM events WHERE session_id = sessions.id);
  `,
  // 6: people (src/users/, store/access-sqlite.ts): each session's owner as a column (NULL: the operator's,
  // which no owner filter matches; the records written before this step name none); the users kept through the admin API, their keys
  // (only hashes), the audit trail and each user's usage per UTC day. Keys belong to a user (deleted with
  // them); sessions, audit entries and usage do not, so that history outlives the account.
  `
  ALTER TABLE sessions ADD COLUMN owner TEXT;
  CREATE INDEX sessions_by_owner ON sessions (owner, updated_at DESC);
  CREATE TABLE users (
    name TEXT PRIMARY KEY,
    record TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    label TEXT,
    prefix TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE, -- SHA-256 of the key, hex
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER,
    last_used_at INTEGER,
    parent_id TEXT -- the key it was made with, when its user made it (revoked with it)
  );
  CREATE INDEX api_keys_by_user ON api_keys (user_name, created_at DESC);
  CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, even after a prune: the cursor of a paged read
    ts INTEGER NOT NULL,
    actor TEXT,
    role TEXT,
    action TEXT NOT NULL,
    session_id TEXT,
    target TEXT,
    status INTEGER NOT NULL,
    request_id TEXT,
    ip TEXT,
    detail TEXT NOT NULL
  );
  CREATE INDEX audit_by_ts ON audit (ts);
  CREATE INDEX audit_by_actor ON audit (actor, id DESC);
  CREATE INDEX audit_by_action ON audit (action, id DESC);
  CREATE INDEX audit_by_session ON audit (session_id, id DESC) WHERE session_id IS NOT NULL;
  CREATE TABLE usage (
    user_name TEXT NOT NULL,
    day TEXT NOT NULL, -- YYYY-MM-DD, UTC
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    turns INTEGER NOT NULL,
    PRIMARY KEY (user_name, day)
  ) WITHOUT ROWID;
  `,
]

export const SCHEMA_VERSION = MIGRATIONS.length

/** Brings the database to SCHEMA_VERSION, each step in a transaction of its own. */
export function migrate(db: Database.Database, file: string): void {
  const current = db.pragma('user_version', { simple: true }) as number
  if (current > SCHEMA_VERSION)
    throw new Error(
      `${file} has schema version ${current}, newer than this gateway's ${SCHEMA_VERSION}: upgrade the gateway`,
    )
  for (let version = current + 1; version <= SCHEMA_VERSION; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version - 1]!)
      db.pragma(`user_version = ${version}`)
    })()
  }
}
