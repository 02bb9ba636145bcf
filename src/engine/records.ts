/**
 * Saving session records the engine changes on its own (a state, usage, Claude's session id). This runs in
 * runner callbacks and timers, where a thrown store error would stop the gateway: saving never throws. A
 * record the store cannot take (its disk is full, say) stays in memory and is read from there until a later
 * save succeeds, so a session that leaves memory meanwhile does not fall back to its stale stored record.
 */
import type { Logger } from 'pino'
import { isStoreError } from '../store/errors.js'
import type { SessionRecord, Store } from '../store/types.js'

/** How soon records the store refused are written again (SQLite answers at once either way). */
export const UNSAVED_RETRY_MS = 1_000

export class RecordSaver {
  private readonly unsaved = new Map<string, SessionRecord>()
  private timer: NodeJS.Timeout | null = null

  constructor(
    private readonly store: Pick<Store, 'getSession' | 'updateSession'>,
    private readonly log: Logger,
    private readonly retryMs = UNSAVED_RETRY_MS,
  ) {}

  /** A session's record as last saved, or waiting to be saved. */
  read(id: string): SessionRecord | undefined {
    return this.unsaved.get(id) ?? this.store.getSession(id)
  }

  save(record: SessionRecord): void {
    this.unsaved.set(record.id, record)
    this.flush()
  }

  /** The session is gone from the store: nothing of it is to be written any more. */
  forget(id: string): void {
    this.unsaved.delete(id)
  }

  /** Stop retrying (the store closes next: what it could not take by now is lost with the process). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }

  /**
   * Write the unsaved records. What the storage cannot take now stays and is written again with the next
   * save, or after the retry delay, so the store catches up by itself once it works again.
   */
  private flush(): void {
    for (const [id, record] of this.unsaved) {
      try {
        this.store.updateSession(record)
      } catch (error) {
        if (isStoreError(error)) {
          if (!this.timer) {
            this.log.error({ err: error }, 'session records cannot be saved; they are kept in memory')
            this.timer = setTimeout(() => {
              this.timer = null
              this.flush()
            }, this.retryMs)
            this.timer.unref()
          }
          return
        }
        // Not the storage: this record itself cannot be stored (and never will be); it stays in memory.
        this.log.error({ err: error, session: id }, 'session record cannot be saved')
      }
      this.unsaved.delete(id)
    }
  }
}
