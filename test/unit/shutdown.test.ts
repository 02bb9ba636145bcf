/**
 * The engine's shutdown over stand-ins for the session manager's parts: turns that end within the grace
 * period are waited for, those still running fail, and the parts stop in order (the leases last).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type ActiveTurn, type LiveSession, liveSession } from '../../src/engine/live-session.js'
import { type ShutdownParts, shutDown } from '../../src/engine/shutdown.js'
import type { SessionState } from '../../src/events/types.js'
import { sessionRecord } from '../support/session-record.js'

interface StandIns {
  parts: ShutdownParts
  /** What the parts were asked to do, in order. */
  calls: string[]
  sessions: { closing: boolean; live: Map<string, LiveSession> }
}

function standIns(lives: LiveSession[], withOwnership: boolean): StandIns {
  const calls: string[] = []
  const sessions = {
    closing: false,
    live: new Map(lives.map((live) => [live.record.id, live])),
    options: { bus: { flush: async () => void calls.push('bus.flush') } },
    setState(live: LiveSession, state: SessionState) {
      live.record.state = state
      calls.push(`state ${live.record.id} ${state}`)
    },
  }
  const parts = {
    sessions,
    turns: {
      fail(live: LiveSession, code: string) {
        live.active = null
        calls.push(`fail ${live.record.id} ${code}`)
      },
    },
    runners: { clearIdle: (live: LiveSession) => void calls.push(`clearIdle ${live.record.id}`) },
    processes: { close: () => void calls.push('processes.close') },
    pool: { close: async () => void calls.push('pool.close') },
    records: { stop: async () => void calls.push('records.stop') },
    ownership: withOwnership ? { releaseAll: async () => void calls.push('ownership.releaseAll') } : null,
  } as unknown as ShutdownParts
  return { parts, calls, sessions }
}

/** A live session with a turn under way that ends when `tail` settles. */
function running(id: string, tail: Promise<void>, claudeSessionId: string | null): LiveSession {
  const live = liveSession(sessionRecord(id, { state: 'running', claudeSessionId }), () => null)
  live.active = { id: `turn-${id}` } as ActiveTurn
  live.tail = tail
  return live
}

test('a turn that ends within the grace period is waited for and not failed', async () => {
  let end!: () => void
  const live = running('a', new Promise<void>((resolve) => (end = resolve)), 'claude-a')
  const { parts, calls, sessions } = standIns([live], false)
  const done = shutDown(parts, 60_000)
  assert.equal(sessions.closing, true, 'no turn starts once shutdown began')
  setTimeout(() => {
    live.active = null
    end()
  }, 20)
  await done
  assert.deepEqual(calls, [
    'clearIdle a',
    'state a hibernated',
    'processes.close',
    'pool.close',
    'bus.flush',
    'records.stop',
  ])
})

test('turns still running after the grace period fail; the leases go last', async () => {
  const stuck = running('b', new Promise<void>(() => {}), null)
  const { parts, calls } = standIns([stuck], true)
  const started = Date.now()
  await shutDown(parts, 50)
  assert.ok(Date.now() - started < 5_000, 'the grace period bounds the wait')
  assert.deepEqual(calls, [
    'fail b shutting_down',
    'clearIdle b',
    'state b new',
    'processes.close',
    'pool.close',
    'bus.flush',
    'records.stop',
    'ownership.releaseAll',
  ])
  assert.equal(stuck.runner, null)
})
