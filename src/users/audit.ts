/**
 * The audit trail: who did what, and when. Entries come from the API (one hook records every request that
 * changes something: src/api/native/audit.ts), from the bus (the tools Claude runs) and from configuration
 * reloads. They are written to the store in batches, off the request's path: a store that fails delays them
 * (they wait in memory and are written again), it never fails a request. Entries older than
 * `users.auditRetentionDays` are pruned every hour.
 */
import type { Logger } from 'pino'
import { type Config, diffConfig } from '../config/index.js'
import type { Subscription } from '../events/bus.js'
import type { GatewayEvent } from '../events/types.js'
import type { AccessStore, AuditEntry, AuditQuery, NewAuditEntry } from '../store/access.js'
import { isStoreError } from '../store/errors.js'

/** What a caller says of an entry; the rest defaults (now, nobody, no session, status 0). */
export type AuditInput = Partial<NewAuditEntry> & Pick<NewAuditEntry, 'action'>

export interface AuditOptions {
  /** How long an entry may wait before its batch is written, in ms. */
  flushMs?: number
  /** Entries written in one call to the store; a batch this large is written at once. */
  batchSize?: number
  /** Entries kept in memory while the store fails; past it, the oldest are dropped (and that is logged). */
  maxPending?: number
  /** The same bound in bytes (about: two a character): entries may carry prompts of MAX_KEPT_CHARS each. */
  maxPendingBytes?: number
  /** First wait before writing again after a failure, in ms; it doubles up to 30 s. */
  retryMs?: number
  /** Attempts at the last write when closing, before what is left is given up. */
  closeAttempts?: number
  pruneEveryMs?: number
  now?: () => number
}

const DAY_MS = 86_400_000
const MAX_RETRY_MS = 30_000
/** Characters of a prompt or a tool input kept in an entry: enough to read it, not a whole file. */
export const MAX_KEPT_CHARS = 20_000
/**
 * The memory entries may take while the store fails: 50,000 entries with a whole prompt each would be 2 GB,
 * so past 64 MB the oldest go too.
 */
export const MAX_PENDING_BYTES = 64 * 1024 * 1024
/** What an entry takes besides its text: the object, its numbers, the array's slot. */
const ENTRY_OVERHEAD_BYTES = 200
/** The columns of an entry that are text: PostgreSQL refuses a NUL in any of them (and with it the batch). */
const TEXT_FIELDS = ['actor', 'role', 'action', 'sessionId', 'target', 'requestId', 'ip'] as const

/** The parts of the bus and the store the trail reads: events as published, a session's owner. */
export interface AuditSources {
  subscribeAll(listener: (event: GatewayEvent) => void): Subscription
  getSession(id: string): Promise<{ owner?: string | null } | undefined>
}

export class AuditTrail {
  private pending: NewAuditEntry[] = []
  /** What `pending` takes, as `sizeOf` counts it. */
  private pendingBytes = 0
  private readonly sizes = new WeakMap<NewAuditEntry, number>()
  /** The write under way (or the last one): the next waits for it, so entries are written in order. */
  private writing: Promise<void> = Promise.resolve()
  private timer: NodeJS.Timeout | null = null
  private retryMs: number
  private failing = false
  private closed = false
  private readonly pruner: NodeJS.Timeout
  private readonly firstPrune: NodeJS.Timeout
  private watched: Subscription | null = null
  /** Sessions' owners, as tool runs need them (a few per turn): read once per session. */
  private readonly owners = new Map<string, Promise<string | null>>()
  private readonly options: Required<Omit<AuditOptions, 'now'>>
  private readonly now: () => number

  constructor(
    private config: Config,
    private readonly access: AccessStore,
    private readonly log: Logger,
    options: AuditOptions = {},
  ) {
    this.options = {
      flushMs: 250,
      batchSize: 100,
      maxPending: 50_000,
      maxPendingBytes: MAX_PENDING_BYTES,
      retryMs: 250,
      closeAttempts: 3,
      pruneEveryMs: 3_600_000,
      ...options,
    }
    this.now = options.now ?? Date.now
    this.retryMs = this.options.retryMs
    this.pruner = setInterval(() => void this.prune(), this.options.pruneEveryMs).unref()
    // A gateway that restarts more often than hourly prunes too.
    this.firstPrune = setTimeout(() => void this.prune(), 1_000).unref()
  }

  /** Whether prompts (message text, chat messages, tool inputs) are kept: `users.auditPrompts`. */
  get prompts(): boolean {
    return this.config.users.auditPrompts
  }

  /** Notes an entry; written with the next batch. */
  record(input: AuditInput): void {
    if (this.closed) {
      this.log.warn({ action: input.action }, 'audit entry after the trail closed: not kept')
      return
    }
    const entry = withoutNul({
      ts: this.now(),
      actor: null,
      role: null,
      sessionId: null,
      target: null,
      status: 0,
      requestId: null,
      ip: null,
      detail: {},
      ...input,
    })
    this.push(entry)
    this.trim()
    if (this.failing) return
    if (this.pending.length >= this.options.batchSize) void this.flush()
    else this.timer ??= setTimeout(() => void this.flush(), this.options.flushMs).unref()
  }

  /** A reloaded configuration: noted with the keys that changed (never their values: some are secrets). */
  reconfigure(next: Config): void {
    const changed = diffConfig(this.config, next)
    this.config = next
    if (changed.length > 0) this.record({ action: 'config.reloaded', detail: { changed } })
  }

  /** Records the tools Claude runs in this replica's sessions (`tool.run`), as their owner's doing. */
  watch(sources: AuditSources): void {
    this.watched?.close()
    this.watched = sources.subscribeAll((event) => {
      if (event.type === 'session.deleted') this.owners.delete(event.sessionId)
      // A direct call is a request, recorded as such (runTool).
      if (event.type !== 'tool.call' || event.direct) return
      const detail: Record<string, unknown> = { toolUseId: event.toolUseId, turnId: event.turnId }
      if (event.parentToolUseId !== null) detail.parentToolUseId = event.parentToolUseId
      if (this.prompts) detail.input = kept(event.input)
      const entry: AuditInput = {
        action: 'tool.run',
        ts: event.ts,
        sessionId: event.sessionId,
        target: event.name,
        detail,
      }
      void this.ownerOf(sources, event.sessionId).then((actor) => this.record({ ...entry, actor }))
    })
  }

  /** Entries matching `query`, newest first, the ones still waiting to be written included. */
  async read(query: AuditQuery): Promise<AuditEntry[]> {
    await this.flush()
    return this.access.readAudit(query)
  }

  /** Writes what waits, after the write under way; never rejects (a failure is logged and retried). */
  flush(): Promise<void> {
    this.clearTimer()
    this.writing = this.writing.then(() => this.writeAll())
    return this.writing
  }

  /** Writes what waits (trying a few times), then stops: the store closes after. */
  async close(): Promise<void> {
    this.closed = true
    clearInterval(this.pruner)
    clearTimeout(this.firstPrune)
    this.watched?.close()
    this.watched = null
    for (let attempt = 1; ; attempt++) {
      await this.flush()
      if (this.pending.length === 0) break
      if (attempt >= this.options.closeAttempts) {
        this.log.error({ dropped: this.pending.length }, 'audit entries could not be written before closing')
        this.take(this.pending.length)
        break
      }
      await new Promise((resolve) => setTimeout(resolve, this.options.retryMs * attempt))
    }
    this.clearTimer()
  }

  /** Deletes entries older than `users.auditRetentionDays`; how many (0 when the store failed). */
  async prune(): Promise<number> {
    try {
      const pruned = await this.access.pruneAudit(this.now() - this.config.users.auditRetentionDays * DAY_MS)
      if (pruned > 0) this.log.info({ pruned }, 'old audit entries pruned')
      return pruned
    } catch (err) {
      this.log.warn({ err }, 'pruning old audit entries failed; tried again in an hour')
      return 0
    }
  }

  private async writeAll(): Promise<void> {
    while (this.pending.length > 0) {
      // Taken out while written: entries noted meanwhile queue behind it, and a trim never drops half of it.
      const batch = this.take(this.options.batchSize)
      try {
        await this.access.appendAudit(batch).catch((err: unknown) => {
          // The storage failing is retried; an entry the store refuses would be refused forever, and
          // every entry behind it with it: the batch is written one by one, without the ones refused.
          if (isStoreError(err)) throw err
          return this.writeEach(batch, err)
        })
      } catch (err) {
        this.requeue(batch)
        this.trim()
        if (!this.failing)
          this.log.error(
            { err, pending: this.pending.length },
            'audit entries cannot be written; they wait and are written again',
          )
        this.failing = true
        if (!this.closed) this.retryLater()
        return
      }
      if (this.failing) this.log.info({ pending: this.pending.length }, 'audit entries are written again')
      this.failing = false
      this.retryMs = this.options.retryMs
    }
  }

  /**
   * A batch the store refused for its data: each entry alone, the ones refused dropped (logged, without
   * their detail). The storage failing meanwhile throws, and what is left of the batch waits.
   */
  private async writeEach(batch: NewAuditEntry[], batchError: unknown): Promise<void> {
    this.log.warn(
      { err: batchError, entries: batch.length },
      'an audit batch was refused: written one by one',
    )
    while (batch.length > 0) {
      const entry = batch[0]!
      try {
        await this.access.appendAudit([entry])
      } catch (err) {
        if (isStoreError(err)) throw err
        const { action, actor, sessionId, requestId } = entry
        this.log.error(
          { err, action, actor, sessionId, requestId },
          'an audit entry the store refuses is dropped',
        )
      }
      // Written or dropped: on a storage failure after this, the rest waits (`requeue`), not this one.
      batch.shift()
    }
  }

  private push(entry: NewAuditEntry): void {
    const bytes = sizeOf(entry)
    this.sizes.set(entry, bytes)
    this.pendingBytes += bytes
    this.pending.push(entry)
  }

  /** The first `count` waiting entries, taken out. */
  private take(count: number): NewAuditEntry[] {
    const taken = this.pending.splice(0, count)
    for (const entry of taken) this.pendingBytes -= this.sizes.get(entry) ?? 0
    return taken
  }

  /** Entries taken out and not written: back at the front, in their order. */
  private requeue(entries: NewAuditEntry[]): void {
    for (const entry of entries) this.pendingBytes += this.sizes.get(entry) ?? 0
    this.pending.unshift(...entries)
  }

  /** Past `maxPending` waiting entries or `maxPendingBytes` (the store fails), the oldest go. */
  private trim(): void {
    let excess = Math.max(0, this.pending.length - this.options.maxPending)
    let bytes = this.pendingBytes
    for (let i = 0; i < excess; i++) bytes -= this.sizes.get(this.pending[i]!) ?? 0
    while (bytes > this.options.maxPendingBytes && excess < this.pending.length)
      bytes -= this.sizes.get(this.pending[excess++]!) ?? 0
    if (excess === 0) return
    this.take(excess)
    this.log.error(
      { dropped: excess, pending: this.pending.length, pendingBytes: this.pendingBytes },
      'audit entries cannot be written and too many wait: the oldest dropped',
    )
  }

  private retryLater(): void {
    this.clearTimer()
    this.timer = setTimeout(() => void this.flush(), this.retryMs).unref()
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS)
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }

  /** The session's owner, read once per session (a promise: a turn's first calls come together). */
  private ownerOf(sources: AuditSources, sessionId: string): Promise<string | null> {
    const known = this.owners.get(sessionId)
    if (known) return known
    const owner = sources.getSession(sessionId).then(
      (record) => record?.owner ?? null,
      (err: unknown) => {
        // The entry is kept without its actor rather than lost: its session id still says whose it was.
        this.log.warn({ err, session: sessionId }, "reading a session's owner for the audit trail failed")
        this.owners.delete(sessionId)
        return null
      },
    )
    if (this.owners.size >= 10_000) this.owners.delete(this.owners.keys().next().value as string)
    this.owners.set(sessionId, owner)
    return owner
  }
}

/**
 * The entry with every NUL of its text columns replaced (by U+FFFD, which shows something was there): a
 * path such as /api/sessions/a%00b, a body's name or a socket's request_id may carry one, and PostgreSQL
 * refuses NUL in text. The detail is kept as JSON, where a NUL is written as an escape.
 */
function withoutNul(entry: NewAuditEntry): NewAuditEntry {
  for (const field of TEXT_FIELDS) {
    const value = entry[field]
    if (typeof value === 'string' && value.includes('\0'))
      (entry as Record<string, unknown>)[field] = value.replaceAll('\0', '\uFFFD')
  }
  return entry
}

/** About what an entry takes in memory: its text (two bytes a character) and its detail as JSON. */
function sizeOf(entry: NewAuditEntry): number {
  let chars = 0
  for (const field of TEXT_FIELDS) chars += entry[field]?.length ?? 0
  try {
    chars += JSON.stringify(entry.detail ?? {}).length
  } catch {
    // A detail JSON cannot write (a cycle): the store's write will say so; counted as its overhead only.
  }
  return ENTRY_OVERHEAD_BYTES + 2 * chars
}

/**
 * A value for an entry's detail, at most MAX_KEPT_CHARS characters of JSON: larger ones are kept as the
 * start of their JSON text, marked cut.
 */
export function kept(value: unknown): unknown {
  const text = typeof value === 'string' ? value : JSON.stringify(value)
  if (text === undefined || text.length <= MAX_KEPT_CHARS) return value
  return `${text.slice(0, MAX_KEPT_CHARS)}… [cut: ${text.length} characters]`
}
