/**
 * One owner per live session, when replicas share one store (docs/scaling.md): the replica that runs a
 * session's Claude Code process, or writes its events, holds the session's lease (src/cluster/leases.ts).
 * Work that may do either takes the lease first (`use`, then `claim`); the lease goes once no work holds it
 * and the session has left memory, after what this replica wrote for it is in the store.
 *
 * A session another replica runs is refused here with OwnedElsewhereError, which the APIs answer by
 * forwarding the request to the owner. A session whose owner died (its lease expired unreleased) is taken
 * over: the turn it left running is recorded as interrupted, never replayed, and its state set to what a
 * restart leaves. In pinned mode (`cluster.workspaces: pinned`) the lease book refuses that takeover, and so
 * does the engine, with `session_pinned`, rather than run in a folder this replica does not have.
 */
import type { Logger } from 'pino'
import type { Acquisition, LeaseBook } from '../cluster/leases.js'
import type { EventBus } from '../events/bus.js'
import { GatewayError } from './errors.js'
import type { RecordSaver } from './records.js'
import { unfinishedTurn } from './types.js'

/** What the engine uses of the lease book (`EngineOptions.ownership`). */
export type SessionLeases = Pick<
  LeaseBook,
  'acquire' | 'owner' | 'holds' | 'release' | 'releaseAll' | 'forget'
>

/** The session runs on another replica: the request belongs there (the APIs forward it). */
export class OwnedElsewhereError extends GatewayError {
  constructor(
    sessionId: string,
    /** The owner's name and the address it takes the session's requests at. */
    readonly owner: { replicaId: string; address: string },
  ) {
    super(
      'owned_elsewhere',
      `Session ${sessionId} runs on replica ${owner.replicaId}: send its requests there (another replica forwards them)`,
      1_000,
    )
  }
}

export const isOwnedElsewhere = (error: unknown): error is OwnedElsewhereError =>
  error instanceof OwnedElsewhereError

interface OwnershipParts {
  bus: EventBus
  records: RecordSaver
  log: Logger
  /** The session is in memory here (it holds a process, or work is under way or waiting for it). */
  inUse(sessionId: string): boolean
}

export class SessionOwnership {
  /** Work under way per session that took, or is taking, its lease: the lease stays while there is any. */
  private readonly users = new Map<string, number>()
  /** Each session's lease changes run one after the other, so that a release never undoes a later claim. */
  private readonly chains = new Map<string, Promise<void>>()

  constructor(
    private readonly leases: SessionLeases,
    private readonly parts: OwnershipParts,
  ) {}

  /** Runs `work` on the session as one of its lease's users: the lease is not released before it ends. */
  async use<T>(sessionId: string, work: () => Promise<T>): Promise<T> {
    this.users.set(sessionId, (this.users.get(sessionId) ?? 0) + 1)
    try {
      return await work()
    } finally {
      const left = this.users.get(sessionId)! - 1
      if (left > 0) this.users.set(sessionId, left)
      else this.users.delete(sessionId)
      this.settle(sessionId)
    }
  }

  /**
   * Makes this replica the session's owner, within `use`: at once when it holds the lease, else by taking
   * it (then the session's sequence is read again, and a takeover records what the dead owner left).
   * Throws OwnedElsewhereError when another replica runs it, `session_pinned` when it may run only there.
   */
  claim(sessionId: string): Promise<void> {
    if (this.leases.holds(sessionId)) return Promise.resolve()
    return this.serially(sessionId, async () => {
      if (this.leases.holds(sessionId)) return
      const acquired = await this.leases.acquire(sessionId)
      if (acquired.owner === 'other') throw refusal(sessionId, acquired)
      // Another replica may have published for the session since this one last counted its events.
      await this.parts.bus.reloadSeq(sessionId)
      if (acquired.takeover) await this.recordTakeover(sessionId, acquired.takeover.replicaId)
    })
  }

  /**
   * The session may have left memory, or its work ended: its lease goes unless something still uses it,
   * once its events and record are written (the next owner reads them). Never throws: a lease not released
   * expires.
   */
  settle(sessionId: string): void {
    if (this.busy(sessionId)) return
    void this.serially(sessionId, async () => {
      await this.parts.bus.flush()
      await this.parts.records.written()
      // Checked again after the waits, and released in the same tick: a claim from now on takes it anew.
      if (!this.busy(sessionId)) await this.leases.release(sessionId)
    }).catch((error: unknown) =>
      this.parts.log.warn({ err: error, session: sessionId }, 'session lease not released; it expires'),
    )
  }

  /** The session is purged: its lease row goes too. */
  async forget(sessionId: string): Promise<void> {
    await this.serially(sessionId, () => this.leases.forget(sessionId))
  }

  /** Whether another replica runs the session now (its lease is live and not this process's). */
  async elsewhere(sessionId: string): Promise<boolean> {
    const lease = await this.leases.owner(sessionId)
    return lease?.live === true && !lease.self
  }

  /** The drain, once every process has stopped: every lease is given up in one statement. */
  async releaseAll(): Promise<void> {
    try {
      await this.leases.releaseAll()
    } catch (error) {
      this.parts.log.warn({ err: error }, 'session leases not released; they expire')
    }
  }

  private busy(sessionId: string): boolean {
    return this.users.has(sessionId) || this.parts.inUse(sessionId)
  }

  private serially(sessionId: string, change: () => Promise<void>): Promise<void> {
    const done = (this.chains.get(sessionId) ?? Promise.resolve()).then(change)
    const chain = done.catch(() => undefined)
    this.chains.set(sessionId, chain)
    void chain.then(() => {
      if (this.chains.get(sessionId) === chain) this.chains.delete(sessionId)
    })
    return done
  }

  /**
   * The session was taken over from `replicaId`, whose lease expired: a turn it started and never ended is
   * lost with its process. It ends now, interrupted, saying so (never run again); the record, which may
   * still say `running`, gets the state a restart leaves.
   */
  private async recordTakeover(sessionId: string, replicaId: string): Promise<void> {
    const { bus, records, log } = this.parts
    const turns = await bus.read(sessionId, { types: ['turn.started', 'turn.completed'] })
    const last = turns.at(-1)
    if (last?.type === 'turn.started') {
      log.warn({ session: sessionId, turn: last.turnId, replica: replicaId }, 'turn lost with its replica')
      bus.publish(
        sessionId,
        unfinishedTurn(last.turnId, {
          code: 'interrupted',
          message: `Replica ${replicaId}, which ran this turn, stopped before it ended; the session continues on another replica`,
        }),
      )
    }
    const record = await records.read(sessionId)
    if (!record || !RUNNING_STATES.has(record.state)) return
    const previous = record.state
    record.state = record.claudeSessionId ? 'hibernated' : 'new'
    record.updatedAt = Date.now()
    records.save(record)
    bus.publish(sessionId, {
      type: 'session.state',
      state: record.state,
      previous,
      reason: `taken over from replica ${replicaId}`,
    })
  }
}

/** The states of a session whose process was running: what a dead owner may have left in its record. */
const RUNNING_STATES = new Set(['starting', 'idle', 'running'])

/** The lease book refused the session: live elsewhere, or (pinned mode) never to be taken from its replica. */
function refusal(sessionId: string, lease: Extract<Acquisition, { owner: 'other' }>): GatewayError {
  if (lease.live)
    return new OwnedElsewhereError(sessionId, { replicaId: lease.replicaId, address: lease.address })
  return new GatewayError(
    'session_pinned',
    `Session ${sessionId}'s workspace is on replica ${lease.replicaId}'s disk (cluster.workspaces: pinned), ` +
      'which is not running it: it can run only there, once that replica is back',
  )
}
