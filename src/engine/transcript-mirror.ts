/**
 * Claude Code's transcripts between the config folder and the store they are mirrored to (PostgreSQL, the
 * Agent SDK's `sessionStore`, which every replica reads). The CLI mirrors what it writes itself, and a
 * resumed session's CLI writes only to a temporary copy (the SDK resumes from the store): the store has
 * the whole conversation, this replica's folder what it last ran here. What the gateway reads or writes in
 * a transcript itself (a seeded history, a fork) goes through these two, keyed as the SDK keys them: the
 * project folder's name (the workspace's slug) and Claude's session id.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { basename, dirname } from 'node:path'
import type { SessionStore } from '@anthropic-ai/claude-agent-sdk'
import {
  agentClearedRecord,
  clearTranscriptAgent,
  type TranscriptLocation,
  transcriptPath,
} from './claude-home.js'

const keyOf = (path: string, sessionId: string) => ({ projectKey: basename(dirname(path)), sessionId })

/** Copies a transcript the gateway wrote into the store: a replica without this one's disk resumes it too. */
export async function pushTranscript(store: SessionStore, path: string, sessionId: string): Promise<void> {
  const lines = (await readFile(path, 'utf8')).split('\n').filter((line) => line !== '')
  await store.append(
    keyOf(path, sessionId),
    lines.map((line) => JSON.parse(line)),
  )
}

/**
 * Writes the store's copy of a transcript over this replica's file, before the gateway reads it itself (a
 * fork): the turns that ran after a resume, or on another replica, are in the store only. Nothing stored:
 * the file stays as it is.
 */
export async function pullTranscript(store: SessionStore, location: TranscriptLocation): Promise<void> {
  // A session id names a file: only the CLI's own shape of id, nothing that could walk elsewhere.
  if (!/^[\w-]+$/.test(location.sessionId)) return
  const path = await transcriptPath(location)
  const entries = await store.load(keyOf(path, location.sessionId))
  if (!entries?.length) return
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  await writeFile(path, entries.map((entry) => `${JSON.stringify(entry)}\n`).join(''), { mode: 0o600 })
}

/**
 * `clearTranscriptAgent` on the whole conversation: the store's copy first written here, the record that
 * clears the agent then appended to both, so that a resume from either runs without the agent.
 */
export async function clearAgentEverywhere(
  store: SessionStore | undefined,
  location: TranscriptLocation,
): Promise<void> {
  if (store) await pullTranscript(store, location)
  if (!(await clearTranscriptAgent(location)) || !store) return
  const path = await transcriptPath(location)
  await store.append(keyOf(path, location.sessionId), [agentClearedRecord(location.sessionId)])
}
