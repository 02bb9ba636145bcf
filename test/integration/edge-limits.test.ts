/**
 * Limits at the edge: what a request may be before anything in the gateway holds it. JSON nested deeper
 * than `server.maxJsonDepth` (bodies and WebSocket messages), numbers that are not finite integers in range,
 * inline data that is not base64, a `tool_choice` naming no tool, requests Node's HTTP parser refuses; and
 * a /v1 500 logged with the error behind it.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect } from 'node:net'
import { Writable } from 'node:stream'
import { after, before, beforeEach, describe, test } from 'node:test'
import pino from 'pino'
import WebSocket from 'ws'
import { type Gateway, startGateway } from '../../src/gateway.js'
import { REQUEST_ID } from '../../src/observability/request-log.js'
import { type TestHome, testConfig, testHome, withOwnGateway } from '../support/harness.js'
import { expectError, type Json, nativeClient } from '../support/native-client.js'
import { postChatCompletion } from '../support/openai.js'
import { text } from '../support/scripted-anthropic.js'

/** `{"a":{"a":…1…}}`, `depth` objects deep, as text: `JSON.stringify` cannot make it. */
const nestedObjects = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`

/** An OpenAI error body's `error`, after checking the status. */
async function openAIError(response: Response, status: number): Promise<Json> {
  const body = (await response.json()) as Json
  assert.equal(response.status, status, JSON.stringify(body))
  const error = body.error as Json
  assert.deepEqual(Object.keys(error).sort(), ['code', 'message', 'param', 'type'])
  return error
}

/** Writes `head` on a socket of its own and reads the answer until the server closes it. */
function rawExchange(url: string, head: string): Promise<{ status: number; headers: string; body: Json }> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () =>
      socket.end(Buffer.from(head, 'latin1')),
    )
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('close', () => {
      const answer = Buffer.concat(chunks).toString('utf8')
      const split = answer.indexOf('\r\n\r\n')
      const headers = answer.slice(0, split)
      resolve({ status: Number(headers.split(' ')[1]), headers, body: JSON.parse(answer.slice(split + 4)) })
    })
  })
}

describe('limits at the edge', () => {
  let home: TestHome
  let gateway: Gateway
  /** What the gateway logged at error level, as parsed lines. */
  const errors: Json[] = []

  before(async () => {
    home = await testHome()
    const log = pino(
      { level: 'error' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          for (const line of chunk.toString().split('\n').filter(Boolean)) errors.push(JSON.parse(line))
          done()
        },
      }),
    )
    gateway = await startGateway({
      config: testConfig(home, {
        pool: { warmSpares: 0 },
        native: { workspaceRoots: [home.root] },
      }),
      log,
      env: home.env,
    })
  })
  beforeEach(() => home.model.clearScript())
  after(async () => {
    await gateway.close()
    await home.close()
  })

  const { call } = nativeClient(() => gateway)
  const post = (path: string, body: string) =>
    fetch(`${gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  const newSession = async () => (await call('POST', '/api/sessions', {})).body.id as string

  test('a body nested deeper than server.maxJsonDepth never gets in; the session and the bus stay usable', async () => {
    const id = await newSession()
    const turnsBefore = home.model.turns.length
    // Used to reach the event bus and fail every later flush of every session (JSON.stringify overflowed).
    const deep = await post(
      `/api/sessions/${id}/messages`,
      `{"content":[{"type":"text","text":"hi","extra":${nestedObjects(10_000)}}]}`,
    )
    const deepBody = (await deep.json()) as Json
    const error = expectError({ status: deep.status, body: deepBody }, 400, 'json_too_deep')
    assert.match(error.message as string, /128 levels \(server\.maxJsonDepth\)/)
    assert.equal(home.model.turns.length, turnsBefore)

    // The limit counts levels: 1 + 127 is parsed (and then refused by the schema), 1 + 128 is not.
    const atLimit = await post('/api/sessions', `{"x":${nestedObjects(127)}}`)
    expectError(
      { status: atLimit.status, body: (await atLimit.json()) as Json },
      400,
      'validation_error',
      'body.x',
    )
    const overLimit = await post('/api/sessions', `{"x":${nestedObjects(128)}}`)
    expectError({ status: overLimit.status, body: (await overLimit.json()) as Json }, 400, 'json_too_deep')

    home.model.script(text('still here'))
    const answered = await call('POST', `/api/sessions/${id}/messages`, { content: 'hello' })
    assert.equal(answered.status, 200, answered.raw + JSON.stringify(errors))
    assert.equal((await call('GET', `/api/sessions/${id}/history`)).status, 200)
    assert.equal((await call('GET', `/api/sessions/${await newSession()}/history`)).status, 200)
  })

  test('on /v1 the same limit answers in OpenAI’s shape (deep tool parameters used to be a 500)', async () => {
    const response = await postChatCompletion(
      gateway,
      `{"model":"claude-code","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":${nestedObjects(5_000)}}}]}`,
    )
    const error = await openAIError(response, 400)
    assert.equal(error.type, 'invalid_request_error')
    assert.equal(error.code, 'json_too_deep')
    assert.match(error.message as string, /server\.maxJsonDepth/)
  })

  test('WebSocket messages are held to the same limit', async () => {
    const id = await newSession()
    const socket = new WebSocket(`${gateway.url.replace('http', 'ws')}/api/sessions/${id}/stream`)
    await once(socket, 'open')
    const frame = once(socket, 'message')
    socket.send(`{"type":"message","content":[{"type":"text","text":"hi","x":${nestedObjects(10_000)}}]}`)
    const [data] = (await frame) as [Buffer]
    assert.deepEqual(JSON.parse(data.toString()), {
      type: 'error',
      code: 'json_too_deep',
      message: 'The JSON is nested deeper than 128 levels (server.maxJsonDepth)',
    })
    socket.close()
  })

  test('the depth limit is configurable', async () => {
    await withOwnGateway({ server: { maxJsonDepth: 3 } }, async (own) => {
      const create = (body: string) =>
        fetch(`${own.url}/api/sessions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        })
      assert.equal((await create('{"title":"three","x":[[1]]}')).status, 400)
      const tooDeep = await create('{"title":"four","x":[[[1]]]}')
      const error = expectError(
        { status: tooDeep.status, body: (await tooDeep.json()) as Json },
        400,
        'json_too_deep',
      )
      assert.match(error.message as string, /3 levels/)
      assert.equal((await create('{"title":"ok"}')).status, 201)
    })
  })

  test('numbers that are not finite integers in range are refused with 400, naming the field', async () => {
    const id = await newSession()
    const queries: [string, string][] = [
      ['/api/sessions', 'limit'],
      ['/api/sessions', 'offset'],
      [`/api/sessions/${id}/history`, 'after'],
      [`/api/sessions/${id}/history`, 'limit'],
      [`/api/sessions/${id}/tool-calls`, 'limit'],
      [`/api/sessions/${id}/tool-calls`, 'offset'],
      [`/api/sessions/${id}/files`, 'depth'],
      [`/api/claude-sessions?workspace=${encodeURIComponent(home.workspace)}`, 'offset'],
      // Used to open a stream that never delivered anything.
      [`/api/sessions/${id}/events`, 'after'],
    ]
    for (const [path, name] of queries) {
      for (const value of ['1e400', 'Infinity', '-Infinity', '1e20']) {
        const url = `${path}${path.includes('?') ? '&' : '?'}${name}=${value}`
        const answer = await call('GET', url, undefined, {})
        expectError(answer, 400, 'validation_error', `querystring.${name}`)
      }
    }
    for (const value of ['1e400', '-1', 'abc', '1.5', '99999999999999999']) {
      const answer = await call('GET', `/api/sessions/${id}/events`, undefined, { 'last-event-id': value })
      expectError(answer, 400, 'validation_error', 'headers.last-event-id')
    }
    // A well-formed Last-Event-ID still opens the stream.
    const abort = new AbortController()
    const stream = await fetch(`${gateway.url}/api/sessions/${id}/events`, {
      headers: { 'last-event-id': '0' },
      signal: abort.signal,
    })
    assert.equal(stream.status, 200)
    abort.abort()

    for (const [param, value] of [
      ['max_tokens', 1e300],
      ['seed', -1e300],
      ['max_turns', 1e300],
    ] as const) {
      const response = await postChatCompletion(gateway, {
        model: 'claude-code',
        messages: [{ role: 'user', content: 'hi' }],
        [param]: value,
      })
      assert.equal((await openAIError(response, 400)).param, param)
    }
    // JSON's 1e400 is Infinity once parsed: a body's integers must be finite too.
    const created = await post('/api/sessions', '{"max_turns":1e400}')
    expectError(
      { status: created.status, body: (await created.json()) as Json },
      400,
      'validation_error',
      'body.max_turns',
    )
  })

  test('inline images and PDFs that are not base64 are refused before any model call', async () => {
    const turnsBefore = home.model.turns.length
    for (const url of ['data:image/png;base64,', 'data:image/png;base64,not base64!']) {
      const response = await postChatCompletion(gateway, {
        model: 'claude-code',
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }] }],
      })
      assert.equal((await openAIError(response, 400)).param, 'messages[0].content[0].image_url.url')
    }
    const pdf = await postChatCompletion(gateway, {
      model: 'claude-code',
      messages: [
        {
          role: 'user',
          content: [{ type: 'file', file: { file_data: 'data:application/pdf;base64,%PDF' } }],
        },
      ],
    })
    assert.equal((await openAIError(pdf, 400)).param, 'messages[0].content[0].file.file_data')

    const id = await newSession()
    for (const data of ['', '%PDF-1.4']) {
      const answer = await call('POST', `/api/sessions/${id}/messages`, {
        content: [
          { type: 'text', text: 'look' },
          { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data } },
        ],
      })
      expectError(answer, 400, 'validation_error')
    }
    assert.equal(home.model.turns.length, turnsBefore)
  })

  test('tool_choice naming a function that is not in tools is refused', async () => {
    const response = await postChatCompletion(gateway, {
      model: 'claude-code',
      messages: [{ role: 'user', content: 'hi' }],
      tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }],
      tool_choice: { type: 'function', function: { name: 'missing' } },
    })
    const error = await openAIError(response, 400)
    assert.equal(error.type, 'invalid_request_error')
    assert.equal(error.param, 'tool_choice')
  })

  test('requests Node’s HTTP parser refuses are answered in the API’s shape, with a request id', async () => {
    // A CR LF inside X-Request-Id: the rest of its value is a header line without a name.
    const openai = await rawExchange(
      gateway.url,
      'GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: abc\r\ninjected\r\n\r\n',
    )
    assert.equal(openai.status, 400)
    const error = openai.body.error as Json
    assert.deepEqual(Object.keys(error).sort(), ['code', 'message', 'param', 'type'])
    assert.equal(error.type, 'invalid_request_error')
    const id = /^x-request-id: (.*)$/im.exec(openai.headers)?.[1]
    assert.ok(id && REQUEST_ID.test(id), openai.headers)
    assert.match(openai.headers, /^content-type: application\/json/im)

    // A DEL byte in Authorization, on the native API.
    const native = await rawExchange(
      gateway.url,
      'GET /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ab\x7fcd\r\n\r\n',
    )
    expectError(native, 400, 'bad_request')
    assert.match(native.headers, /^x-request-id: \S+$/im)
    assert.equal((await call('GET', '/api/sessions')).status, 200)
  })

  test('an unexpected failure on /v1 is a 500 logged with the original error', async (t) => {
    const { engine } = gateway.context
    t.mock.method(engine, 'send', async () => {
      throw new Error('injected failure behind the 500')
    })
    const response = await postChatCompletion(gateway, {
      model: 'claude-code',
      messages: [{ role: 'user', content: 'hi' }],
    })
    const error = await openAIError(response, 500)
    assert.equal(error.type, 'server_error')
    assert.doesNotMatch(error.message as string, /injected/)
    const logged = errors.find(
      (line) => (line.err as Json | undefined)?.message === 'injected failure behind the 500',
    )
    assert.ok(logged, JSON.stringify(errors))
    assert.match((logged.err as Json).stack as string, /injected failure behind the 500\n\s+at /)
    assert.equal(logged.msg, 'request failed')
  })
  test('requests that fit no route of their own answer at once, in the native shape (found by the fuzz suite)', async () => {
    const id = await newSession()
    // HEAD of the event stream: Node drops what a HEAD response writes, so the stream never answered.
    const head = await fetch(`${gateway.url}/api/sessions/${id}/events`, {
      method: 'HEAD',
      signal: AbortSignal.timeout(5_000),
    })
    assert.equal(head.status, 200)
    assert.match(head.headers.get('content-type') ?? '', /^text\/event-stream/)

    // A WebSocket route without the upgrade: 404 with no body, as if it did not exist.
    for (const path of ['stream', 'tools/stream']) {
      const plain = await call('GET', `/api/sessions/${id}/${path}?after=0`)
      expectError(plain, 426, 'upgrade_required')
      assert.equal(plain.headers.get('upgrade'), 'websocket')
    }

    // A WebSocket upgrade whose URL cannot be decoded is refused before any hook: its connection used to
    // stay open, and the gateway could not close.
    const upgrade = await Promise.race([
      rawExchange(
        gateway.url,
        'GET /api/sessions/%/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      ),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('the refused upgrade kept its connection open')), 5_000),
      ),
    ])
    assert.equal(upgrade.status, 400)
    assert.equal((upgrade.body.error as Json).code, 'bad_request')

    // A multipart body cut off inside a file: the form is malformed (400), not a gateway failure (500).
    const truncated = await fetch(`${gateway.url}/api/sessions/${id}/files/upload`, {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=b' },
      body: '--b\r\nContent-Disposition: form-data; name="files"; filename="a"\r\n\r\nabc',
    })
    expectError({ status: truncated.status, body: (await truncated.json()) as Json }, 400, 'bad_request')
  })
})
