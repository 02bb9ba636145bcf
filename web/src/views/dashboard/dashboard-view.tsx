/**
 * The live dashboard: the gateway's figures (GET /api/metrics, the same observations Prometheus scrapes)
 * each second, the last minutes of them as charts (GET /api/metrics/history at open and after a pause),
 * and the figures over their threshold as alerts. Polling keeps one request in flight at most and stops
 * while the tab is hidden (poller.ts); the state changes are model.ts's.
 */
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react'
import { api } from '../../api/client.js'
import { credentials } from '../../api/credentials.js'
import type { MetricsHistory, MetricsSnapshot } from '../../api/types/metrics.js'
import { ErrorState } from '../../ui/error-state.js'
import { Spinner } from '../../ui/spinner.js'
import { Alerts } from './alerts.js'
import { Charts } from './charts.js'
import { loadThresholds, saveThresholds, type Thresholds } from './figures.js'
import { addSamples, type DashboardState, EMPTY, historyWanted, latestOf, withThresholds } from './model.js'
import { startPoller, type Visibility } from './poller.js'
import { ThresholdsDialog } from './thresholds-dialog.js'
import { Tiles } from './tiles.js'
import './dashboard.css'

const INTERVAL_MS = 1_000

/** The page's visibility (the Page Visibility API): a hidden tab does not poll. */
const documentVisibility: Visibility = {
  hidden: () => document.visibilityState === 'hidden',
  onChange(listener) {
    document.addEventListener('visibilitychange', listener)
    return () => document.removeEventListener('visibilitychange', listener)
  },
}

export default function DashboardView() {
  const [state, setState] = useState<DashboardState>(EMPTY)
  const [error, setError] = useState<unknown>()
  const [thresholds, setThresholds] = useState<Thresholds>(() => loadThresholds(localStorage))
  const [editing, setEditing] = useState(false)
  const [attempt, setAttempt] = useState(0)
  // What the poller's ticks read and build on: they run outside React's render.
  const current = useRef({ state, thresholds })
  current.current.thresholds = thresholds

  const update = useCallback((next: DashboardState) => {
    current.current.state = next
    setState(next)
  }, [])

  const tick = useCallback(
    async (signal: AbortSignal) => {
      try {
        const incoming: MetricsSnapshot[] = []
        const seconds = historyWanted(current.current.state, Date.now())
        if (seconds !== null) {
          const history = await api.get<MetricsHistory>('/metrics/history', { query: { seconds }, signal })
          incoming.push(...history.samples)
        }
        incoming.push(await api.get<MetricsSnapshot>('/metrics', { signal }))
        update(addSamples(current.current.state, incoming, Date.now(), current.current.thresholds))
        setError(undefined)
      } catch (failure) {
        if (!signal.aborted) setError(failure)
        throw failure
      }
    },
    [update],
  )

  // Again with a new key (the last answer may have been a 401), and when asked to retry.
  const { key } = useSyncExternalStore(credentials.subscribe, credentials.get)
  // biome-ignore lint/correctness/useExhaustiveDependencies: `key` and `attempt` are reasons to start again.
  useEffect(
    () => startPoller({ intervalMs: INTERVAL_MS, tick, visibility: documentVisibility }),
    [tick, key, attempt],
  )

  const save = (next: Thresholds) => {
    saveThresholds(localStorage, next)
    setThresholds(next)
    current.current.thresholds = next
    update(withThresholds(current.current.state, next))
    setEditing(false)
  }

  const latest = latestOf(state)
  const over = useMemo(() => new Map(state.alerts.map((alert) => [alert.figure, alert])), [state.alerts])

  return (
    <section className="view dashboard-view" aria-labelledby="dashboard-title">
      <div className="view-header">
        <h1 id="dashboard-title">Dashboard</h1>
        <span className="muted">Live, every second · charts: the last 10 minutes</span>
      </div>
      {latest === undefined ? (
        error !== undefined ? (
          <ErrorState error={error} what="The figures" onRetry={() => setAttempt((n) => n + 1)} />
        ) : (
          <Spinner label="Loading the figures" visibleLabel />
        )
      ) : (
        <>
          {error !== undefined && (
            <p className="dashboard-stale" role="status">
              The figures stopped updating ({error instanceof Error ? error.message : String(error)}).
              Retrying…
            </p>
          )}
          <Alerts alerts={state.alerts} onEdit={() => setEditing(true)} />
          <Tiles snapshot={latest} over={over} />
          <Charts samples={state.samples} />
        </>
      )}
      <ThresholdsDialog
        open={editing}
        thresholds={thresholds}
        onSave={save}
        onClose={() => setEditing(false)}
      />
    </section>
  )
}
