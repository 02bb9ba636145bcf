/**
 * Everything about Claude Code's home, its config folder: where it is for the gateway's CLI processes, where
 * a working directory's transcripts are in it, and what the gateway writes to or reads from a transcript.
 *
 * Seeding: a session started from a conversation history gets the transcript file the CLI itself would
 * have written, so that starting the CLI with `resume: <sessionId>` shows the model the history as real,
 * separate user and assistant turns instead of one flattened prompt.
 *
 * The format is what Claude Code 2.1.332 writes and reads back (verified in
 * test/integration/transcript.test.ts): one JSON object per line in
 * `<configDir>/projects/<projectSlug(cwd)>/<sessionId>.jsonl`, each conversation record linked to the
 * previous one by `parentUuid`. The CLI rebuilds the conversation by walking `parentUuid` back from the last
 * record, so an unlinked record is dropped.
 *
 * What the CLI does with such a history on resume (observed with 2.1.332):
 * - a history that ends with a user turn (text or tool results) gets a synthetic assistant turn
 *   "No response requested." before the new message; an assistant `tool_use` without a result gets a
 *   synthetic "[Tool call interrupted…]" result. Both are appended to the file, the seeded lines are kept.
 * - thinking blocks are sent back only when the record's `model` is the model of the request (see `model`).
 * - the main agent is recorded as `{"type":"agent-setting","agentSetting":"<name>"}` (last one wins) and
 *   restored on a resume without an `agent` option (the resumed turn still ran with the agent's prompt and
 *   tools). To resume without an agent, the last such record must be empty: then the CLI runs with its
 *   default prompt and tools.
 */
import { randomUUID } from 'node:crypto'
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs'
import { appendFile, mkdir, readdir, readFile, realpath, rename, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import type { ContentBlock } from '../events/types.js'
import { isInside } from '../tools/confinement.js'

export interface SeedTurn {
  role: 'user' | 'assistant'
  content: string | ContentBlock[]
}

export interface SeedOptions {
  /** Claude Code's config folder, as the CLI will see it (see `claudeConfigDir`). */
  configDir: string
  /** The working directory the CLI will be started in. */
  cwd: string
  turns: SeedTurn[]
  /**
   * The model id to record as the author of the assistant turns. Leave it out unless the resumed session
   * runs this exact model: the CLI sends earlier thinking blocks only when they come from the model of the
   * request (their signatures are bound to it), and a resume without an explicit `model` option switches
   * the session to the model of the last assistant record.
   */
  model?: string
}

export interface SeededTranscript {
  /** Claude's session id: pass it as the SDK's `resume` option. */
  sessionId: string
  /** The transcript file written. */
  path: string
}

/** Longest folder name Claude Code uses as-is; longer ones are cut and get a hash suffix. */
const MAX_SLUG_LENGTH = 200
/** How a transcript's main-agent records start (see the top of this file). */
const AGENT_SETTING = '"type":"agent-setting"'

/**
 * The folder under `<configDir>/projects/` where Claude Code keeps the transcripts of a working directory:
 * every UTF-16 code unit but ASCII letters and digits becomes `-`; a name longer than 200 characters is cut
 * to 200 and suffixed with `-` and a base-36 hash of the whole path (the CLI's own rule). Pass the real path
 * (symbolic links resolved): that is the cwd the CLI sees.
 */
export function projectSlug(cwd: string): string {
  const slug = cwd.replace(/[^a-zA-Z0-9]/g, '-')
  if (slug.length <= MAX_SLUG_LENGTH) return slug
  let hash = 0
  for (let i = 0; i < cwd.length; i++) hash = (Math.imul(hash, 31) + cwd.charCodeAt(i)) | 0
  return `${slug.slice(0, MAX_SLUG_LENGTH)}-${Math.abs(hash).toString(36)}`
}

/**
 * Claude Code's config folder for the environment its processes get: `CLAUDE_CONFIG_DIR`, else `~/.claude`.
 * The gateway's is the engine's `claudeConfigDir` (its CLI environment, `claude.env` over the environment the
 * gateway was given): ask that, not `process.env`, which the CLI processes may not share.
 */
export function claudeConfigDir(env: NodeJS.ProcessEnv): string {
  const configured = env.CLAUDE_CONFIG_DIR?.trim()
  if (configured) return resolve(configured)
  return join(env.HOME || homedir(), '.claude')
}

/**
 * Write a new transcript holding `turns` and return its fresh session id. Consecutive turns of the same
 * role are merged into one message (what the Messages API does with them anyway), with a user message's
 * tool results first; empty turns are left out. The file is created, never overwritten, with mode 0600,
 * always inside `configDir`.
 */
export function seedTranscript(options: SeedOptions): SeededTranscript {
  const configDir = resolve(options.configDir)
  const cwd = realCwd(options.cwd)
  const sessionId = randomUUID()
  const projectDir = join(configDir, 'projects', projectSlug(cwd))
  const path = join(projectDir, `${sessionId}.jsonl`)
  // The slug has only [a-zA-Z0-9-] and the id is ours, so this holds; checked anyway, it is a write.
  if (!isInside(configDir, path)) throw new Error('transcript path escapes the config folder')

  const turns = mergeTurns(options.turns)
  const now = Date.now()
  let parentUuid: string | null = null
  const lines = turns.map((turn, index) => {
    const uuid = randomUUID()
    const message =
      turn.role === 'user'
        ? { role: 'user', content: turn.content }
        : assistantMessage(turn.content, options.model)
    const record = {
      parentUuid,
      isSidechain: false,
      type: turn.role,
      message,
      uuid,
      // Distinct, increasing timestamps in the past keep the order unambiguous for readers that sort by time.
      timestamp: new Date(now - (turns.length - index)).toISOString(),
      userType: 'external',
      cwd,
      sessionId,
    }
    parentUuid = uuid
    return `${JSON.stringify(record)}\n`
  })

  mkdirSync(projectDir, { recursive: true, mode: 0o700 })
  // A folder on the way could be a link to elsewhere: write only where it really is inside the config folder.
  if (!isInside(realpathSync(configDir), realpathSync(projectDir))) {
    throw new Error('transcript folder resolves outside the config folder')
  }
  // 'wx': fail rather than overwrite a file or follow a link planted at this name.
  writeFileSync(path, lines.join(''), { mode: 0o600, flag: 'wx' })
  return { sessionId, path }
}

export interface TranscriptLocation {
  /** Claude Code's config folder, as the CLI sees it (see `claudeConfigDir`). */
  configDir: string
  /** The working directory the CLI will be started in. */
  cwd: string
  /** Claude Code's session id (the transcript's name). */
  sessionId: string
}

/**
 * Move a session's transcript to the project folder of `cwd` when it is in another one (the session was
 * moved to another workspace): the CLI would still find it there, but everything that looks transcripts up
 * by working directory (the CLI's session list, `transcriptPath`) would not. The folder of its subagents'
 * transcripts moves along. Call it while no CLI runs the session. Returns the transcript's path, or null
 * when there is no transcript.
 */
export async function adoptTranscript({
  configDir,
  cwd,
  sessionId,
}: TranscriptLocation): Promise<string | null> {
  // A session id names files: only the CLI's own shape of id, nothing that could walk elsewhere.
  if (!/^[\w-]+$/.test(sessionId)) return null
  const projects = join(resolve(configDir), 'projects')
  const home = join(projects, projectSlug(realCwd(cwd)))
  const name = `${sessionId}.jsonl`
  const exists = (path: string) =>
    stat(path).then(
      () => true,
      () => false,
    )
  if (await exists(join(home, name))) return join(home, name)
  for (const folder of await readdir(projects).catch(() => [])) {
    const from = join(projects, folder)
    if (from === home || !(await exists(join(from, name)))) continue
    await mkdir(home, { recursive: true, mode: 0o700 })
    await rename(join(from, name), join(home, name))
    if (await exists(join(from, sessionId))) await rename(join(from, sessionId), join(home, sessionId))
    return join(home, name)
  }
  return null
}

/** Where Claude Code keeps a session's transcript (the working directory's real path names its folder). */
export async function transcriptPath({ configDir, cwd, sessionId }: TranscriptLocation): Promise<string> {
  const real = await realpath(cwd).catch(() => cwd)
  return join(configDir, 'projects', projectSlug(real), `${sessionId}.jsonl`)
}

/** The main agent the transcript records last (null: none, or no transcript). */
export async function transcriptAgent(options: TranscriptLocation): Promise<string | null> {
  const text = await readFile(await transcriptPath(options), 'utf8').catch(() => '')
  return lastAgentSetting(text)
}

/**
 * Make a resume without `agent` run without one: append an empty `agent-setting` record when the transcript's
 * last one names an agent. Call it before starting the CLI with `resume` and no `agent`, once the session's
 * previous process has stopped. Returns whether it wrote; never throws (no transcript: nothing to do).
 */
export async function clearTranscriptAgent(options: TranscriptLocation): Promise<boolean> {
  try {
    const path = await transcriptPath(options)
    const text = await readFile(path, 'utf8')
    if (!lastAgentSetting(text)) return false
    const record = JSON.stringify(agentClearedRecord(options.sessionId))
    await appendFile(path, `${text.endsWith('\n') ? '' : '\n'}${record}\n`)
    return true
  } catch {
    return false
  }
}

/** The transcript record that leaves the main agent unset (the last `agent-setting` record wins). */
export function agentClearedRecord(sessionId: string) {
  return { type: 'agent-setting', agentSetting: '', sessionId }
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

function realCwd(cwd: string): string {
  try {
    return realpathSync(cwd)
  } catch {
    return resolve(cwd)
  }
}

/** An assistant record's message, shaped like the API response the CLI stores. */
function assistantMessage(content: ContentBlock[], model: string | undefined) {
  return {
    id: `msg_seed_${randomUUID().replaceAll('-', '')}`,
    type: 'message',
    role: 'assistant',
    ...(model ? { model } : {}),
    content,
    stop_reason: content.some((block) => block.type === 'tool_use') ? 'tool_use' : 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 0, output_tokens: 0 },
  }
}

interface MergedTurn {
  role: 'user' | 'assistant'
  content: ContentBlock[]
}

function mergeTurns(turns: SeedTurn[]): MergedTurn[] {
  const merged: MergedTurn[] = []
  for (const turn of turns) {
    const blocks = toBlocks(turn.content)
    if (blocks.length === 0) continue
    const last = merged.at(-1)
    if (last && last.role === turn.role) last.content.push(...blocks)
    else merged.push({ role: turn.role, content: blocks })
  }
  for (const turn of merged) {
    // The API wants a user message's tool results before anything else in it.
    if (turn.role === 'user') {
      turn.content = [
        ...turn.content.filter((block) => block.type === 'tool_result'),
        ...turn.content.filter((block) => block.type !== 'tool_result'),
      ]
    }
  }
  return merged
}

function toBlocks(content: string | ContentBlock[]): ContentBlock[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }]
  return content.filter((block) => !(block.type === 'text' && block.text === ''))
}
