/**
 * GET /livez and GET /readyz, and Claude Code's authentication as the gateway checks it (`claude auth
 * status`, never the model): not logged in, /readyz and /v1/health say so, turns are refused at once in each
 * API's shape with no session or process left, and a reload that logs it in makes it ready.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { describe, test } from 'node:test'
import WebSocket from 'ws'
import { testConfig, testGateway, withGateway, withHome } from '../support/harness.js'
import { postChatCompletion } from '../support/openai.js'
import { waitUntil } from '../support/wait.js'

interface Readyz {
  status: string
  checks: Record<string, { ok: boolean; reason?: string; action?: string; detail?: Record<string, unknown> }>
}

const readyz = async (url: string, headers: Record<string, string> = {}) => {
  const response = await fetch(`${url}/readyz`, { headers })
  return { status: response.status, body: (await response.json()) as Readyz }
}

/** Claude Code processes started by this test process's gateways (their `auth status` checks left out). */
function claudeChildren(): string[] {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' })
  return out
    .split('\n')
    .filter((line) => line.includes('claude') && !line.includes('auth status'))
    .map((line) => line.trim())
}

describe('probes of a gateway that can serve', () => {
  const f = withGateway({ server: { apiKeys: ['probe-key'] } })

  test('GET /livez answers ok, with no key and nothing checked', async () => {
    const response = await fetch(`${f.url}/livez`)
    assert.equal(response.status, 200)
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/)
    assert.deepEqual(await response.json(), { status: 'ok' })
  })

  test('GET /readyz is 200 once every check passes; the open answer names no file, the keyed one does', async () => {
    const ready = await waitUntil(async () => {
      const answer = await readyz(f.url)
      return answer.status === 200 && answer
    })
    assert.deepEqual(ready.body, {
      status: 'ready',
      checks: { cli: { ok: true }, claude_auth: { ok: true }, store: { ok: true }, draining: { ok: true } },
    })

    const keyed = await readyz(f.url, { authorization: 'Bearer probe-key' })
    assert.equal(keyed.status, 200)
    const { cli, claude_auth: auth } = keyed.body.checks
    assert.equal(cli?.detail?.path, f.gateway.context.engine.cli.path)
    assert.equal(auth?.detail?.state, 'authenticated')
    assert.equal(auth?.detail?.method, 'api_key')
    assert.equal(auth?.detail?.api_key_source, 'ANTHROPIC_API_KEY')
    // A wrong key is an open caller: no detail, and still no 401 (probes carry no key).
    const wrong = await readyz(f.url, { authorization: 'Bearer nope' })
    assert.equal(wrong.status, 200)
    assert.ok(!JSON.stringify(wrong.body).includes('detail'))
  })

  test('/v1/health says authenticated', async () => {
    const body = (await (await fetch(`${f.url}/v1/health`)).json()) as { claude: Record<string, unknown> }
    assert.equal(body.claude.usable, true)
    assert.equal(body.claude.authenticated, true)
  })
})

describe('a gateway whose Claude Code is not logged in', () => {
  const h = withHome()

  test('warns, answers /readyz 503 with the reason, refuses turns at once, and is ready once logged in', async () => {
    // No API key and an empty CLAUDE_CONFIG_DIR: `claude auth status` says loggedIn false.
    const { ANTHROPIC_API_KEY: _key, ...env } = h.home.env
    // A warm spare is asked for: none is kept while Claude Code is not logged in.
    const config = testConfig(h.home, { pool: { warmSpares: 1 }, claude: { authCheckIntervalMs: 0 } })
    const gateway = await testGateway({ ...h.home, env }, config)
    try {
      const notReady = await waitUntil(async () => {
        const answer = await readyz(gateway.url)
        return answer.body.checks.claude_auth?.ok === false && answer
      })
      assert.equal(notReady.status, 503)
      assert.equal(notReady.body.status, 'not_ready')
      const auth = notReady.body.checks.claude_auth
      assert.equal(auth?.reason, 'Claude Code is not logged in')
      assert.match(auth?.action ?? '', /claude auth login/)
      assert.match(auth?.action ?? '', /ANTHROPIC_API_KEY/)
      assert.equal(notReady.body.checks.cli?.ok, true)
      assert.ok(!JSON.stringify(notReady.body).includes(h.home.root), 'the open answer names no path')

      const health = (await (await fetch(`${gateway.url}/v1/health`)).json()) as {
        status: string
        reason: string
        claude: { usable: boolean; authenticated: boolean | null }
      }
      assert.equal(health.status, 'degraded')
      assert.equal(health.claude.usable, false)
      assert.equal(health.claude.authenticated, false)
      assert.match(health.reason, /not logged in.*claude auth login/)

      const chat = await postChatCompletion(gateway, {
        model: 'claude-code',
        messages: [{ role: 'user', content: 'hello' }],
      })
      assert.equal(chat.status, 503)
      const error = ((await chat.json()) as { error: { code: string; type: string; message: string } }).error
      assert.equal(error.code, 'claude_not_authenticated')
      assert.equal(error.type, 'server_error')
      assert.match(error.message, /claude auth login/)

      // The native API: a session may be created (no process), its message is refused in the native shape.
      const created = await fetch(`${gateway.url}/api/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      })
      assert.equal(created.status, 201)
      const { id } = (await created.json()) as { id: string }
      const message = await fetch(`${gateway.url}/api/sessions/${id}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ content: 'hello' }),
      })
      assert.equal(message.status, 503)
      const native = (await message.json()) as { error: { code: string; message: string } }
      assert.equal(native.error.code, 'claude_not_authenticated')
      assert.match(native.error.message, /claude auth login/)

      // Its WebSocket's messages too, in the socket's error frame.
      const socket = new WebSocket(`${gateway.url.replace('http', 'ws')}/api/sessions/${id}/stream`)
      await once(socket, 'open')
      const answer = once(socket, 'message')
      socket.send(JSON.stringify({ type: 'message', content: 'hello', request_id: 'r1' }))
      const [frame] = (await answer) as [Buffer]
      socket.close()
      assert.deepEqual(
        { ...(JSON.parse(frame.toString()) as Record<string, unknown>), message: undefined },
        { type: 'error', code: 'claude_not_authenticated', request_id: 'r1', message: undefined },
      )

      // Nothing left behind: only the native session the client created, no process (not even a spare, which
      // may have started before the check answered), no model call.
      assert.equal((await gateway.context.engine.stats()).sessions, 1)
      await waitUntil(() => gateway.context.engine.processStats.live === 0, 10_000, 'no spare')
      await waitUntil(() => claudeChildren().length === 0, 5_000, 'no Claude Code process')
      assert.equal(h.home.model.turns.length, 0)

      // Logged in by a reload that gives Claude Code a key: checked again at once, and ready.
      const loggedIn = testConfig(h.home, {
        pool: { warmSpares: 1 },
        claude: { authCheckIntervalMs: 0, env: { ANTHROPIC_API_KEY: 'test-key-not-real' } },
      })
      assert.ok(
        gateway.reconfigure({
          config: loggedIn,
          previous: config,
          changed: ['claude.env'],
          restartRequired: [],
        }),
      )
      await waitUntil(async () => (await readyz(gateway.url)).status === 200)
      await waitUntil(() => gateway.context.engine.processStats.spares === 1, 30_000, 'a spare again')
      const answered = await postChatCompletion(gateway, {
        model: 'claude-code',
        messages: [{ role: 'user', content: 'hello again' }],
      })
      assert.equal(answered.status, 200)
    } finally {
      await gateway.close()
    }
    // Killed at the close: gone once reaped.
    await waitUntil(() => claudeChildren().length === 0, 5_000, 'no Claude Code process')
  })
})
