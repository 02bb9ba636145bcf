/**
 * A stored session's turns for the admin UI's tests and benchmarks: what a real turn publishes (text
 * streamed in, the whole message, a Bash call and its result, usage, the end), made up, so that a session
 * of any length is written in a moment.
 */
import type { EventBody } from '../../src/events/types.js'

/** What each seeded turn used. */
export const USAGE = {
  inputTokens: 1200,
  outputTokens: 300,
  cacheReadInputTokens: 0,
  cacheCreationInputTokens: 0,
  thinkingTokens: 0,
}

/** A whole message of Claude's (`parent`: inside that subagent call). */
export const message = (
  turnId: string,
  content: Record<string, unknown>[],
  parent: string | null,
): EventBody => ({
  type: 'message',
  turnId,
  messageId: `msg_${turnId}_${parent ?? 'main'}`,
  model: 'claude-test',
  content: content as never,
  parentToolUseId: parent,
  synthetic: false,
})

/** A tool call's successful result. */
export const result = (
  turnId: string,
  toolUseId: string,
  name: string,
  content: string,
  parent: string | null,
): EventBody => ({
  type: 'tool.result',
  turnId,
  toolUseId,
  name,
  isError: false,
  content,
  durationMs: 25,
  parentToolUseId: parent,
})

/** One seeded turn of `deltas + 6` events: the user, streamed text, the whole message, a Bash call, the end. */
export function seededTurn(index: number, deltas: number): EventBody[] {
  const turnId = `seeded-${index}`
  const words = Array.from({ length: deltas }, (_, word) => `word${word} `)
  return [
    { type: 'turn.started', turnId, content: `Question number ${index}: what changed?` },
    ...words.map((word): EventBody => ({ type: 'text.delta', turnId, text: word, parentToolUseId: null })),
    message(
      turnId,
      [
        { type: 'text', text: `Answer ${index}: ${words.join('')}` },
        { type: 'tool_use', id: `toolu_${index}`, name: 'Bash', input: { command: `git log -n ${index}` } },
      ],
      null,
    ),
    {
      type: 'tool.call',
      turnId,
      toolUseId: `toolu_${index}`,
      name: 'Bash',
      input: { command: `git log -n ${index}` },
      parentToolUseId: null,
    },
    result(turnId, `toolu_${index}`, 'Bash', `commit ${index}`, null),
    { type: 'usage', turnId, model: 'claude-test', usage: USAGE, costUsd: 0.002 },
    {
      type: 'turn.completed',
      turnId,
      status: 'success',
      result: `Answer ${index}`,
      stopReason: 'end_turn',
      durationMs: 1500,
      numTurns: 1,
      usage: USAGE,
      costUsd: 0.002,
    },
  ]
}
