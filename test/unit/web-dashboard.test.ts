/**
 * The admin UI's dashboard logic (web/src/views/dashboard/): thresholds and the alerts they raise, the samples
 * kept for the charts and the series assembled from them, and the figures' formats. The poller's pace is in
 * web-dashboard-poller.test.ts.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { MetricsSnapshot } from '../../web/src/api/types/metrics.js'
import { formatBytes, formatDuration } from '../../web/src/ui/format.js'
import {
  alertsOf,
  DEFAULT_THRESHOLDS,
  FIGURES,
  formatValue,
  isOver,
  loadThresholds,
  parseThresholds,
  STORAGE_KEY,
  saveThresholds,
  thresholdOf,
} from '../../web/src/views/dashboard/figures.js'
import {
  addSamples,
  CHARTS,
  chartData,
  EMPTY,
  errorKinds,
  historyWanted,
  latestOf,
  SPAN_SECONDS,
  withThresholds,
} from '../../web/src/views/dashboard/model.js'

const T0 = Date.parse('2026-12-07T03:00:00.000Z')
const MB = 1024 * 1024

type Changes = { [K in keyof MetricsSnapshot]?: Partial<MetricsSnapshot[K]> }

function snapshot(seconds: number, changes: Changes = {}): MetricsSnapshot {
  const base: MetricsSnapshot = {
    at: T0 + seconds * 1000,
    window_seconds: 60,
    requests: { per_second: 0.5, latency_ms: { p50: 2, p95: 8, p99: 40 } },
    turns: {
      per_minute: 0,
      in_progress: 0,
      latency_ms: { p50: null, p95: null, p99: null },
      first_token_ms: { p50: null, p95: null, p99: null },
    },
    connections: { open: 2, streams: { sse: 1, websocket: 0 } },
    sessions: { new: 0, starting: 0, idle: 1, running: 0, hibernated: 3, paused: 0, closed: 0 },
    runners: { busy: 0, idle: 1, spare: 1, starting: 0, max: 8, spare_target: 1 },
    queue_depth: 0,
    errors: {},
    memory: { gateway_rss_bytes: 200 * MB, gateway_heap_used_bytes: 60 * MB, cli_bytes: 700 * MB },
    cpu_percent: 3,
    tokens: { input: 1000, output: 200 },
    cost_usd: 0.01,
  }
  const merged: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(changes)) {
    const previous: unknown = base[key as keyof MetricsSnapshot]
    merged[key] =
      typeof previous === 'object' && previous !== null && key !== 'errors'
        ? { ...previous, ...(value as object) }
        : value
  }
  return merged as unknown as MetricsSnapshot
}

const slowTurns = (seconds: number, p95: number) =>
  snapshot(seconds, { turns: { per_minute: 2, latency_ms: { p50: p95 / 2, p95, p99: p95 } } })

describe('thresholds', () => {
  test('nothing saved, unreadable or not an object: the defaults', () => {
    assert.deepEqual(parseThresholds(null), DEFAULT_THRESHOLDS)
    assert.deepEqual(parseThresholds('{not json'), DEFAULT_THRESHOLDS)
    assert.deepEqual(parseThresholds('[1,2]'), DEFAULT_THRESHOLDS)
    assert.deepEqual(parseThresholds('7'), DEFAULT_THRESHOLDS)
    assert.equal(DEFAULT_THRESHOLDS.turn_p95, 120_000)
    assert.equal(DEFAULT_THRESHOLDS.turn_p50, null)
  })

  test('saved values win figure by figure; bad ones keep the default; unknown figures are dropped', () => {
    const parsed = parseThresholds(
      JSON.stringify({ turn_p95: 500, cpu: null, queue_depth: -1, errors: 'many', gone_figure: 3 }),
    )
    assert.equal(parsed.turn_p95, 500)
    assert.equal(parsed.cpu, null, 'null: the user turned it off')
    assert.equal(parsed.queue_depth, DEFAULT_THRESHOLDS.queue_depth)
    assert.equal(parsed.errors, DEFAULT_THRESHOLDS.errors)
    assert.equal('gone_figure' in parsed, false)
    assert.deepEqual(
      Object.keys(parsed),
      FIGURES.map(({ id }) => id),
    )
  })

  test('saved in storage and read back', () => {
    const entries = new Map<string, string>()
    const storage = {
      getItem: (key: string) => entries.get(key) ?? null,
      setItem: (key: string, value: string) => void entries.set(key, value),
    }
    assert.deepEqual(loadThresholds(storage), DEFAULT_THRESHOLDS)
    saveThresholds(storage, { ...DEFAULT_THRESHOLDS, turn_p95: 1, gateway_memory: null })
    assert.ok(entries.has(STORAGE_KEY))
    const loaded = loadThresholds(storage)
    assert.equal(loaded.turn_p95, 1)
    assert.equal(loaded.gateway_memory, null)
  })

  test('a form field: empty is none, a number of 0 or more is a threshold, anything else is not', () => {
    assert.equal(thresholdOf(''), null)
    assert.equal(thresholdOf('   '), null)
    assert.equal(thresholdOf(' 0 '), 0)
    assert.equal(thresholdOf('12.5'), 12.5)
    assert.equal(thresholdOf('-1'), undefined)
    assert.equal(thresholdOf('fast'), undefined)
    assert.equal(thresholdOf('Infinity'), undefined)
  })

  test('over means above: equal is not over, no value or no threshold never is', () => {
    assert.equal(isOver(11, 10), true)
    assert.equal(isOver(10, 10), false)
    assert.equal(isOver(1, 0), true)
    assert.equal(isOver(0, 0), false)
    assert.equal(isOver(null, 10), false)
    assert.equal(isOver(99, null), false)
    assert.equal(isOver(99, undefined), false)
  })
})

describe('alerts', () => {
  test('the figures over their threshold, in the order of FIGURES, with value and threshold', () => {
    const thresholds = { ...DEFAULT_THRESHOLDS, turn_p95: 1_000, gateway_memory: 100, request_p95: null }
    const alerts = alertsOf([], slowTurns(0, 4_000), thresholds)
    assert.deepEqual(
      alerts.map(({ figure, value, threshold }) => [figure, value, threshold]),
      [
        ['turn_p95', 4_000, 1_000],
        ['gateway_memory', 200, 100],
      ],
    )
    assert.equal(alerts[0]!.label, 'Turn latency p95')
    assert.equal(alerts[0]!.since, T0)
  })

  test('no turn in the window: the turn figures have no value and raise nothing', () => {
    const thresholds = { ...DEFAULT_THRESHOLDS, turn_p95: 0, first_token_p95: 0 }
    assert.deepEqual(alertsOf([], snapshot(0), thresholds), [])
  })

  test('an alert keeps its start while the figure stays over, and starts anew after it went under', () => {
    const thresholds = { ...DEFAULT_THRESHOLDS, turn_p95: 1_000 }
    const first = alertsOf([], slowTurns(0, 2_000), thresholds)
    const still = alertsOf(first, slowTurns(5, 3_000), thresholds)
    assert.equal(still[0]!.since, T0)
    assert.equal(still[0]!.value, 3_000)
    const under = alertsOf(still, slowTurns(6, 900), thresholds)
    assert.deepEqual(under, [])
    const again = alertsOf(under, slowTurns(9, 2_000), thresholds)
    assert.equal(again[0]!.since, T0 + 9_000)
  })

  test('errors of any kind, the queue and the busy share against their defaults', () => {
    const busy = snapshot(0, {
      errors: { rate_limited: 2, overloaded: 1 },
      queue_depth: 3,
      runners: { busy: 8, max: 8 },
    })
    const alerts = alertsOf([], busy, DEFAULT_THRESHOLDS)
    assert.deepEqual(
      alerts.map(({ figure, value }) => [figure, value]),
      [
        ['queue_depth', 3],
        ['errors', 3],
        ['busy_percent', 100],
      ],
    )
    // No process allowed at all: no share to speak of.
    assert.deepEqual(alertsOf([], snapshot(0, { runners: { busy: 0, max: 0 } }), DEFAULT_THRESHOLDS), [])
  })

  test('figures read in their unit', () => {
    assert.equal(formatValue('ms', null), '—')
    assert.equal(formatValue('ms', 840), '840 ms')
    assert.equal(formatValue('ms', 3_240), '3.24 s')
    assert.equal(formatValue('ms', 125_000), '2 min 05 s')
    assert.equal(formatValue('mb', 200), '200 MB')
    assert.equal(formatValue('mb', 4_096), '4 GB')
    assert.equal(formatValue('percent', 3.0625), '3.1%')
    assert.equal(formatValue('percent', 87.6), '88%')
    assert.equal(formatValue('count', 12_345), '12,345')
    assert.equal(formatValue('count', 0.333333), '0.33')
    assert.equal(formatValue('usd', 0.4217), '$0.42')
    assert.equal(formatDuration(4.25), '4.3 ms')
    assert.equal(formatDuration(42_000), '42 s')
    assert.equal(formatDuration(4_380_000), '1 h 13 min')
    assert.equal(formatBytes(512), '512 B')
    assert.equal(formatBytes(1.5 * MB), '1.5 MB')
  })
})

describe('samples', () => {
  test('at first the whole span is wanted, then nothing while current, then the missed stretch', () => {
    assert.equal(historyWanted(EMPTY, T0), SPAN_SECONDS)
    const state = addSamples(EMPTY, [snapshot(0)], T0, DEFAULT_THRESHOLDS)
    assert.equal(historyWanted(state, T0 + 1_500), null)
    assert.equal(historyWanted(state, T0 + 45_200), 47)
    assert.equal(historyWanted(state, T0 + 3_600_000), SPAN_SECONDS)
  })

  test('a history and then snapshots: sorted, overlap dropped, nothing twice', () => {
    const history = [snapshot(2), snapshot(0), snapshot(1)]
    let state = addSamples(EMPTY, history, T0 + 2_100, DEFAULT_THRESHOLDS)
    assert.deepEqual(
      state.samples.map(({ at }) => at - T0),
      [0, 1_000, 2_000],
    )
    // The history after a pause overlaps what the page has; the snapshot repeats the newest sample's time.
    state = addSamples(
      state,
      [snapshot(1), snapshot(2), snapshot(3), snapshot(3)],
      T0 + 3_100,
      DEFAULT_THRESHOLDS,
    )
    assert.deepEqual(
      state.samples.map(({ at }) => at - T0),
      [0, 1_000, 2_000, 3_000],
    )
    assert.equal(latestOf(state)!.at, T0 + 3_000)
    assert.equal(state.receivedAt, T0 + 3_100)
  })

  test('an answer with nothing new still counts as received', () => {
    const state = addSamples(EMPTY, [snapshot(0)], T0, DEFAULT_THRESHOLDS)
    const again = addSamples(state, [snapshot(0)], T0 + 9_000, DEFAULT_THRESHOLDS)
    assert.equal(again.samples, state.samples)
    assert.equal(again.receivedAt, T0 + 9_000)
  })

  test('samples older than the span fall out', () => {
    const many = Array.from({ length: SPAN_SECONDS + 50 }, (_, second) => snapshot(second))
    const state = addSamples(EMPTY, many, T0, DEFAULT_THRESHOLDS)
    assert.equal(state.samples.length, SPAN_SECONDS)
    assert.equal(state.samples[0]!.at, T0 + 50_000)
  })

  test('the alerts follow the newest sample, and new thresholds at once', () => {
    const thresholds = { ...DEFAULT_THRESHOLDS, turn_p95: 1_000 }
    let state = addSamples(EMPTY, [slowTurns(0, 500), slowTurns(1, 5_000)], T0, thresholds)
    assert.deepEqual(
      state.alerts.map(({ figure }) => figure),
      ['turn_p95'],
    )
    state = withThresholds(state, { ...thresholds, turn_p95: 10_000 })
    assert.deepEqual(state.alerts, [])
    assert.deepEqual(withThresholds(EMPTY, thresholds).alerts, [])
  })
})

describe('series', () => {
  const chart = (id: string) => CHARTS.find((each) => each.id === id)!

  test('one column of times in seconds, one per line, nulls where a figure has none', () => {
    const samples = [snapshot(0), slowTurns(1, 3_000)]
    const series = chart('turn-latency').series(samples)
    const [xs, ...ys] = chartData(samples, series)
    assert.deepEqual(xs, [T0 / 1000, T0 / 1000 + 1])
    assert.equal(ys.length, series.length)
    assert.deepEqual(ys[series.findIndex(({ label }) => label === 'p95')], [null, 3_000])
  })

  test('a silence longer than a few seconds breaks the lines', () => {
    const samples = [snapshot(0), snapshot(1), snapshot(20)]
    const [xs, cpu] = chartData(samples, chart('cpu').series(samples))
    assert.deepEqual(
      xs.map((x) => x - T0 / 1000),
      [0, 1, 2, 20],
    )
    assert.deepEqual(cpu, [3, 3, null, 3])
  })

  test('memory in MB, unknown process memory as a gap', () => {
    const samples = [snapshot(0), snapshot(1, { memory: { cli_bytes: null } })]
    const series = chart('memory').series(samples)
    const [, rss, , cli] = chartData(samples, series)
    assert.deepEqual(rss, [200, 200])
    assert.deepEqual(cli, [700, null])
  })

  test('errors: a line per kind ever seen, 0 where a sample has none of that kind', () => {
    const samples = [
      snapshot(0),
      snapshot(1, { errors: { rate_limited: 2 } }),
      snapshot(2, { errors: { aborted: 1 } }),
    ]
    assert.deepEqual(errorKinds(samples), ['aborted', 'rate_limited'])
    const series = chart('errors').series(samples)
    assert.deepEqual(
      series.map(({ label }) => label),
      ['aborted', 'rate_limited'],
    )
    const [, aborted, limited] = chartData(samples, series)
    assert.deepEqual(aborted, [0, 0, 1])
    assert.deepEqual(limited, [0, 2, 0])
    assert.deepEqual(chart('errors').series([snapshot(0)]), [])
  })

  test('every chart reads a sample without throwing and has a line', () => {
    const sample = slowTurns(0, 1_000)
    for (const each of CHARTS) {
      if (each.id === 'errors') continue
      const series = each.series([sample])
      assert.ok(series.length > 0, each.id)
      for (const { read } of series) read(sample)
    }
  })
})
