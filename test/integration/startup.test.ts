/**
 * A start-up that informs: the gateway started as a command with `log.level: warn` still says what it runs
 * with and that it is ready, without a secret; `--print-config` masks them; the Agent SDK's warnings are
 * log lines, once each; request lines carry the session, model, tokens and cost of a turn.
 */
import assert from 'node:assert/strict'
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { parse } from 'yaml'
import { VERSION } from '../../src/version.js'
import { gatewayWithLog } from '../support/gateway-log.js'
import { withHome } from '../support/harness.js'
import { text } from '../support/scripted-anthropic.js'
import { waitUntil } from '../support/wait.js'

const ROOT = new URL('../..', import.meta.url).pathname
const GATEWAY_KEY = 'gw-startup-secret-3f9a'
type Line = Record<string, unknown>

describe('start-up', () => {
  const h = withHome()

  /** A configuration file for the command: the test home's data and workspace, `log.level: warn`. */
  function configFile(): string {
    // Not ccgw.config.yaml: that one would be found by every configuration loaded in the test home.
    const file = join(h.home.root, 'startup.yaml')
    writeFileSync(
      file,
      JSON.stringify({
        server: { port: 0, apiKeys: [GATEWAY_KEY] },
        store: { dataDir: h.home.dataDir },
        claude: {
          defaultWorkspace: h.home.workspace,
          settingSources: [],
          env: { ANTHROPIC_AUTH_HEADER_SECRET: 'claude-env-secret-77' },
        },
        native: { workspaceRoots: [h.home.root] },
        pool: { warmSpares: 0, maxRunners: 3 },
        log: { level: 'warn', pretty: 'never' },
      }),
    )
    return file
  }

  /** `src/cli.ts` as a command, with its standard output read as JSON lines. */
  function command(args: string[]): {
    child: ChildProcessWithoutNullStreams
    lines: Line[]
    stderr: () => string
  } {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), ...args], {
      cwd: ROOT,
      env: h.home.env,
    })
    const lines: Line[] = []
    let pending = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk
      const complete = pending.split('\n')
      pending = complete.pop() ?? ''
      for (const line of complete.filter(Boolean)) lines.push(JSON.parse(line) as Line)
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
    })
    return { child, lines, stderr: () => stderr }
  }

  test('with log.level warn: the start-up block, the SDK warning once, no secret, exit 0 on SIGTERM', async () => {
    const { child, lines, stderr } = command(['--config', configFile()])
    try {
      const ready = await waitUntil(
        () => lines.find((line) => String(line.msg).includes(' ready at ')),
        60_000,
        'the ready line',
      )
      assert.equal(ready.level, 30, 'written at info although the level is warn')
      assert.equal(ready.version, VERSION)
      const url = String(ready.listen)
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)
      assert.equal(
        ready.msg,
        `Claude Code Gateway ${VERSION} ready at ${url} (${/\((\d+) ms\)/.exec(String(ready.msg))?.[1]} ms)`,
      )
      const cli = ready.cli as Line
      assert.equal(cli.source, 'bundled')
      assert.match(String(cli.version), /^\d+\.\d+\.\d+/)
      assert.deepEqual(ready.auth, { mode: 'api-key', from: 'ANTHROPIC_API_KEY' })
      assert.equal(ready.anthropicBaseUrl, h.home.env.ANTHROPIC_BASE_URL)
      assert.equal(ready.dataDir, h.home.dataDir)
      assert.deepEqual(ready.apiKeys, { enabled: true, count: 1 })
      assert.equal(ready.defaultWorkspace, h.home.workspace)
      assert.deepEqual(ready.pool, {
        maxRunners: 3,
        warmSpares: 0,
        maxSpares: 5,
        memoryBudgetMb: 0,
        memoryMb: { idle: 0, full: 570 },
      })
      assert.equal(ready.adminUrl, `${url}/admin/`)
      assert.equal(ready.metricsUrl, `${url}/metrics`)

      // The documented allowed_tools example: the SDK warns that canUseTool is shadowed at every query.
      h.home.model.script(text('one'), text('two'))
      for (const content of ['first', 'second']) {
        const response = await fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${GATEWAY_KEY}` },
          body: JSON.stringify({
            model: 'claude-code',
            messages: [{ role: 'user', content }],
            extra_body: { allowed_tools: ['Read', 'Glob'] },
          }),
        })
        assert.equal(response.status, 200, await response.clone().text())
        await response.text()
      }
      const shadowed = lines.filter((line) => line.code === 'CLAUDE_SDK_CAN_USE_TOOL_SHADOWED')
      assert.equal(shadowed.length, 1, 'once per process, however many requests')
      assert.equal(shadowed[0]?.level, 40)
      assert.equal(shadowed[0]?.source, 'claude-agent-sdk')
      assert.match(String(shadowed[0]?.msg), /canUseTool will not be invoked for: Read, Glob/)
      assert.doesNotMatch(stderr(), /CLAUDE_SDK|Warning:/, 'nothing printed beside the logger')

      child.kill('SIGTERM')
      const [code] = await once(child, 'exit')
      assert.equal(code, 0)
      const everything = JSON.stringify(lines) + stderr()
      for (const secret of [GATEWAY_KEY, String(h.home.env.ANTHROPIC_API_KEY), 'claude-env-secret-77'])
        assert.ok(!everything.includes(secret), `${secret} is not logged`)
    } finally {
      child.kill('SIGKILL')
    }
  })

  test('--print-config prints the effective configuration as YAML with its secrets masked', async () => {
    const { child } = command(['--config', configFile(), '--print-config', '--port', '9123'])
    let out = ''
    child.stdout.removeAllListeners('data').on('data', (chunk: string) => {
      out += chunk
    })
    const [code] = await once(child, 'exit')
    assert.equal(code, 0)
    const printed = parse(out) as {
      server: { port: number; apiKeys: string[] }
      claude: { env: Record<string, string> }
      log: { level: string }
    }
    assert.equal(printed.server.port, 9123, 'flags apply')
    assert.equal(printed.log.level, 'warn')
    assert.deepEqual(printed.server.apiKeys, ['********'])
    assert.deepEqual(printed.claude.env, { ANTHROPIC_AUTH_HEADER_SECRET: '********' })
    assert.ok(!out.includes(GATEWAY_KEY) && !out.includes('claude-env-secret-77'))
    assert.match(out, /^# Effective configuration/)
  })

  test("request lines carry the turn's session, model, tokens and cost", async () => {
    const { gateway, lines } = await gatewayWithLog<Line>(h.home)
    /** A JSON POST to the gateway, as a client without a key sends it. */
    const post = (path: string, body: unknown) =>
      fetch(`${gateway.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    /** The first request line `matches` picks, once written: a line is written when its response closes. */
    const requestLine = (what: string, matches: (line: Line) => boolean) =>
      waitUntil(() => lines.find(matches), 5_000, `the ${what} request line`)
    try {
      h.home.model.script(
        text('hello', { usage: { input_tokens: 21, output_tokens: 5 } }),
        text('again', { usage: { input_tokens: 30, output_tokens: 4, cache_read_input_tokens: 8 } }),
      )
      const chat = await post('/v1/chat/completions', {
        model: 'claude-code',
        messages: [{ role: 'user', content: 'hi' }],
      })
      assert.equal(chat.status, 200)
      const sessionId = chat.headers.get('x-session-id')
      await chat.text()
      const chatLine = await requestLine('chat', (line) => line.route === '/v1/chat/completions')
      assert.equal(chatLine.sessionId, sessionId)
      assert.equal(chatLine.model, 'claude-code')
      assert.equal(chatLine.inputTokens, 21)
      assert.equal(chatLine.outputTokens, 5)
      assert.equal(typeof chatLine.costUsd, 'number')

      const native = await post(`/api/sessions/${sessionId}/messages`, { content: 'again' })
      assert.equal(native.status, 200, await native.clone().text())
      await native.text()
      const nativeLine = await requestLine('native', (line) => line.route === '/api/sessions/:id/messages')
      assert.equal(nativeLine.sessionId, sessionId)
      assert.equal(typeof nativeLine.model, 'string', 'the model that answered')
      assert.equal(nativeLine.inputTokens, 30)
      assert.equal(nativeLine.outputTokens, 4)
      assert.equal(nativeLine.cacheReadTokens, 8)
      assert.equal(typeof nativeLine.costUsd, 'number')

      // Streamed: the line is written when the stream's response closes, with the figures of its turn.
      h.home.model.script(text('streamed', { usage: { input_tokens: 17, output_tokens: 3 } }))
      const streamed = await post('/v1/chat/completions', {
        model: 'claude-code',
        stream: true,
        messages: [{ role: 'user', content: 'stream it' }],
      })
      assert.equal(streamed.status, 200)
      const streamedSession = streamed.headers.get('x-session-id')
      await streamed.text()
      const streamLine = await requestLine(
        'streamed',
        (line) => line.route === '/v1/chat/completions' && line.sessionId === streamedSession,
      )
      assert.equal(streamLine.inputTokens, 17)
      assert.equal(streamLine.outputTokens, 3)
    } finally {
      await gateway.close()
    }
  })
})
