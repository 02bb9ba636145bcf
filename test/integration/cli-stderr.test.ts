/**
 * What the Claude Code CLI writes on its standard error reaches the gateway's log as structured lines, with
 * the process and (once it serves one) the session, credentials masked, and nothing raw on the gateway's own
 * standard error. The CLI is the real one behind a wrapper that writes to stderr when it starts, and again
 * when the test says so (by then the process serves a session).
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { startGateway } from '../../src/gateway.js'
import { capturedLog } from '../support/captured-log.js'
import { bundledClaudeCli, testConfig, withHome } from '../support/harness.js'
import { nativeClient } from '../support/native-client.js'
import { text } from '../support/scripted-anthropic.js'
import { waitUntil } from '../support/wait.js'

describe("the CLI's stderr", () => {
  const h = withHome()

  /** The real CLI, writing a line with credentials on stderr at start and another once `trigger` exists. */
  async function noisyCli(trigger: string): Promise<string> {
    const real = await bundledClaudeCli()
    const path = join(h.home.root, 'noisy-claude')
    writeFileSync(
      path,
      `#!/bin/sh
if [ "$1" = "--version" ]; then exec "${real}" --version; fi
echo "noisy start: key $ANTHROPIC_API_KEY, sk-ant-api03-0123456789abcdef" >&2
# Inherits the CLI's stderr; gives up after 30 s so that it never outlives the test by long.
( i=0; while [ ! -e "${trigger}" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
  echo "noisy later" >&2 ) &
exec "${real}" "$@"
`,
      { mode: 0o755 },
    )
    return path
  }

  test('each line is a warn log line with the process and the session, credentials masked', async () => {
    const trigger = join(h.home.root, 'write-later')
    const cliPath = await noisyCli(trigger)
    const { log, lines } = capturedLog('warn')
    const written: string[] = []
    const write = process.stderr.write
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      written.push(String(chunk))
      return write.call(process.stderr, chunk, ...rest)
    }) as typeof process.stderr.write
    const config = testConfig(h.home, { claude: { cliPath }, pool: { warmSpares: 0 } })
    const gateway = await startGateway({ config, log, env: h.home.env })
    try {
      const { call } = nativeClient(() => gateway)
      const created = await call('POST', '/api/sessions', {})
      const session = created.body.id as string
      h.home.model.script(text('Heard.'))
      const answer = await call('POST', `/api/sessions/${session}/messages`, { content: 'Hello' })
      assert.equal(answer.body.status, 'success', answer.raw)
      writeFileSync(trigger, '')

      // The session's process (a spare that a new conversation asked for writes too, with no session).
      const cliPid = gateway.context.engine.runnerOf(session)?.pid
      const fromCli = () => lines.filter((line) => line.source === 'claude-cli' && line.cliPid === cliPid)
      const later = await waitUntil(() => fromCli().find((line) => line.line === 'noisy later'))
      assert.equal(later.level, 40)
      assert.equal(later.msg, 'claude-cli stderr')
      assert.equal(later.session, session)
      assert.equal(typeof later.runner, 'string')
      const start = fromCli().find((line) => String(line.line).startsWith('noisy start'))
      assert.equal(start?.line, 'noisy start: key ********, sk-ant-********')
      assert.equal(start?.session, undefined, 'written before any session had the process')
    } finally {
      await gateway.close()
      process.stderr.write = write
    }
    const everything = JSON.stringify(lines) + written.join('')
    assert.ok(!everything.includes(String(h.home.env.ANTHROPIC_API_KEY)), 'the API key is not logged')
    assert.ok(!everything.includes('0123456789abcdef'), 'a key-shaped value is not logged')
    assert.doesNotMatch(written.join(''), /noisy/, "nothing raw on the gateway's stderr")
  })
})
