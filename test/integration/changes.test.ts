/**
 * The read models through the native API, against the real CLI and the scripted model: a session's code
 * changes (the rollup, a file at two points), tool calls across sessions with their filters, and figures per
 * agent after real turns (a subagent's included).
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { Gateway } from '../../src/gateway.js'
import type { AgentStats } from '../../web/src/api/types/agents.js'
import { type TestHome, testConfig, testGateway, testHome } from '../support/harness.js'
import { expectError, type Json, nativeClient } from '../support/native-client.js'
import { mainAndSubagentReplies, text, toolCall } from '../support/scripted-anthropic.js'

const MAX_CONTENT_BYTES = 1024

interface Rollup {
  totals: Json
  files: Json[]
  changes: Json[]
}
interface FileAt {
  seq: number
  content: string | null
  exists: boolean
  known: boolean
}
interface Page {
  items: Json[]
  total: number
}

describe('native API: code changes, tool calls across sessions, figures per agent', () => {
  let home: TestHome
  let gateway: Gateway
  before(async () => {
    home = await testHome()
    gateway = await testGateway(
      home,
      testConfig(home, {
        pool: { warmSpares: 0 },
        native: { workspaceRoots: [home.root], changeContentMaxBytes: MAX_CONTENT_BYTES },
      }),
    )
  })
  after(async () => {
    await gateway?.close()
    await home?.close()
  })

  const { call } = nativeClient(() => gateway)
  const get = async <T = Json>(path: string): Promise<T> => {
    // What was published is written to the store (and its index) in the next tick.
    gateway.context.bus.flush()
    const answer = await call('GET', path)
    assert.equal(answer.status, 200, JSON.stringify(answer.body))
    return answer.body as T
  }
  const newSession = async () => {
    const created = await call('POST', '/api/sessions', { permission_mode: 'bypassPermissions' })
    assert.equal(created.status, 201, JSON.stringify(created.body))
    return created.body.id as string
  }
  const send = async (id: string, content: string) => {
    const turn = await call('POST', `/api/sessions/${id}/messages`, { content })
    assert.equal(turn.status, 200, JSON.stringify(turn.body))
    assert.equal(turn.body.status, 'success', JSON.stringify(turn.body))
  }

  let edited: string
  let delegated: string
  const notes = () => join(home.workspace, 'notes.txt')

  test('a file Claude wrote then edited: the rollup, and the file at two points', async () => {
    edited = await newSession()
    home.model.script(
      toolCall('Write', { file_path: notes(), content: 'one\ntwo\n' }),
      toolCall('Edit', { file_path: notes(), old_string: 'two', new_string: '2\nthree' }),
      text('Written and edited.'),
    )
    await send(edited, 'Write the notes, then fix them')
    assert.equal(readFileSync(notes(), 'utf8'), 'one\n2\nthree\n')

    const rollup = await get<Rollup>(`/api/sessions/${edited}/changes`)
    assert.deepEqual(rollup.totals, { files: 1, added: 4, removed: 1 })
    assert.equal(rollup.files.length, 1)
    const [file] = rollup.files
    assert.deepEqual(
      [file!.path, file!.status, file!.changes, file!.added, file!.removed],
      [notes(), 'created', 2, 4, 1],
    )
    const changes = rollup.changes
    assert.deepEqual(
      changes.map((c) => [c.tool, c.kind, c.added, c.removed, c.known]),
      [
        ['Write', 'created', 2, 0, true],
        ['Edit', 'modified', 2, 1, true],
      ],
    )
    assert.equal(file!.last_seq, changes[1]!.seq)

    const path = encodeURIComponent(notes())
    const written = changes[0]!.seq as number
    const compared = await get(`/api/sessions/${edited}/changes/file?path=${path}&to=${written}`)
    assert.deepEqual(compared, {
      path: notes(),
      from: { seq: 0, content: null, exists: false, known: true },
      to: { seq: written, content: 'one\ntwo\n', exists: true, known: true },
    })
    const latest = await get<{ from: FileAt; to: FileAt }>(
      `/api/sessions/${edited}/changes/file?path=${path}&from=${written}`,
    )
    assert.equal(latest.from.content, 'one\ntwo\n')
    assert.equal(latest.to.content, 'one\n2\nthree\n')

    expectError(
      await call('GET', `/api/sessions/${edited}/changes/file?path=never.txt`),
      404,
      'not_found',
      'querystring.path',
    )
    expectError(
      await call('GET', `/api/sessions/${edited}/changes/file?path=${path}&from=-1`),
      400,
      'validation_error',
    )
    expectError(await call('GET', '/api/sessions/no-such-session/changes'), 404, 'not_found')
  })

  test('a subagent writes a file larger than native.changeContentMaxBytes: uncounted, refused whole', async () => {
    delegated = await newSession()
    const big = join(home.workspace, 'big.txt')
    home.model.fallback = mainAndSubagentReplies(
      [
        toolCall('Task', {
          description: 'Write a big file',
          prompt: 'Write big.txt',
          subagent_type: 'general-purpose',
          run_in_background: false,
        }),
        text('The subagent wrote it.'),
      ],
      [toolCall('Write', { file_path: big, content: 'x'.repeat(2 * MAX_CONTENT_BYTES) }), text('Wrote it')],
    )
    try {
      await send(delegated, 'Delegate the big file')
    } finally {
      home.model.fallback = () => text('ok')
    }
    const rollup = await get<Rollup>(`/api/sessions/${delegated}/changes`)
    assert.deepEqual(
      rollup.changes.map((c) => [c.path, c.added, c.known]),
      [[big, null, true]],
    )
    expectError(
      await call('GET', `/api/sessions/${delegated}/changes/file?path=${encodeURIComponent(big)}`),
      413,
      'too_large',
      'querystring.to',
    )
  })

  test('tool calls across sessions: newest first, each with its session; filters', async () => {
    const all = await get<Page>('/api/tool-calls')
    assert.equal(all.total, 4)
    assert.deepEqual(
      all.items.map((c) => [c.session_id, c.name, c.caller, c.agent, c.status]),
      [
        [delegated, 'Write', 'subagent', 'general-purpose', 'succeeded'],
        [delegated, 'Task', 'main', null, 'succeeded'],
        [edited, 'Edit', 'main', null, 'succeeded'],
        [edited, 'Write', 'main', null, 'succeeded'],
      ],
    )
    // The same view as the session's own list.
    const own = await get<Page>(`/api/sessions/${edited}/tool-calls?order=desc`)
    assert.deepEqual(all.items.slice(2), own.items)

    const names = async (query: string) =>
      (await get<Page>(`/api/tool-calls?${query}`)).items.map(
        (c) => `${c.session_id === edited ? 'e' : 'd'}:${c.name}`,
      )
    assert.deepEqual(await names(`session_id=${edited}`), ['e:Edit', 'e:Write'])
    assert.deepEqual(await names('name=Write'), ['d:Write', 'e:Write'])
    assert.deepEqual(await names('caller=subagent'), ['d:Write'])
    assert.deepEqual(await names('agent=general-purpose'), ['d:Write'])
    assert.deepEqual(await names('status=failed'), [])
    assert.deepEqual(await names(`since=${Date.now() + 60_000}`), [])
    const second = await get<Page>('/api/tool-calls?limit=1&offset=1')
    assert.deepEqual([second.total, second.items[0]!.name], [4, 'Task'])
    expectError(await call('GET', '/api/tool-calls?caller=robot'), 400, 'validation_error')
    expectError(await call('GET', '/api/tool-calls?x=1'), 400, 'validation_error')
  })

  test("figures per agent: the main agent's turns, the subagent type's runs", async () => {
    const stats = await get<AgentStats>('/api/agent-stats')
    assert.equal(stats.since, null)
    assert.equal(stats.main.length, 1)
    const [main] = stats.main
    assert.deepEqual([main!.agent, main!.runs, main!.succeeded, main!.success_rate], [null, 2, 2, 1])
    assert.ok(main!.latency_ms.p50! > 0 && main!.latency_ms.p95! >= main!.latency_ms.p50!)
    assert.ok(main!.tokens.input > 0 && main!.tokens.output > 0)
    assert.equal(typeof main!.cost_usd, 'number')
    const [sub] = stats.subagents
    assert.deepEqual(
      [stats.subagents.length, sub!.agent, sub!.runs, sub!.success_rate, sub!.cost_usd],
      [1, 'general-purpose', 1, 1, null],
    )
    assert.ok(sub!.latency_ms.p50! > 0 && sub!.tokens.output > 0)
    const later = await get<AgentStats>(`/api/agent-stats?since=${Date.now() + 60_000}`)
    assert.deepEqual([later.main, later.subagents], [[], []])
  })
})
