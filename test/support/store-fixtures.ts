/**
 * What the store tests write (unit/store, unit/read-models, integration/postgres-store, the latter checking
 * PostgreSQL against SQLite on the same data): session records with the fields a list filters by, events
 * numbered in a session, and the bodies of the calls and turns the read models derive their rows from.
 */
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import type { EventBody, GatewayEvent, SessionState, TokenUsage } from '../../src/events/types.js'
import { SqliteStore, type SqliteStoreOptions } from '../../src/store/sqlite.js'
import type { SessionRecord, Store } from '../../src/store/types.js'
import { sessionRecord } from './session-record.js'
import { tempDir } from './temp-dir.js'

/** The time the fixtures' events are stamped from. */
export const T0 = 1_700_000_000_000

/** A session as listed: its state, workspace, agent and last update set; its settings other than defaults. */
export function listedRecord(
  id: string,
  options: { state?: SessionState; workspace?: string; agent?: string | null; updatedAt?: number } = {},
): SessionRecord {
  const updatedAt = options.updatedAt ?? 1_000
  return sessionRecord(
    id,
    { title: `Session ${id}`, state: options.state ?? 'new', createdAt: updatedAt - 500, updatedAt },
    {
      workspace: options.workspace ?? '/work/a',
      model: 'claude-sonnet-4-5',
      agent: options.agent ?? null,
      permissionMode: 'acceptEdits',
      allowedTools: ['Read'],
      appendSystemPrompt: 'Be brief.',
      thinking: { type: 'enabled', budgetTokens: 2048 },
      effort: 'high',
      maxTurns: 10,
    },
  )
}

/** Event `seq` of a session: `body`, or a line of text saying its number. */
export function storedEvent(sessionId: string, seq: number, body?: EventBody): GatewayEvent {
  return {
    ...(body ?? { type: 'text.delta', turnId: 't', text: `#${seq}`, parentToolUseId: null }),
    seq,
    ts: T0 + seq,
    sessionId,
  } as GatewayEvent
}

/** The body of a `session.ready`: an event of another shape than text, kept as it was published. */
export const readyBody: EventBody = {
  type: 'session.ready',
  claudeSessionId: 'c',
  model: 'm',
  cwd: '/w',
  tools: ['Bash'],
  permissionMode: 'default',
}

export const ids = (records: readonly SessionRecord[]) => records.map((r) => r.id)
export const seqs = (events: readonly GatewayEvent[]) => events.map((e) => e.seq)

/**
 * In an empty store: a session reads back as written and as updated (every field), its indexed columns
 * following the record; updating an unknown session changes nothing.
 */
export async function checkRecordUpdates(store: Store): Promise<void> {
  const original = listedRecord('s1')
  await store.insertSession(original)
  assert.deepEqual(await store.getSession('s1'), original)
  assert.equal(await store.getSession('missing'), undefined)
  const updated: SessionRecord = {
    ...original,
    title: 'Renamed',
    state: 'idle',
    claudeSessionId: '9b6f1d2e-4c3a-4f8e-9d71-2a5b6c7d8e90',
    updatedAt: 2_000,
    usage: {
      inputTokens: 10,
      outputTokens: 5,
      cacheReadInputTokens: 3,
      cacheCreationInputTokens: 2,
      thinkingTokens: 1,
    },
    costUsd: 0.25,
    turns: 1,
    settings: { ...original.settings, workspace: '/work/b', agent: 'reviewer' },
  }
  await store.updateSession(updated)
  assert.deepEqual(await store.getSession('s1'), updated)
  const filtered = await store.listSessions({
    limit: 10,
    offset: 0,
    state: 'idle',
    workspace: '/work/b',
    agent: 'reviewer',
  })
  assert.deepEqual(ids(filtered.items), ['s1'], 'the indexed columns follow the record')
  assert.equal((await store.listSessions({ limit: 10, offset: 0, state: 'new' })).total, 0)
  await store.updateSession(listedRecord('ghost'))
  assert.equal(await store.getSession('ghost'), undefined)
  assert.equal(await store.countSessions(), 1)
}

/** Lists filtered by state, workspace and agent, alone or together, count the filtered total (an empty store). */
export async function checkListFilters(store: Store): Promise<void> {
  await store.insertSession(
    listedRecord('1', { state: 'idle', workspace: '/w/x', agent: 'reviewer', updatedAt: 1 }),
  )
  await store.insertSession(
    listedRecord('2', { state: 'idle', workspace: '/w/y', agent: null, updatedAt: 2 }),
  )
  await store.insertSession(
    listedRecord('3', { state: 'hibernated', workspace: '/w/x', agent: null, updatedAt: 3 }),
  )
  await store.insertSession(
    listedRecord('4', { state: 'closed', workspace: '/w/x', agent: 'reviewer', updatedAt: 4 }),
  )
  await store.insertSession(
    listedRecord('5', { state: 'idle', workspace: '/w/x', agent: 'reviewer', updatedAt: 5 }),
  )
  const list = async (query: { state?: SessionState; workspace?: string; agent?: string }, limit = 100) => {
    const page = await store.listSessions({ limit, offset: 0, ...query })
    return [ids(page.items), page.total]
  }
  assert.deepEqual(await list({ state: 'idle' }), [['5', '2', '1'], 3])
  assert.deepEqual(await list({ workspace: '/w/x' }), [['5', '4', '3', '1'], 4])
  assert.deepEqual(await list({ agent: 'reviewer' }), [['5', '4', '1'], 3])
  assert.deepEqual(await list({ state: 'idle', workspace: '/w/x', agent: 'reviewer' }), [['5', '1'], 2])
  assert.deepEqual(await list({ state: 'idle', workspace: '/w/x' }, 1), [['5'], 2])
  assert.deepEqual(await list({ state: 'running' }), [[], 0])
  assert.deepEqual(await list({ agent: 'nobody' }), [[], 0])
  assert.deepEqual(
    await store.listSessions({ limit: 1, offset: 5, agent: 'reviewer' }),
    { items: [], total: 3 },
    'a page past the end still has the filtered total',
  )
}

export const usage = (input: number, output: number): TokenUsage => ({
  inputTokens: input,
  outputTokens: output,
  cacheReadInputTokens: 0,
  cacheCreationInputTokens: 0,
  thinkingTokens: 0,
})

export const callBody = (
  turnId: string,
  toolUseId: string,
  name: string,
  input: unknown,
  parent: string | null = null,
) => ({ type: 'tool.call', turnId, toolUseId, name, input, parentToolUseId: parent }) as const

export const resultBody = (
  turnId: string,
  toolUseId: string,
  name: string,
  isError = false,
  parent: string | null = null,
) =>
  ({
    type: 'tool.result',
    turnId,
    toolUseId,
    name,
    isError,
    content: isError ? 'failed' : 'ok',
    durationMs: 5,
    parentToolUseId: parent,
  }) as const

export const completedBody = (
  turnId: string,
  status: 'success' | 'error' | 'interrupted',
  durationMs: number,
) =>
  ({
    type: 'turn.completed',
    turnId,
    status,
    result: '',
    stopReason: null,
    durationMs,
    numTurns: 1,
    usage: usage(100, 20),
    costUsd: 0.01,
  }) as const

/** A SQLite store in `dir` (a new folder by default), closed at the end of the test (closing twice is harmless). */
export function openTempStore(
  t: TestContext,
  dir = tempDir(t, 'ccgw-store-'),
  options: SqliteStoreOptions = {},
): SqliteStore {
  const store = new SqliteStore(dir, options)
  t.after(() => store.close())
  return store
}
