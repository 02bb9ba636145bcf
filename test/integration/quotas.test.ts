/**
 * Quotas through a real gateway, the real CLI and the scripted model: each limit exhausted through the API
 * (requests a minute on both APIs, turns at once, live sessions, tokens and cost), answered 429 with the
 * quota's code and Retry-After in the API's own shape; the usage routes agree with the turns; another user
 * goes on unaffected.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { describe, test } from 'node:test'
import WebSocket from 'ws'
import { withGateway } from '../support/harness.js'
import { expectError, type Json, type NativeAnswer } from '../support/native-client.js'
import { text } from '../support/scripted-anthropic.js'
import { waitUntil } from '../support/wait.js'

const key = (name: string) => `${name}-key-0123456789abcdef`
const user = (name: string, quotas: Record<string, number>, role: 'admin' | 'user' | 'viewer' = 'user') => ({
  name,
  role,
  keys: [key(name)],
  quotas,
})

describe('quotas', () => {
  const g = withGateway((home) => ({
    users: {
      list: [
        user('root', {}, 'admin'),
        user('viewer', {}, 'viewer'),
        user('alice', { requestsPerMinute: 2 }),
        user('bob', {}),
        user('carol', { concurrentTurns: 1 }),
        user('dave', { liveSessions: 1 }),
        user('erin', { tokensPerDay: 100 }),
        user('frank', { usdPerDay: 0.0001 }),
        user('grace', { usdPerMonth: 0.0001 }),
        user('heidi', { liveSessions: 2 }),
      ].map((entry) => ({ ...entry, workspaceRoots: [home.root] })),
    },
  }))

  /** A native call as `name` (their key). */
  async function call(name: string, method: string, path: string, body?: unknown, headers = {}) {
    const response = await fetch(`${g.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key(name)}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const raw = await response.text()
    return {
      status: response.status,
      headers: response.headers,
      raw,
      body: (raw ? JSON.parse(raw) : null) as Json,
    }
  }
  const session = async (name: string): Promise<string> => {
    const created = await call(name, 'POST', '/api/sessions', {})
    assert.equal(created.status, 201, created.raw)
    return created.body.id as string
  }
  const send = (name: string, id: string, content: string, headers = {}) =>
    call(name, 'POST', `/api/sessions/${id}/messages`, { content }, headers)
  const usage = async (name: string) => {
    const answer = await call(name, 'GET', '/api/me/usage')
    assert.equal(answer.status, 200, answer.raw)
    return answer.body as { quotas: Json; used: Json; remaining: Json; resets: Json; user: string }
  }
  /** A 429 with the quota's code and a Retry-After of about `seconds` (at least 1). */
  function expectQuota(answer: NativeAnswer, code: string, seconds?: number): Json {
    const error = expectError(answer, 429, code)
    const retryAfter = Number(answer.headers.get('retry-after'))
    assert.ok(retryAfter >= 1, `Retry-After ${answer.headers.get('retry-after')}`)
    if (seconds !== undefined) assert.ok(Math.abs(retryAfter - seconds) <= 2, `Retry-After ${retryAfter}`)
    return error
  }

  test('requests a minute: the third turn is refused on /api and /v1; another user goes on', async () => {
    const id = await session('alice')
    g.home.model.script(text('one'), text('two'))
    const first = Date.now()
    assert.equal((await send('alice', id, 'one')).status, 200)
    assert.equal((await send('alice', id, 'two')).status, 200)
    const refused = await send('alice', id, 'three')
    // Until the first request leaves the window: 60 s after it came.
    const error = expectQuota(refused, 'requests_per_minute_exceeded', 60 - (Date.now() - first) / 1000)
    assert.match(error.message as string, /2 requests per minute \(2 in the last 60 s\)/)

    const chat = await fetch(`${g.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key('alice')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-code', messages: [{ role: 'user', content: 'hi' }] }),
    })
    assert.equal(chat.status, 429)
    assert.ok(Number(chat.headers.get('retry-after')) >= 1)
    const openai = (await chat.json()) as { error: Json }
    assert.equal(openai.error.type, 'rate_limit_error')
    assert.equal(openai.error.code, 'requests_per_minute_exceeded')
    assert.match(openai.error.message as string, /requests per minute/)

    // A message over the session's WebSocket is a turn too: refused per message, the socket stays open.
    const socket = new WebSocket(`${g.url.replace('http', 'ws')}/api/sessions/${id}/stream`, {
      headers: { authorization: `Bearer ${key('alice')}` },
    })
    const frames: Json[] = []
    socket.on('message', (data) => frames.push(JSON.parse(data.toString()) as Json))
    await once(socket, 'open')
    socket.send(JSON.stringify({ type: 'message', content: 'over the socket', request_id: 'r1' }))
    const wsError = await waitUntil(() => frames.find((frame) => frame.request_id === 'r1'))
    assert.equal(wsError.type, 'error')
    assert.equal(wsError.code, 'requests_per_minute_exceeded')
    assert.equal(socket.readyState, WebSocket.OPEN)
    socket.close()

    const mine = await usage('alice')
    assert.equal(mine.user, 'alice')
    assert.equal(mine.quotas.requests_per_minute, 2)
    assert.equal(mine.quotas.tokens_per_day, null)
    assert.equal(mine.used.requests_last_minute, 2, 'refused requests are not counted')
    assert.equal(mine.remaining.requests_per_minute, 0)
    assert.equal(mine.remaining.tokens_per_day, null)

    // Bob has no quotas: Alice's window is not his.
    const bobs = await session('bob')
    g.home.model.script(text('bob one'), text('bob two'), text('bob three'))
    for (const content of ['a', 'b', 'c']) assert.equal((await send('bob', bobs, content)).status, 200)
  })

  test('turns at once: a second session’s message waits for the first turn to end', async () => {
    const first = await session('carol')
    const second = await session('carol')
    g.home.model.script(text('slow', { delayMs: 4_000 }), text('after'))
    const started = await send('carol', first, 'slow', { prefer: 'respond-async' })
    assert.equal(started.status, 202, started.raw)
    const refused = await send('carol', second, 'meanwhile')
    const error = expectQuota(refused, 'concurrent_turns_exceeded', 1)
    assert.match(error.message as string, /1 turn at once/)
    assert.equal((await usage('carol')).used.concurrent_turns, 1)
    // Once it ends, the other session's message runs.
    await waitUntil(async () => (await usage('carol')).used.concurrent_turns === 0, 30_000, 'the slow turn')
    assert.equal((await send('carol', second, 'now')).status, 200)
  })

  test('live sessions: a second one is refused, fork and import too, until the first is deleted', async () => {
    const id = await session('dave')
    expectQuota(await call('dave', 'POST', '/api/sessions', {}), 'live_sessions_exceeded', 60)
    expectQuota(await call('dave', 'POST', `/api/sessions/${id}/fork`, {}), 'live_sessions_exceeded')
    const imported = {
      claude_session_id: '6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f',
      workspace: g.home.workspace,
    }
    expectQuota(await call('dave', 'POST', '/api/sessions/import', imported), 'live_sessions_exceeded')
    assert.equal((await usage('dave')).used.live_sessions, 1)
    assert.equal((await usage('dave')).remaining.live_sessions, 0)
    assert.equal((await call('dave', 'DELETE', `/api/sessions/${id}`)).status, 204)
    await session('dave')
  })

  test('live sessions: creations at once cannot all take the last places', async () => {
    const answers = await Promise.all([1, 2, 3, 4].map(() => call('heidi', 'POST', '/api/sessions', {})))
    assert.deepEqual(
      answers.map((answer) => answer.status).sort(),
      [201, 201, 429, 429],
      answers.map((answer) => answer.raw).join('\n'),
    )
    for (const answer of answers.filter((one) => one.status === 429))
      expectQuota(answer, 'live_sessions_exceeded', 60)
    assert.equal((await usage('heidi')).used.live_sessions, 2)
  })

  test('a user removed while their usage is read: 404, not a crash', async () => {
    const { quotas } = g.gateway.context.users
    const limitsOf = quotas.limitsOf
    // Removed between the key check and the report: the report finds no such user.
    quotas.limitsOf = async (name) => (name === 'bob' ? undefined : limitsOf.call(quotas, name))
    try {
      expectError(await call('bob', 'GET', '/api/me/usage'), 404, 'not_found')
    } finally {
      quotas.limitsOf = limitsOf
    }
  })

  test('tokens per day: a turn past the limit makes the next one wait for UTC midnight', async () => {
    const id = await session('erin')
    g.home.model.script(text('big', { usage: { input_tokens: 80, output_tokens: 30 } }))
    const turn = await send('erin', id, 'spend')
    assert.equal(turn.status, 200, turn.raw)
    const spent = turn.body.usage as Json
    const tokens = (spent.input_tokens as number) + (spent.output_tokens as number)
    assert.ok(tokens >= 110)
    await waitUntil(async () => (await usage('erin')).used.tokens_today === tokens, 10_000, 'usage metered')
    const midnight = new Date(new Date().toISOString().slice(0, 10)).getTime() + 86_400_000
    const error = expectQuota(
      await send('erin', id, 'more'),
      'tokens_per_day_exceeded',
      Math.ceil((midnight - Date.now()) / 1000),
    )
    assert.match(error.message as string, new RegExp(`100 tokens per day, ${tokens} tokens used today`))
    const mine = await usage('erin')
    assert.equal(mine.used.tokens_this_month, tokens)
    assert.equal(mine.remaining.tokens_per_day, 0)
    assert.equal(mine.resets.day, new Date(midnight).toISOString())
    // Bob, again, is not held back.
    const bobs = await session('bob')
    g.home.model.script(text('fine'))
    assert.equal((await send('bob', bobs, 'still fine')).status, 200)
  })

  test('USD per day and per month: the turn’s cost counts, the next turn is refused', async () => {
    for (const [name, code] of [
      ['frank', 'usd_per_day_exceeded'],
      ['grace', 'usd_per_month_exceeded'],
    ] as const) {
      const id = await session(name)
      g.home.model.script(text('costly', { usage: { input_tokens: 1_000, output_tokens: 1_000 } }))
      const turn = await send(name, id, 'spend')
      assert.equal(turn.status, 200, turn.raw)
      const cost = turn.body.cost_usd as number
      assert.ok(cost > 0.0001, `cost ${cost}`)
      await waitUntil(async () => (await usage(name)).used.usd_this_month === Math.round(cost * 1e6) / 1e6)
      expectQuota(await send(name, id, 'more'), code)
      // Refused before a turn: nothing more was spent, and the usage route says the limit is used up.
      const mine = await usage(name)
      assert.equal(mine.remaining[code === 'usd_per_day_exceeded' ? 'usd_per_day' : 'usd_per_month'], 0)
    }
  })

  test('a user’s usage: admins and viewers read anyone’s, a user only their own', async () => {
    const byAdmin = await call('root', 'GET', '/api/users/erin/usage')
    assert.equal(byAdmin.status, 200, byAdmin.raw)
    assert.equal(byAdmin.body.user, 'erin')
    assert.equal((byAdmin.body.quotas as Json).tokens_per_day, 100)
    assert.equal((await call('viewer', 'GET', '/api/users/erin/usage')).status, 200)
    assert.equal((await call('erin', 'GET', '/api/users/erin/usage')).status, 200)
    expectError(await call('alice', 'GET', '/api/users/erin/usage'), 404, 'not_found')
    expectError(await call('root', 'GET', '/api/users/nobody/usage'), 404, 'not_found')
    const admin = await usage('root')
    assert.ok(
      Object.values(admin.quotas).every((limit) => limit === null),
      'no limits set, none applied',
    )
  })
})
