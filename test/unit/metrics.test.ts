/**
 * The metrics' building blocks: exact percentiles over a sliding window in a bounded ring, label values kept
 * bounded, the history ring, and turn figures observed from events into the Prometheus registry.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Registry } from 'prom-client'
import type { EventBody, GatewayEvent, SessionState } from '../../src/events/types.js'
import { History } from '../../src/observability/history.js'
import { instruments } from '../../src/observability/instruments.js'
import {
  apiFamily,
  BoundedLabel,
  methodLabel,
  statusClass,
  toolLabel,
} from '../../src/observability/labels.js'
import { SessionCounts } from '../../src/observability/session-counts.js'
import { TurnFigures } from '../../src/observability/turn-figures.js'
import { CountWindow, rank, SampleWindow } from '../../src/observability/window.js'
import type { SessionQuery, Store } from '../../src/store/types.js'

test('percentiles are exact nearest-rank over the values in the window', async () => {
  const window = new SampleWindow(1000, 60_000)
  const now = 1_000_000
  // 1..100 in shuffled order: p50 = 50, p95 = 95, p99 = 99.
  const values = Array.from({ length: 100 }, (_, i) => i + 1).sort(() => Math.random() - 0.5)
  for (const value of values) window.add(value, now - 1000)
  assert.deepEqual(window.percentiles(now), { p50: 50, p95: 95, p99: 99 })
  assert.equal(window.count(now), 100)
  assert.deepEqual(new SampleWindow(10, 1000).percentiles(now), { p50: null, p95: null, p99: null })
  assert.equal(rank(Float64Array.of(7), 0.99), 7)
})

test('samples older than the window leave it', async () => {
  const window = new SampleWindow(100, 60_000)
  window.add(5000, 0)
  window.add(10, 30_000)
  window.add(20, 59_000)
  assert.deepEqual(window.recent(60_000), [10, 20])
  assert.deepEqual(window.recent(120_000), [])
  assert.deepEqual(window.percentiles(61_000), { p50: 10, p95: 20, p99: 20 })
})

test('the ring is bounded: past its capacity the oldest samples are overwritten', async () => {
  const window = new SampleWindow(4, 60_000)
  for (let i = 1; i <= 10; i++) window.add(i, 1000 + i)
  assert.deepEqual(window.recent(2000), [7, 8, 9, 10])
  assert.deepEqual(window.percentiles(2000), { p50: 8, p95: 10, p99: 10 })
})

test('kinds are counted within the window; a kind not seen in it is absent', async () => {
  const kinds = new CountWindow(10_000)
  kinds.add('busy', 0)
  kinds.add('busy', 5000)
  kinds.add('turn_timeout', 9000)
  assert.deepEqual(kinds.counts(9500), { busy: 2, turn_timeout: 1 })
  assert.deepEqual(kinds.counts(12_000), { busy: 1, turn_timeout: 1 })
  assert.deepEqual(kinds.counts(30_000), {})
  // Counted per second: exact at any rate, in ten buckets.
  for (let i = 0; i < 50_000; i++) kinds.add('busy', 40_000 + (i % 1000))
  assert.equal(kinds.total(40_999), 50_000)
  assert.equal(kinds.total(49_999), 50_000)
  assert.equal(kinds.total(50_000), 0)
})

test('labels stay bounded: unknown tools, methods and models past the limit are "other"', async () => {
  assert.equal(toolLabel('Bash'), 'Bash')
  assert.equal(toolLabel('mcp__github__create_issue'), 'other')
  assert.equal(toolLabel('get_weather'), 'other')
  assert.equal(methodLabel('GET'), 'GET')
  assert.equal(methodLabel('PROPFIND'), 'other')
  assert.equal(statusClass(404), '4xx')
  assert.equal(statusClass(999), 'other')
  assert.equal(apiFamily('/v1/chat/completions'), 'openai')
  assert.equal(apiFamily('/api/sessions/abc'), 'native')
  assert.equal(apiFamily('/metrics'), 'other')
  const models = new BoundedLabel(2)
  assert.equal(models.of('sonnet'), 'sonnet')
  assert.equal(models.of('opus'), 'opus')
  assert.equal(models.of('haiku'), 'other')
  assert.equal(models.of('sonnet'), 'sonnet')
  assert.equal(models.of(''), 'unknown')
})

test('the history keeps the last samples, oldest first, and answers a time range', async () => {
  const history = new History<{ at: number; n: number }>(3)
  for (let n = 1; n <= 5; n++) history.push({ at: n * 1000, n })
  assert.deepEqual(
    history.since().map((s) => s.n),
    [3, 4, 5],
  )
  assert.deepEqual(
    history.since(2, 5000).map((s) => s.n),
    [4, 5],
  )
  assert.deepEqual(new History(5).since(), [])
})

test('turn figures: duration, time to first token, tokens, cost, tools and errors from events', async () => {
  const registry = new Registry()
  const windows = {
    turns: new SampleWindow(100, 60_000),
    firstToken: new SampleWindow(100, 60_000),
    errors: new CountWindow(60_000),
  }
  const figures = new TurnFigures(instruments(registry), windows)
  let seq = 0
  const emit = (sessionId: string, ts: number, body: EventBody) =>
    figures.observe({ ...body, seq: ++seq, ts, sessionId } as GatewayEvent)
  const usage = {
    inputTokens: 10,
    outputTokens: 5,
    cacheReadInputTokens: 100,
    cacheCreationInputTokens: 0,
    thinkingTokens: 0,
  }

  emit('sess-1', 1000, { type: 'session.state', state: 'starting', previous: 'new' })
  emit('sess-1', 1250, { type: 'session.state', state: 'idle', previous: 'starting' })
  emit('sess-1', 2000, { type: 'turn.started', turnId: 't1', content: 'hi' })
  emit('sess-1', 2300, { type: 'text.delta', turnId: 't1', text: 'He', parentToolUseId: null })
  emit('sess-1', 2400, { type: 'text.delta', turnId: 't1', text: 'llo', parentToolUseId: null })
  emit('sess-1', 2500, {
    type: 'tool.result',
    turnId: 't1',
    toolUseId: 'u1',
    name: 'mcp__x__y',
    isError: false,
    content: '',
    durationMs: 40,
    parentToolUseId: null,
  })
  emit('sess-1', 4900, { type: 'usage', turnId: 't1', model: 'claude-x', usage, costUsd: 0.25 })
  emit('sess-1', 5000, {
    type: 'turn.completed',
    turnId: 't1',
    status: 'success',
    result: 'Hello',
    stopReason: 'end_turn',
    durationMs: 2900,
    numTurns: 1,
    usage,
    costUsd: 0.25,
  })
  // A failed turn that announced its error, and one that did not: each error counted once.
  emit('sess-2', 6000, { type: 'turn.started', turnId: 't2', content: 'x' })
  emit('sess-2', 6100, { type: 'error', turnId: 't2', code: 'turn_timeout', message: 'late' })
  const failed = {
    type: 'turn.completed' as const,
    status: 'error' as const,
    result: '',
    stopReason: null,
    durationMs: 0,
    numTurns: 0,
    usage: { ...usage, inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 0 },
    costUsd: 0,
  }
  emit('sess-2', 7000, { ...failed, turnId: 't2', error: { code: 'turn_timeout', message: 'late' } })
  emit('sess-3', 7000, { type: 'turn.started', turnId: 't3', content: 'x' })
  emit('sess-3', 7500, { ...failed, turnId: 't3', error: { code: 'upstream_error', message: 'no' } })

  assert.deepEqual(windows.turns.recent(8000), [3000, 1000, 500])
  assert.deepEqual(windows.firstToken.recent(8000), [300])
  assert.deepEqual(windows.errors.counts(8000), { turn_timeout: 1, upstream_error: 1 })
  assert.deepEqual(figures.totals, { inputTokens: 110, outputTokens: 5, costUsd: 0.25 })
  assert.equal(figures.inProgress, 0)

  const text = await registry.metrics()
  const line = (prefix: string) => text.split('\n').find((l) => l.startsWith(prefix))
  assert.equal(
    line('gen_ai_server_request_duration_seconds_count{gen_ai_response_model="claude-x",status="success"}'),
    'gen_ai_server_request_duration_seconds_count{gen_ai_response_model="claude-x",status="success"} 1',
  )
  assert.match(line('gen_ai_server_request_duration_seconds_sum{gen_ai_response_model="claude-x"')!, / 3$/)
  assert.match(line('gen_ai_server_time_to_first_token_seconds_sum')!, / 0\.3$/)
  assert.match(
    line('gen_ai_client_token_usage_sum{gen_ai_token_type="input",gen_ai_response_model="claude-x"}')!,
    / 110$/,
  )
  assert.match(line('gateway_cost_usd_total{gen_ai_response_model="claude-x"}')!, / 0\.25$/)
  assert.match(line('gateway_tool_duration_seconds_count{tool="other",outcome="success"}')!, / 1$/)
  assert.match(line('gateway_process_wait_seconds_sum')!, / 0\.25$/)
  assert.match(line('gateway_errors_total{kind="turn_timeout"}')!, / 1$/)
  assert.match(line('gateway_turns_total{status="error"}')!, / 2$/)
  assert.ok(!text.includes('sess-'), 'no session id in any label')
})

test('sessions by state: counted in the store once, then followed from events; a purge recounts', async () => {
  const stored: Partial<Record<SessionState, number>> = { idle: 2, hibernated: 5 }
  let queries = 0
  const store = {
    async listSessions({ state }: SessionQuery) {
      queries++
      return { items: [], total: stored[state!] ?? 0 }
    },
  } as unknown as Store
  const counts = new SessionCounts(store)
  let seq = 0
  const emit = (body: EventBody) =>
    counts.observe({ ...body, seq: ++seq, ts: 0, sessionId: 'a' } as GatewayEvent)
  assert.deepEqual(await counts.read(0), {
    new: 0,
    starting: 0,
    idle: 2,
    running: 0,
    hibernated: 5,
    paused: 0,
    closed: 0,
  })
  const counted = queries
  emit({ type: 'session.created', title: null, workspace: '/w', agent: null })
  emit({ type: 'session.state', state: 'running', previous: 'idle' })
  const followed = await counts.read(1000)
  assert.equal(queries, counted, 'no query while events are followed')
  assert.deepEqual([followed.new, followed.idle, followed.running], [1, 1, 1])
  stored.hibernated = 4
  emit({ type: 'session.deleted' })
  assert.equal((await counts.read(2000)).hibernated, 4)
  assert.ok(queries > counted)
})
