/** PermissionBroker: a session's permission requests, published, answered, timed out, interrupted, settled. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { PermissionBroker } from '../../src/engine/permissions.js'
import type { PermissionRequest } from '../../src/engine/runner.js'
import type { EventBody, GatewayEvent } from '../../src/events/types.js'

/** A broker whose events are collected; `keep: false` plays a store that refuses them. */
function broker(options: { keep?: boolean } = {}) {
  const events: EventBody[] = []
  let seq = 0
  const permissions = new PermissionBroker((body) => {
    if (options.keep === false) return null
    events.push(body)
    return { ...body, seq: ++seq, ts: 1_000, sessionId: 's1' } as GatewayEvent
  })
  return { permissions, events }
}

function request(requestId: string, controller = new AbortController()): PermissionRequest {
  return {
    toolName: 'Bash',
    input: { command: 'ls' },
    toolUseID: `tu_${requestId}`,
    requestId,
    signal: controller.signal,
    decisionReason: 'Bash needs approval',
  } as PermissionRequest
}

const ask = { turnId: 't1', interactive: true, timeoutMs: 0 }
const resolved = (events: EventBody[]) => events.filter((event) => event.type === 'permission.resolved')

test('a request waits for the client: its answer resolves it, once', async () => {
  const { permissions, events } = broker()
  const result = permissions.ask(request('r1'), ask)
  assert.equal(events[0]?.type, 'permission.requested')
  assert.deepEqual(
    permissions.pending().map((waiting) => [waiting.requested.requestId, waiting.expiresAt]),
    [['r1', null]],
  )
  assert.equal(permissions.answer('r1', { behavior: 'allow', updatedInput: { command: 'pwd' } }), true)
  assert.deepEqual(await result, { behavior: 'allow', updatedInput: { command: 'pwd' } })
  assert.equal(permissions.answer('r1', { behavior: 'deny' }), false)
  assert.deepEqual(permissions.pending(), [])
  assert.deepEqual(resolved(events), [
    {
      type: 'permission.resolved',
      turnId: 't1',
      requestId: 'r1',
      behavior: 'allow',
      by: 'client',
      updatedInput: { command: 'pwd' },
    },
  ])
})

test('an allow without new input runs the tool with its own input; a deny says why', async () => {
  const { permissions, events } = broker()
  const allowed = permissions.ask(request('r1'), ask)
  const denied = permissions.ask(request('r2'), ask)
  permissions.answer('r1', { behavior: 'allow' })
  permissions.answer('r2', { behavior: 'deny' })
  assert.deepEqual(await allowed, { behavior: 'allow', updatedInput: { command: 'ls' } })
  assert.deepEqual(await denied, { behavior: 'deny', message: 'The user denied Bash' })
  assert.equal(resolved(events).length, 2)
})

test('a request with no answer within the limit is denied by timeout', async () => {
  const { permissions, events } = broker()
  const result = permissions.ask(request('r1'), { ...ask, timeoutMs: 20 })
  assert.equal(permissions.pending()[0]?.expiresAt, 1_000 + 20)
  assert.deepEqual(await result, { behavior: 'deny', message: 'No answer within 20 ms' })
  assert.equal(resolved(events)[0]?.type === 'permission.resolved' && resolved(events)[0]?.by, 'timeout')
  assert.deepEqual(permissions.pending(), [])
})

test("Claude Code's abort denies the request as interrupted", async () => {
  const { permissions, events } = broker()
  const controller = new AbortController()
  const result = permissions.ask(request('r1', controller), ask)
  controller.abort()
  assert.deepEqual(await result, { behavior: 'deny', message: 'The turn was interrupted' })
  assert.deepEqual(
    resolved(events).map((event) => event.type === 'permission.resolved' && event.by),
    ['interrupt'],
  )
})

test('settleAll denies every waiting request with the reason', async () => {
  const { permissions } = broker()
  const first = permissions.ask(request('r1'), ask)
  const second = permissions.ask(request('r2'), ask)
  permissions.settleAll('Claude Code exited')
  assert.deepEqual(await Promise.all([first, second]), [
    { behavior: 'deny', message: 'Claude Code exited' },
    { behavior: 'deny', message: 'Claude Code exited' },
  ])
  assert.deepEqual(permissions.pending(), [])
})

test('a session without interactive approvals denies by rule at once', async () => {
  const { permissions, events } = broker()
  const result = await permissions.ask(request('r1'), { ...ask, interactive: false })
  assert.equal(result.behavior, 'deny')
  assert.deepEqual(
    resolved(events).map((event) => event.type === 'permission.resolved' && event.by),
    ['rule'],
  )
  assert.deepEqual(permissions.pending(), [])
})

test('a request that cannot be kept is denied and does not wait', async () => {
  const { permissions } = broker({ keep: false })
  assert.deepEqual(await permissions.ask(request('r1'), ask), {
    behavior: 'deny',
    message: 'The request could not be kept',
  })
  assert.deepEqual(permissions.pending(), [])
})
