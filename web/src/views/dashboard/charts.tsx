import { lazy, Suspense, useMemo } from 'react'
import type { MetricsSnapshot } from '../../api/types/metrics.js'
import { type Theme, useTheme } from '../../theme.js'
import { CHARTS, type Chart, chartData, SPAN_SECONDS } from './model.js'

// uPlot comes with this chunk, after the figures are on screen.
const TimeChart = lazy(() => import('./time-chart.js'))

/** The figures over the last minutes (model.ts CHARTS), one chart each. */
export function Charts({ samples }: { samples: readonly MetricsSnapshot[] }) {
  const theme = useTheme()
  return (
    <div className="charts">
      {CHARTS.map((chart) => (
        <ChartPanel key={chart.id} chart={chart} samples={samples} theme={theme} />
      ))}
    </div>
  )
}

function ChartPanel({
  chart,
  samples,
  theme,
}: {
  chart: Chart
  samples: readonly MetricsSnapshot[]
  theme: Theme
}) {
  const series = useMemo(() => chart.series(samples), [chart, samples])
  const data = useMemo(() => chartData(samples, series), [samples, series])
  const labels = useMemo(() => series.map(({ label }) => label), [series])
  return (
    <figure className="chart" data-chart={chart.id}>
      <figcaption>{chart.title}</figcaption>
      {series.length === 0 ? (
        <p className="chart-empty">None in the last {SPAN_SECONDS / 60} minutes.</p>
      ) : (
        <Suspense fallback={<div className="chart-plot chart-loading" />}>
          <TimeChart unit={chart.unit} labels={labels} data={data} theme={theme} />
        </Suspense>
      )}
    </figure>
  )
}
