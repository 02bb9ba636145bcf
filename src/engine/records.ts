/**
 * Saving session records the engine changes on its own (a state, usage, Claude's session id). This runs in
 * runner callbacks and timers, where a thrown store error would stop the gateway: saving never throws. A
 * record the store cannot take (its disk is full, say) stays in memory and is read from there until a later
 * save succeeds, so a session that leaves memory meanwhile does not fall back to its stale stored record.
 * Writes are not awaited by the savers: they go one at a time, in the background.
 */
import type { Logger } from 'pino'
import { isStoreError } from '../store/errors.js'
import type { SessionRecord, Store } from '../store/types.js'
import { SerialWriter } from './serial-writer.js'

/** How soon records the store refused are written again (SQLite answers at once either way). */
export const UNSAVED_RETRY_MS = 1_000

export class RecordSaver {
  /** Records waiting to be written, each with the number of the save that left it here. */
  private readonly unsaved = new Map<string, { record: SessionRecord; save: number }>()
  private saves = 0
  /**
   * Writes the unsaved records. What the storage cannot take now stays and is written again with the next
   * save, or after the retry delay, so the store catches up by itself once it works again.
   */
  private readonly writes = new SerialWriter(() => this.writeUnsaved())
  /** Stopped: what fails is not tried again. */
  private stopped = false

  constructor(
    private readonly store: Pick<Store, 'getSession' | 'updateSession'>,
    private readonly log: Logger,
    private readonly retryMs = UNSAVED_RETRY_MS,
  ) {}

  /** A session's record as last saved, or waiting to be saved. */
  async read(id: string): Promise<SessionRecord | undefined> {
    return this.unsaved.get(id)?.record ?? (await this.store.getSession(id))
  }

  save(record: SessionRecord): void {
    this.unsaved.set(record.id, { record, save: ++this.saves })
    this.writes.flush()
  }

  /** The session is gone from the store: nothing of it is to be written any more. */
  forget(id: string): void {
    this.unsaved.delete(id)
  }

  /**
   * Stop retrying; resolves once the writes under way are done (the store closes next: what it could not
   * take by then is lost with the process).
   */
  async stop(): Promise<void> {
    this.stopped = true
    this.writes.cancelRetry()
    await this.writes.settled()
  }

  /**
   * Resolves once the records saved so far have been written, or failed to be (they stay in memory then):
   * before another replica may read them (src/engine/ownership.ts).
   */
  async written(): Promise<void> {
    await this.writes.settled()
  }

  /** Never rejects: a failure is logged, and the record stays in memory. */
  private async writeUnsaved(): Promise<void> {
    for (const [id, { record, save }] of this.unsaved) {
      try {
        await this.store.updateSession(record)
      } catch (error) {
        if (isStoreError(error)) {
          if (!this.writes.retrying && !this.stopped) {
            this.log.error(
              { err: error, session: id },
              'session records cannot be saved; they are kept in memory',
            )
            this.writes.retryIn(this.retryMs)
          }
          return
        }
        // Not the storage: this record itself cannot be stored (and never will be); it stays in memory.
        this.log.error({ err: error, session: id }, 'session record cannot be saved')
      }
      // Saved again while it was written: it stays, for the next write.
      if (this.unsaved.get(id)?.save === save) this.unsaved.delete(id)
    }
  }
}
