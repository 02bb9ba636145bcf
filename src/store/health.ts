import type { StoreError, StoreErrorCode, StoreHealth } from './errors.js'

/**
 * A store's health as `/v1/health` shows it, the same for every kind of store: the storage's failure,
 * dated from the first one since it last worked, until one of the store's own writes succeeds again.
 */
export class HealthRecord {
  private failure: { error: StoreErrorCode; message: string; since: number } | null = null

  /** Remembers a failure of the storage and gives it back, for the caller to throw. */
  failed(failure: StoreError): StoreError {
    this.failure = {
      error: failure.code,
      message: failure.message,
      since: this.failure?.since ?? Date.now(),
    }
    return failure
  }

  /** A write succeeded: the storage works again. */
  succeeded(): void {
    this.failure = null
  }

  report(): StoreHealth {
    return this.failure ? { ok: false, ...this.failure } : { ok: true }
  }
}
