/**
 * A session's life as the front door sees it: created (and counted), found (and, with replicas, claimed)
 * and opened for work, warmed up, paused, deleted, and let go when another replica takes it. The session
 * manager calls those that may start its process or write its events inside `owned` (`create` uses it
 * itself: the new session's id is known only then).
 */
import type { SessionRecord } from '../store/types.js'
import { GatewayError } from './errors.js'
import type { LiveSession, LiveSessions } from './live-session.js'
import { newSessionRecord } from './new-session.js'
import { mcpServersOf } from './options.js'
import type { SessionOwnership } from './ownership.js'
import type { RecordSaver } from './records.js'
import type { RunnerBinding } from './runners.js'
import type { TurnLine } from './turns.js'
import type { NewSession } from './types.js'

export class SessionLifecycle {
  /** Sessions in the store, counted once and then kept up to date (health is polled often). */
  private stored: number | undefined

  constructor(
    private readonly sessions: LiveSessions,
    private readonly records: RecordSaver,
    private readonly runners: RunnerBinding,
    private readonly turns: TurnLine,
    /** With replicas: which sessions this one runs (ownership.ts); null for a single gateway. */
    private readonly ownership: SessionOwnership | null,
  ) {}

  /** How many sessions the store has (closed ones too; purged ones no more). */
  async count(): Promise<number> {
    this.stored ??= await this.sessions.options.store.countSessions()
    return this.stored
  }

  /** A new session: stored, claimed (with replicas) and announced with `session.created`. */
  async create(input: NewSession): Promise<SessionRecord> {
    const { options } = this.sessions
    const account = await this.sessions.account(input.owner ?? null)
    // Refused now rather than at its first message: an MCP server its owner may not start.
    if (input.mcpServers?.length) mcpServersOf(input.mcpServers, account)
    const record = await newSessionRecord(
      input,
      options.defaults,
      this.sessions.configDirOf(account),
      options.host.transcripts,
    )
    await options.store.insertSession(record)
    if (this.stored !== undefined) this.stored++
    return this.owned(record.id, async () => {
      // With replicas, its first lease names this one: in pinned mode, the one whose disk has the workspace.
      await this.ownership?.claim(record.id)
      // A new session has no events: its sequence starts at 0, read now for the events that follow.
      await options.bus.loadSeq(record.id)
      const { workspace, agent } = record.settings
      options.bus.publish(record.id, { type: 'session.created', title: record.title, workspace, agent })
      return record
    })
  }

  /** A session's record as it is now: the one in memory when it is live, else the stored one. */
  async record(id: string): Promise<SessionRecord | undefined> {
    return this.sessions.live.get(id)?.record ?? (await this.records.read(id))
  }

  /**
   * A session that is not closed: its record, and its live state when it has one. Its sequence is loaded
   * too (`EventBus.loadSeq`): whatever the caller does next may publish for it.
   */
  async found(sessionId: string): Promise<{ live: LiveSession | undefined; record: SessionRecord }> {
    const inMemory = this.sessions.live.get(sessionId)
    let record = inMemory?.record ?? (await this.records.read(sessionId))
    if (record && record.state !== 'closed' && this.ownership) {
      await this.ownership.claim(sessionId)
      // Read again once owned: its previous owner (or a takeover) may have changed it meanwhile.
      if (!this.sessions.live.has(sessionId)) record = await this.records.read(sessionId)
    }
    if (!record || record.state === 'closed')
      throw new GatewayError('not_found', `Session ${sessionId} does not exist`)
    await this.sessions.options.bus.loadSeq(sessionId)
    // Read after the awaits: the session may have come into memory meanwhile (the one to act on then).
    const live = this.sessions.live.get(sessionId)
    return { live, record: live?.record ?? record }
  }

  /** A session about to run: its live state, created from the store when it has none. */
  async open(sessionId: string): Promise<LiveSession> {
    const { live: existing, record } = await this.found(sessionId)
    if (record.state === 'paused')
      throw new GatewayError('session_paused', `Session ${sessionId} is paused; resume it first`)
    if (existing) return existing
    // Another caller may have opened it while this one read the store.
    const opened = this.sessions.live.get(sessionId)
    if (opened) return opened
    const live = this.sessions.wrap(record)
    this.sessions.live.set(sessionId, live)
    return live
  }

  /**
   * Start the session's process now, resuming its conversation; a paused session is un-paused first.
   * Nothing starts when the session has a process already, or a turn under way (which gets one).
   */
  async warmUp(sessionId: string): Promise<SessionRecord> {
    const stored = await this.found(sessionId)
    if (stored.record.state === 'paused')
      this.sessions.setState(
        stored.live ?? this.sessions.wrap(stored.record),
        stored.record.claudeSessionId ? 'hibernated' : 'new',
      )
    const live = await this.open(sessionId)
    if (live.runner || live.pending > 0) return live.record
    await this.turns.warmUp(live)
    return live.record
  }

  /** Stop the session's process and store it paused; refused while a turn runs or waits. */
  async pause(sessionId: string): Promise<SessionRecord> {
    const { live, record } = await this.found(sessionId)
    if (record.state === 'paused') return record
    if (live && live.pending > 0) {
      throw new GatewayError(
        'session_busy',
        `Session ${sessionId} has a turn under way; interrupt it first`,
        1_000,
      )
    }
    if (live) await this.runners.release(live, 'paused')
    else this.sessions.setState(this.sessions.wrap(record), 'paused')
    return record
  }

  /**
   * Stop a session's runner (its running turn fails) and close it, or with `purge` remove it and its events
   * altogether. False when there is no such session.
   */
  async delete(sessionId: string, purge: boolean): Promise<boolean> {
    const { bus, store } = this.sessions.options
    let record = await this.record(sessionId)
    if (!record) return false
    if (this.ownership) {
      await this.ownership.claim(sessionId)
      record = (await this.record(sessionId)) ?? record
    }
    await bus.loadSeq(sessionId)
    const live = this.sessions.live.get(sessionId)
    if (live) {
      if (live.active) this.turns.fail(live, 'interrupted', 'The session was deleted')
      await this.runners.release(live, 'closed')
      this.sessions.live.delete(sessionId)
    }
    if (purge) {
      // The store first: when it refuses, the session's events are still there to purge next time. None is
      // written after it (the bus runs it between its writes and then drops those still waiting).
      await bus.purge(sessionId, () => store.deleteSession(sessionId))
      // Kept after its session's other events: how a client replaying every session learns of the purge.
      bus.publish(sessionId, { type: 'session.deleted' })
      this.records.forget(sessionId)
      await this.ownership?.forget(sessionId)
      if (this.stored !== undefined) this.stored--
    } else if (record.state !== 'closed') {
      this.sessions.setState(live ?? this.sessions.wrap(record), 'closed')
    }
    return true
  }

  /**
   * The session's lease was lost: its process stops at once, its running turn ends here without a word (the
   * log is the new owner's), and its state here is dropped; nothing more of it is written.
   */
  lost(sessionId: string): void {
    const live = this.sessions.live.get(sessionId)
    if (!live) return
    this.sessions.options.log.warn({ session: sessionId }, 'session lease lost: its process stops here')
    live.disowned = true
    this.turns.drop(live, 'The session moved to another replica')
    const runner = live.runner
    void this.runners.release(live, 'hibernated')
    runner?.kill()
    this.sessions.live.delete(sessionId)
    this.sessions.options.bus.disown(sessionId)
  }

  /**
   * Run work that may start the session's process or write its events: with replicas, as a user of the
   * session's lease (taken by `found`), which stays until the work is done and the session left memory.
   */
  owned<T>(sessionId: string, work: () => Promise<T>): Promise<T> {
    return this.ownership ? this.ownership.use(sessionId, work) : work()
  }
}
