/**
 * A session's timeline as it loads and streams: the live events of the session (from the tab's one
 * stream, kept from before the first page is asked for, so none falls between the page and the stream),
 * the last history page first, older pages on demand, and a forward page whenever the live events show a
 * gap (the stream connected late, or resumed past what it kept). All folded by model.ts.
 */
import { useCallback, useEffect, useRef, useState } from 'react'
import { api } from '../../../api/client.js'
import type { HistoryPage } from '../../../api/types/history.js'
import { useLiveEvents } from '../../../live/live.js'
import { type Coverage, eventOf, extend, hasOlder, NO_COVERAGE, newerPage, olderPage } from './history.js'
import { applyEvents, EMPTY_TIMELINE, type TimelineState } from './model.js'

/** Items per page: a few screens of a busy turn. */
const PAGE_SIZE = 300
/** Any sequence number past the end: the last page. */
const END = Number.MAX_SAFE_INTEGER

export interface Timeline {
  state: TimelineState
  coverage: Coverage
  /** The last page failed to load (the older ones retry on the next scroll). */
  error: unknown
  loadingOlder: boolean
  hasOlder: boolean
  /** Loads the page before what is loaded; resolves when it is folded in. */
  loadOlder: () => Promise<void>
  /** Loads every page before what is loaded (to search all of it, or go to the start). */
  loadAll: () => Promise<void>
  retry: () => void
}

export function useTimeline(sessionId: string, reloadKey: unknown): Timeline {
  const [state, setState] = useState<TimelineState>(EMPTY_TIMELINE)
  const [coverage, setCoverage] = useState<Coverage>(NO_COVERAGE)
  const [error, setError] = useState<unknown>()
  const [loadingOlder, setLoadingOlder] = useState(false)
  const [attempt, setAttempt] = useState(0)
  // What the loaders read between renders; `busy`: an older page is on its way.
  const latest = useRef({ coverage, busy: false })
  latest.current.coverage = coverage
  const filling = useRef(false)

  useLiveEvents((events) => {
    const mine = events.filter((event) => event.sessionId === sessionId)
    if (mine.length > 0) setState((current) => applyEvents(current, mine))
  })

  const fold = useCallback(
    (page: HistoryPage) => {
      const events = page.items.map((item) => eventOf(item, sessionId))
      setState((current) => applyEvents(current, events))
    },
    [sessionId],
  )

  // The last page: a session opens at its end.
  // biome-ignore lint/correctness/useExhaustiveDependencies: `reloadKey` (a new API key) and `attempt` load again.
  useEffect(() => {
    setState(EMPTY_TIMELINE)
    setCoverage(NO_COVERAGE)
    setError(undefined)
    const controller = new AbortController()
    api
      .get<HistoryPage>(`/sessions/${encodeURIComponent(sessionId)}/history`, {
        query: { before: END, limit: PAGE_SIZE },
        signal: controller.signal,
      })
      .then(
        (page) => {
          fold(page)
          setCoverage((current) => olderPage(current, page))
        },
        (failure) => {
          if (!controller.signal.aborted) setError(failure)
        },
      )
    return () => controller.abort()
  }, [sessionId, fold, reloadKey, attempt])

  // Live events that follow on from the pages extend them; after a gap, a forward page fills it.
  useEffect(() => {
    const { coverage: extended, gapAfter } = extend(coverage, state.seen)
    if (extended !== coverage) setCoverage(extended)
    if (gapAfter === undefined || filling.current) return
    filling.current = true
    api
      .get<HistoryPage>(`/sessions/${encodeURIComponent(sessionId)}/history`, {
        query: { after: gapAfter, limit: 1000 },
      })
      .then(
        (page) => {
          fold(page)
          setCoverage((current) => newerPage(current, page))
        },
        // The next live event tries again.
        () => {},
      )
      .finally(() => {
        filling.current = false
      })
  }, [coverage, state.seen, sessionId, fold])

  const loadOlder = useCallback(async () => {
    const current = latest.current.coverage
    if (latest.current.busy || !hasOlder(current)) return
    latest.current.busy = true
    setLoadingOlder(true)
    try {
      const page = await api.get<HistoryPage>(`/sessions/${encodeURIComponent(sessionId)}/history`, {
        query: { before: current.from, limit: PAGE_SIZE },
      })
      fold(page)
      latest.current.coverage = olderPage(current, page)
      setCoverage((now) => olderPage(now, page))
    } finally {
      latest.current.busy = false
      setLoadingOlder(false)
    }
  }, [sessionId, fold])

  const loadAll = useCallback(async () => {
    while (hasOlder(latest.current.coverage)) {
      const before = latest.current.coverage.from
      await loadOlder()
      if (latest.current.coverage.from === before) return
    }
  }, [loadOlder])

  return {
    state,
    coverage,
    error,
    loadingOlder,
    hasOlder: hasOlder(coverage),
    loadOlder,
    loadAll,
    retry: () => setAttempt((count) => count + 1),
  }
}
