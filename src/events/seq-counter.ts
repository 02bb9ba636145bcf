/**
 * Each session's last sequence number, as the bus counts it: read from the store the first time a session
 * is published for (`load`), counted in memory from then on. Two callers loading the same session share one
 * read; a load that a reload or a purge superseded counts for nothing.
 */
import type { Store } from '../store/types.js'

/**
 * A publish for a session whose sequence the bus has not loaded (`loadSeq`): a mistake of the caller, which
 * would otherwise number the session's events from 1 again.
 */
export class SeqNotLoadedError extends Error {
  override readonly name = 'SeqNotLoadedError'

  constructor(sessionId: string) {
    super(
      `The event bus has not loaded the sequence of session ${sessionId}: await loadSeq() before publishing for it`,
    )
  }
}

export class SeqCounter {
  private readonly last = new Map<string, number>()
  /** Loads under way, so that two callers share one read. */
  private readonly loading = new Map<string, Promise<number>>()

  constructor(private readonly store: Pick<Store, 'lastSeq'>) {}

  /** The session's last seq when loaded (or counted); undefined when it is not. */
  get(sessionId: string): number | undefined {
    return this.last.get(sessionId)
  }

  /** The session's last seq; throws SeqNotLoadedError when it has not been loaded. */
  current(sessionId: string): number {
    const seq = this.last.get(sessionId)
    if (seq === undefined) throw new SeqNotLoadedError(sessionId)
    return seq
  }

  set(sessionId: string, seq: number): void {
    this.last.set(sessionId, seq)
  }

  /** The session's last seq, read from the store the first time. */
  load(sessionId: string): Promise<number> {
    const known = this.last.get(sessionId)
    if (known !== undefined) return Promise.resolve(known)
    let loading = this.loading.get(sessionId)
    if (!loading) {
      const load: Promise<number> = this.store.lastSeq(sessionId).then(
        (stored) => {
          // A load a reload or a purge superseded (`loading` forgotten) counts for nothing any more.
          if (this.loading.get(sessionId) !== load) return this.load(sessionId)
          this.loading.delete(sessionId)
          // Nothing is published for the session before its load ends: the store's last seq is the last.
          this.last.set(sessionId, stored)
          return stored
        },
        (error: unknown) => {
          if (this.loading.get(sessionId) === load) this.loading.delete(sessionId)
          throw error
        },
      )
      loading = load
      this.loading.set(sessionId, loading)
    }
    return loading
  }

  /** Forget the session's count, and any load under way: the next `load` reads the store again. */
  forget(sessionId: string): void {
    this.last.delete(sessionId)
    this.loading.delete(sessionId)
  }
}
