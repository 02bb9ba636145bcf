/**
 * The graceful drain of the command (`node --import tsx src/cli.ts`), driven by real signals: a streaming
 * turn in flight through a SIGTERM finishes and is stored, new turns get 503 with Retry-After in both APIs,
 * /readyz goes 503, streams are told to reconnect (SSE `retry:`, WebSocket 1012), the exit code is 0 and no
 * Claude Code process is left; a second SIGTERM interrupts the turn still running instead of waiting for it.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { describe, test } from 'node:test'
import WebSocket from 'ws'
import type { GatewayEvent } from '../../src/events/types.js'
import { SqliteStore } from '../../src/store/sqlite.js'
import { type GatewayProcess, startGateway } from '../support/gateway-process.js'
import { type TestHome, testHome } from '../support/harness.js'
import { text } from '../support/scripted-anthropic.js'
import { isGone, waitUntil } from '../support/wait.js'

const logged = (gateway: GatewayProcess, prefix: string) =>
  waitUntil(() => gateway.log.find((l) => String(l.msg).startsWith(prefix)), 30_000, prefix)

/** The gateway's Claude Code processes: its children. */
const childrenOf = (pid: number) =>
  execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
    .split('\n')
    .map((line) => Number(line.trim()))
    .filter((n) => n > 0)

/** A streaming chat completion, read to its end in the background. */
function streamChat(url: string, content: string): { response: Promise<Response>; body: Promise<string> } {
  const response = fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'claude-code', stream: true, messages: [{ role: 'user', content }] }),
  })
  return { response, body: response.then((r) => r.text()) }
}

/** Every one of `pids` exits (killed ones are gone once reaped). */
const stopped = (pids: number[]) =>
  waitUntil(() => pids.every(isGone), 5_000, `Claude Code processes ${pids.join(', ')} stopped`)

async function storedTurnEnds(home: TestHome): Promise<Extract<GatewayEvent, { type: 'turn.completed' }>[]> {
  const store = new SqliteStore(home.dataDir)
  try {
    const { items } = await store.listSessions({ limit: 100, offset: 0 })
    return (await Promise.all(items.map((session) => store.readEvents(session.id))))
      .flat()
      .filter(
        (event): event is Extract<GatewayEvent, { type: 'turn.completed' }> =>
          event.type === 'turn.completed',
      )
  } finally {
    await store.close()
  }
}

describe('graceful drain of the command', () => {
  test('SIGTERM: the running turn finishes and is stored, new turns 503, streams closed, exit 0', async () => {
    const home = await testHome()
    const gateway = await startGateway(home, { CCGW_SERVER_DRAIN_TIMEOUT_MS: '30000' })
    try {
      const { url } = gateway
      assert.equal((await fetch(`${url}/readyz`)).status, 200)
      const created = await fetch(`${url}/api/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      })
      const { id: nativeId } = (await created.json()) as { id: string }
      // Streams open across the drain: every session's events (SSE) and one session's WebSocket.
      const events = await fetch(`${url}/api/events`)
      assert.equal(events.status, 200)
      const eventsText = events.text()
      const socket = new WebSocket(`${url.replace('http', 'ws')}/api/sessions/${nativeId}/stream`)
      await once(socket, 'open')
      const socketClosed = once(socket, 'close')

      home.model.script(text('finished through the drain', { delayMs: 3_000 }))
      const chat = streamChat(url, 'take your time')
      await waitUntil(() => home.model.turns.length === 1, 30_000, 'the turn reaching the model')
      const processes = childrenOf(gateway.child.pid!)
      assert.ok(processes.length >= 1, 'the turn runs in a Claude Code process')
      const exited = once(gateway.child, 'exit')

      gateway.child.kill('SIGTERM')
      await logged(gateway, 'draining: not ready')
      const readyz = await fetch(`${url}/readyz`)
      assert.equal(readyz.status, 503)
      const readiness = (await readyz.json()) as { checks: { draining: { ok: boolean; reason: string } } }
      assert.equal(readiness.checks.draining.ok, false)
      assert.match(readiness.checks.draining.reason, /shutting down/)
      const health = (await (await fetch(`${url}/v1/health`)).json()) as { status: string; reason: string }
      assert.deepEqual(
        [health.status, health.reason],
        ['degraded', 'The gateway is shutting down: new turns are refused'],
      )

      const refused = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-code', messages: [{ role: 'user', content: 'too late' }] }),
      })
      assert.equal(refused.status, 503)
      assert.equal(refused.headers.get('retry-after'), '5')
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'service_unavailable')
      const nativeRefused = await fetch(`${url}/api/sessions/${nativeId}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ content: 'too late' }),
      })
      assert.equal(nativeRefused.status, 503)
      assert.equal(nativeRefused.headers.get('retry-after'), '5')
      assert.equal(((await nativeRefused.json()) as { error: { code: string } }).error.code, 'shutting_down')

      // The turn in flight ends as it would have: its whole answer, then [DONE].
      assert.equal((await chat.response).status, 200)
      const answer = await chat.body
      assert.match(answer, /"finish_reason":"stop"/)
      assert.match(answer, /data: \[DONE\]\n\n$/)

      const [code] = await exited
      assert.equal(code, 0)
      assert.match(await eventsText, /retry: 5000\n\n$/)
      const [closeCode] = await socketClosed
      assert.equal(closeCode, 1012)
      await stopped(processes)
      for (const phase of ['draining: no turn is running', 'draining: streams told', 'stopped'])
        assert.ok(
          gateway.log.some((l) => String(l.msg).startsWith(phase)),
          phase,
        )

      const ends = await storedTurnEnds(home)
      assert.equal(ends.length, 1)
      assert.equal(ends[0]?.status, 'success')
      assert.equal(ends[0]?.result, 'finished through the drain')
    } finally {
      gateway.child.kill('SIGKILL')
      await home.close()
    }
  })

  test('a second SIGTERM interrupts the running turn instead of waiting for it', async () => {
    const home = await testHome()
    const gateway = await startGateway(home, { CCGW_SERVER_DRAIN_TIMEOUT_MS: '120000' })
    try {
      // Far longer than the drain takes once hurried (a turn that ended by itself would fail the test below),
      // short enough that the scripted model's wait does not hold the test process long after it.
      home.model.script(text('never needed', { delayMs: 15_000 }))
      const chat = streamChat(gateway.url, 'this takes long')
      await waitUntil(() => home.model.turns.length === 1, 30_000, 'the turn reaching the model')
      const processes = childrenOf(gateway.child.pid!)
      const exited = once(gateway.child, 'exit')

      gateway.child.kill('SIGTERM')
      await logged(gateway, 'draining: not ready')
      const signalled = Date.now()
      gateway.child.kill('SIGTERM')
      const [code] = await exited
      assert.equal(code, 0)
      assert.ok(Date.now() - signalled < 12_000, 'sooner than the turn would have taken')
      const interrupting = gateway.log.find((l) => String(l.msg).startsWith('draining: interrupting'))
      assert.equal(interrupting?.hurried, true)
      assert.equal(interrupting?.turns, 1)
      await chat.body.catch(() => '')
      await stopped(processes)

      const ends = await storedTurnEnds(home)
      assert.equal(ends.length, 1)
      assert.equal(ends[0]?.status, 'interrupted')
    } finally {
      gateway.child.kill('SIGKILL')
      await home.close()
    }
  })
})
