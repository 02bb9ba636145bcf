/**
 * One time-series chart on uPlot (loaded with this module, a lazy chunk of its own: the dashboard's figures
 * show before it arrives). It fills its container's width, follows it when it resizes, takes its colours
 * from the theme's CSS variables and is drawn anew when the theme or its lines change; new samples only
 * update its data.
 */
import 'uplot/dist/uPlot.min.css'
import { useEffect, useRef } from 'react'
import uPlot from 'uplot'
import type { Theme } from '../../theme.js'
import { formatValue, type Unit } from './figures.js'
import type { ChartData } from './model.js'

const HEIGHT = 150
/** Palette tokens of dashboard.css, one per line in order. */
const PALETTE = ['--chart-1', '--chart-2', '--chart-3', '--chart-4', '--chart-5', '--chart-6']

export interface TimeChartProps {
  unit: Unit
  labels: readonly string[]
  data: ChartData
  theme: Theme
}

export default function TimeChart({ unit, labels, data, theme }: TimeChartProps) {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | undefined>(undefined)
  // The data at the time the chart is (re)built; later data goes through setData below.
  const latest = useRef(data)
  latest.current = data
  const lines = labels.join('\n')

  // biome-ignore lint/correctness/useExhaustiveDependencies: `theme` changes the CSS variables read inside.
  useEffect(() => {
    const element = box.current!
    const style = getComputedStyle(element)
    const token = (name: string) => style.getPropertyValue(name).trim()
    const axis: uPlot.Axis = {
      stroke: token('--muted'),
      grid: { stroke: token('--border'), width: 1 },
      ticks: { stroke: token('--border'), width: 1 },
      font: `11px ${style.fontFamily}`,
    }
    const chart = new uPlot(
      {
        width: Math.max(1, Math.floor(element.clientWidth)),
        height: HEIGHT,
        series: [
          {},
          ...lines.split('\n').map((label, index) => ({
            label,
            stroke: token(PALETTE[index % PALETTE.length]!),
            width: 1.5,
            value: (_: uPlot, value: number | null) => formatValue(unit, value ?? null),
          })),
        ],
        scales: { y: { range: (_, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
        axes: [
          axis,
          { ...axis, size: 64, values: (_, splits) => splits.map((value) => formatValue(unit, value)) },
        ],
        legend: { live: true },
        // Away from the cursor, the legend says the newest values rather than nothing.
        hooks: { setLegend: [showNewest] },
        cursor: { drag: { x: false, y: false } },
      },
      latest.current,
      element,
    )
    plot.current = chart
    const resize = new ResizeObserver(([entry]) => {
      const width = Math.floor(entry!.contentRect.width)
      if (width > 0 && width !== chart.width) chart.setSize({ width, height: HEIGHT })
    })
    resize.observe(element)
    return () => {
      resize.disconnect()
      chart.destroy()
      plot.current = undefined
    }
  }, [lines, unit, theme])

  useEffect(() => {
    if (!plot.current) return
    plot.current.setData(data)
    showNewest(plot.current)
  }, [data])

  return <div ref={box} className="chart-plot" aria-hidden="true" />
}

/** The legend at the newest sample while the cursor is not over the chart. */
function showNewest(chart: uPlot): void {
  const count = chart.data[0].length
  if (chart.cursor.idx == null && count > 0) chart.setLegend({ idx: count - 1 }, false)
}
