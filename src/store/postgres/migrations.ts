import type pg from 'pg'

/**
 * The PostgreSQL schema as numbered steps, applied in order when a store opens; `schema_migrations` records
 * each one applied, so a database written by an older gateway is brought up to date and a newer one is
 * refused (an older gateway must not write a schema it does not know). A step is never changed once
 * released: a change is a new step. The tables mirror SQLite's (../migrations.ts), with each event's global
 * position as the key of the log.
 */
const MIGRATIONS: readonly string[] = [
  // 1: sessions, the event log with its position counter, and the read models derived from the log.
  `
  CREATE TABLE sessions (
    id text PRIMARY KEY,
    state text NOT NULL,
    workspace text NOT NULL,
    agent text,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    record text NOT NULL
  );
  CREATE INDEX sessions_by_update ON sessions (updated_at DESC, id COLLATE "C");
  -- Events are kept as the text the bus serialised (events/json.ts), not jsonb: read back, they are
  -- exactly what was published (jsonb would reorder keys and rewrite numbers), and a write costs no parse.
  -- An event outside its session's sequence (seq 0: session.created, session.deleted) is one of several
  -- with that seq: the position alone tells them apart, the sequence is unique among the others.
  CREATE TABLE events (
    pos bigint PRIMARY KEY,
    session_id text NOT NULL,
    seq integer NOT NULL,
    type text NOT NULL,
    event text NOT NULL
  );
  CREATE UNIQUE INDEX events_session_seq ON events (session_id, seq) WHERE seq > 0;
  CREATE INDEX events_by_session_pos ON events (session_id, pos);
  CREATE INDEX events_by_type ON events (type, pos);
  -- The last position handed out: its row is locked by each write of events until it commits.
  CREATE TABLE positions (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    last bigint NOT NULL
  );
  INSERT INTO positions (last) VALUES (0);
  CREATE TABLE tool_calls (
    session_id text NOT NULL,
    tool_use_id text NOT NULL,
    seq integer NOT NULL,
    ts bigint NOT NULL,
    name text NOT NULL,
    turn_id text NOT NULL,
    caller text NOT NULL,
    agent text,
    subagent text,
    status text NOT NULL,
    finished_at bigint,
    duration_ms double precision,
    input_tokens bigint NOT NULL,
    output_tokens bigint NOT NULL,
    request_id text,
    result_error smallint,
    result_denied smallint,
    resolved_behavior text,
    resolved_by text,
    ended text,
    ended_at bigint,
    unanswered text,
    last_seq integer NOT NULL,
    PRIMARY KEY (session_id, tool_use_id)
  );
  CREATE INDEX tool_calls_by_ts ON tool_calls (ts DESC, seq DESC);
  CREATE INDEX tool_calls_by_name ON tool_calls (name, ts DESC);
  CREATE INDEX tool_calls_by_session ON tool_calls (session_id, ts DESC);
  CREATE INDEX tool_calls_by_status ON tool_calls (status, ts DESC);
  CREATE INDEX tool_calls_by_subagent ON tool_calls (subagent, ts) WHERE subagent IS NOT NULL;
  CREATE INDEX tool_calls_open ON tool_calls (session_id, turn_id) WHERE result_error IS NULL AND ended IS NULL;
  CREATE INDEX tool_calls_by_request ON tool_calls (session_id, request_id) WHERE request_id IS NOT NULL;
  CREATE INDEX tool_calls_unanswered ON tool_calls (session_id, unanswered) WHERE unanswered IS NOT NULL;
  CREATE TABLE turns (
    session_id text NOT NULL,
    turn_id text NOT NULL,
    seq integer NOT NULL,
    agent text,
    model text,
    status text NOT NULL,
    started_at bigint NOT NULL,
    duration_ms double precision NOT NULL,
    input_tokens bigint NOT NULL,
    output_tokens bigint NOT NULL,
    cost_usd double precision NOT NULL,
    PRIMARY KEY (session_id, turn_id)
  );
  CREATE INDEX turns_by_start ON turns (started_at);
  CREATE TABLE file_changes (
    session_id text NOT NULL,
    seq integer NOT NULL,
    ts bigint NOT NULL,
    turn_id text NOT NULL,
    tool_use_id text NOT NULL,
    tool text NOT NULL,
    path text NOT NULL,
    kind text NOT NULL,
    creates boolean NOT NULL,
    added integer,
    removed integer,
    known boolean NOT NULL,
    size bigint,
    PRIMARY KEY (session_id, seq)
  );
  CREATE INDEX file_changes_by_path ON file_changes (session_id, path, seq);
  `,
]

export const SCHEMA_VERSION = MIGRATIONS.length

/** The longest wait a timer allows (about 24 days): no timeout, as node-postgres takes no 0 for one. */
const NO_TIMEOUT_MS = 2 ** 31 - 1

/**
 * Brings `schema` (created when missing) to SCHEMA_VERSION, in one transaction that holds an advisory lock
 * of the schema's: replicas starting at once migrate one after the other, so the first migrates and the
 * others find it done. `where` names the database in messages.
 */
export async function migrate(pool: pg.Pool, schema: string, where: string): Promise<void> {
  const client = await pool.connect()
  // A step may take longer than a statement may, and a replica waits for another's steps as long: neither
  // the server's statement timeout nor the client's wait for an answer applies here.
  const run = (text: string, values: unknown[] = []) =>
    client.query({ text, values, query_timeout: NO_TIMEOUT_MS } as pg.QueryConfig)
  let failure: unknown
  // A connection lost between statements is told to the statement after, not thrown at the process.
  const lost = (error: Error) => {
    failure = error
  }
  client.on('error', lost)
  try {
    await run('BEGIN')
    await run('SET LOCAL statement_timeout = 0')
    await run('SELECT pg_advisory_xact_lock(hashtext($1))', [`claude-code-gateway ${schema}`])
    const exists = await run('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])
    // The name is checked (pool.ts): bare in SQL, it needs no quoting.
    if (exists.rowCount === 0) await run(`CREATE SCHEMA ${schema}`)
    await run(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    )
    const { rows } = await run('SELECT coalesce(max(version), 0) AS version FROM schema_migrations')
    const current = (rows[0] as { version: number }).version
    if (current > SCHEMA_VERSION)
      throw new Error(
        `${where} (schema ${schema}) has schema version ${current}, newer than this gateway's ${SCHEMA_VERSION}: upgrade the gateway`,
      )
    for (let version = current + 1; version <= SCHEMA_VERSION; version++) {
      await run(MIGRATIONS[version - 1]!)
      await run('INSERT INTO schema_migrations (version) VALUES ($1)', [version])
    }
    await run('COMMIT')
  } catch (error) {
    failure = error
    await client.query('ROLLBACK').catch(() => {})
    throw error
  } finally {
    client.off('error', lost)
    // A connection that failed is not handed out again.
    client.release(failure instanceof Error ? failure : undefined)
  }
}
