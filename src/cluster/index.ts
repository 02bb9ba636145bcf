/**
 * What a gateway on a shared log needs beside its store: something that tells every replica that events
 * were committed (the bus's feed reads them then), and, with several replicas (`cluster.redisUrl`), this
 * replica's identity and the leases that make it the one owner of the sessions it runs.
 */
import type { Logger } from 'pino'
import { createClient, type RedisClientType } from 'redis'
import type { Config } from '../config/index.js'
import { type Fanout, LocalFanout } from '../events/fanout.js'
import { TRANSCRIPT_POOL_SIZE } from '../store/open.js'
import type { LeaseBook } from './leases.js'
import { defaultReplicaId, type Replica } from './replica.js'

/**
 * Connections of the lease book's own pool: a heartbeat (one statement for every lease) a third of the TTL
 * apart, and a claim when a session goes live here; never behind the store's queries.
 */
const LEASE_POOL_SIZE = 2

/**
 * The most PostgreSQL connections one gateway opens: the store's pool, the transcripts' and, with several
 * replicas, the leases'. Every replica's together must fit in the server's `max_connections`.
 */
export function postgresConnectionsOf(config: Config): number {
  if (config.store.url === null) return 0
  const { poolSize } = config.store
  return poolSize + Math.min(poolSize, TRANSCRIPT_POOL_SIZE) + (config.cluster.redisUrl ? LEASE_POOL_SIZE : 0)
}

export interface Sharing {
  /** The name in this replica's notices and lease rows. */
  replicaId: string
  fanout: Fanout
  /**
   * Several replicas: who this one is, the sessions it owns, and a Redis client for what they share besides
   * (OpenAI conversations); null for a gateway alone on its log.
   */
  cluster: { replica: Replica; leases: LeaseBook; kv: RedisClientType } | null
  /** Leaves the cluster: the leases' connections, then the fanout's (release the leases first). */
  close(): Promise<void>
}

export interface SharingHooks {
  /** A lease this replica held was lost (taken over): its session's process must stop at once. */
  onLeaseLost(sessionId: string): void
}

/** Joins the replicas that share `store.url`, or, without `cluster.redisUrl`, serves the log alone. */
export async function openSharing(config: Config, log: Logger, hooks: SharingHooks): Promise<Sharing> {
  const { redisUrl, keyPrefix, replicaId, advertiseUrl, secret, leaseTtlMs, workspaces } = config.cluster
  if (redisUrl === null) {
    const fanout = new LocalFanout(log.child({ component: 'fanout' }))
    return {
      replicaId: replicaId ?? defaultReplicaId(),
      fanout,
      cluster: null,
      close: () => fanout.close(),
    }
  }
  const [{ Replica }, { LeaseBook }, { connectRedisFanout }] = await Promise.all([
    import('./replica.js'),
    import('./leases.js'),
    import('../events/redis-fanout.js'),
  ])
  // Checked first: a replica without its secret must not connect anywhere.
  const replica = new Replica({ id: replicaId, advertiseUrl, secret })
  const fanout = await connectRedisFanout({
    url: redisUrl,
    keyPrefix,
    logger: log.child({ component: 'fanout' }),
    clientName: `ccgw-${replica.id}`,
  })
  // Apart from the fanout's connections (one of them is held by its subscription): reads and writes of keys.
  const kv: RedisClientType = createClient({ url: redisUrl, name: `ccgw-${replica.id}-kv` })
  kv.on('error', (err: Error) => log.warn({ err }, 'Redis (shared keys): connection error'))
  await kv.connect().catch(async (error: unknown) => {
    await fanout.close()
    throw error
  })
  const leaseLog = log.child({ component: 'leases' })
  const leases = await LeaseBook.open({
    url: config.store.url!,
    schema: config.store.schema,
    replica,
    ttlMs: leaseTtlMs,
    workspaces,
    poolSize: LEASE_POOL_SIZE,
    onLost: (session) => {
      leaseLog.warn(
        { session },
        'lost the lease of a session (another replica took it over); its process stops',
      )
      hooks.onLeaseLost(session)
    },
    onError: (err) => leaseLog.warn({ err }, 'the leases could not be renewed; tried again at the next beat'),
  }).catch(async (error: unknown) => {
    kv.destroy()
    await fanout.close()
    throw error
  })
  return {
    replicaId: replica.id,
    fanout,
    cluster: { replica, leases, kv },
    async close() {
      await leases.close()
      await kv.close().catch(() => kv.destroy())
      await fanout.close()
    },
  }
}
