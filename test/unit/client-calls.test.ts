/** ClientCallMailbox: results of client-executed functions, delivered before or after Claude Code waits. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ClientCallMailbox } from '../../src/engine/client-calls.js'
import type { ClientToolCall } from '../../src/engine/client-tools.js'

function call(toolUseId: string, controller = new AbortController()): ClientToolCall {
  return { toolUseId, name: 'lookup', input: {}, signal: controller.signal }
}

test('a result delivered before Claude Code waits for it is kept for it', async () => {
  const mailbox = new ClientCallMailbox()
  mailbox.open('tu1')
  assert.deepEqual(mailbox.pending(), ['tu1'])
  assert.equal(mailbox.isWaiting('tu1'), true)
  mailbox.deliver('tu1', { content: 'early' })
  assert.equal(mailbox.isWaiting('tu1'), false)
  assert.deepEqual(mailbox.pending(), [])
  assert.deepEqual(await mailbox.wait(call('tu1'), 0, () => true), { content: 'early' })
})

test('a result delivered while Claude Code waits ends the wait; a second one is ignored', async () => {
  const mailbox = new ClientCallMailbox()
  const result = mailbox.wait(call('tu1'), 0, () => true)
  assert.deepEqual(mailbox.pending(), ['tu1'])
  mailbox.deliver('tu1', { content: 'done', isError: false })
  mailbox.deliver('tu1', { content: 'again' })
  assert.deepEqual(await result, { content: 'done', isError: false })
})

test('unknown calls are not waiting', () => {
  const mailbox = new ClientCallMailbox()
  assert.equal(mailbox.isWaiting('nope'), false)
  mailbox.deliver('nope', { content: 'x' })
  assert.deepEqual(mailbox.pending(), [])
})

test('past its limit a call ends as an error, after the session was told', async () => {
  const mailbox = new ClientCallMailbox()
  const told: string[] = []
  const result = await mailbox.wait(call('tu1'), 20, (message) => {
    told.push(message)
    return true
  })
  const message = 'The client did not return the result of lookup within 20 ms'
  assert.deepEqual(told, [message])
  assert.deepEqual(result, { content: message, isError: true })
  assert.equal(mailbox.isWaiting('tu1'), false)
})

test('a timeout the session declines (its process changed) delivers nothing', async () => {
  const mailbox = new ClientCallMailbox()
  const result = mailbox.wait(call('tu1'), 10, () => false)
  await new Promise((resolve) => setTimeout(resolve, 40))
  assert.equal(mailbox.isWaiting('tu1'), true)
  mailbox.deliver('tu1', { content: 'late but taken' })
  assert.deepEqual(await result, { content: 'late but taken' })
})

test("Claude Code's cancelling ends the wait", async () => {
  const mailbox = new ClientCallMailbox()
  const controller = new AbortController()
  const result = mailbox.wait(call('tu1', controller), 0, () => true)
  controller.abort()
  assert.deepEqual(await result, { content: 'The call was cancelled', isError: true })
})

test('releaseAll ends every waiting call with the reason and empties the mailbox', async () => {
  const mailbox = new ClientCallMailbox()
  const first = mailbox.wait(call('tu1'), 0, () => true)
  mailbox.open('tu2')
  mailbox.releaseAll('The turn ended')
  assert.deepEqual(await first, { content: 'The turn ended', isError: true })
  assert.deepEqual(mailbox.pending(), [])
  assert.equal(mailbox.isWaiting('tu2'), false)
})

test('close forgets a call whose result Claude Code has', () => {
  const mailbox = new ClientCallMailbox()
  mailbox.open('tu1')
  mailbox.close('tu1')
  assert.deepEqual(mailbox.pending(), [])
})
