/**
 * Users do not see each other (issue 17): a sweep over every route the gateway serves, its expectations
 * computed from the route's path and method, so that a new route is covered without a change here. Alice
 * (a user) has a session with a turn, a tool call and a file; as Bob (another user) every route naming it
 * answers as for a missing session and no answer mentions it; as Vera (a viewer) every read of it succeeds
 * and every change anywhere is refused; an admin sees it with its owner. Then the streams and the OpenAI
 * API: /api/events, a follow-up naming Alice's session, and Alice's history replayed by Bob.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { join } from 'node:path'
import { before, describe, test } from 'node:test'
import WebSocket from 'ws'
import { type GatewayFixture, withGateway } from '../support/harness.js'
import type { Json } from '../support/native-client.js'
import { routesOf } from '../support/routes.js'
import { text, toolCall } from '../support/scripted-anthropic.js'
import { readBody } from '../support/sse.js'

const KEYS = {
  alice: 'alice-key-0000000000000001',
  bob: 'bob-key-00000000000000000002',
  vera: 'vera-key-0000000000000000003',
  root: 'root-key-0000000000000000004',
} as const
type Who = keyof typeof KEYS

/** The routes only admins and viewers may call: figures about every user's sessions. */
const STAFF = [/^GET \/api\/metrics(\/|$)/, /^GET \/api\/agent-stats$/]

/**
 * Documented exceptions: routes about people, where a user may reach their own user, keys, usage and audit
 * entries (docs/users.md). Another user's is refused (403) or, for a user's record, as missing (404); what
 * counts here is that no answer tells Bob about Alice's session.
 */
const ABOUT_PEOPLE = /^\w+ \/api\/(users|audit)(\/|$)/

/**
 * Query parameters a read of Alice's session needs to succeed (documented as required by the route), from
 * her workspace: what Vera sends with it. Every other route is called with none.
 */
const neededQuery = (route: string, workspace: string): string =>
  ({
    'GET /api/sessions/{id}/files/content': `?path=notes.txt`,
    'GET /api/sessions/{id}/changes/file': `?path=${encodeURIComponent(join(workspace, 'notes.txt'))}`,
  })[route] ?? ''

interface Answer {
  status: number
  /** The body as text (an event stream: what came in its first half second). */
  raw: string
  body: Json | null
}

interface Operation {
  requestBody?: { content: Record<string, { schema: Json }> }
}
interface Document {
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, Json> }
}

describe('isolation between users', () => {
  const g: GatewayFixture = withGateway((home) => ({
    users: {
      list: [
        { name: 'alice', role: 'user' as const, keys: [KEYS.alice] },
        { name: 'bob', role: 'user' as const, keys: [KEYS.bob] },
        { name: 'vera', role: 'viewer' as const, keys: [KEYS.vera] },
        { name: 'root', role: 'admin' as const, keys: [KEYS.root] },
      ],
      workspacesDir: join(home.root, 'workspaces'),
    },
    pool: { warmSpares: 0 },
  }))

  let doc: Document
  let alice: Json
  let aliceId: string

  /** A request as `who`; an event stream is read for half a second, then let go. */
  async function call(who: Who, method: string, path: string, body?: unknown): Promise<Answer> {
    const abort = new AbortController()
    const form = body instanceof FormData
    const response = await fetch(`${g.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${KEYS[who]}`,
        ...(body === undefined || form ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : form ? body : JSON.stringify(body),
      signal: abort.signal,
    })
    const type = response.headers.get('content-type') ?? ''
    let raw = ''
    if (type.startsWith('text/event-stream') && response.body) {
      const stream = readBody(response.body)
      // Let go after half a second: a stream does not end by itself.
      const timer = setTimeout(() => abort.abort(), 500)
      await stream.ended
      clearTimeout(timer)
      raw = stream.received()
    } else raw = await response.text()
    const body_ = type.startsWith('application/json') && raw ? (JSON.parse(raw) as Json) : null
    return { status: response.status, raw, body: body_ }
  }

  /** A WebSocket as `who`: how it closed within a second (null: still open), and the frames it got. */
  async function socket(
    who: Who,
    path: string,
    send?: object,
  ): Promise<{ code: number | null; frames: Json[] }> {
    const ws = new WebSocket(`${g.url.replace('http', 'ws')}${path}`, {
      headers: { authorization: `Bearer ${KEYS[who]}` },
    })
    const frames: Json[] = []
    let code: number | null = null
    ws.on('message', (data) => frames.push(JSON.parse(data.toString()) as Json))
    ws.on('close', (closed) => {
      code = closed
    })
    ws.on('error', () => {})
    if (send) {
      await once(ws, 'open')
      ws.send(JSON.stringify(send))
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    ws.terminate()
    return { code, frames }
  }

  before(async () => {
    const opened = await call('root', 'GET', '/api/openapi.json')
    assert.equal(opened.status, 200, opened.raw)
    doc = opened.body as unknown as Document
    const created = await call('alice', 'POST', '/api/sessions', { title: 'alice private' })
    assert.equal(created.status, 201, created.raw)
    alice = created.body!
    aliceId = alice.id as string
    g.home.model.script(toolCall('Bash', { command: 'echo hi', description: 'say hi' }), text('done'))
    const turn = await call('alice', 'POST', `/api/sessions/${aliceId}/messages`, { content: 'work' })
    assert.equal(turn.status, 200, turn.raw)
    const wrote = await call('alice', 'POST', `/api/sessions/${aliceId}/tools/write`, {
      file_path: 'notes.txt',
      content: 'alpha\n',
    })
    assert.equal(wrote.status, 200, wrote.raw)
  })

  /** Every route served under /api and /v1, as the document lists them (checked to be the same). */
  function routes(): string[] {
    const served = routesOf(g.gateway.app).filter((route) => / \/(api|v1)\//.test(route))
    const documented = Object.entries(doc.paths)
      .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
      .sort()
    assert.deepEqual(documented, served)
    return served
  }

  /** The path of `route` with its parameters filled: `id` (of a session route) is `sessionId`. */
  function pathOf(route: string, sessionId: string): string {
    const [, path] = route.split(' ') as [string, string]
    return path.replace(/\{(\w+)\}/g, (_, name: string) => {
      if (name === 'id') return path.startsWith('/api/sessions/') ? sessionId : 'claude-code'
      if (name === 'name')
        return path.includes('/tools/') ? 'read' : path.includes('/commands/') ? 'help' : 'alice'
      return 'x'
    })
  }

  /** A body the route's schema accepts (its required fields, each the simplest value), or a form. */
  function bodyOf(route: string): unknown {
    const [method, path] = route.split(' ') as [string, string]
    const content = doc.paths[path]?.[method.toLowerCase()]?.requestBody?.content
    if (!content) return method === 'GET' || method === 'DELETE' ? undefined : {}
    if (content['multipart/form-data']) {
      const form = new FormData()
      form.append('file', new Blob(['x']), 'upload.txt')
      return form
    }
    const schema = content['application/json']?.schema
    return schema ? example(schema) : {}
  }

  function example(schema: Json): unknown {
    const ref = schema.$ref as string | undefined
    if (ref) return example(doc.components.schemas[ref.split('/').at(-1)!]!)
    if ('const' in schema) return schema.const
    if (Array.isArray(schema.enum)) return schema.enum[0]
    if (schema.default !== undefined) return schema.default
    const union = (schema.oneOf ?? schema.anyOf) as Json[] | undefined
    if (union) return example(union[0]!)
    if (schema.allOf) return Object.assign({}, ...(schema.allOf as Json[]).map(example))
    const type = [schema.type].flat().find((each) => each !== 'null')
    const properties = (schema.properties ?? {}) as Record<string, Json>
    switch (type) {
      case 'object': {
        const keys = (schema.required ?? []) as string[]
        // A body that must say something (`minProperties`) says the first thing it may.
        if (keys.length < ((schema.minProperties as number | undefined) ?? 0))
          keys.push(...Object.keys(properties).slice(0, schema.minProperties as number))
        return Object.fromEntries(keys.map((key) => [key, example(properties[key] ?? {})]))
      }
      case 'array':
        return schema.minItems ? [example((schema.items ?? {}) as Json)] : []
      case 'integer':
      case 'number':
        return (schema.minimum as number | undefined) ?? 1
      case 'boolean':
        return false
      case 'string':
        return 'x'.repeat(Math.max(1, (schema.minLength as number | undefined) ?? 1))
      default:
        return {}
    }
  }

  /** The error of an answer, in either API's shape (`{error: {code, message}}`). */
  const errorOf = (answer: Answer): Json => (answer.body?.error ?? {}) as Json

  const isSessionRoute = (route: string) => / \/api\/sessions\/\{id\}/.test(route)
  const isSocket = (answer: Answer) => answer.status === 426

  test('as another user, every route naming the session answers as for a missing one; none mentions it', async () => {
    const missing = '00000000-0000-4000-8000-000000000000'
    // By path: the audit trail is read before Bob names Alice's session (it shows him his own requests,
    // with the ids he sent), and the check that he learns nothing of hers means something.
    const byPath = (route: string) => route.split(' ').reverse().join(' ')
    for (const route of routes().sort((a, b) => byPath(a).localeCompare(byPath(b)))) {
      const [method] = route.split(' ') as [string]
      const query = neededQuery(route, String(alice.workspace))
      const answer = await call('bob', method, `${pathOf(route, aliceId)}${query}`, bodyOf(route))
      if (isSessionRoute(route)) {
        const control = await call('bob', method, `${pathOf(route, missing)}${query}`, bodyOf(route))
        if (isSocket(answer)) {
          assert.equal(isSocket(control), true, route)
          const [hidden, absent] = [
            await socket('bob', pathOf(route, aliceId)),
            await socket('bob', pathOf(route, missing)),
          ]
          assert.equal(hidden.code, 4404, `${route}: closed ${hidden.code}`)
          assert.equal(absent.code, 4404, route)
          continue
        }
        assert.equal(answer.status, 404, `${route}: ${answer.raw}`)
        const error = errorOf(answer)
        assert.equal(error.code, 'not_found', route)
        assert.equal(error.message, `Session ${aliceId} does not exist`, route)
        // Word for word what a session that does not exist gets.
        assert.equal(control.status, 404, `${route} (missing): ${control.raw}`)
        assert.equal(answer.raw.replaceAll(aliceId, missing), control.raw, route)
        continue
      }
      if (STAFF.some((pattern) => pattern.test(route))) {
        assert.equal(answer.status, 403, `${route}: ${answer.raw}`)
        assert.equal(errorOf(answer).code, 'forbidden', route)
      } else if (ABOUT_PEOPLE.test(route) && /\{name\}/.test(route))
        assert.ok([403, 404].includes(answer.status), `${route}: ${answer.raw}`)
      else assert.ok(answer.status < 500, `${route}: ${answer.raw}`)
      assert.ok(!answer.raw.includes(aliceId), `${route} mentions Alice's session: ${answer.raw}`)
      assert.ok(!answer.raw.includes('alice private'), `${route} shows Alice's title: ${answer.raw}`)
    }
  })

  test('HEAD, which Fastify answers with the GET handler, is refused to another user as GET is', async () => {
    for (const route of routes()) {
      const [method] = route.split(' ') as [string]
      if (method !== 'GET') continue
      const head = await call(
        'bob',
        'HEAD',
        `${pathOf(route, aliceId)}${neededQuery(route, String(alice.workspace))}`,
      )
      if (isSocket(head)) continue
      if (isSessionRoute(route)) assert.equal(head.status, 404, `HEAD ${route}`)
      else if (STAFF.some((pattern) => pattern.test(route))) assert.equal(head.status, 403, `HEAD ${route}`)
    }
  })

  test("a viewer reads the session and every list; every change is refused, on the session's socket too", async () => {
    for (const route of routes()) {
      const [method] = route.split(' ') as [string]
      if (method !== 'GET') {
        const answer = await call('vera', method, pathOf(route, aliceId), bodyOf(route))
        assert.equal(answer.status, 403, `${route}: ${answer.raw}`)
        // The OpenAI API in its own shape: `code` beside `type`.
        assert.equal(errorOf(answer).code, 'forbidden', `${route}: ${answer.raw}`)
        continue
      }
      const answer = await call(
        'vera',
        method,
        `${pathOf(route, aliceId)}${neededQuery(route, String(alice.workspace))}`,
      )
      if (isSocket(answer)) {
        const opened = await socket('vera', pathOf(route, aliceId))
        assert.equal(opened.code, null, `${route}: closed ${opened.code}`)
        continue
      }
      // A viewer reads what an admin reads: Alice's session succeeds, and nothing is refused to them.
      if (isSessionRoute(route))
        assert.ok(answer.status >= 200 && answer.status < 300, `${route}: ${answer.status} ${answer.raw}`)
      else assert.ok(answer.status !== 403 && answer.status < 500, `${route}: ${answer.raw}`)
    }
    const refused = await socket('vera', `/api/sessions/${aliceId}/stream`, {
      type: 'interrupt',
      request_id: 'r',
    })
    assert.deepEqual(
      refused.frames.filter((frame) => frame.type === 'error').map((frame) => [frame.code, frame.request_id]),
      [['forbidden', 'r']],
    )
  })

  test('lists: a user sees their own sessions only; admins and viewers see everyone’s with the owner', async () => {
    const bobs = await call('bob', 'POST', '/api/sessions', { title: 'bob own' })
    assert.equal(bobs.status, 201, bobs.raw)
    assert.equal(bobs.body!.owner, 'bob')
    assert.match(String(bobs.body!.workspace), /workspaces\/bob$/)
    const listed = (who: Who) =>
      call(who, 'GET', '/api/sessions?limit=500').then((answer) =>
        (answer.body!.items as Json[]).map((item) => [item.id, item.owner]),
      )
    const own = await listed('bob')
    assert.ok(own.some(([id]) => id === bobs.body!.id))
    assert.deepEqual(
      own.filter(([, owner]) => owner !== 'bob'),
      [],
    )
    for (const who of ['root', 'vera'] as const) {
      const all = await listed(who)
      assert.ok(
        all.some(([id, owner]) => id === aliceId && owner === 'alice'),
        `${who}: ${JSON.stringify(all)}`,
      )
      assert.ok(
        all.some(([id]) => id === bobs.body!.id),
        who,
      )
    }
    const read = await call('root', 'GET', `/api/sessions/${aliceId}`)
    assert.equal(read.body!.owner, 'alice')
    const calls = await call('root', 'GET', '/api/tool-calls?limit=500')
    assert.ok(
      (calls.body!.items as Json[]).some((item) => item.session_id === aliceId),
      calls.raw,
    )
    const bobsCalls = await call('bob', 'GET', '/api/tool-calls?limit=500')
    assert.deepEqual(bobsCalls.body!.items, [])
    // Alice's own folder: Bob may not name it.
    const moved = await call('bob', 'POST', '/api/sessions', { workspace: String(alice.workspace) })
    assert.equal(moved.status, 400, moved.raw)
  })

  test("scopes: a user's project is under their own folder; the shared user scope is the admins' to change", async () => {
    const bobs = await call('bob', 'POST', '/api/sessions', {})
    const home = String(bobs.body!.workspace)
    const agent = { name: 'helper', description: 'Helps', prompt: 'Help.' }
    const user = await call('bob', 'POST', '/api/agents', { ...agent, scope: 'user' })
    assert.equal(user.status, 403, user.raw)
    assert.equal(errorOf(user).code, 'forbidden')
    const project = await call('bob', 'POST', '/api/agents', { ...agent, scope: 'project', workspace: home })
    assert.equal(project.status, 201, project.raw)
    const theirs = await call('bob', 'POST', '/api/agents', {
      ...agent,
      scope: 'project',
      workspace: String(alice.workspace),
    })
    assert.equal(theirs.status, 400, theirs.raw)
    const admin = await call('root', 'POST', '/api/agents', { ...agent, scope: 'user' })
    assert.equal(admin.status, 201, admin.raw)
    const memory = (scope: string) =>
      call('bob', 'POST', `/api/sessions/${bobs.body!.id}/memory`, { scope, content: 'Be brief' })
    assert.equal((await memory('user')).status, 403)
    assert.equal((await memory('project')).status, 200)
    // MCP servers: only approved ones, as the user's policy allows (src/users/policy.ts).
    const mcp = await call('bob', 'POST', '/api/sessions', { mcp_servers: ['unknown'] })
    assert.equal(mcp.status, 400, mcp.raw)
    assert.match(String(errorOf(mcp).message), /unknown/)
  })

  test('/api/events: a user gets their own sessions’ events, never another’s, even by naming it', async () => {
    const bobs = await call('bob', 'POST', '/api/sessions', { title: 'bob events' })
    const bobId = bobs.body!.id as string
    const all = await call('bob', 'GET', '/api/events?after=0')
    assert.equal(all.status, 200)
    assert.ok(all.raw.includes(bobId), 'Bob sees his own session.created')
    assert.ok(!all.raw.includes(aliceId), all.raw)
    const named = await call('bob', 'GET', `/api/events?after=0&sessions=${aliceId}`)
    assert.equal(named.status, 200)
    assert.ok(!named.raw.includes(aliceId), named.raw)
    // The same stream as a viewer: Alice's events are there to be kept from Bob.
    const viewed = await call('vera', 'GET', `/api/events?after=0&sessions=${aliceId}`)
    assert.ok(viewed.raw.includes(aliceId) && viewed.raw.includes('tool.call'), viewed.raw)
  })

  test('/v1: another user’s session_id is a missing one; their history does not continue their session', async () => {
    const chat = (who: Who, body: Json) =>
      fetch(`${g.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEYS[who]}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-code', ...body }),
      })
    const named = await chat('bob', { messages: [{ role: 'user', content: 'hi' }], session_id: aliceId })
    assert.equal(named.status, 404)
    const error = ((await named.json()) as { error: Json }).error
    assert.equal(error.code, 'session_not_found')
    assert.equal(error.message, `Session '${aliceId}' does not exist.`)

    g.home.model.script(text('first answer'))
    const first = await chat('alice', { messages: [{ role: 'user', content: 'hello' }] })
    assert.equal(first.status, 200, await first.clone().text())
    const alicesChat = first.headers.get('x-session-id')
    const history = [
      { role: 'user', content: 'hello' },
      { role: 'assistant', content: 'first answer' },
      { role: 'user', content: 'and then?' },
    ]
    g.home.model.script(text('for bob'))
    const replayed = await chat('bob', { messages: history })
    assert.equal(replayed.status, 200, await replayed.clone().text())
    assert.notEqual(replayed.headers.get('x-session-id'), alicesChat)
    const bobsChat = await call('root', 'GET', `/api/sessions/${replayed.headers.get('x-session-id')}`)
    assert.equal(bobsChat.body!.owner, 'bob')
    // The same history from Alice continues hers: the check above could have failed.
    g.home.model.script(text('for alice'))
    const continued = await chat('alice', { messages: history })
    assert.equal(continued.headers.get('x-session-id'), alicesChat)
  })
})
