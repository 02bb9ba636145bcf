/**
 * The session view's timeline (web/src/views/session/timeline/): the reducer keyed by sequence number
 * (idempotent, any page order, streaming then whole blocks), subagent nesting, tool call statuses, decision
 * points, search and filters, and the paging range the live events extend.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { EventBody, GatewayEvent } from '../../web/src/api/types/events.js'
import type { HistoryItem } from '../../web/src/api/types/history.js'
import {
  eventOf,
  extend,
  hasOlder,
  NO_COVERAGE,
  newerPage,
  olderPage,
} from '../../web/src/views/session/timeline/history.js'
import {
  applyEvents,
  EMPTY_TIMELINE,
  type TimelineState,
} from '../../web/src/views/session/timeline/model.js'
import {
  decisionText,
  KINDS,
  type Kind,
  matchesOf,
  rowsOf,
} from '../../web/src/views/session/timeline/rows.js'

const T0 = Date.parse('2026-12-01T10:00:00.000Z')
const ALL = { kinds: new Set<Kind>(KINDS), collapsed: new Set<string>() }
const USAGE = {
  inputTokens: 100,
  outputTokens: 50,
  cacheReadInputTokens: 0,
  cacheCreationInputTokens: 0,
  thinkingTokens: 0,
}

/** Events numbered from 1 in the order given, as one session's log. */
function log(...bodies: EventBody[]): GatewayEvent[] {
  return bodies.map(
    (body, index) => ({ ...body, seq: index + 1, ts: T0 + index, sessionId: 's1' }) as GatewayEvent,
  )
}

const started = (turnId: string, content: string): EventBody => ({ type: 'turn.started', turnId, content })
const delta = (
  type: 'text.delta' | 'thinking.delta',
  text: string,
  parent: string | null = null,
): EventBody => ({
  type,
  turnId: 't1',
  text,
  parentToolUseId: parent,
})
const message = (content: Array<Record<string, unknown>>, parent: string | null = null): EventBody => ({
  type: 'message',
  turnId: 't1',
  messageId: `msg_${Math.random()}`,
  model: 'claude',
  content: content as never,
  parentToolUseId: parent,
  synthetic: false,
})
const toolCall = (id: string, name: string, input: unknown, parent: string | null = null): EventBody => ({
  type: 'tool.call',
  turnId: 't1',
  toolUseId: id,
  name,
  input,
  parentToolUseId: parent,
})
const toolResult = (
  id: string,
  name: string,
  content: string,
  isError = false,
  parent: string | null = null,
): EventBody => ({
  type: 'tool.result',
  turnId: 't1',
  toolUseId: id,
  name,
  isError,
  content,
  durationMs: 12,
  parentToolUseId: parent,
})
const completed = (status: 'success' | 'error' | 'interrupted'): EventBody => ({
  type: 'turn.completed',
  turnId: 't1',
  status,
  result: '',
  stopReason: null,
  durationMs: 2500,
  numTurns: 1,
  usage: USAGE,
  costUsd: 0.0123,
})

/** A turn: thinking and text stream in, come whole, then a Task whose subagent reads a file. */
const TURN = log(
  started('t1', 'Look at the repo'),
  delta('thinking.delta', 'Let me '),
  delta('thinking.delta', 'think.'),
  message([{ type: 'thinking', thinking: 'Let me think.', signature: 's' }]),
  delta('text.delta', 'I will '),
  delta('text.delta', 'delegate.'),
  message([
    { type: 'text', text: 'I will delegate.' },
    { type: 'tool_use', id: 'task1', name: 'Task', input: { prompt: 'read it', subagent_type: 'explorer' } },
  ]),
  toolCall('task1', 'Task', { prompt: 'read it', subagent_type: 'explorer' }),
  message([{ type: 'tool_use', id: 'read1', name: 'Read', input: { file_path: '/w/a.ts' } }], 'task1'),
  toolCall('read1', 'Read', { file_path: '/w/a.ts' }, 'task1'),
  toolResult('read1', 'Read', 'const a = 1', false, 'task1'),
  toolResult('task1', 'Task', 'It defines a.'),
  message([{ type: 'text', text: 'It defines **a**.' }]),
  completed('success'),
)

const fold = (events: readonly GatewayEvent[], state: TimelineState = EMPTY_TIMELINE) =>
  applyEvents(state, events)
const shape = (state: TimelineState) =>
  rowsOf(state, ALL).map((row) => {
    const { entry } = row
    const what =
      entry.kind === 'tool'
        ? `${entry.name}:${row.status}`
        : entry.kind === 'decision'
          ? entry.decision.type
          : `${entry.text}${'streaming' in entry && entry.streaming ? '…' : ''}`
    return `${'  '.repeat(row.depth)}${entry.kind} ${what}`
  })

test('a turn: streamed blocks are replaced by whole ones, the subagent nests under its Task', () => {
  assert.deepEqual(shape(fold(TURN)), [
    'user Look at the repo',
    'thinking Let me think.',
    'text I will delegate.',
    'tool Task:succeeded',
    '  tool Read:succeeded',
    'text It defines **a**.',
    'decision turn',
  ])
})

test('while streaming: drafts grow with each delta, a running tool card shows', () => {
  const partial = fold(TURN.slice(0, 8))
  assert.deepEqual(shape(partial), [
    'user Look at the repo',
    'thinking Let me think.',
    'text I will delegate.',
    'tool Task:running',
  ])
  assert.deepEqual(shape(fold(TURN.slice(0, 5))), [
    'user Look at the repo',
    'thinking Let me think.',
    'text I will …',
  ])
})

test('idempotent: every event applied twice, or the whole log again, changes nothing', () => {
  const once = fold(TURN)
  assert.equal(fold(TURN, once), once)
  const twice = TURN.reduce((state, event) => fold([event, event], state), EMPTY_TIMELINE)
  assert.deepEqual(shape(twice), shape(once))
  assert.deepEqual([...twice.entries.keys()].sort(), [...once.entries.keys()].sort())
})

test('order: pages in any order (last first) give the same timeline; stale deltas do not come back', () => {
  const forwards = fold(TURN)
  const backwards = [TURN.slice(10), TURN.slice(5, 10), TURN.slice(0, 5)].reduce(
    (state, page) => fold(page, state),
    EMPTY_TIMELINE,
  )
  assert.deepEqual(shape(backwards), shape(forwards))
  // The whole text came first (a history page), the live deltas before it come late: no second copy.
  const late = fold(TURN.slice(0, 4), fold(TURN.slice(6, 7), fold(TURN.slice(4, 5))))
  assert.equal(rowsOf(fold(TURN.slice(5, 6), late), ALL).filter((row) => row.entry.kind === 'text').length, 1)
})

test('the same turn read from history pages (no deltas) equals the live one', () => {
  const items: HistoryItem[] = TURN.flatMap((event): HistoryItem[] => {
    const base = { seq: event.seq, ts: new Date(event.ts).toISOString(), turn_id: 't1' }
    switch (event.type) {
      case 'turn.started':
        return [{ ...base, type: 'user', content: event.content }]
      case 'message':
        return [
          {
            ...base,
            type: 'assistant',
            message_id: event.messageId,
            model: event.model,
            content: event.content,
            parent_tool_use_id: event.parentToolUseId,
            synthetic: false,
          },
        ]
      case 'tool.result':
        return [
          {
            ...base,
            type: 'tool_result',
            tool_use_id: event.toolUseId,
            name: event.name,
            is_error: event.isError,
            content: event.content,
            duration_ms: event.durationMs,
            parent_tool_use_id: event.parentToolUseId,
          },
        ]
      case 'turn.completed':
        return [
          {
            ...base,
            type: 'turn_completed',
            status: event.status,
            result: '',
            stop_reason: null,
            duration_ms: event.durationMs,
            num_turns: 1,
            usage: {
              input_tokens: 100,
              output_tokens: 50,
              cache_read_input_tokens: 0,
              cache_creation_input_tokens: 0,
              thinking_tokens: 0,
            },
            cost_usd: event.costUsd,
          },
        ]
      default:
        return []
    }
  })
  const fromHistory = fold(items.map((item) => eventOf(item, 's1')))
  assert.deepEqual(shape(fromHistory), shape(fold(TURN)))
  const turn = rowsOf(fromHistory, ALL).at(-1)!.entry
  assert.equal(
    turn.kind === 'decision' && decisionText(turn.decision),
    'Turn completed · 2.5 s · 150 tokens · $0.01',
  )
})

test('decision points: permission asked then answered, retries, errors, compaction, model change, interrupt', () => {
  const events = log(
    started('t1', 'Clean up'),
    message([{ type: 'tool_use', id: 'bash1', name: 'Bash', input: { command: 'rm -rf build' } }]),
    toolCall('bash1', 'Bash', { command: 'rm -rf build' }),
    {
      type: 'permission.requested',
      turnId: 't1',
      requestId: 'r1',
      toolUseId: 'bash1',
      toolName: 'Bash',
      input: {},
    },
    {
      type: 'permission.resolved',
      turnId: 't1',
      requestId: 'r1',
      behavior: 'deny',
      by: 'client',
      message: 'no',
    },
    { type: 'api.retry', turnId: 't1', attempt: 1, maxRetries: 10, delayMs: 1200, status: 529 },
    { type: 'compacted', turnId: 't1', trigger: 'auto', preTokens: 160_000, postTokens: 12_000 },
    { type: 'model.changed', turnId: 't1', model: 'sonnet' },
    message([{ type: 'tool_use', id: 'bash2', name: 'Bash', input: { command: 'sleep 100' } }]),
    { type: 'error', turnId: 't1', code: 'interrupted', message: 'Interrupted by a client' },
    completed('interrupted'),
  )
  const rows = rowsOf(fold(events), ALL)
  const lines = rows.map((row) =>
    row.entry.kind === 'decision'
      ? decisionText(row.entry.decision)
      : `${row.entry.kind} ${row.status ?? ''}`.trim(),
  )
  assert.deepEqual(lines, [
    'user',
    'tool denied',
    'Permission for Bash: denied by a client — no',
    'API retry 1/10 after 529, in 1.2 s',
    'Conversation compacted (auto): 160K → 12K tokens',
    'Model changed to sonnet',
    'tool interrupted',
    'Error interrupted: Interrupted by a client',
    'Interrupted · 2.5 s · 150 tokens · $0.01',
  ])
  // The answer before its request (an older page read later): one entry, both halves.
  const answerFirst = fold(events.slice(3, 4), fold(events.slice(4, 5)))
  const [permission] = rowsOf(answerFirst, ALL)
  assert.equal(
    permission!.entry.kind === 'decision' && decisionText(permission!.entry.decision),
    'Permission for Bash: denied by a client — no',
  )
})

test('settings changed through the API: a decision point between turns, from history too, filtered and found', () => {
  const changes = {
    model: { from: null, to: 'claude-sonnet-4-5' },
    agent: { from: null, to: 'reviewer' },
    permissionMode: { from: 'default', to: 'plan' },
    thinking: { from: null, to: { type: 'enabled', budgetTokens: 2048 } },
    allowedTools: { from: [], to: ['Read', 'Bash(git *)'] },
    askPermissions: { from: false, to: true },
    appendSystemPrompt: { changed: true as const },
  }
  const events = log(
    started('t1', 'Hi'),
    completed('success'),
    { type: 'settings.changed', changes },
    { type: 'settings.changed', changes: { agent: { from: 'reviewer', to: null } } },
  )
  const live = fold(events)
  const line =
    'Model: default → claude-sonnet-4-5 · Agent: none → reviewer · Permission mode: default → plan · ' +
    'Thinking: default → enabled (2048 tokens) · Allowed tools: none → Read, Bash(git *) · ' +
    'Ask for permissions: off → on · Appended system prompt changed'
  const decisions = rowsOf(live, { ...ALL, kinds: new Set<Kind>(['decisions']) }).map((row) =>
    row.entry.kind === 'decision' ? [row.entry.turnId, decisionText(row.entry.decision)] : row.entry.kind,
  )
  assert.deepEqual(decisions, [
    ['t1', 'Turn completed · 2.5 s · 150 tokens · $0.01'],
    [null, line],
    [null, 'Agent: reviewer → none'],
  ])
  // Hidden with the other decisions; found by what it says.
  assert.equal(rowsOf(live, { ...ALL, kinds: new Set<Kind>(['text']) }).length, 1)
  assert.deepEqual(matchesOf(rowsOf(live, ALL), 'permission mode: default → plan'), [2])
  assert.deepEqual(matchesOf(rowsOf(live, ALL), 'reviewer → none'), [3])
  // Read back from the history, whose names are the API's (`permission_mode`), it is the same entry.
  const item: HistoryItem = {
    seq: 3,
    ts: new Date(T0 + 2).toISOString(),
    turn_id: null,
    type: 'settings_change',
    changes: {
      model: changes.model,
      agent: changes.agent,
      permission_mode: changes.permissionMode,
      thinking: changes.thinking,
      allowed_tools: changes.allowedTools,
      ask_permissions: changes.askPermissions,
      append_system_prompt: changes.appendSystemPrompt,
    },
  }
  assert.deepEqual(eventOf(item, 's1'), events[2])
  const fromHistory = fold([eventOf(item, 's1')])
  assert.deepEqual(fromHistory.entries.get('settings:3'), live.entries.get('settings:3'))
})

test('tool statuses: failed, timeout, the process gone; file changes join their call', () => {
  const events = log(
    started('t1', 'Go'),
    message([
      { type: 'tool_use', id: 'w1', name: 'Write', input: { file_path: '/w/a.ts', content: 'x' } },
      { type: 'tool_use', id: 'b1', name: 'Bash', input: { command: 'false' } },
      { type: 'tool_use', id: 'c1', name: 'mcp__client__ask', input: {} },
    ]),
    toolResult('w1', 'Write', 'ok'),
    {
      type: 'file.changed',
      turnId: 't1',
      toolUseId: 'w1',
      tool: 'Write',
      path: '/w/a.ts',
      kind: 'created',
      before: null,
      after: 'x',
    },
    toolResult('b1', 'Bash', 'exit 1', true),
    { type: 'error', turnId: 't1', code: 'tool_timeout', message: 'no result in time' },
    completed('error'),
  )
  const rows = rowsOf(fold(events), ALL).filter((row) => row.entry.kind === 'tool')
  assert.deepEqual(
    rows.map((row) => row.status),
    ['succeeded', 'failed', 'timeout'],
  )
  const write = rows[0]!.entry
  assert.equal(write.kind === 'tool' && write.files[0]?.after, 'x')
  const gone = log(started('t1', 'Go'), message([{ type: 'tool_use', id: 'x1', name: 'Bash', input: {} }]), {
    type: 'session.state',
    state: 'hibernated',
    previous: 'running',
  })
  assert.equal(rowsOf(fold(gone), ALL)[1]!.status, 'interrupted')
  assert.equal(rowsOf(fold(gone.slice(0, 2)), ALL)[1]!.status, 'running')
})

test('filters and search: kinds hide rows; a search finds thinking, text, tool inputs and results', () => {
  const state = fold(TURN)
  const tools = rowsOf(state, { kinds: new Set<Kind>(['tools']), collapsed: new Set() })
  assert.deepEqual(
    tools.map((row) => [row.entry.kind === 'tool' && row.entry.name, row.depth]),
    [
      ['Task', 0],
      ['Read', 1],
    ],
  )
  const folded = rowsOf(state, { kinds: new Set<Kind>(KINDS), collapsed: new Set(['task1']) })
  assert.equal(folded.length, rowsOf(state, ALL).length - 1)
  assert.equal(folded.find((row) => row.entry.key === 'tool:task1')?.children, 1)
  const rows = rowsOf(state, ALL)
  const kinds = (query: string) => matchesOf(rows, query).map((index) => rows[index]!.entry.kind)
  assert.deepEqual(kinds('THINK'), ['thinking'])
  assert.deepEqual(kinds('a.ts'), ['tool'])
  assert.deepEqual(kinds('const a'), ['tool'])
  assert.deepEqual(kinds('delegate'), ['text'])
  assert.deepEqual(kinds('  '), [])
})

test('paging: the last page first, older pages reach back, live events extend the range or show a gap', () => {
  const page = (after: number, before?: number) => ({
    session_id: 's1',
    items: [],
    next_after: after,
    has_more: before !== undefined && before > 1,
    ...(before !== undefined ? { next_before: before } : {}),
  })
  let coverage = olderPage(NO_COVERAGE, page(500, 301))
  assert.deepEqual(coverage, { from: 301, to: 500, started: true })
  assert.ok(hasOlder(coverage))
  coverage = olderPage(coverage, page(300, 1))
  assert.ok(!hasOlder(coverage))
  // Live events 501, 502 follow on; 510 after a gap: a page must fetch after 502.
  const { coverage: extended, gapAfter } = extend(coverage, new Set([499, 501, 502, 510]))
  assert.equal(extended.to, 502)
  assert.equal(gapAfter, 502)
  const filled = extend(newerPage(extended, page(509)), new Set([510]))
  assert.deepEqual([filled.coverage.to, filled.gapAfter], [510, undefined])
  // Before the first page, live events wait: no gap is declared.
  assert.equal(extend(NO_COVERAGE, new Set([7])).gapAfter, undefined)
})
