/**
 * Asks again and again, politely: one request in flight at most (the next tick waits for the answer), one
 * tick an interval at most, nothing while the page is hidden (a background tab costs the gateway nothing),
 * and a growing pause after failures. Plain TypeScript with its clock and visibility passed in, so
 * node:test drives it.
 */

export interface Visibility {
  hidden(): boolean
  /** Calls `listener` when the page is shown or hidden; returns the unsubscribe. */
  onChange(listener: () => void): () => void
}

export interface PollerOptions {
  intervalMs: number
  /** One round of requests; a rejection counts as a failure (the pause grows), then polling goes on. */
  tick: (signal: AbortSignal) => Promise<void>
  visibility: Visibility
  /** The longest pause after failures. */
  maxBackoffMs?: number
  now?: () => number
  setTimer?: (run: () => void, ms: number) => unknown
  clearTimer?: (timer: unknown) => void
}

/** Starts polling at once (when visible); returns the stop, which also aborts a request in flight. */
export function startPoller({
  intervalMs,
  tick,
  visibility,
  maxBackoffMs = 10_000,
  now = () => performance.now(),
  setTimer = (run, ms) => setTimeout(run, ms),
  clearTimer = (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
}: PollerOptions): () => void {
  const abort = new AbortController()
  let timer: unknown
  let inFlight = false
  let lastStart = -Infinity
  let failures = 0

  const schedule = () => {
    if (abort.signal.aborted || inFlight || timer !== undefined || visibility.hidden()) return
    const pause = failures === 0 ? intervalMs : Math.min(maxBackoffMs, intervalMs * 2 ** failures)
    timer = setTimer(run, Math.max(0, lastStart + pause - now()))
  }

  const run = async () => {
    timer = undefined
    if (abort.signal.aborted || visibility.hidden()) return
    inFlight = true
    lastStart = now()
    try {
      await tick(abort.signal)
      failures = 0
    } catch {
      failures += 1
    } finally {
      inFlight = false
    }
    schedule()
  }

  const unsubscribe = visibility.onChange(() => {
    if (visibility.hidden()) {
      // A request in flight finishes; schedule() then sees the page hidden and stops.
      if (timer !== undefined) clearTimer(timer)
      timer = undefined
    } else schedule()
  })

  schedule()
  return () => {
    abort.abort()
    unsubscribe()
    if (timer !== undefined) clearTimer(timer)
    timer = undefined
  }
}
