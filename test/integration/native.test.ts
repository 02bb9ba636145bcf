/**
 * The native API against the real CLI and the scripted model: sessions, turns (answered and streamed),
 * context changes, interrupt, the error shape, and the session event stream with exact replay.
 */
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, before, beforeEach, describe, test } from 'node:test'
import { testConfig, testGateway, testHome, withGateway } from '../support/harness.js'
import { expectError, nativeClient } from '../support/native-client.js'
import { failure, text, toolCall } from '../support/scripted-anthropic.js'
import { parseSse } from '../support/sse.js'
import { waitUntil } from '../support/wait.js'

interface Json {
  [key: string]: unknown
}

describe('native API: sessions and turns', () => {
  const g = withGateway({
    pool: { warmSpares: 0, sessionQueueSize: 1 },
    native: { heartbeatMs: 200, maxBufferedBytes: 4096, stallTimeoutMs: 100 },
  })
  // A reply one test scripted but did not use would answer the next test's turn.
  beforeEach(() => g.home.model.clearScript())

  const { call } = nativeClient(() => g.gateway)

  test('create, read, list and delete sessions; errors have one shape', async () => {
    const created = await call('POST', '/api/sessions', {
      title: 'first',
      workspace: g.home.workspace,
      permission_mode: 'acceptEdits',
      append_system_prompt: 'Be brief.',
      thinking: { type: 'enabled', budget_tokens: 2048 },
    })
    assert.equal(created.status, 201)
    const id = created.body.id as string
    assert.match(id, /^[0-9a-f-]{36}$/)
    assert.equal(created.body.state, 'new')
    assert.equal(created.body.workspace, g.home.workspace)
    assert.equal(created.body.permission_mode, 'acceptEdits')
    assert.equal(created.body.runner, null)

    const read = await call('GET', `/api/sessions/${id}`)
    assert.deepEqual(read.body, created.body)
    await call('POST', '/api/sessions', { title: 'second' })
    const page = await call('GET', '/api/sessions?limit=1&offset=0')
    assert.equal((page.body.items as Json[]).length, 1)
    assert.ok((page.body.total as number) >= 2)
    const filtered = await call(
      'GET',
      `/api/sessions?state=new&workspace=${encodeURIComponent(g.home.workspace)}`,
    )
    assert.ok((filtered.body.items as Json[]).every((s) => s.workspace === g.home.workspace))

    const bad = await call('POST', '/api/sessions', { permission_mode: 'yolo' })
    assert.equal(bad.status, 400)
    assert.equal((bad.body.error as Json).code, 'validation_error')
    assert.equal((bad.body.error as Json).field, 'body.permission_mode')
    const outside = await call('POST', '/api/sessions', { workspace: '/etc' })
    assert.equal(outside.status, 400)
    assert.equal((outside.body.error as Json).field, 'body.workspace')
    const missing = await call('GET', '/api/sessions/nope')
    assert.equal(missing.status, 404)
    assert.deepEqual(Object.keys(missing.body.error as Json).sort(), ['code', 'message'])
    // A URL Fastify cannot decode is refused before routing, in the same shape.
    const undecodable = await call('GET', '/api/sessions/%zz')
    assert.equal(undecodable.status, 400)
    assert.equal((undecodable.body.error as Json).code, 'bad_request')

    assert.equal((await call('DELETE', `/api/sessions/${id}`)).status, 204)
    assert.equal((await call('GET', `/api/sessions/${id}`)).status, 404)
    assert.equal((await call('DELETE', `/api/sessions/${id}?purge=true`)).status, 204)
    assert.equal((await call('DELETE', '/api/sessions/nope')).status, 404)
  })

  test('a malformed permission rule is refused naming it, the same way wherever rules are set', async () => {
    const sessions = async () => (await call('GET', '/api/sessions')).body.total
    const before = await sessions()
    const created = await call('POST', '/api/sessions', { allowed_tools: ['Read', 'Bash(npm test:*'] })
    assert.equal(created.status, 400)
    assert.equal((created.body.error as Json).code, 'validation_error')
    assert.equal((created.body.error as Json).field, 'body.allowed_tools[1]')
    assert.match((created.body.error as Json).message as string, /not a permission rule/)
    assert.equal(await sessions(), before, 'no session was created')

    const rules = { allowed_tools: ['Read', 'Bash(npm test:*)'], disallowed_tools: ['mcp__github'] }
    const id = (await call('POST', '/api/sessions', rules)).body.id as string
    const bad = { disallowed_tools: ['two words'] }
    const context = await call('PUT', `/api/sessions/${id}/context`, bad)
    assert.equal(context.status, 400)
    assert.equal((context.body.error as Json).field, 'body.disallowed_tools[0]')
    const permissions = await call('PUT', `/api/sessions/${id}/tool-permissions`, bad)
    assert.deepEqual(permissions.body, context.body)
    const settings = (await call('GET', `/api/sessions/${id}`)).body.settings as Json
    assert.deepEqual(
      [settings.allowed_tools, settings.disallowed_tools],
      [rules.allowed_tools, ['mcp__github']],
    )
  })

  test('a message returns the turn: text, tool calls with results, usage and cost', async () => {
    const created = await call('POST', '/api/sessions', { permission_mode: 'bypassPermissions' })
    const id = created.body.id as string
    g.home.model.script(
      toolCall('Bash', { command: 'echo native > native.txt', description: 'write' }),
      text('Wrote native.txt', { usage: { input_tokens: 40, output_tokens: 6 } }),
    )
    const turn = await call('POST', `/api/sessions/${id}/messages`, { content: 'Write a file' })
    assert.equal(turn.status, 200)
    assert.equal(turn.body.status, 'success')
    assert.equal(turn.body.text, 'Wrote native.txt')
    const [bash] = turn.body.tool_calls as Json[]
    assert.equal(bash!.name, 'Bash')
    assert.equal(bash!.status, 'succeeded')
    assert.deepEqual(bash!.input, { command: 'echo native > native.txt', description: 'write' })
    assert.equal(readFileSync(join(g.home.workspace, 'native.txt'), 'utf8'), 'native\n')
    // Both model calls of the turn: the tool call (7 tokens) and the answer (6).
    assert.equal((turn.body.usage as Json).output_tokens, 13)
    assert.equal(typeof turn.body.cost_usd, 'number')

    const session = await call('GET', `/api/sessions/${id}`)
    assert.equal(session.body.state, 'idle')
    assert.ok((session.body.runner as Json).pid)
    assert.equal(session.body.turns, 1)
    assert.ok(session.body.claude_session_id)
  })

  test('with Accept: text/event-stream a message streams its events, ids being sequence numbers', async () => {
    const id = (await call('POST', '/api/sessions', {})).body.id as string
    g.home.model.script(text('streamed natively', { chunkSize: 4 }))
    const response = await fetch(`${g.url}/api/sessions/${id}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ content: 'stream it' }),
    })
    assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8')
    const frames = parseSse(await response.text())
    assert.equal(frames[0]!.event, 'turn.started')
    assert.equal(frames.at(-1)!.event, 'turn.completed')
    const deltas = frames.filter((f) => f.event === 'text.delta').map((f) => (f.data as Json).text)
    assert.equal(deltas.join(''), 'streamed natively')
    for (const frame of frames) assert.equal(Number(frame.id), (frame.data as Json).seq)
  })

  test('a busy session queues one message and refuses the next with 409', async () => {
    const id = (await call('POST', '/api/sessions', {})).body.id as string
    g.home.model.script(text('slow', { delayMs: 1_500 }), text('second'))
    const first = call('POST', `/api/sessions/${id}/messages`, { content: 'one' })
    await waitUntil(async () => (await call('GET', `/api/sessions/${id}`)).body.state === 'running')
    const second = call('POST', `/api/sessions/${id}/messages`, { content: 'two' })
    await new Promise((resolve) => setTimeout(resolve, 100))
    const third = await call('POST', `/api/sessions/${id}/messages`, { content: 'three' })
    assert.equal(third.status, 409)
    assert.equal((third.body.error as Json).code, 'session_busy')
    assert.equal((await first).body.text, 'slow')
    assert.equal((await second).body.text, 'second')
  })

  test('interrupt stops the running turn', async () => {
    const id = (await call('POST', '/api/sessions', {})).body.id as string
    g.home.model.script(text('z'.repeat(300), { chunkSize: 1, chunkDelayMs: 20 }))
    const asked = g.home.model.turns.length
    const running = call('POST', `/api/sessions/${id}/messages`, { content: 'long' })
    // Interrupted before the model is asked, the scripted answer would be left for the next test.
    await waitUntil(() => g.home.model.turns.length > asked, 20_000, 'the model request')
    assert.deepEqual((await call('POST', `/api/sessions/${id}/interrupt`)).body, { interrupted: true })
    assert.equal((await running).body.status, 'interrupted')
    assert.deepEqual((await call('POST', `/api/sessions/${id}/interrupt`)).body, { interrupted: false })
  })

  test('content Claude Code could not use is refused with 400 at once; the session stays usable', async () => {
    const id = (await call('POST', '/api/sessions', {})).body.id as string
    // The wedge this guards against left the request open for pool.turnTimeoutMs: fail fast instead.
    const send = async (content: unknown) => {
      const response = await fetch(`${g.url}/api/sessions/${id}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ content }),
        signal: AbortSignal.timeout(20_000),
      })
      return { status: response.status, body: (await response.json()) as Json }
    }
    const asked = g.home.model.turns.length
    expectError(await send([{ type: 'text' }]), 400, 'validation_error', 'body.content[0].text')
    expectError(await send([{ type: 'text', text: 5 }]), 400, 'validation_error', 'body.content[0].text')
    expectError(await send([{ type: 'audio', data: 'x' }]), 400, 'validation_error', 'body.content[0].type')
    expectError(await send([{ type: 'text', text: 'look' }, { type: 'image' }]), 400, 'validation_error')
    const badPdf = await send([
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'not base64' } },
    ])
    expectError(badPdf, 400, 'validation_error')
    assert.match(String((badPdf.body.error as Json).message), /content\[0\]\.source\.data/)
    assert.equal(g.home.model.turns.length, asked, 'no model call was made')
    assert.notEqual((await call('GET', `/api/sessions/${id}`)).body.state, 'running')
    assert.deepEqual((await call('POST', `/api/sessions/${id}/interrupt`)).body, { interrupted: false })

    g.home.model.script(text('still here'))
    const answered = await send([{ type: 'text', text: 'hello' }])
    assert.equal(answered.status, 200)
    assert.equal(answered.body.text, 'still here')
  })

  test('closing a streamed message before its end interrupts the turn', async () => {
    const id = (await call('POST', '/api/sessions', {})).body.id as string
    g.home.model.script(text('y'.repeat(300), { chunkSize: 1, chunkDelayMs: 20 }))
    const hangUp = new AbortController()
    const response = await fetch(`${g.url}/api/sessions/${id}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ content: 'stream, then be cut off' }),
      signal: hangUp.signal,
    })
    const reader = response.body!.getReader()
    let seen = ''
    while (!seen.includes('text.delta')) seen += new TextDecoder().decode((await reader.read()).value)
    hangUp.abort()
    const completed = await waitUntil(
      async () =>
        ((await call('GET', `/api/sessions/${id}/history`)).body.items as Json[]).find(
          (item) => item.type === 'turn_completed',
        ),
      20_000,
      'the end of the turn',
    )
    assert.equal(completed.status, 'interrupted')
  })

  test('changing the context restarts the runner with it; the conversation goes on', async () => {
    const extra = join(g.home.root, 'extra-dir')
    mkdirSync(extra, { recursive: true })
    const id = (await call('POST', '/api/sessions', {})).body.id as string
    g.home.model.script(text('first answer'), text('second answer'))
    await call('POST', `/api/sessions/${id}/messages`, { content: 'first' })
    const pid = ((await call('GET', `/api/sessions/${id}`)).body.runner as Json).pid
    const updated = await call('PUT', `/api/sessions/${id}/context`, {
      append_system_prompt: 'Always answer in French.',
      additional_directories: [extra],
    })
    assert.equal(updated.status, 200)
    assert.equal((updated.body.settings as Json).append_system_prompt, 'Always answer in French.')
    await call('POST', `/api/sessions/${id}/messages`, { content: 'second' })
    const request = g.home.model.turns.at(-1)!.body
    assert.ok(JSON.stringify(request.system).includes('Always answer in French.'))
    assert.ok(JSON.stringify(request.messages).includes('first answer'), 'context kept')
    assert.notEqual(((await call('GET', `/api/sessions/${id}`)).body.runner as Json).pid, pid)
  })

  test('the event stream replays from Last-Event-ID with no gap and no duplicate, then goes live', async () => {
    const id = (await call('POST', '/api/sessions', {})).body.id as string
    g.home.model.script(text('one two three', { chunkSize: 2 }))
    await call('POST', `/api/sessions/${id}/messages`, { content: 'hi' })
    const all = await g.gateway.context.bus.replay(id)
    assert.ok(all.length > 6)

    const cut = all[3]!.seq
    const controller = new AbortController()
    const response = await fetch(`${g.url}/api/sessions/${id}/events`, {
      headers: { 'last-event-id': String(cut) },
      signal: controller.signal,
    })
    const reader = response.body!.getReader()
    let raw = ''
    g.home.model.script(text('live now'))
    const live = call('POST', `/api/sessions/${id}/messages`, { content: 'again' })
    await live
    const expected = await g.gateway.context.bus.replay(id, cut)
    while (parseSse(raw).filter((f) => f.id).length < expected.length)
      raw += new TextDecoder().decode((await reader.read()).value)
    controller.abort()
    const frames = parseSse(raw).filter((f) => f.id)
    assert.deepEqual(
      frames.map((f) => Number(f.id)),
      expected.map((e) => e.seq),
    )
    assert.deepEqual(
      frames.map((f) => f.event),
      expected.map((e) => e.type),
    )
    assert.ok(raw.startsWith(': connected'))
  })

  test('heartbeats keep the stream alive; a subscriber that does not read is cut off with a reason', async () => {
    const id = (await call('POST', '/api/sessions', {})).body.id as string
    const quiet = await fetch(`${g.url}/api/sessions/${id}/events`)
    const reader = quiet.body!.getReader()
    let raw = ''
    while (!raw.includes(': heartbeat')) raw += new TextDecoder().decode((await reader.read()).value)
    await reader.cancel()

    // A subscriber that never reads while a long turn streams, and more than the sockets' buffers hold
    // follows (a paragraph per event, published on the bus): its connection fills, and once it has taken
    // nothing for native.stallTimeoutMs it is told why. (Only a stall is cut off: see replay.test.ts.)
    const stuck = await fetch(`${g.url}/api/sessions/${id}/events`)
    g.home.model.script(text('y'.repeat(6000), { chunkSize: 3 }))
    await call('POST', `/api/sessions/${id}/messages`, { content: 'a lot' })
    for (let i = 0; i < 4000; i++)
      g.gateway.context.bus.publish(id, {
        type: 'text.delta',
        turnId: 'filler',
        text: 'z'.repeat(1000),
        parentToolUseId: null,
      })
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const body = await stuck.text()
    assert.match(body, /event: error\ndata: \{"code":"slow_consumer"/)
  })
})

describe('native API: a failing model API', () => {
  const g = withGateway({ pool: { warmSpares: 0, retryBudgetMs: 1_500 } }, (home) => {
    // Few enough retries that a gateway without a budget would end the turn itself within seconds.
    home.env.CLAUDE_CODE_MAX_RETRIES = '4'
  })
  afterEach(() => {
    g.home.model.fallback = () => text('ok')
  })

  const { call } = nativeClient(() => g.gateway)

  test('an overloaded model API fails the message within pool.retryBudgetMs: 503 with Retry-After', async () => {
    const id = (await call('POST', '/api/sessions', {})).body.id as string
    g.home.model.fallback = () => failure(529, 'Overloaded', 'overloaded_error')
    const started = Date.now()
    const answer = await call('POST', `/api/sessions/${id}/messages`, { content: 'hello?' })
    const error = expectError(answer, 503, 'overloaded')
    assert.match(String(error.message), /1500 ms/)
    assert.ok(Number(answer.headers.get('retry-after')) >= 1)
    assert.ok(Date.now() - started < 6_000, `failed after ${Date.now() - started} ms`)

    g.home.model.fallback = () => text('back again')
    const next = await call('POST', `/api/sessions/${id}/messages`, { content: 'and now?' })
    assert.equal(next.body.text, 'back again')
  })

  test("Claude's API refusing the credentials fails the message at once, with no retry: 401", async () => {
    const id = (await call('POST', '/api/sessions', {})).body.id as string
    g.home.model.fallback = () => failure(401, 'invalid x-api-key', 'authentication_error')
    const asked = g.home.model.turns.length
    const started = Date.now()
    const answer = await call('POST', `/api/sessions/${id}/messages`, { content: 'hello?' })
    const error = expectError(answer, 401, 'upstream_auth_failed')
    assert.match(String(error.message), /credentials/)
    assert.equal(answer.headers.get('retry-after'), null)
    assert.equal(g.home.model.turns.length - asked, 1, 'the model API was asked once')
    assert.ok(Date.now() - started < 5_000, `failed after ${Date.now() - started} ms`)
  })
})

describe('native API: keys', () => {
  test('keys are required when configured', async () => {
    const home = await testHome()
    const gateway = await testGateway(home, testConfig(home, { server: { apiKeys: ['k1'] } }))
    try {
      const denied = await fetch(`${gateway.url}/api/sessions`)
      assert.equal(denied.status, 401)
      assert.equal(((await denied.json()) as { error: Json }).error.code, 'unauthorized')
      const allowed = await fetch(`${gateway.url}/api/sessions`, { headers: { 'x-api-key': 'k1' } })
      assert.equal(allowed.status, 200)
    } finally {
      await gateway.close()
      await home.close()
    }
  })
})

describe('native API: direct tools', () => {
  const g = withGateway({ pool: { warmSpares: 0 } })
  let id: string
  before(async () => {
    const response = await fetch(`${g.url}/api/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ workspace: g.home.workspace }),
    })
    id = ((await response.json()) as { id: string }).id
  })

  const tool = async (name: string, body: unknown) => {
    const response = await fetch(`${g.url}/api/sessions/${id}/tools/${name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    return { status: response.status, body: (await response.json()) as Json }
  }

  test('GET /api/tools documents every tool with its JSON schema', async () => {
    const body = (await (await fetch(`${g.url}/api/tools`)).json()) as { tools: Json[] }
    assert.deepEqual(
      body.tools.map((t) => t.name),
      ['read', 'write', 'edit', 'glob', 'search', 'bash'],
    )
    for (const t of body.tools) {
      assert.equal((t.input_schema as Json).type, 'object')
      assert.ok(String(t.description).length > 20)
    }
  })

  test('write, read, edit, glob, search and bash act on the workspace and are recorded as events', async () => {
    const written = await tool('write', { file_path: 'src/app.ts', content: 'const a = 1\nconst b = 2\n' })
    assert.equal(written.status, 200)
    assert.equal(written.body.type, 'create')
    const read = await tool('read', { file_path: 'src/app.ts' })
    assert.equal(read.body.content, '     1\tconst a = 1\n     2\tconst b = 2')
    const edited = await tool('edit', {
      file_path: 'src/app.ts',
      old_string: 'const b = 2',
      new_string: 'const b = 3',
    })
    assert.equal(edited.body.replacements, 1)
    const notUnique = await tool('edit', { file_path: 'src/app.ts', old_string: 'const', new_string: 'let' })
    assert.equal(notUnique.status, 422)
    assert.equal((notUnique.body.error as Json).code, 'not_unique')
    const glob = await tool('glob', { pattern: '**/*.ts' })
    assert.deepEqual(glob.body.filenames, ['src/app.ts'])
    const search = await tool('search', { pattern: 'b = \\d', output_mode: 'content' })
    assert.match(String(search.body.content), /app\.ts:2:const b = 3/)
    const bash = await tool('bash', { command: 'cat src/app.ts | wc -l; exit 3' })
    assert.equal(bash.body.exitCode, 3)
    assert.equal(String(bash.body.stdout).trim(), '2')
    const timedOut = await tool('bash', { command: 'sleep 5', timeout: 200 })
    assert.equal(timedOut.body.timedOut, true)

    const events = await g.gateway.context.bus.replay(id)
    const calls = events
      .filter((e) => e.type === 'tool.call')
      .map((e) => (e.type === 'tool.call' ? e.name : ''))
    assert.deepEqual(calls, ['write', 'read', 'edit', 'edit', 'glob', 'search', 'bash', 'bash'])
    const results = events.filter((e) => e.type === 'tool.result')
    assert.equal(results.length, calls.length)
    const changes = events.filter((e) => e.type === 'file.changed')
    assert.deepEqual(
      changes.map((e) => (e.type === 'file.changed' ? [e.kind, e.before, e.after ?? null] : [])),
      [
        ['created', null, null],
        ['modified', 'const a = 1\nconst b = 2\n', 'const a = 1\nconst b = 3\n'],
      ],
    )
  })

  test('every path-taking tool refuses to leave the workspace', async () => {
    const { symlinkSync } = await import('node:fs')
    symlinkSync('/etc', join(g.home.workspace, 'escape'))
    const attempts: [string, Json][] = [
      ['read', { file_path: '../outside.txt' }],
      ['read', { file_path: '/etc/hostname' }],
      ['read', { file_path: 'escape/hostname' }],
      ['write', { file_path: '../outside.txt', content: 'x' }],
      ['write', { file_path: 'escape/evil', content: 'x' }],
      ['edit', { file_path: '/etc/hostname', old_string: 'a', new_string: 'b' }],
      ['glob', { pattern: '*', path: '..' }],
      ['search', { pattern: 'root', path: '/etc' }],
    ]
    for (const [name, body] of attempts) {
      const result = await tool(name, body)
      assert.equal(result.status, 403, `${name} ${JSON.stringify(body)}`)
      assert.equal((result.body.error as Json).code, 'path_outside_workspace')
    }
    const invalidInput = await tool('read', { path: 'x' })
    assert.equal(invalidInput.status, 400)
    assert.equal((await tool('teleport', {})).status, 404)
  })
})
