/**
 * PostgresTranscriptStore (src/store/transcripts/postgres.ts), the Agent SDK's SessionStore contract against
 * a real server: migrations (again, several openers at once, a newer schema refused, a shared pool on
 * another search_path), null for a key never written, entries read back deep-equal and in order with keys
 * interleaved, uuids as idempotency keys, subpaths and delete, the same answers as the SDK's
 * InMemorySessionStore on the same calls, appends from two pools at once with the summary consistent,
 * failures as rejections. Then with the real CLI: a JSONL transcript it wrote imported with
 * importSessionToStore, and a turn mirrored eagerly, then resumed from another, empty config dir (as
 * another replica would) with the model receiving the first turn. Each test has a schema of its own,
 * dropped after it. Skipped, saying why, when no server answers at TEST_POSTGRES_URL (default
 * postgres://postgres@127.0.0.1:5432/test), but in CI (CI=true).
 */
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, realpathSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, type TestContext, test } from 'node:test'
import {
  foldSessionSummary,
  getSessionMessages,
  InMemorySessionStore,
  importSessionToStore,
  listSessions,
  type Options,
  type SessionKey,
  type SessionStore,
  type SessionStoreEntry,
} from '@anthropic-ai/claude-agent-sdk'
import pg from 'pg'
import { projectSlug } from '../../src/engine/claude-home.js'
import { PostgresTranscriptStore, TRANSCRIPT_SCHEMA_VERSION } from '../../src/store/transcripts/postgres.js'
import { runTurn, sessionIdOf } from '../support/cli-turn.js'
import { type TestHome, testHome } from '../support/harness.js'
import { postgresSchemas } from '../support/postgres-schemas.js'
import { conversationTexts, text } from '../support/scripted-anthropic.js'
import { POSTGRES_URL, servicesSkip } from '../support/services.js'

const skip = await servicesSkip('transcript store tests', { postgres: true })

const { admin, schemaFor } = postgresSchemas('ccgw_transcripts', { connections: 4 })

/** A store with a pool of its own, closed after the test (before its schema is dropped). */
async function open(
  t: TestContext,
  schema: string,
  options: { statementTimeoutMs?: number } = {},
): Promise<PostgresTranscriptStore> {
  const store = await PostgresTranscriptStore.open({ url: POSTGRES_URL, schema, ...options })
  t.after(() => store.close())
  return store
}

const PROJECT = '-srv-workspaces-demo'

let counter = 0
/** A transcript line as the CLI writes them: uuid, parent, timestamp, cwd and a message. */
function line(
  role: 'user' | 'assistant',
  content: string,
  extra: Record<string, unknown> = {},
): SessionStoreEntry {
  counter++
  return {
    type: role,
    uuid: `00000000-0000-4000-8000-${String(counter).padStart(12, '0')}`,
    parentUuid: null,
    timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, counter)).toISOString(),
    cwd: '/srv/workspaces/demo',
    sessionId: 'ignored-by-the-store',
    message: { role, content: [{ type: 'text', text: content }] },
    ...extra,
  }
}

/** Lines without a uuid, as the CLI writes for titles, tags and modes. */
const title = (customTitle: string): SessionStoreEntry => ({
  type: 'custom-title',
  customTitle,
  sessionId: 's',
})
const tag = (value: string): SessionStoreEntry => ({ type: 'tag', tag: value, sessionId: 's' })

const key = (sessionId: string, subpath?: string): SessionKey =>
  subpath === undefined ? { projectKey: PROJECT, sessionId } : { projectKey: PROJECT, sessionId, subpath }

describe('PostgresTranscriptStore', { skip }, () => {
  test('migrates once, again finds nothing to do, several openers at once, and refuses a newer schema', async (t) => {
    const schema = schemaFor(t)
    await Promise.all([open(t, schema), open(t, schema), open(t, schema)])
    await open(t, schema)
    const { rows } = await admin.query(`SELECT version FROM ${schema}.transcript_migrations ORDER BY version`)
    assert.deepEqual(
      rows.map((row) => row.version),
      Array.from({ length: TRANSCRIPT_SCHEMA_VERSION }, (_, i) => i + 1),
    )

    await admin.query(`INSERT INTO ${schema}.transcript_migrations (version) VALUES ($1)`, [
      TRANSCRIPT_SCHEMA_VERSION + 1,
    ])
    await assert.rejects(open(t, schema), /newer than this gateway's/)
    await assert.rejects(open(t, 'Not-A-Schema'), /not a plain schema name/)
  })

  test('a shared pool whose search_path is another schema: the tables are named with the store schema', async (t) => {
    const schema = schemaFor(t)
    const other = schemaFor(t)
    await admin.query(`CREATE SCHEMA ${other}`)
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 2, options: `-c search_path=${other}` })
    t.after(() => pool.end())
    const store = await PostgresTranscriptStore.open({ pool, schema })
    const entries = [line('user', 'hello'), line('assistant', 'hi')]
    await store.append(key('s1'), entries)
    assert.deepEqual(await store.load(key('s1')), entries)
    const { rows } = await admin.query('SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1', [
      other,
    ])
    assert.equal(rows[0].n, 0, 'nothing created in the pool search_path')
    await store.close()
    assert.equal((await pool.query('SELECT 1 AS one')).rows[0].one, 1, 'close() leaves a shared pool open')
  })

  test('null for a key never written; entries come back deep-equal, odd values included', async (t) => {
    const store = await open(t, schemaFor(t))
    assert.equal(await store.load(key('never')), null)
    assert.equal(await store.load(key('never', 'subagents/agent-x')), null)
    assert.deepEqual(await store.listSubkeys(key('never')), [])
    assert.deepEqual(await store.listSessions(PROJECT), [])

    const odd = {
      ...line('user', 'nul \u0000 byte, lone \ud800 surrogate, emoji 🎉, quotes "\'\\ and newline\n'),
      numbers: [0, -1, 1.5, 1e-7, 2 ** 53 - 1, -(2 ** 31)],
      nested: { z: 1, a: [null, true, false, { deep: ['x'] }], empty: {}, none: [] },
    }
    const entries = [odd, title('A title'), line('assistant', 'é'.repeat(10_000))]
    await store.append(key('s1'), entries)
    assert.deepEqual(await store.load(key('s1')), entries)
    assert.equal(await store.load({ projectKey: 'another-project', sessionId: 's1' }), null)
    // An empty batch writes nothing (the SDK sends none; a key is written by its first entry).
    await store.append(key('s2'), [])
    assert.equal(await store.load(key('s2')), null)
  })

  test('uuids are idempotency keys: a batch again, a uuid repeated in a batch; lines without uuid always kept', async (t) => {
    const store = await open(t, schemaFor(t))
    // gitBranch is one of the summary's last-wins fields: a replay must not take it back.
    const a = line('user', 'first', { gitBranch: 'one' })
    const b = line('assistant', 'second', { gitBranch: 'two' })
    const c = line('user', 'third', { gitBranch: 'three' })
    await store.append(key('s1'), [a, title('T1'), b])
    await store.append(key('s1'), [a, title('T1'), b]) // a retry after a lost answer, say
    await store.append(key('s1'), [b, c, { ...c, message: 'a changed copy is still the same uuid' }])
    assert.deepEqual(await store.load(key('s1')), [a, title('T1'), b, title('T1'), c])
    await store.append(key('s1'), [a])
    const [summary] = await store.listSessionSummaries(PROJECT)
    assert.deepEqual(
      summary!.data,
      foldSessionSummary(undefined, key('s1'), (await store.load(key('s1')))!).data,
    )
    assert.equal(summary!.data.gitBranch, 'three')
    // The same uuid in another transcript (another session, a subpath) is another line.
    await store.append(key('s2'), [a])
    await store.append(key('s1', 'subagents/agent-1'), [a])
    assert.deepEqual(await store.load(key('s2')), [a])
    assert.deepEqual(await store.load(key('s1', 'subagents/agent-1')), [a])
  })

  test('append order is kept per key, with keys interleaved and batches of every size', async (t) => {
    const store = await open(t, schemaFor(t))
    const keys = [key('s1'), key('s1', 'subagents/agent-a'), key('s2'), key('s1', 'subagents/agent-b')]
    const expected = new Map<string, SessionStoreEntry[]>()
    for (let round = 0; round < 12; round++) {
      for (const [index, k] of keys.entries()) {
        const size = (round * 7 + index * 3) % 5 // 0 to 4 lines
        const batch = Array.from({ length: size }, (_, i) =>
          i % 3 === 2 ? tag(`r${round}-${i}`) : line(i % 2 ? 'assistant' : 'user', `${round}/${index}/${i}`),
        )
        await store.append(k, batch)
        const name = JSON.stringify(k)
        expected.set(name, [...(expected.get(name) ?? []), ...batch])
      }
    }
    const big = Array.from({ length: 1_500 }, (_, i) => line('user', `bulk ${i}`))
    await store.append(key('s2'), big)
    expected.set(JSON.stringify(key('s2')), [...expected.get(JSON.stringify(key('s2')))!, ...big])
    for (const k of keys) assert.deepEqual(await store.load(k), expected.get(JSON.stringify(k)))
    assert.deepEqual(await store.listSubkeys(key('s1')), ['subagents/agent-a', 'subagents/agent-b'])
  })

  test('subpaths: listed under their session, not as sessions; delete takes a subpath alone or the whole session', async (t) => {
    const store = await open(t, schemaFor(t))
    await store.append(key('s1'), [line('user', 'main')])
    await store.append(key('s1', 'subagents/agent-1'), [line('user', 'sub 1')])
    await store.append(key('s1', 'subagents/workflows/run-9/agent-2'), [line('user', 'sub 2')])
    await store.append(key('only-sub', 'subagents/agent-3'), [line('user', 'orphan')])
    assert.deepEqual(
      (await store.listSessions(PROJECT)).map((s) => s.sessionId),
      ['s1'],
    )
    assert.deepEqual(await store.listSubkeys(key('s1')), [
      'subagents/agent-1',
      'subagents/workflows/run-9/agent-2',
    ])

    await store.delete(key('s1', 'subagents/agent-1'))
    assert.equal(await store.load(key('s1', 'subagents/agent-1')), null)
    assert.deepEqual(await store.listSubkeys(key('s1')), ['subagents/workflows/run-9/agent-2'])
    assert.ok(await store.load(key('s1')), 'the main transcript stays')

    await store.delete(key('s1'))
    assert.equal(await store.load(key('s1')), null)
    assert.equal(await store.load(key('s1', 'subagents/workflows/run-9/agent-2')), null)
    assert.deepEqual(await store.listSubkeys(key('s1')), [])
    assert.deepEqual(await store.listSessions(PROJECT), [])
    assert.deepEqual(await store.listSessionSummaries(PROJECT), [])
    assert.ok(await store.load(key('only-sub', 'subagents/agent-3')), 'other sessions stay')
    await store.delete(key('never-written')) // nothing to delete is no failure
  })

  test('answers as the SDK InMemorySessionStore does on the same calls', async (t) => {
    const ours = await open(t, schemaFor(t))
    const theirs = new InMemorySessionStore()
    // The same calls on both, with the same entries.
    const append = async (k: SessionKey, entries: SessionStoreEntry[]) => {
      await ours.append(k, entries)
      await theirs.append(k, entries)
    }
    const prompt = (text: string, extra: Record<string, unknown> = {}) =>
      line('user', text, { message: { role: 'user', content: text }, ...extra })
    await append(key('s1'), [prompt('Fix the build', { gitBranch: 'main' })])
    await append(key('s1'), [line('assistant', 'Done.'), title('Build fix')])
    await append(key('s2'), [prompt('Write docs'), line('assistant', 'Sure.')])
    await append(key('s1', 'subagents/agent-a'), [prompt('Sub task', { isSidechain: true })])
    await append(key('s1'), [prompt('And the tests'), tag('urgent')])
    await append(key('s3'), [prompt('Gone soon')])
    await append(key('s3', 'subagents/agent-z'), [prompt('Gone too')])
    await append(key('s2'), [tag(''), title('Docs'), prompt('Also the README', { gitBranch: 'docs' })])
    await ours.delete(key('s3'))
    await theirs.delete(key('s3'))
    await append({ projectKey: 'other', sessionId: 's1' }, [prompt('Elsewhere')])

    for (const k of [
      key('s1'),
      key('s2'),
      key('s3'),
      key('s1', 'subagents/agent-a'),
      key('s3', 'subagents/agent-z'),
    ])
      assert.deepEqual(await ours.load(k), await theirs.load(k), JSON.stringify(k))
    for (const sessionId of ['s1', 's2', 's3'])
      assert.deepEqual(await ours.listSubkeys(key(sessionId)), await theirs.listSubkeys(key(sessionId)))
    const ids = async (store: SessionStore) =>
      (await store.listSessions!(PROJECT)).map((session) => session.sessionId).sort()
    assert.deepEqual(await ids(ours), await ids(theirs))
    // The data the SDK folded, the same; the mtimes are each store's own clock.
    const summaries = async (store: SessionStore) =>
      (await store.listSessionSummaries!(PROJECT))
        .map(({ sessionId, data }) => ({ sessionId, data }))
        .sort((x, y) => x.sessionId.localeCompare(y.sessionId))
    const folded = await summaries(ours)
    assert.deepEqual(folded, await summaries(theirs))
    assert.equal(folded.length, 2)

    // What listSessions({ sessionStore }) makes of them: the same for both.
    const listed = async (store: SessionStore) =>
      (await listSessions({ dir: '/srv/workspaces/demo', sessionStore: store }))
        .map(({ sessionId, summary, customTitle, firstPrompt, gitBranch, tag, cwd }) => ({
          sessionId,
          summary,
          customTitle,
          firstPrompt,
          gitBranch,
          tag,
          cwd,
        }))
        .sort((x, y) => x.sessionId.localeCompare(y.sessionId))
    const sdkView = await listed(ours)
    assert.deepEqual(sdkView, await listed(theirs))
    assert.deepEqual(
      sdkView.map((s) => [s.sessionId, s.summary]),
      [
        ['s1', 'Build fix'],
        ['s2', 'Docs'],
      ],
    )
  })

  test('mtimes: integer ms by the database clock, rising with every append to the session, equal to its summary', async (t) => {
    const store = await open(t, schemaFor(t))
    const before = Date.now()
    const seen: number[] = []
    for (let i = 0; i < 5; i++) {
      await store.append(key('s1'), [line('user', `m${i}`)])
      const [session] = await store.listSessions(PROJECT)
      seen.push(session!.mtime)
      assert.ok(Number.isInteger(session!.mtime))
      const [summary] = await store.listSessionSummaries(PROJECT)
      assert.equal(summary!.mtime, session!.mtime)
    }
    assert.ok(
      seen.every((mtime, i) => i === 0 || mtime > seen[i - 1]!),
      `strictly rising: ${seen}`,
    )
    // The test and the server share a host here: the database clock is near this one.
    assert.ok(Math.abs(seen[0]! - before) < 60_000)
    // A subagent's lines leave the session's mtime as it was (as InMemorySessionStore does).
    await store.append(key('s1', 'subagents/agent-1'), [line('user', 'sub')])
    assert.equal((await store.listSessions(PROJECT))[0]!.mtime, seen.at(-1))
  })

  test('two pools appending to one session at once: every line kept, each batch whole, the summary consistent', async (t) => {
    const schema = schemaFor(t)
    const [first, second] = [await open(t, schema), await open(t, schema)]
    const batches = 40
    const write = (store: PostgresTranscriptStore, writer: string) =>
      Promise.all(
        Array.from({ length: batches }, (_, i) =>
          store.append(key('shared'), [
            line('user', `${writer} ${i}`, { message: { role: 'user', content: `${writer} prompt ${i}` } }),
            line('assistant', `${writer} answer ${i}`),
            title(`${writer} title ${i}`),
          ]),
        ),
      )
    await Promise.all([write(first, 'one'), write(second, 'two'), write(first, 'three')])

    const loaded = (await first.load(key('shared')))!
    assert.equal(loaded.length, 3 * batches * 3)
    for (let i = 0; i < loaded.length; i += 3) {
      const names = loaded.slice(i, i + 3).map((entry) => entry.type)
      assert.deepEqual(names, ['user', 'assistant', 'custom-title'], `batch at ${i} is whole`)
    }
    // The summary is what folding the stored transcript, in its order, gives: no fold was lost or reordered.
    const [summary] = await second.listSessionSummaries(PROJECT)
    const [session] = await second.listSessions(PROJECT)
    assert.deepEqual(summary!.data, foldSessionSummary(undefined, key('shared'), loaded).data)
    assert.equal(summary!.mtime, session!.mtime)
  })

  test('failures reject: a session locked past the statement timeout, a closed store', async (t) => {
    const schema = schemaFor(t)
    const store = await open(t, schema, { statementTimeoutMs: 300 })
    const earlier = line('user', 'before')
    await store.append(key('s1'), [earlier])
    const holder = await admin.connect()
    t.after(() => holder.release())
    await holder.query('BEGIN')
    await holder.query(`SELECT 1 FROM ${schema}.transcript_sessions WHERE session_id = 's1' FOR UPDATE`)
    await assert.rejects(store.append(key('s1'), [line('user', 'blocked')]), /statement timeout/)
    await holder.query('ROLLBACK')
    const after = line('user', 'after')
    await store.append(key('s1'), [after])
    assert.deepEqual(await store.load(key('s1')), [earlier, after], 'the failed batch left nothing behind')

    const closed = await open(t, schema)
    await closed.close()
    await assert.rejects(closed.load(key('s1')))
    await assert.rejects(closed.append(key('s1'), [line('user', 'late')]))
  })
})

describe('PostgresTranscriptStore with the real CLI', { skip }, () => {
  let home: TestHome

  before(async () => {
    home = await testHome()
  })
  after(async () => {
    await home.close()
  })

  const run = (prompt: string, options: Options = {}) => runTurn(home, prompt, options)

  const readJsonl = (path: string): SessionStoreEntry[] =>
    readFileSync(path, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((text) => JSON.parse(text) as SessionStoreEntry)

  test('importSessionToStore copies a transcript the CLI wrote, and again changes nothing', async (t) => {
    const store = await open(t, schemaFor(t))
    home.model.script(text('Forty-two.'))
    const sessionId = sessionIdOf(await run('What is six times seven?', {}))!
    const projectKey = projectSlug(realpathSync(home.workspace))
    const local = readJsonl(join(home.env.CLAUDE_CONFIG_DIR!, 'projects', projectKey, `${sessionId}.jsonl`))

    // The SDK reads local transcripts in process.env.CLAUDE_CONFIG_DIR.
    const saved = process.env.CLAUDE_CONFIG_DIR
    process.env.CLAUDE_CONFIG_DIR = home.env.CLAUDE_CONFIG_DIR
    t.after(() => {
      if (saved === undefined) delete process.env.CLAUDE_CONFIG_DIR
      else process.env.CLAUDE_CONFIG_DIR = saved
    })
    await importSessionToStore(sessionId, store, { dir: home.workspace, batchSize: 2 })
    assert.deepEqual(await store.load({ projectKey, sessionId }), local)
    await importSessionToStore(sessionId, store, { dir: home.workspace })
    const withoutUuid = local.filter((entry) => typeof entry.uuid !== 'string')
    assert.deepEqual(
      await store.load({ projectKey, sessionId }),
      [...local, ...withoutUuid],
      'a replay adds only the lines without a uuid',
    )

    const messages = await getSessionMessages(sessionId, { dir: home.workspace, sessionStore: store })
    assert.deepEqual(
      messages.map((m) => m.type),
      ['user', 'assistant'],
    )
    const [info] = await listSessions({ dir: home.workspace, sessionStore: store })
    assert.equal(info?.sessionId, sessionId)
    assert.equal(info?.firstPrompt, 'What is six times seven?')
  })

  test('with CLAUDE_CODE_PROJECT_DIR_NAME the key is that name, and a replica with another workspace path resumes', async (t) => {
    const store = await open(t, schemaFor(t))
    const projectKey = 'gateway-session-42'
    const env = { ...home.env, CLAUDE_CODE_PROJECT_DIR_NAME: projectKey }
    home.model.script(text('Noted: the code word is heron.'))
    const sessionId = sessionIdOf(
      await run('The code word is heron.', { env, sessionStore: store, sessionStoreFlush: 'eager' }),
    )!
    assert.deepEqual(await store.listSessions(projectKey).then((s) => s.map((x) => x.sessionId)), [sessionId])

    const otherWorkspace = join(home.root, 'mounted-elsewhere')
    const otherConfig = join(home.root, 'replica-c-config')
    mkdirSync(otherWorkspace)
    mkdirSync(otherConfig)
    home.model.script(text('Heron.'))
    const before = home.model.turns.length
    const resumed = await run('What is the code word?', {
      cwd: otherWorkspace,
      env: { ...env, CLAUDE_CONFIG_DIR: otherConfig },
      resume: sessionId,
      sessionStore: store,
      sessionStoreFlush: 'eager',
    })
    assert.equal(resumed.find((m) => m.type === 'result')?.subtype, 'success')
    assert.deepEqual(
      conversationTexts(home.model.turns[before]!.body).map((m) => m.text),
      ['The code word is heron.', 'Noted: the code word is heron.', 'What is the code word?'],
    )
  })

  test('a turn mirrored eagerly is resumed from another, empty config dir with the model seeing it', async (t) => {
    const store = await open(t, schemaFor(t))
    const appends: { key: SessionKey; count: number }[] = []
    // The store as the SDK sees it, counting the calls it makes.
    const observed: SessionStore = {
      append: (k, entries) => {
        appends.push({ key: k, count: entries.length })
        return store.append(k, entries)
      },
      load: (k) => store.load(k),
      listSessions: (projectKey) => store.listSessions(projectKey),
      listSessionSummaries: (projectKey) => store.listSessionSummaries(projectKey),
      listSubkeys: (k) => store.listSubkeys(k),
      delete: (k) => store.delete(k),
    }

    home.model.script(text('Nice to meet you, Ada.'))
    const first = await run('My name is Ada.', { sessionStore: observed, sessionStoreFlush: 'eager' })
    const sessionId = sessionIdOf(first)!
    assert.equal(first.find((m) => m.type === 'result')?.subtype, 'success')
    assert.ok(!first.some((m) => m.type === 'system' && m.subtype === 'mirror_error'))
    const projectKey = projectSlug(realpathSync(home.workspace))
    assert.ok(appends.length > 1, `eager: several appends (${appends.length})`)
    assert.ok(appends.every((a) => a.key.projectKey === projectKey && a.key.sessionId === sessionId))

    // The CLI still wrote its local transcript; the store holds its lines but the request records
    // (api-request, api-request-shape, api-request-blob), which the CLI keeps local.
    const local = readJsonl(join(home.env.CLAUDE_CONFIG_DIR!, 'projects', projectKey, `${sessionId}.jsonl`))
    const mirrored = local.filter((entry) => !entry.type.startsWith('api-request'))
    assert.ok(mirrored.length < local.length)
    assert.deepEqual(await store.load({ projectKey, sessionId }), mirrored)

    // Another replica: same workspace path, a config dir of its own with nothing in it.
    const elsewhere = join(home.root, 'replica-b-config')
    mkdirSync(elsewhere)
    home.model.script(text('Your name is Ada.'))
    const before = home.model.turns.length
    const second = await run('What is my name?', {
      env: { ...home.env, CLAUDE_CONFIG_DIR: elsewhere },
      resume: sessionId,
      sessionStore: observed,
      sessionStoreFlush: 'eager',
    })
    assert.equal(sessionIdOf(second), sessionId)
    const result = second.find((m) => m.type === 'result')
    assert.ok(result?.subtype === 'success')
    assert.equal(result.result, 'Your name is Ada.')

    const requests = home.model.turns.slice(before)
    assert.equal(requests.length, 1)
    assert.deepEqual(conversationTexts(requests[0]!.body), [
      { role: 'user', text: 'My name is Ada.' },
      { role: 'assistant', text: 'Nice to meet you, Ada.' },
      { role: 'user', text: 'What is my name?' },
    ])

    // The resumed turn went to the store too, after the first one's lines.
    const stored = (await store.load({ projectKey, sessionId }))!
    assert.deepEqual(stored.slice(0, mirrored.length), mirrored)
    const texts = stored.slice(mirrored.length).flatMap((entry) => {
      const content = (entry.message as { content?: unknown } | undefined)?.content
      return Array.isArray(content)
        ? content.flatMap((block) => (block.type === 'text' ? [block.text] : []))
        : []
    })
    assert.ok(texts.includes('Your name is Ada.'), 'the answer of the resumed turn is stored')
  })
})
