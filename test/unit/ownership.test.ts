/**
 * SessionOwnership (src/engine/ownership.ts) against a lease book that answers as the test says and a real
 * bus on SQLite: what a refusal becomes, what a takeover records, and when a lease is given up.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, test } from 'node:test'
import pino from 'pino'
import type { Acquisition } from '../../src/cluster/leases.js'
import { isGatewayError } from '../../src/engine/errors.js'
import { isOwnedElsewhere, type SessionLeases, SessionOwnership } from '../../src/engine/ownership.js'
import { RecordSaver } from '../../src/engine/records.js'
import { EMPTY_USAGE } from '../../src/engine/types.js'
import { EventBus } from '../../src/events/bus.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import { sessionRecord } from '../support/session-record.js'
import { waitUntil } from '../support/wait.js'

const log = pino({ level: 'silent' })
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Leases as the test scripts them: `next` answers the acquisitions, the book notes what it was asked. */
function fakeLeases() {
  const held = new Set<string>()
  const fake: { next: Acquisition; acquired: number; released: string[]; book: SessionLeases } = {
    next: { owner: 'self', epoch: 1, takeover: null },
    acquired: 0,
    released: [] as string[],
    book: {
      async acquire(sessionId: string) {
        fake.acquired++
        if (fake.next.owner === 'self') held.add(sessionId)
        return fake.next
      },
      async owner() {
        return null
      },
      holds: (sessionId: string) => held.has(sessionId),
      async release(sessionId: string) {
        if (held.delete(sessionId)) fake.released.push(sessionId)
      },
      async releaseAll() {
        held.clear()
      },
      async forget(sessionId: string) {
        held.delete(sessionId)
      },
    },
  }
  return fake
}

async function setUp(inUse: Set<string> = new Set()) {
  const dir = mkdtempSync(join(tmpdir(), 'ccgw-ownership-'))
  const store = new SqliteStore(dir)
  const bus = await EventBus.open(store)
  const records = new RecordSaver(store, log)
  cleanups.push(async () => {
    await bus.flush()
    await records.stop()
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const leases = fakeLeases()
  const ownership = new SessionOwnership(leases.book, {
    bus,
    records,
    log,
    inUse: (id) => inUse.has(id),
  })
  return { store, bus, records, leases, ownership, inUse }
}

test('a session live elsewhere is OwnedElsewhereError with its address; a pinned one is session_pinned', async () => {
  const { leases, ownership } = await setUp()
  const lease = { replicaId: 'a', address: 'http://a.test:8080', epoch: 3, expiresInMs: 9_000 }
  leases.next = { owner: 'other', ...lease, live: true }
  const elsewhere = await ownership.use('s1', () => ownership.claim('s1')).catch((error: unknown) => error)
  assert.ok(isOwnedElsewhere(elsewhere))
  assert.deepEqual(elsewhere.owner, { replicaId: 'a', address: 'http://a.test:8080' })
  assert.equal(elsewhere.code, 'owned_elsewhere')

  leases.next = { owner: 'other', ...lease, live: false }
  const pinned = await ownership.use('s1', () => ownership.claim('s1')).catch((error: unknown) => error)
  assert.ok(isGatewayError(pinned) && !isOwnedElsewhere(pinned))
  assert.equal(pinned.code, 'session_pinned')
  assert.match(pinned.message, /replica a's disk/)
})

test('a takeover ends the turn the dead owner left running, once, and resets the state it left', async () => {
  const { store, bus, records, leases, ownership } = await setUp()
  await store.insertSession(sessionRecord('s1', { state: 'running', claudeSessionId: 'claude-1' }))
  // As the dead owner wrote them: a finished turn, then one that never ended.
  await bus.loadSeq('s1')
  bus.publish('s1', { type: 'turn.started', turnId: 't1', content: 'first' })
  bus.publish('s1', { ...completed('t1'), status: 'success' })
  bus.publish('s1', { type: 'turn.started', turnId: 't2', content: 'second' })
  await bus.flush()
  // Written behind this replica's bus, as another replica would: this one's count is stale.
  await store.appendEvents([
    { type: 'text.delta', turnId: 't2', text: 'half', parentToolUseId: null, seq: 4, ts: 1, sessionId: 's1' },
  ])

  leases.next = { owner: 'self', epoch: 2, takeover: { replicaId: 'a' } }
  await ownership.use('s1', () => ownership.claim('s1'))
  const events = await bus.read('s1')
  assert.deepEqual(
    events.map((event) => event.seq),
    [1, 2, 3, 4, 5, 6],
    'numbered on after the other replica',
  )
  const [ended, state] = events.slice(-2)
  assert.equal(ended?.type === 'turn.completed' && ended.turnId, 't2')
  assert.equal(ended?.type === 'turn.completed' && ended.status, 'interrupted')
  assert.match(ended?.type === 'turn.completed' ? (ended.error?.message ?? '') : '', /Replica a\b/)
  assert.deepEqual(state?.type === 'session.state' && [state.previous, state.state], [
    'running',
    'hibernated',
  ])
  assert.equal((await records.read('s1'))?.state, 'hibernated')

  // Held now: a second claim asks nothing, records nothing.
  await ownership.use('s1', () => ownership.claim('s1'))
  assert.equal(leases.acquired, 1)
  assert.equal((await bus.read('s1')).length, 6)
})

test('a lease goes only once no work uses it and the session is not in memory', async () => {
  const { leases, ownership, inUse } = await setUp()
  let finish!: () => void
  const working = ownership.use('s1', async () => {
    await ownership.claim('s1')
    inUse.add('s1')
    await new Promise<void>((resolve) => {
      finish = resolve
    })
  })
  await waitUntil(() => leases.book.holds('s1'))
  // A second piece of work comes and goes: the first still uses the lease.
  await ownership.use('s1', () => ownership.claim('s1'))
  finish()
  await working
  // The session stays in memory (its process): the lease stays.
  await new Promise((resolve) => setTimeout(resolve, 20))
  assert.deepEqual(leases.released, [])
  assert.ok(leases.book.holds('s1'))

  inUse.delete('s1')
  ownership.settle('s1')
  await waitUntil(() => leases.released.length === 1)
  assert.equal(leases.book.holds('s1'), false)
  assert.equal(leases.acquired, 1)
})

function completed(turnId: string) {
  return {
    type: 'turn.completed' as const,
    turnId,
    status: 'success' as const,
    result: '',
    stopReason: null,
    durationMs: 0,
    numTurns: 1,
    usage: { ...EMPTY_USAGE },
    costUsd: 0,
  }
}
