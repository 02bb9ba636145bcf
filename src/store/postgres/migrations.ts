import type pg from 'pg'
import { applySteps, schemaLock } from './migrator.js'

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
  // 2: people, as SQLite's step 6 keeps them (access.ts): each session's owner (NULL: the operator's; the
  // records written before this step name none), the users kept through the admin API, their keys (only
  // hashes), the audit trail and usage per user and UTC day. Keys go with their user; sessions, audit
  // entries and usage stay. `user` is reserved in PostgreSQL: the columns are `user_name` in both stores.
  `
  ALTER TABLE sessions ADD COLUMN owner text;
  CREATE INDEX sessions_by_owner ON sessions (owner, updated_at DESC, id COLLATE "C");
  CREATE TABLE users (
    name text PRIMARY KEY,
    record text NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
  );
  CREATE TABLE api_keys (
    id text PRIMARY KEY,
    user_name text NOT NULL,
    label text,
    prefix text NOT NULL,
    hash text NOT NULL UNIQUE,
    created_at bigint NOT NULL,
    expires_at bigint,
    revoked_at bigint,
    last_used_at bigint,
    parent_id text
  );
  CREATE INDEX api_keys_by_user ON api_keys (user_name, created_at DESC);
  -- detail is kept as the text written, as events are: read back exactly as it was given.
  CREATE TABLE audit (
    id bigserial PRIMARY KEY,
    ts bigint NOT NULL,
    actor text,
    role text,
    action text NOT NULL,
    session_id text,
    target text,
    status integer NOT NULL,
    request_id text,
    ip text,
    detail text NOT NULL
  );
  CREATE INDEX audit_by_ts ON audit (ts);
  CREATE INDEX audit_by_actor ON audit (actor, id DESC);
  CREATE INDEX audit_by_action ON audit (action, id DESC);
  CREATE INDEX audit_by_session ON audit (session_id, id DESC) WHERE session_id IS NOT NULL;
  CREATE TABLE usage (
    user_name text NOT NULL,
    day text NOT NULL,
    input_tokens bigint NOT NULL,
    output_tokens bigint NOT NULL,
    cost_usd double precision NOT NULL,
    turns bigint NOT NULL,
    PRIMARY KEY (user_name, day)
  );
  `,
]

export const SCHEMA_VERSION = MIGRATIONS.length

/**
 * Brings `schema` (created when missing) to SCHEMA_VERSION, under the schema's advisory lock (migrator.ts).
 * `where` names the database in messages.
 */
export function migrate(pool: pg.Pool, schema: string, where: string): Promise<void> {
  return applySteps(pool, schema, {
    steps: MIGRATIONS,
    table: 'schema_migrations',
    lock: schemaLock(schema),
    refused: `${where} (schema ${schema}) has schema version`,
  })
}
