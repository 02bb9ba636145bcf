/**
 * A new session's record: its settings (session-settings.ts), and the conversation it starts from: Claude
 * Code's own to resume, a history written as a transcript that its first process resumes, or none.
 */
import { randomUUID } from 'node:crypto'
import type { SessionRecord } from '../store/types.js'
import { seedTranscript } from './claude-home.js'
import { settingsOf } from './session-settings.js'
import { EMPTY_USAGE, type EngineDefaults, type NewSession } from './types.js'

/** `configDir`: Claude Code's config folder, where a history's transcript is written. */
export function newSessionRecord(
  input: NewSession,
  defaults: EngineDefaults,
  configDir: string,
): SessionRecord {
  const now = Date.now()
  const settings = settingsOf(input, defaults)
  const cwd = settings.workspace
  return {
    id: randomUUID(),
    title: input.title ?? null,
    settings,
    claudeSessionId:
      input.resume ??
      (input.history?.length ? seedTranscript({ configDir, cwd, turns: input.history }).sessionId : null),
    state: 'new',
    createdAt: now,
    updatedAt: now,
    usage: { ...EMPTY_USAGE },
    costUsd: 0,
    turns: 0,
  }
}
