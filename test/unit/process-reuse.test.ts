/**
 * What makes a process unfit for reuse (src/engine/process-reuse.ts), from the messages sent to it and those it
 * sends: a session's message still in flight, a tool of Claude Code's, a slash command, a command the CLI ran
 * by itself. The client's own functions and the gateway's own turns (priming, `/clear`) do not count.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk'
import { ProcessUse } from '../../src/engine/process-reuse.js'
import { CLIENT_TOOLS_RULE } from '../../src/events/client-tool-names.js'

const assistant = (...content: { type: string; name?: string; text?: string }[]) =>
  ({ type: 'assistant', message: { content } }) as unknown as SDKMessage
const result = (numTurns: number) => ({ type: 'result', num_turns: numTurns }) as unknown as SDKMessage
const streamStart = (block: { type: string; name: string }) =>
  ({
    type: 'stream_event',
    event: { type: 'content_block_start', content_block: block },
  }) as unknown as SDKMessage

/** A session's message answered with `messages`, then finished: what the process did then. */
function afterTurn(content: string, messages: SDKMessage[], hidden = false): boolean {
  const use = new ProcessUse()
  use.sent('m1', content)
  for (const message of messages) use.saw(message, hidden, undefined)
  use.saw(result(1), hidden, 'm1')
  return use.onlyTalked
}

test('a message still in flight keeps a process from reuse until Claude Code finishes it', () => {
  const use = new ProcessUse()
  assert.equal(use.onlyTalked, true, 'a new process')
  use.sent('m1', 'hello')
  use.saw(assistant({ type: 'text', text: 'hi' }), false, undefined)
  assert.equal(use.onlyTalked, false, 'its turn has not ended (the gateway may have given it up)')
  use.saw(result(1), false, undefined)
  assert.equal(use.onlyTalked, false, 'the result alone is not the end of the message')
  use.saw({ type: 'command_lifecycle' } as unknown as SDKMessage, false, 'm1')
  assert.equal(use.onlyTalked, true)
})

test("a tool of Claude Code's, seen whole or as it starts streaming, marks the process", () => {
  assert.equal(afterTurn('read it', [assistant({ type: 'tool_use', name: 'Read' })]), false)
  assert.equal(afterTurn('search', [assistant({ type: 'server_tool_use', name: 'web_search' })]), false)
  assert.equal(afterTurn('run it', [streamStart({ type: 'tool_use', name: 'Bash' })]), false, 'interrupted')
  assert.equal(afterTurn('just talk', [assistant({ type: 'text', text: 'sure' })]), true)
})

test("the client's own functions do not mark it: the client keeps their state", () => {
  const clientFunction = `${CLIENT_TOOLS_RULE}__get_weather`
  assert.equal(afterTurn('weather?', [assistant({ type: 'tool_use', name: clientFunction })]), true)
})

test('a slash command, or a result without a model turn, marks it; the gateway turns do not', () => {
  assert.equal(afterTurn('/model opus', []), false)
  assert.equal(afterTurn('  /compact', []), false)
  const local = new ProcessUse()
  local.sent('m1', 'looks like text')
  local.saw(result(0), false, 'm1')
  assert.equal(local.onlyTalked, false, 'the CLI answered it itself')
  const gateways = new ProcessUse()
  gateways.saw(result(0), true, undefined)
  assert.equal(gateways.onlyTalked, true, "priming's or /clear's own result")
})
