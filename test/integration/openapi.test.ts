/**
 * GET /api/openapi.json: an OpenAPI 3 document of every route Fastify serves under /api and /v1 (no more, no
 * less), with the request schemas the routes validate, behind the API key like the rest of /api; and the
 * response shapes it documents are what the routes really answer.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Ajv } from 'ajv'
import type { Gateway } from '../../src/gateway.js'
import { VERSION } from '../../src/version.js'
import { type TestHome, testConfig, testGateway, testHome } from '../support/harness.js'
import { type Json, nativeClient } from '../support/native-client.js'
import { routesOf } from '../support/routes.js'
import { text, toolCall } from '../support/scripted-anthropic.js'
import { waitUntil } from '../support/wait.js'

interface Operation {
  tags?: string[]
  operationId?: string
  summary?: string
  requestBody?: { required?: boolean; content: Record<string, { schema: Json }> }
  responses: Record<string, Json>
  security?: unknown[]
}
interface Document {
  openapi: string
  info: { title: string; version: string }
  tags: { name: string }[]
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, Json>; securitySchemes: Record<string, Json> }
  security: Record<string, string[]>[]
}

const operationsOf = (doc: Document) =>
  Object.entries(doc.paths)
    .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
    .sort()

/**
 * Validates answers against the document's own components, strictly: a property the answer has and the
 * schema does not declare is an error too (the document would be hiding it).
 */
function validatorFor(doc: Document) {
  const strict = (schema: unknown): unknown => {
    if (Array.isArray(schema)) return schema.map(strict)
    if (typeof schema !== 'object' || schema === null) return schema
    const out: Json = {}
    for (const [key, value] of Object.entries(schema))
      out[key] =
        key === '$ref' && typeof value === 'string' && value.startsWith('#/') ? `doc${value}` : strict(value)
    if (out.properties && out.additionalProperties === undefined) out.additionalProperties = false
    return out
  }
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true })
  ajv.addSchema({ $id: 'doc', components: strict(doc.components) as Json })
  return (schema: Json, value: unknown, what: string) => {
    const validate = ajv.compile(strict(schema) as Json)
    assert.ok(validate(value), `${what}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value)}`)
  }
}

/** The JSON schema a documented operation gives for a status, for application/json. */
function responseSchema(doc: Document, operation: string, status: number): Json {
  const [method, path] = operation.split(' ') as [string, string]
  const response = doc.paths[path]?.[method.toLowerCase()]?.responses[String(status)]
  assert.ok(response, `${operation} documents no ${status}`)
  const content = response.content as Record<string, { schema: Json }> | undefined
  assert.ok(content?.['application/json'], `${operation} ${status} has no application/json content`)
  return content['application/json'].schema
}

describe('OpenAPI document', () => {
  let home: TestHome
  let gateway: Gateway
  let doc: Document
  let check: ReturnType<typeof validatorFor>

  before(async () => {
    home = await testHome()
    gateway = await testGateway(
      home,
      testConfig(home, {
        native: { workspaceRoots: [home.root] },
        // Agent files go to the test's own Claude Code config folder.
        claude: { env: { CLAUDE_CONFIG_DIR: home.env.CLAUDE_CONFIG_DIR! } },
      }),
    )
    const response = await fetch(`${gateway.url}/api/openapi.json`)
    assert.equal(response.status, 200)
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/)
    doc = (await response.json()) as Document
    check = validatorFor(doc)
  })
  after(async () => {
    await gateway?.close()
    await home?.close()
  })

  const { call } = nativeClient(() => gateway)
  /** Checks that `path` answers `status` with what the document says `operation` answers then. */
  const expect = async (
    operation: string,
    path: string,
    status: number,
    body?: unknown,
    method = operation.split(' ')[0]!,
  ) => {
    const answer = await call(method, path, body)
    assert.equal(answer.status, status, `${method} ${path}: ${JSON.stringify(answer.body)}`)
    check(responseSchema(doc, operation, status), answer.body, `${method} ${path} ${status}`)
    return answer.body
  }

  test('is an OpenAPI 3 document: version, info, tags, security schemes, the native error shape', () => {
    assert.match(doc.openapi, /^3\.\d+\.\d+$/)
    assert.equal(doc.info.title, 'Claude Code Gateway')
    assert.equal(doc.info.version, VERSION)
    assert.equal(typeof doc.paths, 'object')
    assert.deepEqual(
      doc.tags.map((tag) => tag.name),
      [
        'sessions',
        'lifecycle',
        'commands',
        'tool-calls',
        'permissions',
        'tools',
        'files',
        'project',
        'agents',
        'users',
        'audit',
        'openai',
        'health',
      ],
    )
    assert.deepEqual(doc.components.securitySchemes.bearerAuth, {
      type: 'http',
      scheme: 'bearer',
      description: doc.components.securitySchemes.bearerAuth?.description,
    })
    assert.equal(doc.components.securitySchemes.apiKeyHeader?.name, 'x-api-key')
    // No keys configured: the key is optional (the empty requirement is one of the alternatives).
    assert.deepEqual(doc.security, [{ bearerAuth: [] }, { apiKeyHeader: [] }, {}])

    const error = doc.components.schemas.NativeError as {
      required: string[]
      properties: { error: { required: string[]; properties: Record<string, unknown> } }
    }
    assert.deepEqual(error.required, ['error'])
    assert.deepEqual(error.properties.error.required, ['code', 'message'])
    assert.deepEqual(Object.keys(error.properties.error.properties).sort(), ['code', 'field', 'message'])
    // Every /api error response is that shape.
    for (const [path, item] of Object.entries(doc.paths)) {
      if (!path.startsWith('/api/')) continue
      for (const [method, operation] of Object.entries(item)) {
        for (const [status, response] of Object.entries(operation.responses)) {
          if (Number(status) < 400 || !response.content) continue
          assert.deepEqual(
            (response.content as Record<string, { schema: unknown }>)['application/json']?.schema,
            { $ref: '#/components/schemas/NativeError' },
            `${method} ${path} ${status}`,
          )
        }
      }
    }
  })

  test('documents every /api and /v1 route Fastify serves, and no other, each with its answer', () => {
    const served = routesOf(gateway.app).filter((route) => / \/(api|v1)\//.test(route))
    assert.ok(served.includes('POST /api/sessions'), served.join('\n'))
    assert.ok(served.includes('POST /v1/chat/completions'), served.join('\n'))
    assert.deepEqual(operationsOf(doc), served)

    const tags = new Set(doc.tags.map((tag) => tag.name))
    const ids = new Set<string>()
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        const name = `${method.toUpperCase()} ${path}`
        assert.equal(operation.tags?.length, 1, `${name} has one tag`)
        assert.ok(tags.has(operation.tags[0]!), `${name}: tag ${operation.tags[0]} is declared`)
        assert.ok(operation.summary, `${name} has a summary`)
        // A response the document does not describe shows as @fastify/swagger's placeholder.
        const described = Object.entries(operation.responses).filter(
          ([, response]) => response.description !== 'Default Response',
        )
        assert.ok(
          described.some(([status]) => Number(status) < 400),
          `${name} describes its answer`,
        )
        assert.ok(operation.operationId, `${name} has an operationId`)
        assert.ok(!ids.has(operation.operationId), `${name}: operationId is unique`)
        ids.add(operation.operationId)
      }
    }
  })

  test('request bodies: POST /api/sessions and POST /v1/chat/completions carry their route schemas', () => {
    interface BodySchema {
      properties: Record<string, unknown>
      required?: string[]
      additionalProperties?: boolean
      allOf?: BodySchema[]
    }
    const body = (path: string) => {
      const schema = doc.paths[path]?.post?.requestBody?.content['application/json']?.schema as
        | BodySchema
        | undefined
      assert.ok(schema, `POST ${path} has a JSON request body`)
      // An intersection (TypeBox Intersect) is an allOf of objects: its fields are all of theirs.
      const parts = schema.allOf ?? [schema]
      return {
        ...schema,
        properties: Object.assign({}, ...parts.map((part) => part.properties)),
        required: parts.flatMap((part) => part.required ?? []),
      } as BodySchema
    }
    const session = body('/api/sessions')
    for (const field of ['title', 'workspace', 'model', 'agent', 'permission_mode', 'tools', 'thinking'])
      assert.ok(field in session.properties, `POST /api/sessions: ${field}`)
    assert.equal(session.additionalProperties, false)

    const chat = body('/v1/chat/completions')
    for (const field of ['model', 'messages', 'stream', 'tools', 'max_tokens'])
      assert.ok(field in chat.properties, `POST /v1/chat/completions: ${field}`)
    assert.deepEqual([...(chat.required ?? [])].sort(), ['messages', 'model'])

    assert.ok(body('/api/sessions/{id}/messages').properties.content)
    const toolBody = body('/api/sessions/{id}/tools/{name}') as unknown as { oneOf: Json[] }
    assert.equal(toolBody.oneOf.length, 6)

    // Bodies the routes do without (they take none as `{}`), and the one that is a form.
    const requestBody = (method: string, path: string) => {
      const documented = doc.paths[path]?.[method]?.requestBody
      assert.ok(documented, `${method} ${path} has a request body`)
      return documented
    }
    assert.equal(requestBody('post', '/api/sessions/{id}/fork').required, false)
    assert.equal(requestBody('post', '/api/sessions/{id}/commands/{name}').required, false)
    assert.equal(requestBody('post', '/api/sessions/{id}/messages').required, true)
    const upload = requestBody('post', '/api/sessions/{id}/files/upload')
    assert.deepEqual(Object.keys(upload.content), ['multipart/form-data'])
    assert.equal(upload.required, true)
  })

  test('the documented answers are what the routes answer', async () => {
    const session = await expect('POST /api/sessions', '/api/sessions', 201, {
      title: 'documented',
      thinking: { type: 'enabled', budget_tokens: 2048 },
    })
    const id = String(session.id)
    await expect('GET /api/sessions', '/api/sessions?limit=5', 200)
    await expect('GET /api/sessions/{id}', `/api/sessions/${id}`, 200)
    await expect('PUT /api/sessions/{id}/context', `/api/sessions/${id}/context`, 200, { max_turns: 3 })
    await expect('POST /api/sessions/{id}/interrupt', `/api/sessions/${id}/interrupt`, 200)
    await expect('GET /api/tools', '/api/tools', 200)
    await expect('GET /v1/health', '/v1/health', 200)
    await expect('GET /v1/models', '/v1/models', 200)
    await expect('GET /v1/models/{id}', '/v1/models/claude-code', 200)
    await expect('GET /v1/models/{id}', '/v1/models/no-such-model', 404)

    // History, export, thinking, memory.
    await expect('POST /api/sessions/{id}/thinking', `/api/sessions/${id}/thinking`, 200, {
      type: 'adaptive',
    })
    await expect('GET /api/sessions/{id}/memory', `/api/sessions/${id}/memory`, 200)
    await expect('POST /api/sessions/{id}/memory', `/api/sessions/${id}/memory`, 200, {
      scope: 'project',
      content: 'Use pnpm',
    })

    // Each direct tool, against its own result schema.
    writeFileSync(join(home.workspace, 'notes.txt'), 'alpha\nbeta\n')
    const tool = (name: string) => `/api/sessions/${id}/tools/${name}`
    const results: [string, unknown][] = [
      ['read', { file_path: 'notes.txt' }],
      ['write', { file_path: 'dir/new.txt', content: 'gamma\n' }],
      ['edit', { file_path: 'notes.txt', old_string: 'beta', new_string: 'delta' }],
      ['glob', { pattern: '**/*.txt' }],
      ['search', { pattern: 'delta', output_mode: 'content' }],
      ['search', { pattern: 'a', output_mode: 'count' }],
      ['bash', { command: 'echo out; echo err >&2' }],
    ]
    const Names: Record<string, string> = {
      read: 'ReadResult',
      write: 'WriteResult',
      edit: 'EditResult',
      glob: 'GlobResult',
      search: 'SearchResult',
      bash: 'BashResult',
    }
    for (const [name, input] of results) {
      const answer = await call('POST', tool(name), input)
      assert.equal(answer.status, 200, `${name}: ${JSON.stringify(answer.body)}`)
      check({ $ref: `#/components/schemas/${Names[name]}` }, answer.body, `tool ${name}`)
    }

    await expect('GET /api/sessions/{id}/history', `/api/sessions/${id}/history?limit=3`, 200)
    const history = await expect('GET /api/sessions/{id}/history', `/api/sessions/${id}/history`, 200)
    assert.ok((history.items as unknown[]).length > 0)
    await expect('POST /api/sessions/{id}/export', `/api/sessions/${id}/export`, 200, { format: 'json' })

    // Errors, in the one native shape.
    await expect('POST /api/sessions/{id}/tools/{name}', tool('edit'), 422, {
      file_path: 'notes.txt',
      old_string: 'no such text',
      new_string: 'x',
    })
    await expect('POST /api/sessions/{id}/tools/{name}', tool('read'), 403, { file_path: '../outside.txt' })
    await expect('POST /api/sessions/{id}/tools/{name}', tool('read'), 400, { file_path: 'notes.txt', x: 1 })
    await expect('POST /api/sessions', '/api/sessions', 400, { workspace: '/' })
    await expect('GET /api/sessions', '/api/sessions?limit=0', 400)
    await expect('GET /api/sessions/{id}', '/api/sessions/no-such-session', 404)

    const deleted = await call('DELETE', `/api/sessions/${id}`)
    assert.equal(deleted.status, 204)
    const documented = doc.paths['/api/sessions/{id}']?.delete?.responses['204']
    assert.ok(documented && documented.content === undefined, 'DELETE documents 204 without a body')
    await expect('GET /api/sessions/{id}', `/api/sessions/${id}`, 404)
  })

  test('a turn answers as TurnResult documents it', async () => {
    writeFileSync(join(home.workspace, 'turn.txt'), 'for the turn\n')
    const created = await fetch(`${gateway.url}/api/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    })
    const { id } = (await created.json()) as { id: string }
    home.model.script(toolCall('Read', { file_path: join(home.workspace, 'turn.txt') }), text('It says hi.'))
    const response = await fetch(`${gateway.url}/api/sessions/${id}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'Read turn.txt' }),
    })
    const turn = (await response.json()) as { status: string; tool_calls: unknown[] }
    assert.equal(response.status, 200, JSON.stringify(turn))
    assert.equal(turn.status, 'success', JSON.stringify(turn))
    assert.equal(turn.tool_calls.length, 1)
    check(responseSchema(doc, 'POST /api/sessions/{id}/messages', 200), turn, 'turn result')
    const session = await fetch(`${gateway.url}/api/sessions/${id}`)
    check({ $ref: '#/components/schemas/Session' }, await session.json(), 'session after a turn')
  })

  test('permissions, tool calls, commands, files, project, lifecycle and agents answer as documented', async () => {
    const { engine } = gateway.context
    const created = await expect('POST /api/sessions', '/api/sessions', 201, {
      title: 'everything',
      ask_permissions: true,
    })
    const id = String(created.id)
    const session = (path: string) => `/api/sessions/${id}${path}`

    // A turn whose Bash call waits for an answer: the waiting request, then the answer.
    home.model.script(toolCall('Bash', { command: 'echo hi > asked.txt' }), text('Done.'))
    const turn = call('POST', session('/messages'), { content: 'Write asked.txt' })
    await waitUntil(() => engine.pendingPermissions(id).length > 0, 30_000, 'the permission request')
    const pending = await expect('GET /api/sessions/{id}/permissions', session('/permissions'), 200)
    const [request] = pending.items as Json[]
    const answerPath = session(`/permissions/${request?.request_id}`)
    await expect('POST /api/sessions/{id}/permissions/{request_id}', answerPath, 200, { behavior: 'allow' })
    await expect('POST /api/sessions/{id}/permissions/{request_id}', answerPath, 404, { behavior: 'deny' })
    const answered = (await turn).body
    assert.equal(answered.status, 'success', JSON.stringify(answered))
    assert.equal(readFileSync(join(home.workspace, 'asked.txt'), 'utf8'), 'hi\n')

    // Its tool calls: Claude's, with the permission decision, and a direct one.
    await expect('POST /api/sessions/{id}/tools/{name}', session('/tools/read'), 200, {
      file_path: 'asked.txt',
    })
    const calls = await expect('GET /api/sessions/{id}/tool-calls', session('/tool-calls'), 200)
    assert.deepEqual(
      (calls.items as Json[]).map((each) => [each.name, each.caller, each.status, each.permission !== null]),
      [
        ['Bash', 'main', 'succeeded', true],
        ['read', 'direct', 'succeeded', false],
      ],
    )
    await expect('GET /api/sessions/{id}/tool-calls', session('/tool-calls?status=maybe'), 400)
    await expect('GET /api/sessions/{id}/tool-permissions', session('/tool-permissions'), 200)
    await expect('PUT /api/sessions/{id}/tool-permissions', session('/tool-permissions'), 200, {
      allowed_tools: ['Bash(echo:*)'],
      ask_permissions: false,
    })
    await expect('PUT /api/sessions/{id}/tool-permissions', session('/tool-permissions'), 400, {
      allowed_tools: ['not a rule'],
    })
    await expect(
      'GET /api/sessions/{id}/tool-permissions',
      '/api/sessions/no-such-session/tool-permissions',
      404,
    )

    // Slash commands: lists; one the gateway runs (no body needed) and one Claude Code runs (a turn).
    await expect('GET /api/commands', `/api/commands?workspace=${encodeURIComponent(home.workspace)}`, 200)
    await expect('GET /api/commands', '/api/commands?workspace=%2F', 400)
    await expect('GET /api/sessions/{id}/commands', session('/commands'), 200)
    const run = 'POST /api/sessions/{id}/commands/{name}'
    const help = await expect(run, session('/commands/help'), 200)
    assert.equal(help.source, 'gateway')
    assert.match(String(help.output), /^\/status — /m)
    await expect(run, session('/commands/status'), 200, {})
    await expect(run, session('/commands/help'), 400, { args: 'me' })
    const usage = await expect(run, session('/commands/usage'), 200)
    assert.equal(usage.command, 'usage')
    assert.equal(usage.status, 'success', JSON.stringify(usage))
    await expect(run, session('/commands/no-such-command'), 404)

    // Files: an upload (a form), a tree and a flat listing, a download.
    mkdirSync(join(home.workspace, 'docs'))
    writeFileSync(join(home.workspace, 'docs', 'guide.md'), '# Guide\n')
    symlinkSync('docs/guide.md', join(home.workspace, 'guide-link.md'))
    const form = new FormData()
    form.append('path', 'uploads')
    form.append('files', new Blob(['uploaded\n']), 'up.txt')
    const upload = await fetch(`${gateway.url}${session('/files/upload')}`, { method: 'POST', body: form })
    assert.equal(upload.status, 201)
    check(responseSchema(doc, 'POST /api/sessions/{id}/files/upload', 201), await upload.json(), 'upload')
    assert.equal(readFileSync(join(home.workspace, 'uploads', 'up.txt'), 'utf8'), 'uploaded\n')
    await expect('POST /api/sessions/{id}/files/upload', session('/files/upload'), 415, { files: [] })
    const listing = await expect('GET /api/sessions/{id}/files', session('/files?depth=2'), 200)
    const entries = listing.entries as Json[]
    assert.deepEqual(
      (entries.find((entry) => entry.name === 'docs')?.children as Json[] | undefined)?.map((e) => e.path),
      ['docs/guide.md'],
    )
    assert.equal(entries.find((entry) => entry.name === 'guide-link.md')?.target, 'docs/guide.md')
    await expect('GET /api/sessions/{id}/files', session('/files?depth=3&flat=true'), 200)
    await expect('GET /api/sessions/{id}/files', session('/files?path=..'), 403)
    const download = await fetch(`${gateway.url}${session('/files/content?path=docs/guide.md')}`)
    assert.equal(download.status, 200)
    assert.equal(await download.text(), '# Guide\n')
    const documented = doc.paths['/api/sessions/{id}/files/content']?.get?.responses['200'] as {
      headers: Record<string, unknown>
      content: Record<string, { schema: Json }>
    }
    assert.deepEqual(Object.values(documented.content)[0]?.schema, { type: 'string', format: 'binary' })
    for (const header of Object.keys(documented.headers)) assert.ok(download.headers.get(header), header)
    await expect('GET /api/sessions/{id}/files/content', session('/files/content?path=docs'), 400)
    await expect('GET /api/sessions/{id}/files/content', session('/files/content?path=missing.txt'), 404)

    // Project: /init (a turn of the session), and another session moved to another folder.
    home.model.script(text('CLAUDE.md can wait.'))
    const init = await expect('POST /api/sessions/{id}/project/init', session('/project/init'), 200)
    assert.deepEqual(
      [(init.turn as Json).text, (init.claude_md as Json).written],
      ['CLAUDE.md can wait.', false],
    )
    const other = await expect('POST /api/sessions', '/api/sessions', 201, {})
    const elsewhere = join(home.root, 'elsewhere')
    mkdirSync(elsewhere)
    const move = 'PUT /api/sessions/{id}/project/workspace'
    const moved = await expect(move, `/api/sessions/${other.id}/project/workspace`, 200, {
      workspace: elsewhere,
    })
    assert.equal(moved.workspace, realpathSync(elsewhere))
    await expect(move, `/api/sessions/${other.id}/project/workspace`, 400, { workspace: '/' })

    // Lifecycle: pause (which turns commands away), resume, fork, Claude Code's sessions and import.
    const paused = await expect('POST /api/sessions/{id}/pause', session('/pause'), 200)
    assert.equal(paused.state, 'paused')
    await expect(run, session('/commands/usage'), 409)
    const resumed = await expect('POST /api/sessions/{id}/resume', session('/resume'), 200)
    assert.equal(resumed.state, 'idle')
    await expect('POST /api/sessions/{id}/resume', '/api/sessions/no-such-session/resume', 404)
    const fork = 'POST /api/sessions/{id}/fork'
    const whole = await expect(fork, session('/fork'), 201)
    assert.equal(whole.title, 'everything (fork)')
    await expect(fork, session('/fork'), 201, { at_message: answered.turn_id, title: null })
    await expect(fork, session('/fork'), 404, { at_message: 'no-such-message' })
    await expect(fork, session('/fork'), 400, { at_messages: 'typo' })
    const workspace = encodeURIComponent(home.workspace)
    const listed = await expect(
      'GET /api/claude-sessions',
      `/api/claude-sessions?workspace=${workspace}`,
      200,
    )
    const ids = (listed.items as Json[]).map((item) => item.claude_session_id)
    assert.ok(ids.includes(resumed.claude_session_id), JSON.stringify(listed))
    await expect('GET /api/claude-sessions', '/api/claude-sessions', 400)
    const importing = (claudeSessionId: unknown) => ({
      claude_session_id: claudeSessionId,
      workspace: home.workspace,
    })
    await expect(
      'POST /api/sessions/import',
      '/api/sessions/import',
      409,
      importing(resumed.claude_session_id),
    )
    await expect('POST /api/sessions/import', '/api/sessions/import', 404, importing(randomUUID()))
    // A closed session's conversation is free to be continued by another.
    assert.equal((await call('DELETE', `/api/sessions/${whole.id}`)).status, 204)
    const imported = await expect(
      'POST /api/sessions/import',
      '/api/sessions/import',
      201,
      importing(whole.claude_session_id),
    )
    assert.equal(imported.claude_session_id, whole.claude_session_id)

    // Agents: an agent file created, read, changed and deleted; the session's main agent.
    const agent = { name: 'doc-writer', description: 'Writes docs', prompt: 'You write docs.', scope: 'user' }
    await expect('POST /api/agents', '/api/agents', 201, { ...agent, tools: ['Read'] })
    await expect('POST /api/agents', '/api/agents', 409, agent)
    const agents = await expect('GET /api/agents', `/api/agents?workspace=${workspace}`, 200)
    assert.ok((agents.agents as Json[]).some((each) => each.name === 'doc-writer'))
    const config = '/api/agents/doc-writer/config'
    await expect('GET /api/agents/{name}/config', config, 200)
    const changed = await expect('PUT /api/agents/{name}/config', config, 200, {
      model: 'sonnet',
      max_turns: 3,
    })
    assert.deepEqual([changed.model, changed.max_turns, changed.tools], ['sonnet', 3, ['Read']])
    // Claude Code does not load user agents here (no setting sources): the session cannot use it.
    await expect('PUT /api/sessions/{id}/agent', session('/agent'), 409, { agent: 'doc-writer' })
    await expect('PUT /api/sessions/{id}/agent', session('/agent'), 200, { agent: null })
    assert.equal((await call('DELETE', '/api/agents/doc-writer?scope=user')).status, 204)
    assert.equal(doc.paths['/api/agents/{name}']?.delete?.responses['204']?.content, undefined)
    await expect('GET /api/agents/{name}/config', config, 404)
  })
})

describe('OpenAPI document with API keys configured', () => {
  let home: TestHome
  let gateway: Gateway

  before(async () => {
    home = await testHome()
    gateway = await testGateway(home, testConfig(home, { server: { apiKeys: ['sk-doc-1'] } }))
  })
  after(async () => {
    await gateway?.close()
    await home?.close()
  })

  test('requires the key, as the rest of /api does, and says so in the document', async () => {
    const url = `${gateway.url}/api/openapi.json`
    const missing = await fetch(url)
    assert.equal(missing.status, 401)
    assert.deepEqual(((await missing.json()) as { error: { code: string } }).error.code, 'unauthorized')
    const wrong = await fetch(url, { headers: { authorization: 'Bearer sk-wrong' } })
    assert.equal(wrong.status, 401)
    await wrong.body?.cancel()

    const viaHeader = await fetch(url, { headers: { 'x-api-key': 'sk-doc-1' } })
    assert.equal(viaHeader.status, 200)
    await viaHeader.body?.cancel()
    const response = await fetch(url, { headers: { authorization: 'Bearer sk-doc-1' } })
    assert.equal(response.status, 200)
    const doc = (await response.json()) as Document
    // The key is required: no empty alternative.
    assert.deepEqual(doc.security, [{ bearerAuth: [] }, { apiKeyHeader: [] }])
    // Health stays open, and the document says so.
    assert.deepEqual(doc.paths['/v1/health']?.get?.security, [])
    assert.equal((await fetch(`${gateway.url}/v1/health`)).status, 200)
  })
})
