/**
 * The read models derived from the event log (store/read-models.ts): the tool-call index and its filters,
 * statuses decided again event by event as events/tool-calls.ts decides them, figures per agent, a failure
 * of the derived rows that keeps the events, the background build of an older database; and a session's
 * code changes (store/file-changes.ts): line counts counted once, their limits, and a file at a point.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import Database from 'better-sqlite3'
import { type FileChangeEvent, fileAt } from '../../src/api/native/change-log.js'
import { toolCallsOf } from '../../src/events/tool-calls.js'
import type { EventBody, GatewayEvent } from '../../src/events/types.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import type { SessionRecord, ToolCallQuery } from '../../src/store/types.js'
import { sessionRecord } from '../support/session-record.js'
import {
  callBody as call,
  completedBody as completed,
  openTempStore as openStore,
  resultBody as result,
  T0,
  usage,
} from '../support/store-fixtures.js'
import { tempDir } from '../support/temp-dir.js'

const record = (id: string, agent: string | null): SessionRecord =>
  sessionRecord(id, { state: 'idle', createdAt: T0, updatedAt: T0 }, { workspace: '/work/a', agent })

/** A session's events, numbered in order, `ms` apart unless a body says when. */
function log(sessionId: string, start = 1, at = T0) {
  let seq = start - 1
  return (body: EventBody, ts = at + (seq + 1) * 10): GatewayEvent =>
    ({ ...body, seq: ++seq, ts, sessionId }) as GatewayEvent
}

const page = (store: SqliteStore, query: Partial<ToolCallQuery> = {}) =>
  store.toolCalls({ limit: 50, offset: 0, liveSessions: [], ...query })

/** Session `a` (agent reviewer): a Bash call, a Task running an explorer that reads, one turn. */
async function reviewerTurn(store: SqliteStore) {
  await store.insertSession(record('a', 'reviewer'))
  const e = log('a')
  await store.appendEvents([
    e({ type: 'turn.started', turnId: 't1', content: 'go' }),
    e(call('t1', 'bash1', 'Bash', { command: 'ls' })),
    e(result('t1', 'bash1', 'Bash')),
    e(call('t1', 'task1', 'Task', { subagent_type: 'explorer', prompt: 'look' })),
  ])
  // A batch of its own: the subagent's call is still told apart by the `Task` of an earlier batch.
  await store.appendEvents([
    e(call('t1', 'read1', 'Read', { file_path: 'x' }, 'task1')),
    e({
      type: 'message.stop',
      turnId: 't1',
      stopReason: 'tool_use',
      usage: usage(5, 5),
      parentToolUseId: 'task1',
    }),
    e(result('t1', 'read1', 'Read', false, 'task1')),
    e({
      type: 'message.stop',
      turnId: 't1',
      stopReason: 'end_turn',
      usage: usage(5, 5),
      parentToolUseId: 'task1',
    }),
    // Claude Code reports a subagent run's tokens in its result; its responses' own figures are not added.
    e({ ...result('t1', 'task1', 'Task'), structured: { usage: { input_tokens: 42, output_tokens: 10 } } }),
    e({ type: 'usage', turnId: 't1', model: 'claude-sonnet-4-5', usage: usage(100, 20), costUsd: 0.01 }),
    e(completed('t1', 'success', 400)),
  ])
}

test('tool calls are indexed as they are appended, newest first, with caller, agent and status', async (t) => {
  const store = openStore(t)
  await reviewerTurn(store)
  const all = await page(store)
  assert.equal(all.total, 3)
  assert.deepEqual(
    all.items.map((c) => [c.toolUseId, c.caller, c.agent]),
    [
      ['read1', 'subagent', 'explorer'],
      ['task1', 'main', 'reviewer'],
      ['bash1', 'main', 'reviewer'],
    ],
  )
  assert.deepEqual(
    (await page(store, { caller: 'subagent' })).items.map((c) => c.toolUseId),
    ['read1'],
  )
  assert.deepEqual(
    (await page(store, { agent: 'reviewer', name: 'Bash' })).items.map((c) => c.toolUseId),
    ['bash1'],
  )
  assert.equal((await page(store, { status: 'succeeded' })).total, 3)
  assert.equal((await page(store, { status: 'running' })).total, 0)
  assert.equal((await page(store, { since: T0 + 45 })).total, 1)
  assert.equal((await page(store, { sessionId: 'other' })).total, 0)
  const second = await page(store, { limit: 1, offset: 1 })
  assert.deepEqual([second.total, second.items.map((c) => c.toolUseId)], [3, ['task1']])
})

test("a call's status is decided again by later events; running only while its session has a process", async (t) => {
  const store = openStore(t)
  await store.insertSession(record('b', null))
  const e = log('b')
  await store.appendEvents([
    e({ type: 'turn.started', turnId: 't1', content: 'go' }),
    e(call('t1', 'c1', 'Bash', {})),
  ])
  assert.equal((await page(store, { status: 'running', liveSessions: ['b'] })).total, 1)
  // Without a process the same call counts as interrupted (events/tool-calls.ts's rule).
  assert.equal((await page(store, { status: 'running' })).total, 0)
  assert.equal((await page(store, { status: 'interrupted' })).total, 1)
  assert.deepEqual(await store.sessionsWithRunningCalls(), ['b'])

  await store.appendEvents([e(result('t1', 'c1', 'Bash', true)), e(call('t1', 'c2', 'Bash', {}))])
  assert.equal((await page(store, { status: 'failed' })).total, 1)
  // The interrupt ends the running call and the failure the model never answered.
  await store.appendEvents([e(completed('t1', 'interrupted', 50))])
  assert.equal((await page(store, { status: 'interrupted', liveSessions: ['b'] })).total, 2)
  assert.deepEqual(await store.sessionsWithRunningCalls(), [])

  const f = log('b', 6)
  await store.appendEvents([
    f({ type: 'turn.started', turnId: 't2', content: 'again' }),
    f(call('t2', 'c3', 'Bash', {})),
  ])
  await store.appendEvents([f({ type: 'session.state', state: 'hibernated', previous: 'idle' })])
  assert.deepEqual(
    (await page(store, { status: 'interrupted', liveSessions: ['b'] })).items.map((c) => c.toolUseId),
    ['c3', 'c2', 'c1'],
  )
})

test('figures per main agent (turns) and per subagent type (runs), with latency percentiles', async (t) => {
  const store = openStore(t)
  await reviewerTurn(store)
  await store.insertSession(record('c', null))
  const e = log('c')
  const durations = [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]
  await store.appendEvents(
    durations.flatMap((ms, i) => [
      e({ type: 'turn.started', turnId: `t${i}`, content: 'go' }),
      e(completed(`t${i}`, i < 8 ? 'success' : 'error', ms), T0 + 10_000 * (i + 1)),
    ]),
  )
  // A slash command Claude Code ran itself is no turn of the agent's.
  await store.appendEvents([e({ ...completed('local', 'success', 1), localCommand: 'cost' })])
  const { main, subagents } = await store.agentFigures()
  assert.deepEqual(
    main.map((f) => [f.agent, f.runs, f.succeeded, f.p50Ms, f.p95Ms, f.inputTokens, f.outputTokens]),
    [
      [null, 10, 8, 500, 1000, 1000, 200],
      ['reviewer', 1, 1, 400, 400, 100, 20],
    ],
  )
  assert.ok(Math.abs(main[0]!.costUsd! - 0.1) < 1e-9)
  assert.deepEqual(
    subagents.map((f) => [f.agent, f.runs, f.succeeded, f.inputTokens, f.outputTokens, f.costUsd]),
    [['explorer', 1, 1, 42, 10, null]],
  )
  // Since: only the turns that started from then on.
  assert.deepEqual(
    (await store.agentFigures(T0 + 10_000 * 8)).main.map((f) => [f.agent, f.runs]),
    [[null, 2]],
  )
})

/** Until the background build of the read models is done. */
async function built(store: SqliteStore): Promise<void> {
  while (store.readModelsBuilding()) await new Promise((resolve) => setImmediate(resolve))
}

/** Each call's status in the index, as the list filters it for a session with a process. */
async function indexedStatuses(store: SqliteStore): Promise<Map<string, string>> {
  const statuses = new Map<string, string>()
  for (const status of ['running', 'succeeded', 'failed', 'denied', 'interrupted', 'timeout'] as const)
    for (const ref of (await page(store, { status, limit: 500, liveSessions: ['r'] })).items)
      statuses.set(ref.toolUseId, status)
  return statuses
}

/** A recorded session with every way a call ends, and token deltas between its deciding events. */
function recordedSession(): GatewayEvent[] {
  const e = log('r')
  const delta = (turnId: string) => e({ type: 'text.delta', turnId, text: 'x', parentToolUseId: null })
  const stop = (turnId: string, parent: string | null = null) =>
    e({ type: 'message.stop', turnId, stopReason: 'tool_use', usage: usage(1, 1), parentToolUseId: parent })
  return [
    e({ type: 'turn.started', turnId: 't1', content: 'go' }),
    e(call('t1', 'ok', 'Bash', {})),
    delta('t1'),
    e(result('t1', 'ok', 'Bash')),
    e(call('t1', 'answered', 'Bash', {})),
    e(result('t1', 'answered', 'Bash', true)),
    // The model went on after this failure: it stays a failure when the turn is interrupted.
    stop('t1'),
    e(call('t1', 'task', 'Agent', { prompt: 'look' })),
    e(call('t1', 'sub', 'Read', {}, 'task')),
    e(result('t1', 'sub', 'Read', true, 'task')),
    e(call('t1', 'asked', 'Write', {})),
    e({
      type: 'permission.requested',
      turnId: 't1',
      requestId: 'q1',
      toolUseId: 'asked',
      toolName: 'Write',
      input: {},
    }),
    e({ type: 'permission.resolved', turnId: 't1', requestId: 'q1', behavior: 'deny', by: 'client' }),
    e({ ...result('t1', 'refused', 'Edit', true), toolUseId: 'refused' }),
    e(call('t1', 'refused', 'Edit', {})),
    e({ ...result('t1', 'refused', 'Edit', true), denied: true }),
    e(call('t1', 'client', 'mcp__client__lookup', {})),
    e(call('t1', 'plain', 'Bash', {})),
    e({ type: 'error', turnId: 't1', code: 'tool_timeout', message: 'late' }),
    delta('t1'),
    e(completed('t1', 'interrupted', 50)),
    e({ type: 'turn.started', turnId: 't2', content: 'again' }),
    e(call('t2', 'stopped', 'Bash', {})),
    e({
      type: 'permission.requested',
      turnId: 't2',
      requestId: 'q2',
      toolUseId: 'stopped',
      toolName: 'Bash',
      input: {},
    }),
    e({ type: 'permission.resolved', turnId: 't2', requestId: 'q2', behavior: 'deny', by: 'interrupt' }),
    e(call('t2', 'cut', 'Bash', {})),
    e(completed('t2', 'error', 20)),
    e({ type: 'turn.started', turnId: 't3', content: 'last' }),
    e({ ...call('t3', 'direct_1', 'read', {}), direct: true }),
    e(call('t3', 'gone', 'Bash', {})),
    e({ type: 'session.state', state: 'hibernated', previous: 'idle' }),
    e(call('t3', 'live', 'Bash', {})),
  ]
}

test("the index decides each call's status event by event as toolCallsOf does, whatever the batches", async (t) => {
  const events = recordedSession()
  const expected = new Map(
    toolCallsOf(events, { mainAgent: null, processAlive: true }).map((c) => [c.started.toolUseId, c.status]),
  )
  // Every status is among them, so each rule is compared.
  assert.equal(new Set(expected.values()).size, 6)
  for (const size of [1, 3, events.length]) {
    const store = openStore(t)
    await store.insertSession(record('r', null))
    for (let at = 0; at < events.length; at += size) await store.appendEvents(events.slice(at, at + size))
    assert.deepEqual(await indexedStatuses(store), expected, `batches of ${size}`)
    assert.deepEqual(
      (await page(store, { caller: 'subagent' })).items.map((c) => [c.toolUseId, c.agent]),
      [['sub', 'general-purpose']],
    )
  }
})

test('a row the read models cannot take keeps its events: they are told, and the session is rebuilt', async (t) => {
  const failures: [string, readonly string[]][] = []
  const store = openStore(t, tempDir(t), {
    onReadModelError: (error, sessions) => failures.push([error.message, sessions]),
  })
  await store.insertSession(record('b', null))
  const e = log('b')
  const bad = { ...call('t1', 'bad', 'Bash', {}), name: undefined } as unknown as EventBody
  await store.appendEvents([
    e({ type: 'turn.started', turnId: 't1', content: 'go' }),
    e(call('t1', 'good', 'Bash', {})),
    e(bad),
  ])
  assert.deepEqual(
    (await store.readEvents('b')).map((event) => event.seq),
    [1, 2, 3],
  )
  assert.equal(failures.length, 1)
  assert.match(failures[0]![0], /NOT NULL/)
  assert.deepEqual(failures[0]![1], ['b'])
  // Its rows are rolled back, the session queued for a rebuild that leaves the bad event out.
  assert.equal(store.readModelsBuilding(), true)
  await store.appendEvents([e(result('t1', 'good', 'Bash'))])
  await built(store)
  assert.deepEqual(
    (await page(store)).items.map((c) => [c.toolUseId, c.lastSeq]),
    [['good', 4]],
  )
  assert.equal((await page(store, { status: 'succeeded' })).total, 1)
  assert.equal(failures.length, 2)
})

test('an older database: no rows until the background build has read its events, chunk by chunk', async (t) => {
  const dir = tempDir(t)
  const first = new SqliteStore(dir)
  await reviewerTurn(first)
  // A long session: its build takes several chunks, each in a transaction of its own.
  await first.insertSession(record('long', null))
  const e = log('long')
  await first.appendEvents([
    e({ type: 'turn.started', turnId: 't1', content: 'go' }),
    e(call('t1', 'early', 'Bash', {})),
  ])
  await first.appendEvents(
    Array.from({ length: 4_500 }, () =>
      e({ type: 'text.delta', turnId: 't1', text: 'x', parentToolUseId: null }),
    ),
  )
  await first.appendEvents([e(result('t1', 'early', 'Bash')), e(completed('t1', 'success', 5))])
  assert.equal(first.readModelsBuilding(), false)
  await first.close()
  // As schema step 5 leaves a database written before it: no rows, every session with events queued.
  const db = new Database(join(dir, 'gateway.sqlite'))
  db.exec(`DELETE FROM tool_calls; DELETE FROM turns; DELETE FROM file_changes;
    INSERT INTO read_model_builds SELECT id, 0 FROM sessions`)
  db.close()

  const store = openStore(t, dir)
  assert.equal(store.readModelsBuilding(), true)
  assert.equal((await page(store)).total, 0)
  let chunks = 0
  while (store.readModelsBuilding()) {
    await new Promise((resolve) => setImmediate(resolve))
    chunks++
  }
  assert.ok(chunks >= 4, `${chunks} chunks`)
  assert.deepEqual(
    (await page(store)).items.map((c) => [c.toolUseId, c.agent]),
    [
      ['read1', 'explorer'],
      ['task1', 'reviewer'],
      ['bash1', 'reviewer'],
      ['early', null],
    ],
  )
  assert.equal((await page(store, { status: 'succeeded' })).total, 4)
  assert.deepEqual(
    (await store.agentFigures()).subagents.map((f) => [f.agent, f.inputTokens]),
    [['explorer', 42]],
  )
  await store.deleteSession('a')
  await store.deleteSession('long')
  assert.equal((await page(store)).total, 0)
  assert.deepEqual(await store.agentFigures(), { main: [], subagents: [] })
})

/** A `file.changed` event of session s. */
function change(
  seq: number,
  path: string,
  kind: FileChangeEvent['kind'],
  sides: Partial<FileChangeEvent> = {},
) {
  return {
    type: 'file.changed',
    turnId: 't1',
    toolUseId: `tu${seq}`,
    tool: kind === 'created' ? 'Write' : 'Edit',
    path,
    kind,
    seq,
    ts: T0 + seq,
    sessionId: 's',
    ...sides,
  } as FileChangeEvent
}

const changes = [
  change(3, 'a.ts', 'created', { before: null, after: 'one\ntwo\n' }),
  change(5, 'a.ts', 'modified', { before: 'one\ntwo\n', after: 'one\n2\nthree\n' }),
  // No `before`: the previous change's result is the content it started from.
  change(7, 'a.ts', 'modified', { after: 'one\n2\n3\n' }),
  // Neither side reported: unknown, and so is what follows it until a side is reported again.
  change(9, 'b.md', 'modified'),
  change(11, 'b.md', 'modified', { after: '# B\n' }),
  change(13, 'c.txt', 'deleted', { before: 'x\ny\nz\n' }),
]

async function changedSession(t: TestContext, changeCountMaxBytes?: number): Promise<SqliteStore> {
  const store = openStore(t, tempDir(t), { changeCountMaxBytes })
  await store.insertSession(record('s', null))
  // Batches of one and of several: a change completed from an earlier batch's and from its own.
  await store.appendEvents(changes.slice(0, 1))
  await store.appendEvents(changes.slice(1))
  return store
}

test('file changes are counted once as they are appended: per change, per file and in all, paged', async (t) => {
  const store = await changedSession(t)
  const rollup = await store.fileChanges('s', { limit: 50, offset: 0 }, 1024)
  assert.deepEqual(
    rollup.changes.items.map((c) => [c.seq, c.added, c.removed, c.known]),
    [
      [3, 2, 0, true],
      [5, 2, 1, true],
      [7, 1, 1, true],
      [9, null, null, false],
      [11, null, null, false],
      [13, 0, 3, true],
    ],
  )
  assert.deepEqual(rollup.files, [
    { path: 'a.ts', status: 'created', changes: 3, added: 5, removed: 2, lastSeq: 7 },
    { path: 'b.md', status: 'modified', changes: 2, added: 0, removed: 0, lastSeq: 11 },
    { path: 'c.txt', status: 'deleted', changes: 1, added: 0, removed: 3, lastSeq: 13 },
  ])
  assert.deepEqual(rollup.totals, { files: 3, added: 5, removed: 5 })
  const second = (await store.fileChanges('s', { limit: 2, offset: 2 }, 1024)).changes
  assert.deepEqual([second.total, second.items.map((c) => c.seq)], [6, [7, 9]])
  // The reader's limit leaves larger changes uncounted, in the sums too.
  const small = await store.fileChanges('s', { limit: 50, offset: 0 }, 8)
  assert.deepEqual(
    small.changes.items.map((c) => c.added),
    [2, null, null, null, null, 2 - 2],
  )
  assert.deepEqual(small.totals, { files: 3, added: 2, removed: 3 })
  await store.deleteSession('s')
  assert.equal((await store.fileChanges('s', { limit: 50, offset: 0 }, 1024)).changes.total, 0)
})

test("the store's count limit: a change with a larger side is never compared, whatever the reader's limit", async (t) => {
  const store = await changedSession(t, 9)
  const { items } = (await store.fileChanges('s', { limit: 50, offset: 0 }, 1024)).changes
  assert.deepEqual(
    items.map((c) => [c.seq, c.added, c.known]),
    [
      [3, 2, true],
      [5, null, true],
      [7, null, true],
      [9, null, false],
      [11, null, false],
      [13, 0, true],
    ],
  )
})

test("a file's content as of a point, from the two changes the index names: unknown, deleted", async (t) => {
  const store = await changedSession(t)
  const at = async (path: string, seq: number) => {
    const seqs = await store.fileChangeSeqs('s', path, seq)
    if (!seqs) return undefined
    const byseq = (n: number) => changes.find((c) => c.seq === n)!
    return fileAt(byseq(seqs.first), seqs.last === null ? undefined : byseq(seqs.last), seq)
  }
  assert.deepEqual(await at('a.ts', 0), { seq: 0, content: null, exists: false, known: true })
  assert.deepEqual(await at('a.ts', 4), { seq: 4, content: 'one\ntwo\n', exists: true, known: true })
  assert.deepEqual(await at('a.ts', 99), { seq: 99, content: 'one\n2\n3\n', exists: true, known: true })
  assert.deepEqual(await at('b.md', 0), { seq: 0, content: null, exists: true, known: false })
  assert.deepEqual(await at('b.md', 10), { seq: 10, content: null, exists: true, known: false })
  assert.deepEqual(await at('b.md', 11), { seq: 11, content: '# B\n', exists: true, known: true })
  assert.deepEqual(await at('c.txt', 0), { seq: 0, content: 'x\ny\nz\n', exists: true, known: true })
  assert.deepEqual(await at('c.txt', 13), { seq: 13, content: null, exists: false, known: true })
  assert.equal(await at('never.txt', 5), undefined)
})
