/**
 * The gateway as a server and as a command: health, request ids, request logs, configuration errors,
 * hot reload, refusing an open bind, and a clean stop with no Claude Code process left behind.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import WebSocket from 'ws'
import { buildServer } from '../../src/server.js'
import { VERSION } from '../../src/version.js'
import { gatewayWithLog } from '../support/gateway-log.js'
import { logLines, readyUrl } from '../support/gateway-process.js'
import { testConfig, testGateway, withHome } from '../support/harness.js'
import { isGone, waitUntil } from '../support/wait.js'

const CLI = new URL('../../dist/cli.js', import.meta.url).pathname

describe('gateway server', () => {
  const h = withHome()

  test('GET /v1/health reports the CLI, sessions and processes', async () => {
    const gateway = await testGateway(h.home)
    try {
      const response = await fetch(`${gateway.url}/v1/health`)
      assert.equal(response.status, 200)
      assert.match(response.headers.get('x-request-id') ?? '', /^[0-9a-z]{5}-[0-9a-z]+$/)
      const body = (await response.json()) as Record<string, unknown>
      assert.deepEqual(Object.keys(body).sort(), [
        'claude',
        'processes',
        'sessions',
        'status',
        'store',
        'uptime_s',
        'version',
      ])
      assert.equal(body.status, 'ok')
      assert.deepEqual(body.store, { ok: true })
      assert.equal(body.version, VERSION)
      const claude = body.claude as Record<string, unknown>
      assert.equal(claude.usable, true)
      assert.equal(claude.source, 'bundled')
      assert.match(String(claude.version), /^\d+\.\d+\.\d+/)
      // Open, and no keys configured: no file named (see the next tests).
      assert.deepEqual(Object.keys(claude).sort(), ['authenticated', 'source', 'usable', 'version'])
      assert.deepEqual(body.sessions, { total: 0, active: 0 })
      assert.equal((body.processes as { max: number }).max, gateway.context.config.pool.maxRunners)

      const echoed = await fetch(`${gateway.url}/v1/health`, { headers: { 'x-request-id': 'my-trace-42' } })
      assert.equal(echoed.headers.get('x-request-id'), 'my-trace-42')
    } finally {
      await gateway.close()
    }
  })

  test('a route schema that does not compile stops the start, not its first request', async () => {
    const gateway = await testGateway(h.home)
    try {
      const app = await buildServer(gateway.context)
      app.get(
        '/api/broken',
        { schema: { querystring: { type: 'object', properties: { n: { type: 'nope' } } } } },
        () => ({}),
      )
      await assert.rejects(async () => app.ready(), /schema is invalid/)
    } finally {
      await gateway.close()
    }
  })

  test('health names files only to a caller with an API key', async () => {
    const gateway = await testGateway(h.home, testConfig(h.home, { server: { apiKeys: ['health-key'] } }))
    try {
      const open = (await (await fetch(`${gateway.url}/v1/health`)).json()) as {
        claude: Record<string, unknown>
      }
      assert.equal(open.claude.usable, true)
      assert.ok(!('path' in open.claude) && !('reason' in open.claude), JSON.stringify(open))
      const wrong = await fetch(`${gateway.url}/v1/health`, { headers: { authorization: 'Bearer nope' } })
      assert.equal(wrong.status, 200)
      assert.ok(!('path' in ((await wrong.json()) as { claude: object }).claude))
      const keyed = await fetch(`${gateway.url}/v1/health`, {
        headers: { authorization: 'Bearer health-key' },
      })
      const claude = ((await keyed.json()) as { claude: Record<string, unknown> }).claude
      assert.ok(existsSync(String(claude.path)))
      assert.equal(claude.reason, null)
    } finally {
      await gateway.close()
    }
  })

  test('without a usable CLI the gateway still starts and health says degraded, with the reason', async () => {
    const config = testConfig(h.home, {
      claude: { cliPath: join(h.home.root, 'missing-claude') },
      server: { apiKeys: ['health-key'] },
    })
    const gateway = await testGateway(h.home, config)
    try {
      const health = async (headers: Record<string, string> = {}) =>
        (await (await fetch(`${gateway.url}/v1/health`, { headers })).json()) as {
          status: string
          reason: string
          claude: { usable: boolean; reason?: string }
        }
      const body = await health({ 'x-api-key': 'health-key' })
      assert.equal(body.status, 'degraded')
      assert.equal(body.claude.usable, false)
      assert.match(body.reason, /missing-claude/)
      assert.equal(body.reason, body.claude.reason)
      // Without the key: degraded and why, in words that name no file.
      const open = await health()
      assert.equal(open.status, 'degraded')
      assert.equal(open.claude.usable, false)
      assert.ok(open.reason)
      assert.doesNotMatch(JSON.stringify(open), /missing-claude|\//)
    } finally {
      await gateway.close()
    }
  })

  test('one JSON log line per request, without credentials', async () => {
    const { gateway, lines, log } = await gatewayWithLog(h.home)
    try {
      // Health probes poll every few seconds: their lines are debug lines.
      await fetch(`${gateway.url}/v1/health`)
      await fetch(`${gateway.url}/v1/models`, { headers: { authorization: 'Bearer sk-secret-value' } })
      await fetch(`${gateway.url}/nowhere`)
      await waitUntil(() => lines.filter((l) => l.msg === 'request').length === 2, 5_000, 'two request lines')
      const requests = lines.filter((l) => l.msg === 'request')
      assert.deepEqual(
        requests.map((l) => [l.method, l.route, l.status]),
        [
          ['GET', '/v1/models', 200],
          ['GET', 'unmatched', 404],
        ],
      )
      log.level = 'debug'
      await fetch(`${gateway.url}/v1/health`)
      await waitUntil(() => lines.some((l) => l.route === '/v1/health'), 5_000, 'the health line at debug')

      // A response the client abandons gets its line too, marked as such.
      const created = await fetch(`${gateway.url}/api/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      })
      const { id } = (await created.json()) as { id: string }
      const abandon = new AbortController()
      const events = await fetch(`${gateway.url}/api/sessions/${id}/events`, { signal: abandon.signal })
      assert.equal(events.status, 200)
      abandon.abort()
      const abandoned = await waitUntil(
        () => lines.find((l) => l.route === '/api/sessions/:id/events'),
        5_000,
        "the abandoned stream's line",
      )
      assert.equal(abandoned.aborted, true)
      assert.equal(lines.find((l) => l.route === '/api/sessions')?.aborted, undefined)
      for (const line of requests) {
        assert.equal(typeof line.reqId, 'string')
        assert.equal(typeof line.durationMs, 'number')
        // Written by hand, with what pino puts in every line.
        assert.equal(line.level, 30)
        assert.equal(typeof line.time, 'number')
        assert.equal(line.pid, process.pid)
        assert.equal(typeof line.hostname, 'string')
      }
      assert.ok(lines.some((l) => String(l.msg).includes('ready at')))
      assert.ok(!JSON.stringify(lines).includes('sk-secret-value'))
      assert.equal(lines.filter((l) => l.msg === 'incoming request').length, 0)
    } finally {
      await gateway.close()
    }
  })
})

describe('claude-code-gateway command', () => {
  const h = withHome()
  before(() => {
    assert.ok(existsSync(CLI), 'dist/cli.js exists (npm test builds it first)')
  })

  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawn(process.execPath, [CLI, ...args], {
      env: { ...h.home.env, CCGW_STORE_DATA_DIR: h.home.dataDir, CCGW_CLAUDE_SETTING_SOURCES: '', ...env },
      cwd: h.home.workspace,
    })

  test('starts, reloads its config on change and SIGHUP, and stops with no Claude process left', async () => {
    const configFile = join(h.home.root, 'gateway.yaml')
    writeFileSync(configFile, 'pool:\n  maxRunners: 4\n  warmSpares: 1\n')
    const child = run(['--port', '0', '--host', '127.0.0.1', '--config', configFile])
    const log = logLines(child)
    try {
      const url = await readyUrl(child, log, 15_000)
      assert.equal((await fetch(`${url}/v1/health`)).status, 200)

      writeFileSync(configFile, 'pool:\n  maxRunners: 3\n  warmSpares: 1\n')
      const reloaded = await waitUntil(
        () => log.find((l) => l.msg === 'configuration reloaded'),
        10_000,
        'reload',
      )
      assert.deepEqual(reloaded.changed, ['pool.maxRunners'])
      const health = (await (await fetch(`${url}/v1/health`)).json()) as { processes: { max: number } }
      assert.equal(health.processes.max, 3)

      writeFileSync(configFile, 'pool:\n  maxRunners: 0\n')
      child.kill('SIGHUP')
      const rejected = await waitUntil(
        () => log.find((l) => String(l.msg).includes('reload rejected')),
        10_000,
        'rejection',
      )
      assert.match(String(rejected.err), /pool\.maxRunners/)
      const still = (await (await fetch(`${url}/v1/health`)).json()) as { processes: { max: number } }
      assert.equal(still.processes.max, 3, 'the running configuration stays')

      await waitUntil(() => log.find((l) => l.process === 'spare'), 30_000, 'a warm spare')
      const children = execFileSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean)
        .map(Number)
      assert.ok(children.length >= 1, 'the spare runs as a child process')
      child.kill('SIGTERM')
      const [code] = await once(child, 'exit')
      assert.equal(code, 0)
      for (const pid of children) assert.ok(isGone(pid), `Claude Code process ${pid} stopped`)
    } finally {
      child.kill('SIGKILL')
    }
  })

  test('every log line is written, the last ones at exit too', async () => {
    const child = run(['--port', '0'], { CCGW_POOL_WARM_SPARES: '0' })
    const log = logLines(child)
    try {
      const url = await readyUrl(child, log, 15_000)
      const ids = Array.from({ length: 200 }, (_, i) => `burst-${i}`)
      await Promise.all(
        ids.map(async (id) => (await fetch(`${url}/v1/models`, { headers: { 'x-request-id': id } })).text()),
      )
      // An id that would need escaping in JSON is not taken: the request gets one of the gateway's own.
      const forged = await fetch(`${url}/v1/models`, { headers: { 'x-request-id': 'a"b\\c' } })
      const givenId = forged.headers.get('x-request-id')
      assert.match(givenId ?? '', /^[0-9a-z]{5}-[0-9a-z]+$/)
      child.kill('SIGTERM')
      const [code] = await once(child, 'close')
      assert.equal(code, 0)
      const requests = log.filter((l) => l.msg === 'request')
      assert.deepEqual(
        requests.map((l) => l.reqId).sort(),
        [...ids, givenId].sort(),
        'one line per request, none lost',
      )
      // Logged just before process.exit(): written only if what waits is flushed at exit. A request line may
      // come after 'draining' (a response whose write completes while the server drains), not after 'stopped'.
      assert.equal(log.at(-1)?.msg, 'stopped')
      assert.ok(log.some((l) => String(l.msg).startsWith('draining')))
    } finally {
      child.kill('SIGKILL')
    }
  })

  test('the built command finds what lies beside its modules: package.json, worker threads, WebSocket', async () => {
    writeFileSync(join(h.home.workspace, 'notes.txt'), 'alpha\nbundled search works\n')
    const child = run(['--port', '0'], {
      CCGW_POOL_WARM_SPARES: '0',
      CCGW_NATIVE_WORKSPACE_ROOTS: h.home.root,
    })
    const log = logLines(child)
    try {
      const url = await readyUrl(child, log, 15_000)
      const health = (await (await fetch(`${url}/v1/health`)).json()) as { version: string }
      assert.equal(health.version, VERSION)
      const created = await fetch(`${url}/api/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ workspace: h.home.workspace }),
      })
      const { id } = (await created.json()) as { id: string }
      // The search tool runs in a worker thread whose file is found relative to the search module.
      const search = await fetch(`${url}/api/sessions/${id}/tools/search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ pattern: 'bundled \\w+', output_mode: 'content' }),
      })
      assert.equal(search.status, 200)
      assert.match(
        String(((await search.json()) as { content: string }).content),
        /notes\.txt:2:bundled search/,
      )
      // @fastify/websocket is loaded from node_modules, not bundled (scripts/bundle.ts says why).
      const socket = new WebSocket(`${url.replace('http', 'ws')}/api/sessions/${id}/stream`)
      try {
        await once(socket, 'open')
        const reply = once(socket, 'message')
        socket.send('not json')
        const [frame] = (await reply) as [Buffer]
        assert.equal((JSON.parse(frame.toString()) as { code: string }).code, 'validation_error')
      } finally {
        socket.close()
      }
      // The store's checkpoint thread started with the first events written (the session's, the search's):
      // its module is found beside the store's, or the gateway says the thread failed (within ms of its start).
      await sleep(500)
      assert.deepEqual(
        log.filter((line) => String(line.msg).includes('checkpoint thread')),
        [],
      )
    } finally {
      child.kill('SIGKILL')
    }
  })

  test('an invalid configuration exits non-zero naming file, key and problem', async () => {
    const configFile = join(h.home.root, 'bad.yaml')
    writeFileSync(configFile, 'pool:\n  maxRunners: 0\n  speed: 3\n')
    const child = run(['--config', configFile])
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const [code] = await once(child, 'exit')
    assert.equal(code, 1)
    assert.match(stderr, new RegExp(`${configFile}: pool\\.maxRunners: must be >= 1`))
    assert.match(stderr, /pool\.speed: unknown key/)
  })

  test('a database that is not one exits non-zero naming the file and the cause, without a stack', async () => {
    const dataDir = join(h.home.root, 'corrupt-data')
    mkdirSync(dataDir)
    const file = join(dataDir, 'gateway.sqlite')
    writeFileSync(file, 'this is not an SQLite database, just text long enough to be read. '.repeat(100))
    const child = run(['--port', '0'], { CCGW_STORE_DATA_DIR: dataDir })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const [code] = await once(child, 'exit')
    assert.equal(code, 1)
    assert.match(stderr, new RegExp(`database ${file}: file is not a database\\. .*move it away`))
    assert.doesNotMatch(stderr, /\n\s+at /)
  })

  test('refuses to listen beyond loopback without API keys', async () => {
    const child = run(['--host', '0.0.0.0', '--port', '0'])
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const [code] = await once(child, 'exit')
    assert.equal(code, 1)
    assert.match(stderr, /server\.host/)
    assert.match(stderr, /apiKeys/)
  })
})
