/**
 * Quotas (src/users/quotas.ts) and the usage meter (src/users/usage.ts) without a gateway: which limits
 * apply, the sliding window and the UTC resets, what each refusal says and when it may be tried again, and
 * usage that the store refuses waiting in memory instead of being lost.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { Value } from '@sinclair/typebox/value'
import pino from 'pino'
import { createClient, type RedisClientType } from 'redis'
import { type Config, loadConfig } from '../../src/config/index.js'
import { QuotasSchema } from '../../src/config/users-schema.js'
import type { GatewayEvent } from '../../src/events/types.js'
import type { UsageDelta } from '../../src/store/access.js'
import type { SessionRecord } from '../../src/store/types.js'
import { type AccessError, isAccessError } from '../../src/users/errors.js'
import type { Principal } from '../../src/users/principal.js'
import { effectiveQuotas, QuotaBook } from '../../src/users/quotas.js'
import {
  MemoryWindow,
  nextUtcDay,
  nextUtcMonth,
  RedisWindow,
  UsageMeter,
  utcDay,
  utcMonthStart,
} from '../../src/users/usage.js'
import { REDIS_URL, servicesSkip } from '../support/services.js'
import { sessionRecord } from '../support/session-record.js'
import { waitUntil } from '../support/wait.js'

const log = pino({ level: 'silent' })
const at = (iso: string) => Date.parse(iso)
const alice: Principal = { id: 'alice', role: 'user', keyId: null }

test('a user’s own limits win over the defaults, 0 lifts a default, the operator has none', () => {
  const defaults = { requestsPerMinute: 10, tokensPerDay: 1000, usdPerMonth: 5 }
  const limits = effectiveQuotas(defaults, { quotas: { requestsPerMinute: 2, tokensPerDay: 0 } })
  assert.deepEqual(limits, {
    requestsPerMinute: 2,
    concurrentTurns: null,
    liveSessions: null,
    tokensPerDay: null,
    tokensPerMonth: null,
    usdPerDay: null,
    usdPerMonth: 5,
  })
  assert.equal(effectiveQuotas(defaults, {}).requestsPerMinute, 10)
  assert.ok(Object.values(effectiveQuotas(defaults, undefined)).every((value) => value === null))
})

test('UTC days and months: the keys usage is kept by and the resets', () => {
  assert.equal(utcDay(at('2026-12-07T23:59:59.999Z')), '2026-12-07')
  assert.equal(utcMonthStart(at('2026-12-07T10:00:00Z')), '2026-12-01')
  assert.equal(nextUtcDay(at('2026-12-07T10:00:00Z')), at('2026-12-08T00:00:00Z'))
  assert.equal(
    nextUtcDay(at('2026-12-07T00:00:00Z')),
    at('2026-12-08T00:00:00Z'),
    'midnight is the day’s start',
  )
  assert.equal(
    nextUtcMonth(at('2026-12-31T23:00:00Z')),
    at('2027-01-01T00:00:00Z'),
    'December goes on to January',
  )
  assert.equal(nextUtcMonth(at('2028-02-29T12:00:00Z')), at('2028-03-01T00:00:00Z'))
  assert.equal(nextUtcMonth(at('2026-01-01T00:00:00Z')), at('2026-02-01T00:00:00Z'))
})

test('the sliding window admits `limit` requests in any 60 s and says when the oldest leaves', () => {
  const window = new MemoryWindow(60_000)
  const t0 = 1_000_000
  assert.deepEqual(window.takeNow('a', 2, t0), { admitted: true, count: 1, retryAfterMs: 0 })
  assert.deepEqual(window.takeNow('a', 2, t0 + 10_000), { admitted: true, count: 2, retryAfterMs: 0 })
  assert.deepEqual(window.takeNow('a', 2, t0 + 20_000), { admitted: false, count: 2, retryAfterMs: 40_000 })
  assert.equal(window.takeNow('b', 2, t0 + 20_000).admitted, true, 'another user has a window of their own')
  // The first request leaves the window exactly 60 s after it came.
  assert.equal(window.takeNow('a', 2, t0 + 59_999).admitted, false)
  assert.deepEqual(window.takeNow('a', 2, t0 + 60_000), { admitted: true, count: 2, retryAfterMs: 0 })
  // A lowered limit: the request that must leave is the one `limit` places from the newest.
  assert.deepEqual(window.takeNow('a', 1, t0 + 61_000), { admitted: false, count: 2, retryAfterMs: 59_000 })
})

describe('the window in Redis', {
  skip: await servicesSkip('quota window in Redis', { redis: true }),
}, () => {
  test('counts as the one in memory does, shared by every replica that uses the key prefix', async () => {
    const kv = createClient({ url: REDIS_URL }) as RedisClientType
    await kv.connect()
    const prefix = `ccgw-test-${randomUUID()}:`
    try {
      const one = new RedisWindow(kv, prefix, log, 60_000)
      const other = new RedisWindow(kv, prefix, log, 60_000)
      const t0 = Date.now()
      assert.deepEqual(await one.take('a', 2, t0), { admitted: true, count: 1, retryAfterMs: 0 })
      assert.deepEqual(await other.take('a', 2, t0 + 10_000), { admitted: true, count: 2, retryAfterMs: 0 })
      assert.deepEqual(await one.take('a', 2, t0 + 20_000), {
        admitted: false,
        count: 2,
        retryAfterMs: 40_000,
      })
      assert.equal(await other.count('a', t0 + 20_000), 2)
      assert.equal((await other.take('b', 2, t0 + 20_000)).admitted, true)
      assert.deepEqual(await other.take('a', 2, t0 + 60_000), { admitted: true, count: 2, retryAfterMs: 0 })
      assert.deepEqual(await one.take('a', 1, t0 + 61_000), {
        admitted: false,
        count: 2,
        retryAfterMs: 59_000,
      })
    } finally {
      for (const name of ['a', 'b']) await kv.del(`${prefix}quota:rpm:${name}`)
      await kv.close()
    }
  })
})

/** A book over a fake store and meter; `spent` is what the store says was used, by day. */
function book(options: {
  quotas: Record<string, number>
  now: number
  spent?: Record<string, Partial<UsageDelta>>
  live?: number
  /** The same, changed as it goes. */
  liveNow?: { count: number }
  /** Replicas share the store: how many of the user's sessions it says are running (changed as it goes). */
  storeRunning?: { total: number }
}) {
  const config = structuredClone(loadConfig({ env: {}, cwd: tmpdir() }).config) as Config
  const bus = fakeBus()
  const sessions = new Map<string, SessionRecord>()
  const busy = new Set<string>()
  const meter = new UsageMeter(
    bus,
    { getSession: async (id) => sessions.get(id), runnerOf: (id) => ({ busy: busy.has(id) }) },
    {
      async addUsage() {},
      async usage(_user, from, to) {
        const total = { inputTokens: 0, outputTokens: 0, costUsd: 0, turns: 0 }
        for (const [day, delta] of Object.entries(options.spent ?? {}))
          if (day >= from && day <= to)
            for (const key of Object.keys(total) as (keyof UsageDelta)[]) total[key] += delta[key] ?? 0
        return total
      },
    },
    log,
  )
  const quotas: QuotaBook = new QuotaBook({
    config,
    directory: {
      user: async (name) => ({ name, role: 'user', quotas: options.quotas, createdAt: 0, updatedAt: 0 }),
    },
    store: {
      countSessions: async () => options.liveNow?.count ?? options.live ?? 0,
      listSessions: async () => ({ items: [], total: options.storeRunning?.total ?? 0 }),
    },
    meter,
    window: new MemoryWindow(),
    shared: options.storeRunning !== undefined,
    now: () => options.now,
  })
  return { quotas, bus, sessions, busy }
}

function fakeBus() {
  const listeners = new Set<(event: GatewayEvent) => void>()
  let seq = 0
  return {
    subscribeAll(listener: (event: GatewayEvent) => void) {
      listeners.add(listener)
      return { close: () => listeners.delete(listener) }
    },
    publish(sessionId: string, body: object, ts = Date.now()) {
      for (const listener of listeners) listener({ ...body, sessionId, seq: ++seq, ts } as GatewayEvent)
    },
  }
}

async function refusal(promise: Promise<unknown>): Promise<AccessError> {
  const error = await promise.then(
    () => assert.fail('expected a refusal'),
    (e: unknown) => e,
  )
  assert.ok(isAccessError(error), String(error))
  return error
}

test('tokens and cost: refused once used reaches the limit, until the next UTC midnight or month', async () => {
  const now = at('2026-12-07T18:00:00Z')
  const under = book({
    quotas: { tokensPerDay: 100 },
    now,
    spent: { '2026-12-07': { inputTokens: 60, outputTokens: 39 } },
  })
  ;(await under.quotas.admitTurn(alice)).release()

  const day = book({
    quotas: { tokensPerDay: 100 },
    now,
    spent: { '2026-12-07': { inputTokens: 60, outputTokens: 40 } },
  })
  const error = await refusal(day.quotas.admitTurn(alice))
  assert.equal(error.code, 'tokens_per_day_exceeded')
  assert.equal(error.retryAfterMs, 6 * 3_600_000)
  assert.match(
    error.message,
    /100 tokens per day, 100 tokens used today; it resets at 2026-12-08T00:00:00.000Z/,
  )

  // Yesterday's use counts for the month, not for the day.
  const month = book({
    quotas: { tokensPerDay: 100, usdPerMonth: 2 },
    now,
    spent: { '2026-12-01': { costUsd: 1.5 }, '2026-12-06': { costUsd: 0.5 }, '2026-11-30': { costUsd: 9 } },
  })
  const usd = await refusal(month.quotas.admitTurn(alice))
  assert.equal(usd.code, 'usd_per_month_exceeded')
  assert.equal(usd.retryAfterMs, at('2027-01-01T00:00:00Z') - now)
  assert.match(usd.message, /\$2 per month, \$2 used this month; it resets at 2027-01-01T00:00:00.000Z/)

  const operator = await day.quotas.admitTurn({ id: null, role: 'admin', keyId: null })
  operator.release()
})

test('turns at once: a place is held from admission until the request ends', async () => {
  const { quotas, bus, sessions, busy } = book({ quotas: { concurrentTurns: 1 }, now: Date.now() })
  sessions.set('s1', sessionRecord('s1', { owner: 'alice' }))
  const first = await quotas.admitTurn(alice, 's1')
  const held = await refusal(quotas.admitTurn(alice, 's2'))
  assert.equal(held.code, 'concurrent_turns_exceeded')
  assert.equal(held.retryAfterMs, 1_000)
  assert.match(held.message, /1 turn at once \(1 running or starting\)/)
  // The turn starts: its session counts once, held and running.
  busy.add('s1')
  bus.publish('s1', { type: 'turn.started', turnId: 't1', content: 'hi' })
  assert.equal((await quotas.report('alice'))!.used.concurrentTurns, 1)
  first.release()
  assert.equal((await quotas.report('alice'))!.used.concurrentTurns, 1)
  assert.equal((await refusal(quotas.admitTurn(alice, 's2'))).code, 'concurrent_turns_exceeded')
  // It ends: the next may start.
  busy.delete('s1')
  bus.publish('s1', { type: 'turn.completed', turnId: 't1', usage: usage(1, 1), costUsd: 0 })
  ;(await quotas.admitTurn(alice, 's2')).release()
  // A ticket released without a turn (the request failed) frees its place too; twice frees it once.
  const failed = await quotas.admitTurn(alice, 's2')
  failed.release()
  failed.release()
  ;(await quotas.admitTurn(alice, 's3')).release()
})

test('turns at once: a turn starting frees no other request’s place, however its ticket is released', async () => {
  const { quotas, bus, sessions, busy } = book({ quotas: { concurrentTurns: 2 }, now: Date.now() })
  for (const id of ['s1', 's2', 's3']) sessions.set(id, sessionRecord(id, { owner: 'alice' }))
  const waiting = await quotas.admitTurn(alice, 's1')
  const socket = await quotas.admitTurn(alice, 's2')
  // s2's turn starts first, and the WebSocket releases its ticket once it has (s1's request still waits).
  busy.add('s2')
  bus.publish('s2', { type: 'turn.started', turnId: 't2', content: 'hi' })
  await new Promise((resolve) => setImmediate(resolve))
  socket.release()
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal((await quotas.report('alice'))!.used.concurrentTurns, 2, 's1 held, s2 running')
  const third = await refusal(quotas.admitTurn(alice, 's3'))
  assert.match(third.message, /2 turns at once \(2 running or starting\)/)
  waiting.release()
  ;(await quotas.admitTurn(alice, 's3')).release()
})

test('turns at once: a request whose session is not known yet counts until it names one', async () => {
  const { quotas, bus, sessions, busy } = book({ quotas: { concurrentTurns: 2 }, now: Date.now() })
  sessions.set('s1', sessionRecord('s1', { owner: 'alice' }))
  let chosen: string | undefined
  const chat = await quotas.admitTurn(alice, () => chosen)
  const other = await quotas.admitTurn(alice)
  assert.equal((await refusal(quotas.admitTurn(alice, 's9'))).code, 'concurrent_turns_exceeded')
  other.release()
  // The chat request made s1 and its turn runs there: one place, not two.
  busy.add('s1')
  bus.publish('s1', { type: 'turn.started', turnId: 't1', content: 'hi' })
  chosen = 's1'
  const second = await quotas.admitTurn(alice, 's2')
  assert.equal((await refusal(quotas.admitTurn(alice, 's3'))).code, 'concurrent_turns_exceeded')
  second.release()
  chat.release()
})

test('turns at once with replicas: the store’s running sessions count, a forwarded turn once', async () => {
  const elsewhere = book({ quotas: { concurrentTurns: 2 }, now: Date.now(), storeRunning: { total: 2 } })
  const error = await refusal(elsewhere.quotas.admitTurn(alice))
  assert.match(error.message, /2 turns at once \(2 running or starting\)/)
  // One turn admitted here runs on its session's replica: in the store, and waiting here until it ends.
  const store = { total: 0 }
  const forwarded = book({ quotas: { concurrentTurns: 2 }, now: Date.now(), storeRunning: store })
  const held = await forwarded.quotas.admitTurn(alice)
  store.total = 1
  const second = await forwarded.quotas.admitTurn(alice)
  assert.equal((await refusal(forwarded.quotas.admitTurn(alice))).code, 'concurrent_turns_exceeded')
  second.release()
  held.release()
})

test('requests a minute: the refusal says the limit and when the next is allowed', async () => {
  const { quotas } = book({ quotas: { requestsPerMinute: 2 }, now: 5_000_000 })
  ;(await quotas.admitTurn(alice)).release()
  ;(await quotas.admitTurn(alice)).release()
  const error = await refusal(quotas.admitTurn(alice))
  assert.equal(error.code, 'requests_per_minute_exceeded')
  assert.equal(error.retryAfterMs, 60_000)
  assert.match(error.message, /2 requests per minute \(2 in the last 60 s\); the next is allowed in 60 s/)
  assert.equal((await quotas.report('alice'))!.remaining.requestsPerMinute, 0)
})

test('live sessions: refused at the limit for a minute', async () => {
  const error = await refusal(
    book({ quotas: { liveSessions: 2 }, now: 0, live: 2 }).quotas.admitSession(alice),
  )
  assert.equal(error.code, 'live_sessions_exceeded')
  assert.equal(error.retryAfterMs, 60_000)
  assert.match(error.message, /2 live sessions \(2 not closed\)/)
  ;(await book({ quotas: { liveSessions: 2 }, now: 0, live: 1 }).quotas.admitSession(alice)).release()
})

test('live sessions: requests at once cannot all take the last place', async () => {
  const liveNow = { count: 1 }
  const { quotas } = book({ quotas: { liveSessions: 2 }, now: 0, liveNow })
  const results = await Promise.allSettled([quotas.admitSession(alice), quotas.admitSession(alice)])
  assert.deepEqual(
    results.map((result) => result.status),
    ['fulfilled', 'rejected'],
  )
  const refused = (results[1] as PromiseRejectedResult).reason as AccessError
  assert.equal(refused.code, 'live_sessions_exceeded')
  assert.match(refused.message, /2 live sessions \(1 not closed, 1 being made\)/)
  const first = (results[0] as PromiseFulfilledResult<{ release(): void }>).value
  // Its making failed: the place is free again.
  first.release()
  const again = await quotas.admitSession(alice)
  // Made: the store counts it, and the request's end gives back its place.
  liveNow.count = 2
  again.release()
  assert.equal((await refusal(quotas.admitSession(alice))).code, 'live_sessions_exceeded')
})

test('limits that count are whole numbers; cost limits may be fractions', () => {
  for (const name of [
    'requestsPerMinute',
    'concurrentTurns',
    'liveSessions',
    'tokensPerDay',
    'tokensPerMonth',
  ])
    assert.equal(Value.Check(QuotasSchema, { [name]: 2.5 }), false, name)
  assert.ok(Value.Check(QuotasSchema, { requestsPerMinute: 2, usdPerDay: 0.5, usdPerMonth: 2.25 }))
  // As the configuration is loaded: refused, naming the key, rather than a Retry-After of NaN later.
  const cwd = mkdtempSync(join(tmpdir(), 'ccgw-quotas-'))
  try {
    const users = { defaultQuotas: { requestsPerMinute: 2.5 }, list: [] }
    writeFileSync(join(cwd, 'ccgw.config.json'), JSON.stringify({ users }))
    assert.throws(() => loadConfig({ env: {}, cwd }), /requestsPerMinute/)
    users.defaultQuotas = { usdPerDay: 0.25 } as never
    writeFileSync(join(cwd, 'ccgw.config.json'), JSON.stringify({ users }))
    assert.equal(loadConfig({ env: {}, cwd }).config.users.defaultQuotas.usdPerDay, 0.25)
  } finally {
    rmSync(cwd, { recursive: true, force: true })
  }
})

const usage = (input: number, output: number) => ({
  inputTokens: input,
  outputTokens: output,
  cacheReadInputTokens: 0,
  cacheCreationInputTokens: 0,
  thinkingTokens: 0,
})

test('the meter adds each completed turn of an owned session to its owner’s day, and keeps what fails', async () => {
  const bus = fakeBus()
  const written: [string, string, UsageDelta][] = []
  let failing = true
  const meter = new UsageMeter(
    bus,
    {
      getSession: async (id) =>
        id === 'mine' ? sessionRecord(id, { owner: 'alice' }) : sessionRecord(id, { owner: null }),
    },
    {
      async addUsage(user, day, delta) {
        if (failing) throw new Error('disk full')
        written.push([user, day, { ...delta }])
      },
      async usage() {
        return { inputTokens: 0, outputTokens: 0, costUsd: 0, turns: 0 }
      },
    },
    log,
  )
  const ts = at('2026-12-07T12:00:00Z')
  bus.publish('mine', { type: 'turn.completed', turnId: 'a', usage: usage(10, 5), costUsd: 0.25 }, ts)
  bus.publish('operator', { type: 'turn.completed', turnId: 'b', usage: usage(99, 99), costUsd: 9 }, ts)
  // Refused by the store: it still counts, from memory, and is written by the close.
  await waitUntil(async () => (await meter.usage('alice', '2026-12-07', '2026-12-07')).turns === 1)
  bus.publish('mine', { type: 'turn.completed', turnId: 'c', usage: usage(1, 1), costUsd: 0.25 }, ts)
  await waitUntil(async () => (await meter.usage('alice', '2026-12-01', '2026-12-31')).turns === 2)
  assert.deepEqual(await meter.usage('alice', '2026-12-08', '2026-12-31'), {
    inputTokens: 0,
    outputTokens: 0,
    costUsd: 0,
    turns: 0,
  })
  failing = false
  await meter.close()
  assert.deepEqual(written, [
    ['alice', '2026-12-07', { inputTokens: 11, outputTokens: 6, costUsd: 0.5, turns: 2 }],
  ])
})
