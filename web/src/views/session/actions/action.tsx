/**
 * One action of the session view (send, interrupt, fork...): pending while it runs, and its failure shown
 * beside its control in the gateway's own words until it is run again or dismissed.
 */
import { useCallback, useRef, useState } from 'react'
import { ApiError } from '../../../api/client.js'

export interface Action<A extends unknown[], R> {
  /** Runs the work; resolves with its result, or undefined when it failed (the error is then shown). */
  run: (...args: A) => Promise<R | undefined>
  pending: boolean
  error: string | null
  clear: () => void
}

export function useAction<A extends unknown[], R>(work: (...args: A) => Promise<R>): Action<A, R> {
  const latest = useRef(work)
  latest.current = work
  const [pending, setPending] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const run = useCallback(async (...args: A) => {
    setPending(true)
    setError(null)
    try {
      return await latest.current(...args)
    } catch (failure) {
      setError(messageOf(failure))
      return undefined
    } finally {
      setPending(false)
    }
  }, [])
  const clear = useCallback(() => setError(null), [])
  return { run, pending, error, clear }
}

/** The native error's message (what the gateway said); anything else by its own message. */
export function messageOf(failure: unknown): string {
  if (failure instanceof ApiError) return failure.message
  return failure instanceof Error ? failure.message : String(failure)
}

/** An action's failure, announced to assistive technology as it appears. */
export function ActionError({ error, onDismiss }: { error: string | null; onDismiss?: () => void }) {
  if (!error) return null
  return (
    <p className="action-error" role="alert">
      <span className="action-error-text">{error}</span>
      {onDismiss && (
        <button type="button" className="action-error-close" aria-label="Dismiss" onClick={onDismiss}>
          ×
        </button>
      )}
    </p>
  )
}
