/** The admin UI's sessions list model (web/src/views/sessions/model.ts) and figures (web/src/ui/format.ts). */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LiveEvent } from '../../web/src/api/types/events.js'
import type { Session } from '../../web/src/api/types/sessions.js'
import { baseName, formatCost, formatRelative, formatTokens } from '../../web/src/ui/format.js'
import {
  addPage,
  agentsOf,
  applyEvents,
  EMPTY,
  NO_FILTERS,
  staleIds,
  upsert,
  visibleSessions,
} from '../../web/src/views/sessions/model.js'

const T0 = Date.parse('2026-12-01T10:00:00.000Z')

function session(id: string, minutes: number, fields: Partial<Session> = {}): Session {
  return {
    id,
    title: `Title ${id}`,
    state: 'idle',
    workspace: `/home/me/${id}-project`,
    model: null,
    agent: null,
    permission_mode: 'default',
    claude_session_id: null,
    runner: null,
    usage: {
      input_tokens: 0,
      output_tokens: 0,
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 0,
      thinking_tokens: 0,
    },
    cost_usd: 0,
    turns: 0,
    created_at: new Date(T0).toISOString(),
    updated_at: new Date(T0 + minutes * 60_000).toISOString(),
    ...fields,
  }
}

let pos = 0
const event = (sessionId: string, body: Record<string, unknown>, ts = T0 + 3_600_000) =>
  ({ ...body, sessionId, seq: 1, ts, pos: ++pos }) as LiveEvent

test('pages add up; the list is complete when the last page is in', () => {
  let state = addPage(EMPTY, { items: [session('a', 3), session('b', 2)], total: 3, limit: 2, offset: 0 })
  assert.equal(state.complete, false)
  assert.equal(state.next, 2)
  // A row already loaded (the pages shifted as a session was updated) is not doubled.
  state = addPage(state, { items: [session('b', 2), session('c', 1)], total: 3, limit: 2, offset: 2 })
  assert.equal(state.complete, true)
  assert.deepEqual(
    visibleSessions(state, NO_FILTERS).map((each) => each.id),
    ['a', 'b', 'c'],
  )
})

test('live events: state and model change rows, activity reorders them, deleted sessions go', () => {
  const state = addPage(EMPTY, {
    items: [session('a', 3), session('b', 2, { agent: 'reviewer' }), session('c', 1)],
    total: 3,
    limit: 50,
    offset: 0,
  })
  const next = applyEvents(state, [
    event('c', { type: 'session.state', state: 'running', previous: 'idle' }),
    event('b', { type: 'model.changed', turnId: 't', model: 'claude-opus-4' }),
    event('a', { type: 'session.deleted' }),
  ])
  assert.notEqual(next, state)
  const rows = visibleSessions(next, NO_FILTERS)
  assert.deepEqual(
    rows.map((each) => [each.id, each.state, each.model]),
    [
      ['b', 'idle', 'claude-opus-4'],
      ['c', 'running', null],
    ],
  )
  assert.equal(next.total, 2)
  // Events of sessions the list does not have change nothing (they are fetched: staleIds).
  assert.equal(applyEvents(state, [event('zz', { type: 'turn.started', turnId: 't', content: 'hi' })]), state)
})

test('stale ids: unknown sessions and ended turns are fetched, deleted ones are not', () => {
  const state = upsert(EMPTY, [session('a', 1), session('b', 1)])
  assert.equal(state.total, 2)
  const ids = staleIds(state, [
    event('new', { type: 'session.state', state: 'starting', previous: 'new' }),
    event('new', { type: 'turn.started', turnId: 't', content: 'hi' }),
    event('a', { type: 'text.delta', turnId: 't', text: 'x', parentToolUseId: null }),
    event('b', { type: 'turn.completed', turnId: 't', status: 'success' }),
    event('gone', { type: 'turn.started', turnId: 't', content: 'hi' }),
    event('gone', { type: 'session.deleted' }),
  ])
  assert.deepEqual(ids.sort(), ['b', 'new'])
})

test('filters: search over title, id, model, agent and workspace; state; agent', () => {
  const state = upsert(EMPTY, [
    session('a1', 1, { title: 'Fix the parser', state: 'running' }),
    session('b2', 2, { agent: 'reviewer', model: 'claude-sonnet-4' }),
    session('c3', 3, { title: null, workspace: '/srv/shop' }),
  ])
  const ids = (filters: Partial<typeof NO_FILTERS>) =>
    visibleSessions(state, { ...NO_FILTERS, ...filters }).map((each) => each.id)
  assert.deepEqual(ids({ search: 'PARSER' }), ['a1'])
  assert.deepEqual(ids({ search: 'sonnet' }), ['b2'])
  assert.deepEqual(ids({ search: 'shop' }), ['c3'])
  assert.deepEqual(ids({ search: 'c3' }), ['c3'])
  assert.deepEqual(ids({ state: 'running' }), ['a1'])
  assert.deepEqual(ids({ agent: 'reviewer' }), ['b2'])
  assert.deepEqual(agentsOf(state), ['reviewer'])
})

test('1,000 sessions and a burst of 500 events: filtered and sorted in well under a frame budget', () => {
  const many = Array.from({ length: 1000 }, (_, index) => session(`s${index}`, index % 97))
  let state = addPage(EMPTY, { items: many, total: 1000, limit: 1000, offset: 0 })
  const burst = Array.from({ length: 500 }, (_, index) =>
    event(`s${index * 2}`, { type: 'session.state', state: 'running', previous: 'idle' }, T0 + index),
  )
  const started = performance.now()
  state = applyEvents(state, burst)
  const rows = visibleSessions(state, { ...NO_FILTERS, search: 's9' })
  const elapsed = performance.now() - started
  assert.ok(rows.length > 0)
  assert.ok(elapsed < 100, `${elapsed} ms`)
})

test('figures read the same everywhere', () => {
  assert.equal(formatTokens(950), '950')
  assert.equal(formatTokens(12_340), '12.3K')
  assert.equal(formatCost(0), '$0.00')
  assert.equal(formatCost(0.0042), '$0.0042')
  assert.equal(formatCost(1.5), '$1.50')
  assert.equal(formatRelative(T0, T0 + 10_000), 'just now')
  assert.equal(formatRelative(T0, T0 + 5 * 60_000), '5 min ago')
  assert.equal(formatRelative(T0, T0 + 3 * 3_600_000), '3 h ago')
  assert.equal(formatRelative(T0, T0 + 2 * 86_400_000), '2 d ago')
  assert.equal(formatRelative(T0, T0 + 90 * 86_400_000), '2026-12-01')
  assert.equal(baseName('/home/me/project/'), 'project')
})
