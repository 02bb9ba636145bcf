/**
 * New sessions from existing Claude Code conversations: a fork of a gateway session (whole, or up to one of
 * its turns or messages) and an import of a conversation the CLI itself had in a workspace. The fork is a
 * copy of Claude's transcript with fresh ids (claude-sessions.ts), so that each side goes on without the
 * other; an import resumes the CLI's own transcript.
 */
import { constants } from 'node:fs'
import { chmod, copyFile, mkdir, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { EventBus } from '../events/bus.js'
import type { SessionRecord, SessionSettings } from '../store/types.js'
import { transcriptPath } from './claude-home.js'
import { findClaudeSession, forkClaudeSession } from './claude-sessions.js'
import { GatewayError } from './errors.js'
import type { NewSession, SessionManager } from './sessions.js'
import { pullTranscript, pushTranscript } from './transcript-mirror.js'

export interface ForkOptions {
  /**
   * Where the branch ends: a turn of the session (after Claude's last message in it), the id of one of
   * Claude's messages (`msg_…`, every block of it kept) or the uuid of an entry of Claude's transcript.
   * Absent: the whole conversation.
   */
  at?: string
  /** Absent: the source's title with " (fork)". */
  title?: string | null
  /**
   * Who the fork belongs to; absent: the source's owner. With a Claude config folder other than the
   * source's, the copy of the conversation is written to theirs, where their processes resume it.
   */
  owner?: string | null
  /** Settings of the fork other than the source's (what the new owner's policy made of them). */
  settings?: Partial<SessionSettings>
}

/** The longest title the API takes: an imported conversation's summary (its first prompt) is cut to it. */
const TITLE_MAX = 200
/** Stored events read at a time while looking for a turn's messages. */
const SCAN_CHUNK = 1000

/**
 * A new session with the source's settings and a copy of its conversation. The copy is taken from Claude's
 * transcript, where a turn still running has no end yet: forking its session whole is refused meanwhile.
 */
export async function forkSession(
  engine: SessionManager,
  bus: EventBus,
  sessionId: string,
  options: ForkOptions,
): Promise<SessionRecord> {
  const source = await engine.getSession(sessionId)
  if (!source) throw new GatewayError('not_found', `Session ${sessionId} does not exist`)
  const title = options.title !== undefined ? options.title : source.title && `${source.title} (fork)`
  const { at } = options
  if (at === undefined && engine.runnerOf(sessionId)?.busy) {
    throw new GatewayError(
      'session_busy',
      `Session ${sessionId} is running a turn: fork it at a message, or once the turn has ended`,
      1_000,
    )
  }
  const owner = options.owner !== undefined ? options.owner : (source.owner ?? null)
  let resume: string | undefined
  if (source.claudeSessionId) {
    const configDir = await engine.configDirOf(source.owner ?? null)
    const { workspace } = source.settings
    const { transcripts } = engine
    // The store has the whole conversation (turns after a resume, or run on another replica): forked from it.
    if (transcripts)
      await pullTranscript(transcripts, { configDir, cwd: workspace, sessionId: source.claudeSessionId })
    const outcome = await forkClaudeSession(configDir, workspace, source.claudeSessionId, {
      upTo: at === undefined ? undefined : await lastMessageOfTurn(bus, sessionId, at),
      title: title ?? undefined,
    })
    if ('missing' in outcome) {
      throw new GatewayError(
        'not_found',
        outcome.missing === 'message'
          ? `No message '${at}' in the conversation of session ${sessionId}`
          : `Claude Code's transcript of session ${sessionId} was not found`,
      )
    }
    resume = outcome.sessionId
    let path = await transcriptPath({ configDir, cwd: workspace, sessionId: resume })
    const ownConfigDir = await engine.configDirOf(owner)
    if (ownConfigDir !== configDir) path = await moveTranscript(path, ownConfigDir, workspace, resume)
    if (transcripts) await pushTranscript(transcripts, path, resume)
  } else if (at !== undefined) {
    throw new GatewayError('not_found', `Session ${sessionId} has no conversation yet to fork at '${at}'`)
  }
  // The copy has the conversation only, no agent record: the fork's agent is its `agent` setting.
  return engine.createSession({ ...source.settings, ...options.settings, title, resume, owner })
}

/**
 * A gateway session that continues a conversation the CLI had in `input.workspace`; or, when a session of
 * the gateway (not closed) continues it already, that one and no new session: two processes would write
 * one transcript. `sees` tells which owners' sessions the importer may know of (all when absent): a
 * conversation that a session of any other owner has, closed or not, is answered as missing, so that
 * neither its id nor its transcript reaches them.
 */
export async function importSession(
  engine: SessionManager,
  claudeSessionId: string,
  input: NewSession & { workspace: string },
  sees: (owner: string | null) => boolean = () => true,
): Promise<{ created: SessionRecord } | { heldBy: SessionRecord }> {
  const configDir = await engine.configDirOf(input.owner ?? null)
  const missing = () =>
    new GatewayError(
      'not_found',
      `Claude Code has no session ${claudeSessionId} in workspace ${input.workspace}`,
    )
  const found = await findClaudeSession(configDir, input.workspace, claudeSessionId)
  if (!found) throw missing()
  // Every workspace is searched: two folders can share one transcript folder (its name is the path with
  // every other character than a letter or digit made '-').
  const holders = (await engine.listSessions({ limit: Number.MAX_SAFE_INTEGER, offset: 0 })).items.filter(
    (record) => record.claudeSessionId === claudeSessionId,
  )
  if (holders.some((record) => !sees(record.owner ?? null))) throw missing()
  const heldBy = holders.find((record) => record.state !== 'closed')
  if (heldBy) return { heldBy }
  const title =
    input.title !== undefined ? input.title : (found.customTitle ?? found.summary).slice(0, TITLE_MAX)
  return { created: await engine.createSession({ ...input, title, resume: claudeSessionId }) }
}

/** The fork's transcript, moved to its owner's config folder (0600 in a 0700 folder, as Claude Code's own). */
async function moveTranscript(
  from: string,
  configDir: string,
  cwd: string,
  sessionId: string,
): Promise<string> {
  const to = await transcriptPath({ configDir, cwd, sessionId })
  await mkdir(dirname(to), { recursive: true, mode: 0o700 })
  await copyFile(from, to, constants.COPYFILE_EXCL)
  await chmod(to, 0o600)
  await rm(from, { force: true })
  return to
}

/**
 * When `at` is a turn of the session: the id of Claude's last message of the main conversation in it
 * (a fork "after the turn"). Anything else is returned as it is, for the transcript to resolve.
 */
async function lastMessageOfTurn(bus: EventBus, sessionId: string, at: string): Promise<string> {
  let turnFound = false
  let turnEnded = false
  let last: string | undefined
  for (let after = 0; !turnEnded; ) {
    const events = await bus.replay(sessionId, after, SCAN_CHUNK)
    for (const event of events) {
      if (!('turnId' in event) || event.turnId !== at) continue
      turnFound = true
      if (event.type === 'message' && event.parentToolUseId === null && !event.synthetic)
        last = event.messageId
      turnEnded = event.type === 'turn.completed'
      if (turnEnded) break
    }
    if (events.length < SCAN_CHUNK) break
    after = events.at(-1)!.seq
  }
  if (!turnFound) return at
  if (last === undefined)
    throw new GatewayError(
      'not_found',
      `Turn ${at} of session ${sessionId} has no message of Claude's to fork at`,
    )
  return last
}
