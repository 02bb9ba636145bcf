/**
 * GET /api/openapi.json: an OpenAPI 3 document of every route Fastify serves under /api and /v1 (no more, no
 * less), with the request schemas the routes validate, behind the API key like the rest of /api; and the
 * response shapes it documents are what the routes really answer.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Ajv } from 'ajv'
import type { FastifyInstance } from 'fastify'
import type { Gateway } from '../../src/gateway.js'
import { VERSION } from '../../src/version.js'
import { type TestHome, testConfig, testGateway, testHome } from '../support/harness.js'
import { text, toolCall } from '../support/scripted-anthropic.js'

type Json = Record<string, unknown>
interface Operation {
  tags?: string[]
  operationId?: string
  requestBody?: { content: Record<string, { schema: Json }> }
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

/**
 * Every route of the app as `METHOD /path/{param}`, read from `printRoutes` (a tree whose lines are the
 * path segments added to their parent's). HEAD routes are left out: Fastify adds one to every GET.
 */
function routesOf(app: FastifyInstance): string[] {
  const routes: string[] = []
  const stack: string[] = []
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([│ ]*)[├└]── (\S+)(?: \(([^)]*)\))?/.exec(line)
    if (!match) continue
    const depth = match[1]!.length / 4
    stack.length = depth
    stack.push(match[2]!)
    const path = stack.join('').replace(/:(\w+)/g, '{$1}')
    for (const method of (match[3] ?? '').split(',').map((m) => m.trim())) {
      if (method && method !== 'HEAD') routes.push(`${method} ${path}`)
    }
  }
  return routes.sort()
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

  before(async () => {
    home = await testHome()
    gateway = await testGateway(home, testConfig(home, { native: { workspaceRoots: [home.root] } }))
    const response = await fetch(`${gateway.url}/api/openapi.json`)
    assert.equal(response.status, 200)
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/)
    doc = (await response.json()) as Document
  })
  after(async () => {
    await gateway?.close()
    await home?.close()
  })

  test('is an OpenAPI 3 document: version, info, tags, security schemes, the native error shape', () => {
    assert.match(doc.openapi, /^3\.\d+\.\d+$/)
    assert.equal(doc.info.title, 'Claude Code Gateway')
    assert.equal(doc.info.version, VERSION)
    assert.equal(typeof doc.paths, 'object')
    assert.deepEqual(
      doc.tags.map((tag) => tag.name),
      ['sessions', 'tools', 'openai', 'health'],
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

  test('documents every /api and /v1 route Fastify serves, and no other', () => {
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
        assert.ok(Object.keys(operation.responses).length > 0, `${name} has responses`)
        if (operation.operationId) {
          assert.ok(!ids.has(operation.operationId), `${name}: operationId is unique`)
          ids.add(operation.operationId)
        }
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
  })

  test('the documented answers are what the routes answer', async () => {
    const check = validatorFor(doc)
    const call = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${gateway.url}${path}`, {
        method,
        ...(body === undefined
          ? {}
          : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      })
      return { status: response.status, body: response.status === 204 ? null : await response.json() }
    }
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
      return answer.body as Json
    }

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
    const check = validatorFor(doc)
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
