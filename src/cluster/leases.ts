/**
 * Which replica owns each live session: a lease row in PostgreSQL per session, held by the replica that runs
 * its Claude Code process and renewed by a heartbeat. Another replica forwards the session's requests to the
 * holder's address, or takes the session over once the lease has expired: its holder is gone.
 *
 * Every decision is one statement judged by the database's clock, so the replicas' clocks do not matter, and
 * two replicas racing for an expired lease cannot both win. A takeover increments `epoch`, the fencing token:
 * a slow holder (a GC pause, a network partition) whose lease was taken meanwhile finds out at its next
 * heartbeat, is told through `onLost`, and never gets the lease back by renewing it.
 */
import { performance } from 'node:perf_hooks'
import type pg from 'pg'
import { createPool, describeUrl } from '../store/postgres/pool.js'
import { migrateLeases } from './lease-schema.js'
import type { Replica } from './replica.js'

export interface LeaseBookOptions {
  /** `store.url`: the PostgreSQL the replicas share. */
  url: string
  /** `store.schema`. */
  schema: string
  replica: Pick<Replica, 'id' | 'incarnation' | 'advertiseUrl'>
  /** `cluster.leaseTtlMs`: how long a holder that stopped renewing keeps its sessions. */
  ttlMs?: number
  /** How often the held leases are renewed; a third of the TTL by default, so two renewals may fail. */
  heartbeatMs?: number
  /**
   * `cluster.workspaces`. `pinned`: a session's workspace exists on its replica's disk only, so no other
   * replica may take it over, even once its lease expired or was released (a restarted replica of the same
   * name may).
   */
  workspaces?: 'shared' | 'pinned'
  /** Connections of the lease book's own pool: heartbeats never wait behind the store's queries. */
  poolSize?: number
  /**
   * A lease this replica held is gone (taken over after it expired, or unconfirmed for longer than the TTL):
   * stop the session's process and write nothing more for it.
   */
  onLost?: (sessionId: string) => void
  /** A heartbeat failed (it is tried again at the next beat); for the log. */
  onError?: (error: unknown) => void
}

export const DEFAULT_LEASE_TTL_MS = 15_000

export type Acquisition =
  | {
      owner: 'self'
      /** The fencing token of this holding: grows with every change of holder. */
      epoch: number
      /**
       * This call took over a lease its holder had not released (it expired): a turn that was running there
       * is lost and must be recorded as interrupted. null when the session was free, released, or ours.
       */
      takeover: { replicaId: string } | null
    }
  | ({ owner: 'other' } & Omit<Lease, 'self'>)

export interface Lease {
  replicaId: string
  /** Where the holder takes the session's requests. */
  address: string
  epoch: number
  /** Held by this process. */
  self: boolean
  /** Unexpired and not released: the holder is (as far as anyone can tell) running the session. */
  live: boolean
  /** Until the lease expires unless renewed; 0 once expired or released. */
  expiresInMs: number
}

interface Holding {
  epoch: number
  /** performance.now() past which the lease may have expired: from when its last confirmation was sent. */
  confirmedUntil: number
}

interface LeaseRow {
  replica_id: string
  incarnation: string
  address: string
  epoch: number | string
  live: boolean
  expires_in_ms: number
}

/** Refused, then found free when read (released or expired in between): asked again, up to this many times. */
const ACQUIRE_ATTEMPTS = 3

export class LeaseBook {
  readonly ttlMs: number
  readonly heartbeatMs: number
  /** The leases this process holds, by session. */
  private readonly held = new Map<string, Holding>()
  private readonly timer: NodeJS.Timeout
  private renewing: Promise<void> | null = null
  private closed = false

  private constructor(
    private readonly pool: pg.Pool,
    private readonly options: LeaseBookOptions,
  ) {
    const { ttlMs, heartbeatMs } = timing(options)
    this.ttlMs = ttlMs
    this.heartbeatMs = heartbeatMs
    this.timer = setInterval(() => void this.renew(), this.heartbeatMs).unref()
  }

  /** Connects, brings the lease table up to date, and starts the heartbeat. */
  static async open(options: LeaseBookOptions): Promise<LeaseBook> {
    const { ttlMs, heartbeatMs } = timing(options)
    // A statement slower than a heartbeat is a failed heartbeat: it gives up rather than outlive the lease.
    const timeoutMs = Math.max(1_000, Math.min(heartbeatMs, ttlMs))
    const pool = createPool(options.url, {
      schema: options.schema,
      size: options.poolSize ?? 4,
      applicationName: `claude-code-gateway leases ${options.replica.id}`,
      statementTimeoutMs: timeoutMs,
      connectTimeoutMs: timeoutMs,
    })
    // An idle connection the server closes (a restart) must not throw out of the process.
    pool.on('error', (error) => options.onError?.(error))
    try {
      await migrateLeases(pool, options.schema, describeUrl(options.url))
    } catch (error) {
      await pool.end()
      throw error
    }
    return new LeaseBook(pool, options)
  }

  /**
   * Takes the session's lease when it is free, released, expired, or already this process's (renewing it);
   * else names its holder. Atomic: of several replicas asking at once, one gets it.
   */
  async acquire(sessionId: string): Promise<Acquisition> {
    const { replica, workspaces = 'shared' } = this.options
    for (let attempt = 1; ; attempt++) {
      const sentAt = performance.now()
      const { rows } = await this.pool.query<{
        epoch: number | string
        taken_from: string | null
        began: boolean
      }>({
        name: 'lease-acquire',
        text: SQL.acquire,
        values: [
          sessionId,
          replica.id,
          replica.incarnation,
          replica.advertiseUrl,
          this.ttlMs,
          workspaces === 'pinned',
        ],
      })
      const row = rows[0]
      if (row) {
        const epoch = Number(row.epoch)
        const holding = this.held.get(sessionId)
        // Held under an older epoch: it was lost, and this is a new holding (a takeover back).
        if (holding && holding.epoch !== epoch) this.lose(sessionId, holding)
        this.hold(sessionId, epoch, sentAt)
        return {
          owner: 'self',
          epoch,
          takeover: row.began && row.taken_from !== null ? { replicaId: row.taken_from } : null,
        }
      }
      const holding = this.held.get(sessionId)
      if (holding) this.lose(sessionId, holding)
      const lease = await this.owner(sessionId)
      // Refused, yet free when read: released or expired in between. Asked again, a few times.
      if (lease && (lease.live || workspaces === 'pinned' || attempt === ACQUIRE_ATTEMPTS)) {
        const { replicaId, address, epoch, live, expiresInMs } = lease
        return { owner: 'other', replicaId, address, epoch, live, expiresInMs }
      }
      if (attempt === ACQUIRE_ATTEMPTS) throw new Error(`The lease of session ${sessionId} keeps changing`)
    }
  }

  /** The session's lease as the database has it now; null when no replica ever held it. */
  async owner(sessionId: string): Promise<Lease | null> {
    const { rows } = await this.pool.query<LeaseRow>({
      name: 'lease-owner',
      text: SQL.owner,
      values: [sessionId],
    })
    const row = rows[0]
    if (!row) return null
    return {
      replicaId: row.replica_id,
      address: row.address,
      epoch: Number(row.epoch),
      self: row.incarnation === this.options.replica.incarnation,
      live: row.live,
      expiresInMs: Math.ceil(row.expires_in_ms),
    }
  }

  /**
   * Whether this process holds the session's lease, as far as it knows without asking: held, and confirmed
   * less than a TTL ago. Checked before a turn starts or a write; false means stop.
   */
  holds(sessionId: string): boolean {
    const holding = this.held.get(sessionId)
    return holding !== undefined && performance.now() < holding.confirmedUntil
  }

  /** The sessions whose leases this process holds. */
  heldSessions(): string[] {
    return [...this.held.keys()]
  }

  /** Gives the session up (hibernated, closed): another replica may take it at once. */
  async release(sessionId: string): Promise<void> {
    const holding = this.held.get(sessionId)
    if (!holding) return
    this.held.delete(sessionId)
    await this.pool.query({
      name: 'lease-release',
      text: SQL.release,
      values: [[sessionId], [holding.epoch], this.options.replica.incarnation],
    })
  }

  /** Gives every held session up in one statement: the drain, once the processes are stopped. */
  async releaseAll(): Promise<void> {
    if (this.held.size === 0) return
    const ids = [...this.held.keys()]
    const epochs = ids.map((id) => this.held.get(id)!.epoch)
    this.held.clear()
    await this.pool.query({
      name: 'lease-release',
      text: SQL.release,
      values: [ids, epochs, this.options.replica.incarnation],
    })
  }

  /** The session is deleted: its lease row goes too, whoever holds it. */
  async forget(sessionId: string): Promise<void> {
    this.held.delete(sessionId)
    await this.pool.query({ name: 'lease-forget', text: SQL.forget, values: [sessionId] })
  }

  /**
   * One heartbeat: renews every held lease in one statement, each only under the epoch it was taken with.
   * Those the database no longer renews were taken over: lost. When the database cannot be asked, those
   * unconfirmed for longer than the TTL are lost too (another replica may hold them by now).
   */
  renew(): Promise<void> {
    this.renewing ??= this.renewHeld().finally(() => {
      this.renewing = null
    })
    return this.renewing
  }

  /** Stops the heartbeat and disconnects. Held leases are not released (`releaseAll` first): they expire. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.timer)
    await this.renewing
    await this.pool.end()
  }

  private async renewHeld(): Promise<void> {
    if (this.closed || this.held.size === 0) return
    const holdings = [...this.held]
    const sentAt = performance.now()
    let renewed: Set<string>
    try {
      const { rows } = await this.pool.query<{ session_id: string }>({
        name: 'lease-renew',
        text: SQL.renew,
        values: [
          holdings.map(([id]) => id),
          holdings.map(([, holding]) => holding.epoch),
          this.options.replica.incarnation,
          this.ttlMs,
        ],
      })
      renewed = new Set(rows.map((row) => row.session_id))
    } catch (error) {
      this.options.onError?.(error)
      const now = performance.now()
      for (const [id, holding] of holdings) if (now >= holding.confirmedUntil) this.lose(id, holding)
      return
    }
    for (const [id, holding] of holdings) {
      if (!renewed.has(id)) this.lose(id, holding)
      else holding.confirmedUntil = Math.max(holding.confirmedUntil, sentAt + this.ttlMs)
    }
  }

  private hold(sessionId: string, epoch: number, sentAt: number): void {
    const holding = this.held.get(sessionId)
    if (holding) holding.confirmedUntil = Math.max(holding.confirmedUntil, sentAt + this.ttlMs)
    else this.held.set(sessionId, { epoch, confirmedUntil: sentAt + this.ttlMs })
  }

  /** Told once per holding: not when it was released or replaced meanwhile. */
  private lose(sessionId: string, holding: Holding): void {
    if (this.held.get(sessionId) !== holding) return
    this.held.delete(sessionId)
    this.options.onLost?.(sessionId)
  }
}

function timing(options: LeaseBookOptions) {
  const ttlMs = options.ttlMs ?? DEFAULT_LEASE_TTL_MS
  return { ttlMs, heartbeatMs: options.heartbeatMs ?? Math.floor(ttlMs / 3) }
}

const SQL = {
  // One statement decides: a new row, or the existing one updated only when it is this process's or free
  // (released, or expired, and in pinned mode only for a replica of the holder's name). A holding that
  // continues keeps its epoch and start; a new holding gets epoch + 1 and starts now, so `began`
  // (acquired_at = now(), the statement's own time) tells this call started it.
  acquire: `
    INSERT INTO session_leases AS l
      (session_id, replica_id, incarnation, address, epoch, acquired_at, renewed_at, expires_at)
    VALUES ($1, $2, $3, $4, 1, now(), now(), now() + $5::integer * interval '1 millisecond')
    ON CONFLICT (session_id) DO UPDATE SET
      replica_id = excluded.replica_id,
      incarnation = excluded.incarnation,
      address = excluded.address,
      epoch = CASE WHEN l.incarnation = excluded.incarnation THEN l.epoch ELSE l.epoch + 1 END,
      acquired_at = CASE WHEN l.incarnation = excluded.incarnation AND NOT l.released
        THEN l.acquired_at ELSE now() END,
      renewed_at = now(),
      expires_at = excluded.expires_at,
      released = false,
      taken_from = CASE
        WHEN l.incarnation = excluded.incarnation AND NOT l.released THEN l.taken_from
        WHEN l.incarnation = excluded.incarnation OR l.released THEN NULL
        ELSE l.replica_id END
    WHERE l.incarnation = excluded.incarnation
      OR ((l.released OR l.expires_at <= now()) AND (NOT $6::boolean OR l.replica_id = excluded.replica_id))
    RETURNING epoch, taken_from, acquired_at = now() AS began`,
  owner: `
    SELECT replica_id, incarnation, address, epoch,
      NOT released AND expires_at > now() AS live,
      CASE WHEN released THEN 0
        ELSE greatest(0, extract(epoch FROM expires_at - now()) * 1000) END::float8 AS expires_in_ms
    FROM session_leases WHERE session_id = $1`,
  renew: `
    UPDATE session_leases AS l
    SET renewed_at = now(), expires_at = now() + $4::integer * interval '1 millisecond'
    FROM unnest($1::text[], $2::bigint[]) AS h(session_id, epoch)
    WHERE l.session_id = h.session_id AND l.epoch = h.epoch AND l.incarnation = $3 AND NOT l.released
    RETURNING l.session_id`,
  release: `
    UPDATE session_leases AS l SET released = true, expires_at = now()
    FROM unnest($1::text[], $2::bigint[]) AS h(session_id, epoch)
    WHERE l.session_id = h.session_id AND l.epoch = h.epoch AND l.incarnation = $3 AND NOT l.released`,
  forget: 'DELETE FROM session_leases WHERE session_id = $1',
}
