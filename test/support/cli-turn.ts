/** One turn of the real Claude Code CLI through the Agent SDK, in a test home, as the transcript tests run it. */
import { type Options, query, type SDKMessage } from '@anthropic-ai/claude-agent-sdk'
import type { TestHome } from './harness.js'

/**
 * Runs one turn (a string prompt: the CLI exits after it) in `home`'s workspace and environment, without
 * setting sources or tools unless `options` says otherwise; its messages.
 */
export async function runTurn(home: TestHome, prompt: string, options: Options = {}): Promise<SDKMessage[]> {
  const messages: SDKMessage[] = []
  for await (const message of query({
    prompt,
    options: { cwd: home.workspace, env: home.env, settingSources: [], tools: [], ...options },
  }))
    messages.push(message)
  return messages
}

/** The session id the CLI's init message gives. */
export const sessionIdOf = (messages: SDKMessage[]): string | undefined =>
  messages.find((m) => m.type === 'system' && m.subtype === 'init')?.session_id
