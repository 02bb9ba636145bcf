/**
 * A session's main agent in its Claude Code transcript. Claude Code records the main agent in the transcript
 * (`{"type":"agent-setting","agentSetting":"<name>"}`, last one wins) and, resuming a session without an
 * `agent` option, restores it (Claude Code 2.1.332, observed: the resumed turn still ran with the agent's
 * prompt and tools). To resume without an agent, the last such record must be empty: then the CLI runs with
 * its default prompt and tools.
 */
import { appendFile, readFile, realpath } from 'node:fs/promises'
import { join } from 'node:path'
import { projectSlug } from '../engine/transcript.js'

export interface TranscriptAgentOptions {
  /** Claude Code's config folder as the CLI sees it (see `claudeConfigDir`). */
  configDir: string
  /** The session's working directory. */
  cwd: string
  /** Claude Code's session id (the transcript's name). */
  sessionId: string
}

const AGENT_SETTING = '"type":"agent-setting"'

/** Where Claude Code keeps a session's transcript. */
export async function transcriptPath({ configDir, cwd, sessionId }: TranscriptAgentOptions): Promise<string> {
  const real = await realpath(cwd).catch(() => cwd)
  return join(configDir, 'projects', projectSlug(real), `${sessionId}.jsonl`)
}

/** The main agent the transcript records last (null: none, or no transcript). */
export async function transcriptAgent(options: TranscriptAgentOptions): Promise<string | null> {
  const text = await readFile(await transcriptPath(options), 'utf8').catch(() => '')
  return lastAgentSetting(text)
}

/**
 * Make a resume without `agent` run without one: append an empty `agent-setting` record when the transcript's
 * last one names an agent. Call it before starting the CLI with `resume` and no `agent`, once the session's
 * previous process has stopped. Returns whether it wrote; never throws (no transcript: nothing to do).
 */
export async function clearTranscriptAgent(options: TranscriptAgentOptions): Promise<boolean> {
  try {
    const path = await transcriptPath(options)
    const text = await readFile(path, 'utf8')
    if (!lastAgentSetting(text)) return false
    const record = JSON.stringify({ type: 'agent-setting', agentSetting: '', sessionId: options.sessionId })
    await appendFile(path, `${text.endsWith('\n') ? '' : '\n'}${record}\n`)
    return true
  } catch {
    return false
  }
}

function lastAgentSetting(text: string): string | null {
  const at = text.lastIndexOf(AGENT_SETTING)
  if (at < 0) return null
  const start = text.lastIndexOf('\n', at) + 1
  const end = text.indexOf('\n', at)
  try {
    const record = JSON.parse(text.slice(start, end < 0 ? undefined : end)) as { agentSetting?: unknown }
    return typeof record.agentSetting === 'string' && record.agentSetting ? record.agentSetting : null
  } catch {
    return null
  }
}
