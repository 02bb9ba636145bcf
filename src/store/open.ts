/**
 * The gateway's storage, as the configuration chooses it: SQLite in `store.dataDir` (the embedded default),
 * or PostgreSQL at `store.url`, which several replicas share, with Claude's own transcripts mirrored there
 * too (the Agent SDK's `sessionStore`), so that any replica can resume any session.
 */
import type { SessionStore } from '@anthropic-ai/claude-agent-sdk'
import type { Logger } from 'pino'
import type { Config } from '../config/index.js'
import type { Store } from './types.js'

export interface OpenedStore {
  store: Store
  /** Where Claude Code's transcripts are mirrored (the SDK's `sessionStore`); null: its local files only. */
  transcripts: SessionStore | null
  /** Applies `store.maxSizeBytes` (a limit of the SQLite file; PostgreSQL's size is its server's business). */
  setMaxSize(bytes: number): void
  /** Closes the transcripts' connections, then the store. */
  close(): Promise<void>
}

/** Connections of the transcripts' own pool: the SDK sends one append at a time per session. */
export const TRANSCRIPT_POOL_SIZE = 4

export async function openStore(config: Config, log: Logger): Promise<OpenedStore> {
  const onUnreadableEvent = (session: string, seq: number, err: Error) =>
    log.error({ err, session, seq }, 'a stored event cannot be read; it is left out')
  const { url } = config.store
  if (url === null) {
    const { SqliteStore } = await import('./sqlite.js')
    const store = new SqliteStore(config.store.dataDir, {
      maxSizeBytes: config.store.maxSizeBytes,
      onCheckpointThreadFailure: (err) =>
        log.warn({ err }, 'the store checkpoint thread failed; checkpoints run on the event loop again'),
      onUnreadableEvent,
      onReadModelError: (err, sessions) =>
        log.error(
          { err, sessions },
          "the read models' rows of some events could not be derived; they are rebuilt",
        ),
      changeCountMaxBytes: config.store.changeCountMaxBytes,
    })
    return {
      store,
      transcripts: null,
      setMaxSize: (bytes) => store.setMaxSize(bytes),
      close: () => store.close(),
    }
  }
  const [{ openPostgresStore }, { PostgresTranscriptStore }] = await Promise.all([
    import('./postgres/store.js'),
    import('./transcripts/postgres.js'),
  ])
  const { schema, poolSize, statementTimeoutMs, changeCountMaxBytes } = config.store
  const store = await openPostgresStore(url, {
    schema,
    poolSize,
    statementTimeoutMs,
    changeCountMaxBytes,
    onUnreadableEvent,
    onReadModelError: (err, sessions) =>
      log.error({ err, sessions }, "the read models' rows of some events could not be derived"),
  })
  const transcripts = await PostgresTranscriptStore.open({
    url,
    schema,
    poolSize: Math.min(poolSize, TRANSCRIPT_POOL_SIZE),
  }).catch(async (error: unknown) => {
    await store.close()
    throw error
  })
  return {
    store,
    transcripts,
    setMaxSize: () => {},
    async close() {
      await transcripts.close()
      await store.close()
    },
  }
}
