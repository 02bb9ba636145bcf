/**
 * A new session's record: its settings (session-settings.ts), and the conversation it starts from: Claude
 * Code's own to resume, a history written as a transcript that its first process resumes, or none.
 */
import { randomUUID } from 'node:crypto'
import type { SessionStore } from '@anthropic-ai/claude-agent-sdk'
import type { SessionRecord } from '../store/types.js'
import { type SeededTranscript, seedTranscript } from './claude-home.js'
import { settingsOf } from './session-settings.js'
import { pushTranscript } from './transcript-mirror.js'
import { EMPTY_USAGE, type EngineDefaults, type NewSession } from './types.js'

/**
 * `configDir`: Claude Code's config folder, where a history's transcript is written; `transcripts`: where
 * Claude Code's transcripts are mirrored (several replicas), which gets the seeded one too.
 */
export async function newSessionRecord(
  input: NewSession,
  defaults: EngineDefaults,
  configDir: string,
  transcripts?: SessionStore,
): Promise<SessionRecord> {
  const now = Date.now()
  const settings = settingsOf(input, defaults)
  const cwd = settings.workspace
  let seeded: SeededTranscript | null = null
  if (!input.resume && input.history?.length) {
    seeded = seedTranscript({ configDir, cwd, turns: input.history })
    if (transcripts) await pushTranscript(transcripts, seeded.path, seeded.sessionId)
  }
  return {
    id: randomUUID(),
    title: input.title ?? null,
    owner: input.owner ?? null,
    settings,
    claudeSessionId: input.resume ?? seeded?.sessionId ?? null,
    state: 'new',
    createdAt: now,
    updatedAt: now,
    usage: { ...EMPTY_USAGE },
    costUsd: 0,
    turns: 0,
  }
}
