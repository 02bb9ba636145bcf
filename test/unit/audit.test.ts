/**
 * The audit trail (src/users/audit.ts) against a store that can be made to fail: entries are batched, kept
 * through store failures and written once it works again, flushed on close, pruned by retention; Claude's
 * tool runs are recorded as their session owner's; reloads name the keys that changed. And the pieces of
 * the API side that are pure (src/api/native/audit.ts): a prompt's text, a CSV field.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import pg from 'pg'
import pino from 'pino'
import { promptText } from '../../src/api/audit.js'
import { csvField } from '../../src/api/native/audit.js'
import { type Config, loadConfig } from '../../src/config/index.js'
import type { GatewayEvent } from '../../src/events/types.js'
import type { AccessStore, AuditEntry, AuditQuery, NewAuditEntry } from '../../src/store/access.js'
import { StoreError } from '../../src/store/errors.js'
import { openPostgresStore } from '../../src/store/postgres/store.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import { AuditTrail, kept, MAX_KEPT_CHARS } from '../../src/users/audit.js'
import { POSTGRES_URL, servicesSkip } from '../support/services.js'
import { waitUntil } from '../support/wait.js'

const log = pino({ level: 'silent' })
const baseConfig = (): Config => structuredClone(loadConfig({ env: {}, cwd: '/' }).config) as Config

/** The audit part of an access store, in memory; `failing` makes every write throw. */
class MemoryAudit {
  entries: AuditEntry[] = []
  appends = 0
  failing = false
  /** Actions of entries the store refuses for their data (as PostgreSQL a NUL in text). */
  refuses = new Set<string>()
  pruned: number[] = []

  async appendAudit(batch: readonly NewAuditEntry[]): Promise<void> {
    this.appends++
    if (this.failing) throw new StoreError('storage_full', 'disk full', 5_000)
    const refused = batch.find((entry) => this.refuses.has(entry.action))
    if (refused) throw new Error(`invalid value in ${refused.action}`)
    for (const entry of batch) this.entries.push({ id: this.entries.length + 1, ...entry })
  }

  async readAudit(query: AuditQuery): Promise<AuditEntry[]> {
    return this.entries
      .filter((entry) => query.actor === undefined || entry.actor === query.actor)
      .reverse()
      .slice(0, query.limit)
  }

  async pruneAudit(before: number): Promise<number> {
    this.pruned.push(before)
    const old = this.entries.length
    this.entries = this.entries.filter((entry) => entry.ts >= before)
    return old - this.entries.length
  }
}

function trail(memory: MemoryAudit, options = {}, config = baseConfig()) {
  return new AuditTrail(config, memory as unknown as AccessStore, log, {
    flushMs: 20,
    retryMs: 10,
    ...options,
  })
}

describe('audit trail', () => {
  test('entries wait for their batch: written together after flushMs, at once when the batch is full', async () => {
    const memory = new MemoryAudit()
    const audit = trail(memory, { flushMs: 60_000, batchSize: 3 })
    audit.record({ action: 'a' })
    audit.record({ action: 'b' })
    await new Promise((resolve) => setTimeout(resolve, 30))
    assert.equal(memory.entries.length, 0, 'a batch that is not full waits')
    audit.record({ action: 'c' })
    await waitUntil(() => memory.entries.length === 3, 2_000, 'the full batch')
    assert.equal(memory.appends, 1)
    assert.deepEqual(
      memory.entries.map((entry) => [entry.action, entry.actor, entry.status, entry.sessionId]),
      [
        ['a', null, 0, null],
        ['b', null, 0, null],
        ['c', null, 0, null],
      ],
    )
    const timed = trail(memory, { flushMs: 20 })
    timed.record({ action: 'd', actor: 'alice' })
    await waitUntil(() => memory.entries.length === 4, 2_000, 'the timed batch')
    await audit.close()
    await timed.close()
  })

  test('a read sees what was just recorded', async () => {
    const memory = new MemoryAudit()
    const audit = trail(memory, { flushMs: 60_000 })
    audit.record({ action: 'createSession', actor: 'alice', role: 'user', status: 201 })
    const [entry] = await audit.read({ limit: 10 })
    assert.equal(entry?.action, 'createSession')
    assert.equal(entry?.actor, 'alice')
    await audit.close()
  })

  test('a failing store delays the entries, in order, and never loses them while it recovers', async () => {
    const memory = new MemoryAudit()
    const audit = trail(memory, { flushMs: 5, retryMs: 10 })
    memory.failing = true
    audit.record({ action: 'first' })
    await waitUntil(() => memory.appends >= 2, 2_000, 'a retry')
    audit.record({ action: 'second' })
    assert.equal(memory.entries.length, 0)
    memory.failing = false
    await waitUntil(() => memory.entries.length === 2, 5_000, 'the entries written after the failure')
    assert.deepEqual(
      memory.entries.map((entry) => entry.action),
      ['first', 'second'],
    )
    await audit.close()
  })

  /** Five entries recorded while the store fails, then written once it works: the actions it got. */
  async function writtenAfterOutage(
    options: Parameters<typeof trail>[1],
    detail?: Record<string, unknown>,
  ): Promise<string[]> {
    const memory = new MemoryAudit()
    const audit = trail(memory, options)
    memory.failing = true
    for (const action of ['1', '2', '3', '4', '5']) audit.record({ action, ...(detail ? { detail } : {}) })
    await waitUntil(() => memory.appends >= 1, 2_000, 'a failed write')
    memory.failing = false
    await audit.flush()
    await audit.close()
    return memory.entries.map((entry) => entry.action)
  }

  test('past maxPending waiting entries the oldest are dropped', async () => {
    const written = await writtenAfterOutage({ flushMs: 5, retryMs: 10, maxPending: 3, batchSize: 2 })
    assert.deepEqual(written, ['3', '4', '5'])
  })

  test('past maxPendingBytes the oldest are dropped too: entries may carry whole prompts', async () => {
    // An entry of one action character and a 10,000 character prompt: about 20 KB; three fit, not four.
    const written = await writtenAfterOutage(
      { flushMs: 5, retryMs: 10_000, maxPendingBytes: 61_000 },
      { prompt: 'x'.repeat(10_000) },
    )
    assert.deepEqual(written, ['3', '4', '5'])
  })

  test('an entry the store refuses for its data is dropped alone; the batch and what follows are written', async () => {
    const memory = new MemoryAudit()
    const audit = trail(memory, { flushMs: 60_000, batchSize: 10 })
    memory.refuses.add('bad')
    for (const action of ['one', 'bad', 'two']) audit.record({ action })
    await audit.flush()
    assert.deepEqual(
      memory.entries.map((entry) => entry.action),
      ['one', 'two'],
    )
    audit.record({ action: 'three' })
    await audit.flush()
    assert.deepEqual(
      memory.entries.map((entry) => entry.action),
      ['one', 'two', 'three'],
    )
    // The storage failing while the batch is written one by one: what is left waits, in order.
    memory.refuses.add('worse')
    for (const action of ['four', 'worse', 'five']) audit.record({ action })
    const appendAudit = memory.appendAudit.bind(memory)
    let once = true
    memory.appendAudit = async (batch) => {
      memory.failing = once && batch.length === 1 && batch[0]!.action === 'five'
      if (memory.failing) once = false
      return appendAudit(batch)
    }
    await audit.flush()
    assert.deepEqual(
      memory.entries.slice(3).map((entry) => entry.action),
      ['four'],
    )
    await audit.flush()
    assert.deepEqual(
      memory.entries.slice(3).map((entry) => entry.action),
      ['four', 'five'],
    )
    await audit.close()
  })

  test('close writes what waits; a store that keeps failing is given up after a few attempts', async () => {
    const memory = new MemoryAudit()
    const audit = trail(memory, { flushMs: 60_000 })
    audit.record({ action: 'pending' })
    await audit.close()
    assert.deepEqual(
      memory.entries.map((entry) => entry.action),
      ['pending'],
    )
    audit.record({ action: 'late' })
    await audit.flush()
    assert.equal(memory.entries.length, 1, 'nothing is kept after close')

    const broken = new MemoryAudit()
    broken.failing = true
    const stuck = trail(broken, { flushMs: 60_000, closeAttempts: 3 })
    stuck.record({ action: 'lost' })
    await stuck.close()
    assert.equal(broken.appends, 3)
  })

  test('prune deletes what is older than users.auditRetentionDays', async () => {
    const memory = new MemoryAudit()
    const now = Date.UTC(2026, 0, 31)
    const config = baseConfig()
    config.users.auditRetentionDays = 10
    const audit = trail(memory, { flushMs: 60_000, now: () => now }, config)
    audit.record({ action: 'old', ts: now - 11 * 86_400_000 })
    audit.record({ action: 'recent', ts: now - 9 * 86_400_000 })
    await audit.flush()
    assert.equal(await audit.prune(), 1)
    assert.equal(memory.pruned.at(-1), now - 10 * 86_400_000)
    assert.deepEqual(
      memory.entries.map((entry) => entry.action),
      ['recent'],
    )
    await audit.close()
  })

  test("Claude's tool runs are its session owner's; their input only with users.auditPrompts", async () => {
    const memory = new MemoryAudit()
    const config = baseConfig()
    const audit = trail(memory, { flushMs: 5 }, config)
    let listener: ((event: GatewayEvent) => void) | undefined
    const owners: Record<string, string | null> = { s1: 'alice', s2: null }
    let reads = 0
    audit.watch({
      subscribeAll(given) {
        listener = given
        return { close: () => (listener = undefined) }
      },
      async getSession(id) {
        reads++
        return { owner: owners[id] ?? null }
      },
    })
    const call = (sessionId: string, name: string, extra: object = {}) =>
      listener?.({
        type: 'tool.call',
        sessionId,
        seq: 1,
        ts: 1_000,
        turnId: 't1',
        toolUseId: `tu-${name}`,
        name,
        input: { command: 'rm -rf secret' },
        parentToolUseId: null,
        ...extra,
      } as GatewayEvent)
    call('s1', 'Bash')
    call('s1', 'Read')
    call('s2', 'Write')
    call('s1', 'read', { direct: true })
    await waitUntil(() => memory.entries.length === 3, 2_000, 'three tool runs')
    assert.deepEqual(
      memory.entries.map((entry) => [entry.action, entry.actor, entry.sessionId, entry.target, entry.status]),
      [
        ['tool.run', 'alice', 's1', 'Bash', 0],
        ['tool.run', 'alice', 's1', 'Read', 0],
        ['tool.run', null, 's2', 'Write', 0],
      ],
    )
    assert.equal(reads, 2, "each session's owner is read once")
    assert.ok(!JSON.stringify(memory.entries).includes('secret'), 'no tool input without auditPrompts')

    audit.reconfigure({ ...config, users: { ...config.users, auditPrompts: true } })
    call('s1', 'Bash')
    await waitUntil(() => memory.entries.length === 5, 2_000, 'the reload and a tool run')
    assert.equal(memory.entries[3]?.action, 'config.reloaded')
    assert.deepEqual(memory.entries[3]?.detail, { changed: ['users.auditPrompts'] })
    assert.deepEqual(memory.entries[4]?.detail.input, { command: 'rm -rf secret' })
    await audit.close()
    assert.equal(listener, undefined, 'close stops watching')
  })

  test('a reload that changes nothing is not recorded', async () => {
    const memory = new MemoryAudit()
    const config = baseConfig()
    const audit = trail(memory, { flushMs: 5 }, config)
    audit.reconfigure(structuredClone(config))
    await audit.flush()
    assert.equal(memory.entries.length, 0)
    await audit.close()
  })
})

/**
 * NUL in every text an entry has, as a path (/api/sessions/a%00b/messages), a body's name or a socket's
 * request_id may bring: PostgreSQL refuses it, and with it the whole batch. And an entry no store can
 * write (its detail is no JSON): dropped, the others written.
 */
async function nulAndRefused(access: AccessStore): Promise<void> {
  const audit = new AuditTrail(baseConfig(), access, log, { flushMs: 60_000 })
  const nul = 'a\u0000b'
  const cyclic: Record<string, unknown> = {}
  cyclic.self = cyclic
  audit.record({ action: 'before' })
  audit.record({
    action: `act${nul}`,
    actor: nul,
    role: 'user',
    sessionId: nul,
    target: nul,
    requestId: nul,
    ip: nul,
    detail: { name: nul },
  })
  audit.record({ action: 'unwritable', detail: cyclic })
  audit.record({ action: 'after' })
  const entries = (await audit.read({ limit: 10 })).reverse()
  assert.deepEqual(
    entries.map((entry) => entry.action),
    ['before', 'acta\uFFFDb', 'after'],
  )
  const marked = 'a\uFFFDb'
  const [, entry] = entries
  assert.deepEqual(
    [entry?.actor, entry?.sessionId, entry?.target, entry?.requestId, entry?.ip],
    [marked, marked, marked, marked, marked],
  )
  assert.deepEqual(entry?.detail, { name: nul }, 'the detail is JSON: its NUL is an escape')
  audit.record({ action: 'later' })
  assert.equal((await audit.read({ limit: 1 }))[0]?.action, 'later', 'the trail goes on')
  await audit.close()
}

const postgresSkip = await servicesSkip('audit trail on PostgreSQL', { postgres: true })

describe('the trail on the stores', () => {
  test('SQLite: NUL is replaced; an entry it cannot write is dropped alone', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ccgw-audit-'))
    const store = new SqliteStore(dir)
    t.after(async () => {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    })
    await nulAndRefused(store.access)
  })

  test('PostgreSQL: NUL is replaced; an entry it cannot write is dropped alone', {
    skip: postgresSkip,
  }, async (t) => {
    const schema = `ccgw_audit_unit_${process.pid}`
    const store = await openPostgresStore(POSTGRES_URL, { schema })
    t.after(async () => {
      const admin = new pg.Client({ connectionString: POSTGRES_URL })
      await admin.connect()
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
      await admin.end()
    })
    try {
      await nulAndRefused(store.access)
    } finally {
      await store.close()
    }
  })
})

describe('audit values', () => {
  test('kept cuts long values to MAX_KEPT_CHARS characters', () => {
    assert.equal(kept('short'), 'short')
    assert.deepEqual(kept({ a: 1 }), { a: 1 })
    const cut = kept('x'.repeat(MAX_KEPT_CHARS + 10)) as string
    assert.ok(cut.startsWith('x'.repeat(MAX_KEPT_CHARS)))
    assert.match(cut, /\[cut: 20010 characters\]$/)
  })

  test("a prompt's text: a string, content blocks, chat messages", () => {
    assert.equal(promptText('hello'), 'hello')
    assert.equal(
      promptText([
        { type: 'text', text: 'look' },
        { type: 'image', source: { type: 'base64', data: 'AAAA' } },
      ]),
      'look\n[image]',
    )
    assert.equal(
      promptText([
        { role: 'system', content: 'be brief' },
        { role: 'user', content: [{ type: 'text', text: 'hi' }] },
      ]),
      'system: be brief\nuser: hi',
    )
    assert.equal(promptText(42), '')
  })

  test('CSV fields are quoted when they must be, and formulas are shown as text', () => {
    assert.equal(csvField(null), '')
    assert.equal(csvField(201), '201')
    assert.equal(csvField('plain'), 'plain')
    assert.equal(csvField('a,b'), '"a,b"')
    assert.equal(csvField('say "hi"\nbye'), '"say ""hi""\nbye"')
    assert.equal(csvField('=HYPERLINK("x")'), '"\'=HYPERLINK(""x"")"')
    assert.equal(csvField('-1'), "'-1")
  })
})
