/**
 * Readiness (src/lifecycle/readiness.ts): what refuses a turn and in which order, when the authentication
 * is asked again, and what is logged as it changes.
 */
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import pino from 'pino'
import type { ClaudeAuth } from '../../src/engine/claude-auth.js'
import { Readiness } from '../../src/lifecycle/readiness.js'

const auth = (state: ClaudeAuth['state'], method: string | null = null): ClaudeAuth => ({
  state,
  method,
  provider: 'firstParty',
  apiKeySource: null,
  reason: state === 'authenticated' ? null : `${state}: run claude auth login`,
  checkedAt: Date.now(),
})

/** A Readiness whose probe answers `answers` in turn (the last one again after), with its log lines. */
function readiness(...answers: ClaudeAuth[]) {
  const lines: { level: number; msg: string }[] = []
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)))
        done()
      },
    }),
  )
  let asked = 0
  const probe = async () => answers[Math.min(asked++, answers.length - 1)]!
  return { ready: new Readiness(probe, log), lines, asked: () => asked }
}

test('nothing is refused until the first answer, nor when the CLI cannot tell', async () => {
  const { ready } = readiness(auth('unknown'))
  const answer = () => ready.claudeAuth
  assert.equal(answer(), null)
  assert.equal(ready.refusal(), null)
  await ready.checkAuth()
  assert.equal(answer()?.state, 'unknown')
  assert.equal(ready.refusal(), null)
})

test('not logged in refuses with its reason; a drain refuses first, with a Retry-After', async () => {
  const { ready } = readiness(auth('not_authenticated', 'none'))
  await ready.checkAuth()
  assert.deepEqual(ready.refusal(), {
    code: 'claude_not_authenticated',
    message: 'not_authenticated: run claude auth login',
  })
  ready.draining = true
  const refusal = ready.refusal()
  assert.equal(refusal?.code, 'shutting_down')
  assert.equal(refusal?.code === 'shutting_down' && refusal.retryAfterMs, 5_000)
})

test('a check under way is shared; each change is logged once, a warning while logged out', async () => {
  const { ready, lines, asked } = readiness(
    auth('not_authenticated', 'none'),
    auth('not_authenticated', 'none'),
    auth('authenticated', 'api_key'),
  )
  const [first, second] = await Promise.all([ready.checkAuth(), ready.checkAuth()])
  assert.equal(first, second)
  assert.equal(asked(), 1)
  await ready.checkAuth()
  await ready.checkAuth()
  assert.equal(ready.refusal(), null)
  assert.deepEqual(
    lines.map((line) => [line.level, line.msg.split(':')[0]]),
    [
      [40, 'not_authenticated'],
      [30, 'Claude Code is authenticated'],
    ],
  )
})

test('asked again every interval until stopped; 0 asks only when told', async () => {
  const { ready, asked } = readiness(auth('authenticated', 'api_key'))
  ready.recheckEvery(20)
  await sleep(110)
  assert.ok(asked() >= 3, `asked ${asked()} times`)
  ready.recheckEvery(0)
  const after = asked()
  await sleep(60)
  assert.equal(asked(), after)
  ready.recheckEvery(20)
  ready.stop()
  await sleep(60)
  assert.equal(asked(), after)
})
