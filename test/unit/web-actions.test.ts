/** The session view's actions: their logic (web/src/views/session/actions/model.ts). */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Command } from '../../web/src/api/types/commands.js'
import type { LiveEvent } from '../../web/src/api/types/events.js'
import type { HistoryItem } from '../../web/src/api/types/history.js'
import type { PermissionRequest } from '../../web/src/api/types/permissions.js'
import type { Session } from '../../web/src/api/types/sessions.js'
import {
  alwaysAllowed,
  applyPermissionEvents,
  composerKey,
  controlsOf,
  forkPoint,
  inputText,
  type KeyInput,
  matchingCommands,
  moveSelection,
  NO_PENDING,
  parseSlash,
  seedPending,
  sendBlocked,
  sessionAfter,
  slashQuery,
} from '../../web/src/views/session/actions/model.js'

const T0 = Date.parse('2026-12-01T10:00:00.000Z')
let pos = 0
const event = (sessionId: string, body: Record<string, unknown>, ts = T0) =>
  ({ ...body, sessionId, seq: ++pos, ts, pos }) as LiveEvent

const requested = (sessionId: string, requestId: string, turnId = 'turn-1', ts = T0) =>
  event(
    sessionId,
    {
      type: 'permission.requested',
      turnId,
      requestId,
      toolUseId: `toolu_${requestId}`,
      toolName: 'Bash',
      input: { command: 'ls' },
    },
    ts,
  )
const resolved = (sessionId: string, requestId: string) =>
  event(sessionId, {
    type: 'permission.resolved',
    turnId: 'turn-1',
    requestId,
    behavior: 'allow',
    by: 'client',
  })

const listed = (requestId: string, ts = T0): PermissionRequest => ({
  request_id: requestId,
  tool_use_id: `toolu_${requestId}`,
  tool_name: 'Bash',
  input: { command: 'ls' },
  turn_id: 'turn-1',
  requested_at: new Date(ts).toISOString(),
  expires_at: new Date(ts + 300_000).toISOString(),
})

const ids = (state: { requests: readonly PermissionRequest[] }) => state.requests.map((r) => r.request_id)

test('a message can be sent unless the session is closed or paused, which the reason says', () => {
  for (const state of ['new', 'starting', 'idle', 'running', 'hibernated'] as const)
    assert.equal(sendBlocked(state), null, state)
  assert.match(sendBlocked('closed') ?? '', /closed: it takes no more messages/)
  assert.match(sendBlocked('paused') ?? '', /paused: resume it/)
})

test('the controls a state allows: interrupt while running, pause when not running, resume when paused', () => {
  assert.deepEqual(controlsOf('running'), { interrupt: true, pause: false, resume: false, settings: true })
  assert.deepEqual(controlsOf('idle'), { interrupt: false, pause: true, resume: false, settings: true })
  assert.deepEqual(controlsOf('hibernated'), { interrupt: false, pause: true, resume: false, settings: true })
  assert.deepEqual(controlsOf('paused'), { interrupt: false, pause: false, resume: true, settings: true })
  assert.deepEqual(controlsOf('closed'), { interrupt: false, pause: false, resume: false, settings: false })
})

test("the stream's state and model changes update the session; other sessions' events do not", () => {
  const session = { id: 's1', state: 'idle', model: null } as Session
  assert.equal(sessionAfter(session, [event('s2', { type: 'session.state', state: 'running' })]), session)
  assert.equal(sessionAfter(session, [event('s1', { type: 'text.delta', text: 'x' })]), session)
  const after = sessionAfter(session, [
    event('s1', { type: 'session.state', state: 'running', previous: 'idle' }),
    event('s1', { type: 'model.changed', turnId: 't', model: 'opus' }),
    event('s1', { type: 'session.state', state: 'idle', previous: 'running' }),
  ])
  assert.deepEqual([after.state, after.model], ['idle', 'opus'])
  assert.equal(session.state, 'idle', 'the session given is not changed')
})

const key = (name: string, extra: Partial<KeyInput> = {}): KeyInput => ({
  key: name,
  shiftKey: false,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  isComposing: false,
  ...extra,
})

test('Enter sends, Shift+Enter is a new line, an input method composing keeps Enter', () => {
  assert.equal(composerKey(key('Enter'), false), 'send')
  assert.equal(composerKey(key('Enter', { ctrlKey: true }), false), 'send')
  assert.equal(composerKey(key('Enter', { shiftKey: true }), false), null)
  assert.equal(composerKey(key('Enter', { isComposing: true }), false), null)
  assert.equal(composerKey(key('a'), false), null)
  assert.equal(composerKey(key('ArrowDown'), false), null, 'the arrows are the textarea’s without a menu')
})

test('with the slash menu open the arrows move, Enter and Tab pick, Esc closes', () => {
  assert.equal(composerKey(key('ArrowDown'), true), 'menu-next')
  assert.equal(composerKey(key('ArrowUp'), true), 'menu-previous')
  assert.equal(composerKey(key('Enter'), true), 'menu-pick')
  assert.equal(composerKey(key('Tab'), true), 'menu-pick')
  assert.equal(composerKey(key('Escape'), true), 'menu-close')
  assert.equal(composerKey(key('Enter', { shiftKey: true }), true), null)
  assert.equal(moveSelection(0, -1, 3), 2)
  assert.equal(moveSelection(2, 1, 3), 0)
  assert.equal(moveSelection(0, 1, 0), 0)
})

test('a slash and a name being typed open the menu; a name and arguments make a command to run', () => {
  assert.equal(slashQuery('/'), '')
  assert.equal(slashQuery('/com'), 'com')
  assert.equal(slashQuery('/compact now'), null)
  assert.equal(slashQuery('say /com'), null)
  assert.equal(slashQuery('/com\n'), null)
  assert.deepEqual(parseSlash('/help'), { name: 'help', args: '' })
  assert.deepEqual(parseSlash('  /memory project Use tabs.\nAnd spaces  '), {
    name: 'memory',
    args: 'project Use tabs.\nAnd spaces',
  })
  assert.deepEqual(parseSlash('/frontend:component Button'), { name: 'frontend:component', args: 'Button' })
  assert.equal(parseSlash('/etc/hosts has a typo'), null, 'a path is a message')
  assert.equal(parseSlash('Run /help'), null)
  assert.equal(parseSlash('/'), null)
})

const command = (name: string, fields: Partial<Command> = {}): Command => ({
  name,
  description: `${name} things`,
  argument_hint: '',
  aliases: [],
  source: 'builtin',
  path: null,
  loaded: true,
  overridden: false,
  ...fields,
})

test('the menu offers runnable commands, names starting with the query first', () => {
  const commands = [
    command('status'),
    command('compact'),
    command('context'),
    command('clear', { aliases: ['reset'] }),
    command('account-compare'),
    command('cost', { loaded: false }),
    command('config', { overridden: true }),
  ]
  const offered = (query: string) => matchingCommands(commands, query).map((c) => c.name)
  assert.deepEqual(offered('co'), ['compact', 'context', 'account-compare'])
  assert.deepEqual(offered('RES'), ['clear'], 'by alias')
  assert.equal(matchingCommands(commands, '').length, 5)
  assert.equal(matchingCommands(commands, '', 2).length, 2)
  assert.deepEqual(matchingCommands(commands, 'zzz'), [])
})

test('pending requests: the stream adds and removes them, oldest first, once each', () => {
  let state = applyPermissionEvents(NO_PENDING, [requested('s1', 'b', 'turn-1', T0 + 5)], 's1')
  state = applyPermissionEvents(state, [requested('s1', 'a', 'turn-1', T0), requested('s2', 'x')], 's1')
  assert.deepEqual(ids(state), ['a', 'b'])
  assert.equal(state.requests[0]!.tool_name, 'Bash')
  assert.equal(state.requests[0]!.tool_use_id, 'toolu_a')
  assert.equal(state.requests[0]!.requested_at, new Date(T0).toISOString())
  const same = applyPermissionEvents(state, [requested('s1', 'a')], 's1')
  assert.equal(same, state, 'a request seen again changes nothing')
  assert.equal(applyPermissionEvents(state, [resolved('s2', 'a')], 's1'), state)
  state = applyPermissionEvents(state, [resolved('s1', 'a')], 's1')
  assert.deepEqual(ids(state), ['b'])
  assert.equal(state.loaded, false)
})

test('the first list merges with the stream: answers given meanwhile stay answered', () => {
  // The list was asked for, then the stream answered `a` and brought `c` before the list arrived.
  let state = applyPermissionEvents(
    NO_PENDING,
    [resolved('s1', 'a'), requested('s1', 'c', 'turn-1', T0 + 9)],
    's1',
  )
  state = seedPending(state, [listed('a'), listed('b', T0 + 1)])
  assert.equal(state.loaded, true)
  assert.deepEqual(ids(state), ['b', 'c'])
  assert.ok(state.requests[0]!.expires_at, 'the list says when a request expires')
  // A request answered and then seen again (a replay) does not come back.
  assert.deepEqual(ids(applyPermissionEvents(state, [requested('s1', 'a')], 's1')), ['b', 'c'])
})

test("no request outlives its turn's end", () => {
  let state = applyPermissionEvents(
    NO_PENDING,
    [requested('s1', 'a', 'turn-1'), requested('s1', 'b', 'turn-2', T0 + 1)],
    's1',
  )
  state = applyPermissionEvents(state, [event('s1', { type: 'turn.completed', turnId: 'turn-1' })], 's1')
  assert.deepEqual(ids(state), ['b'])
  const unchanged = applyPermissionEvents(
    state,
    [event('s1', { type: 'turn.completed', turnId: 'turn-9' })],
    's1',
  )
  assert.equal(unchanged, state)
})

test('always allow adds the tool to the allow rules once', () => {
  assert.deepEqual(alwaysAllowed([], 'Bash'), ['Bash'])
  assert.deepEqual(alwaysAllowed(['Read', 'Bash(npm test:*)'], 'Bash'), ['Read', 'Bash(npm test:*)', 'Bash'])
  assert.deepEqual(alwaysAllowed(['Bash'], 'Bash'), ['Bash'])
})

test('a fork ends with an assistant message, or after the turn of any other item', () => {
  const base = { seq: 4, ts: new Date(T0).toISOString() }
  const assistant = {
    ...base,
    turn_id: 't1',
    type: 'assistant',
    message_id: 'msg_1',
    model: 'm',
    content: [],
    parent_tool_use_id: null,
    synthetic: false,
  } as HistoryItem
  assert.equal(forkPoint(assistant), 'msg_1')
  assert.equal(forkPoint({ ...base, turn_id: 't1', type: 'user', content: 'Hi' } as HistoryItem), 't1')
  assert.equal(
    forkPoint({ ...base, turn_id: null, type: 'error', code: 'internal', message: 'y' } as HistoryItem),
    null,
  )
})

test('tool inputs read as text', () => {
  assert.equal(inputText('ls -la'), 'ls -la')
  assert.equal(inputText({ command: 'ls -la', description: 'List' }), '$ ls -la')
  assert.equal(inputText({ file_path: '/a.txt' }), '{\n  "file_path": "/a.txt"\n}')
  assert.equal(inputText(null), 'null')
  assert.equal(inputText(undefined), 'undefined')
})
