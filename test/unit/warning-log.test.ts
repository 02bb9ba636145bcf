/**
 * Process warnings (the Agent SDK's `CLAUDE_SDK_*` ones among them) as log lines: structured, once each,
 * nothing printed on stderr by Node meanwhile, and Node's own printer back once the logging is undone.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { test } from 'node:test'
import { logProcessWarnings } from '../../src/observability/warning-log.js'
import { capturedLog } from '../support/captured-log.js'

/** Emits a warning and waits until the listeners had it (Node emits warnings on the next tick). */
async function warn(message: string, code?: string): Promise<void> {
  const seen = once(process, 'warning')
  process.emitWarning(message, code === undefined ? {} : { code })
  await seen
}

test('SDK and Node warnings are warn lines with source and code, once each; undone, Node prints again', async () => {
  const before = process.listeners('warning')
  const { log, lines } = capturedLog('warn')
  const printed: string[] = []
  const write = process.stderr.write
  process.stderr.write = ((chunk: string | Uint8Array) => {
    printed.push(String(chunk))
    return true
  }) as typeof process.stderr.write
  const undo = logProcessWarnings(log)
  try {
    const shadowed = 'canUseTool will not be invoked for: Read, Glob.\n  Use a PreToolUse hook.'
    await warn(shadowed, 'CLAUDE_SDK_CAN_USE_TOOL_SHADOWED')
    await warn(shadowed, 'CLAUDE_SDK_CAN_USE_TOOL_SHADOWED')
    await warn('something Node says')
  } finally {
    undo()
    process.stderr.write = write
  }
  assert.deepEqual(
    lines.map(({ level, source, code, kind, msg }) => ({ level, source, code, kind, msg })),
    [
      {
        level: 40,
        source: 'claude-agent-sdk',
        code: 'CLAUDE_SDK_CAN_USE_TOOL_SHADOWED',
        kind: 'Warning',
        msg: 'canUseTool will not be invoked for: Read, Glob. Use a PreToolUse hook.',
      },
      { level: 40, source: 'node', code: undefined, kind: 'Warning', msg: 'something Node says' },
    ],
  )
  assert.deepEqual(printed, [], 'Node printed nothing while the warnings were logged')
  assert.deepEqual(process.listeners('warning'), before, "Node's listeners are back")
})
