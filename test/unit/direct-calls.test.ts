/**
 * Direct calls (an API client running the gateway's tools in a session) are marked `direct: true` on their
 * `tool.call` and `tool.result` events, and recognised by that field: by the tool-call log (`caller`, a status
 * that does not depend on Claude Code's process) and by the history (a `tool_call` item). Events stored
 * before the field existed are recognised by their `direct-…` turn id.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { historyItem } from '../../src/api/native/history-items.js'
import { recordDirectCall } from '../../src/engine/direct-calls.js'
import type { EventBus } from '../../src/events/bus.js'
import { isDirectCall, toolCallsOf } from '../../src/events/tool-calls.js'
import type { EventBody, EventOf, GatewayEvent } from '../../src/events/types.js'
import type { SessionRecord } from '../../src/store/types.js'

let seq = 0
const event = <T extends EventBody>(body: T) =>
  ({ ...body, seq: ++seq, ts: 1_764_000_000_000 + seq, sessionId: 's1' }) as GatewayEvent & T

const call = (turnId: string, toolUseId: string, direct?: true) =>
  event({
    type: 'tool.call',
    turnId,
    toolUseId,
    name: 'read',
    input: { file_path: 'a.txt' },
    parentToolUseId: null,
    ...(direct ? { direct } : {}),
  }) as EventOf<'tool.call'>

describe('direct calls', () => {
  test('are recorded with `direct: true` on their call and result', async () => {
    const published: EventBody[] = []
    const bus = { publish: (_id: string, body: EventBody) => published.push(body) } as unknown as EventBus
    const record = { id: 's1', settings: { workspace: '/tmp' } } as SessionRecord
    await recordDirectCall(
      bus,
      record,
      'read',
      { file_path: 'a.txt' },
      async () => ({ ok: true }),
      () => [],
    )
    assert.deepEqual(
      published.map((body) => [body.type, (body as { direct?: boolean }).direct]),
      [
        ['tool.call', true],
        ['tool.result', true],
      ],
    )
  })

  test('are recognised by the field, whatever their turn id', () => {
    assert.equal(isDirectCall(call('turn-1', 'toolu_1', true)), true)
    assert.equal(isDirectCall(call('turn-1', 'toolu_2')), false)
    const [direct, claude] = toolCallsOf([call('turn-1', 'toolu_1', true), call('turn-1', 'toolu_2')], {
      mainAgent: null,
      processAlive: false,
    })
    // A direct call does not run in Claude Code's process: it is still running without one.
    assert.deepEqual([direct?.caller, direct?.status], ['direct', 'running'])
    assert.deepEqual([claude?.caller, claude?.status], ['main', 'interrupted'])
    assert.equal(historyItem(call('turn-1', 'toolu_1', true))?.type, 'tool_call')
    assert.equal(historyItem(call('turn-1', 'toolu_2')), null)
  })

  test('stored before the field existed are recognised by their `direct-` turn id', () => {
    const legacy = call('direct-0b7c', 'direct_9f2e')
    assert.equal(isDirectCall(legacy), true)
    assert.equal(toolCallsOf([legacy], { mainAgent: null, processAlive: true })[0]?.caller, 'direct')
    assert.deepEqual(historyItem(legacy), {
      seq: legacy.seq,
      ts: new Date(legacy.ts).toISOString(),
      turn_id: 'direct-0b7c',
      type: 'tool_call',
      tool_use_id: 'direct_9f2e',
      name: 'read',
      input: { file_path: 'a.txt' },
      direct: true,
    })
  })
})
