/**
 * Reusing a live process for a new conversation. A session's process that its session gives back (idle
 * timeout, an OpenAI conversation nobody followed up, a slot reclaimed for a spare) can serve another new
 * conversation with the same start-up options instead of stopping, while the pool is short of spares of
 * that profile: it is sent `/clear`, which starts a new, empty conversation in ~50 ms and ~40 ms of CPU,
 * where a new process takes ~0.7–1 s and ~600 ms of CPU (docs/PERFORMANCE.md, session 12).
 *
 * What `/clear` leaves and what it does not (verified with the scripted model, test/integration/pool.test.ts):
 * the model's next request holds nothing of the earlier conversation (its transcript stays where it was, for
 * that session's own resume); it does hold the command's trace, a `<local-command-caveat>` text, the command's
 * name and its empty output, before the new conversation's first message, as after a `/clear` typed in a
 * terminal. What a process keeps beside its conversation is not all reset by `/clear`, so only a process that
 * kept nothing else is reused: no tool of Claude Code's ran in it (the shell's folder, files read, tasks,
 * permission rules granted), no slash command, no setting changed (a changed setting restarts the process
 * anyway). `pool.reuseProcesses: false` turns reuse off.
 */
import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk'
import type { Logger } from 'pino'
import { clientFunctionName } from '../events/client-tool-names.js'
import type { ContentBlock } from '../events/types.js'
import { OwnTurn } from './own-turn.js'
import type { Runner } from './runner.js'
import { isToolCall } from './translate.js'

/** What is sent to start a new conversation in a live process. */
export const CLEAR_COMMAND = '/clear'
/**
 * Longest wait for a `/clear` (or `pool.startTimeoutMs` if shorter): it answers in ~50 ms, and a process that
 * has not by then is stuck or still busy; it is stopped, and the session it served waits no longer.
 */
export const CLEAR_TIMEOUT_MS = 5_000

/** A tool call of Claude Code's own (not a function the API client runs itself: the client keeps its state). */
const ownTool = (block: { type: string; name?: string }) =>
  isToolCall(block) && clientFunctionName(block.name ?? '') === undefined

/**
 * Whether this message shows the process doing more than talking: after it, the process may keep state
 * beside its conversation, and it is not reused. Read from the stream too: an interrupted turn's tool call
 * may never reach a whole assistant message.
 */
export function changesProcess(message: SDKMessage): boolean {
  if (message.type === 'assistant') return message.message.content.some(ownTool)
  if (message.type === 'stream_event') {
    const event = message.event
    return event.type === 'content_block_start' && ownTool(event.content_block)
  }
  return message.type === 'system' && message.subtype === 'local_command_output'
}

/** Whether a message sent to the process is a slash command (run by the CLI, which may change its state). */
export function isCommand(content: string | readonly ContentBlock[]): boolean {
  const first = typeof content === 'string' ? content : content.find((block) => block.type === 'text')?.text
  return typeof first === 'string' && first.trimStart().startsWith('/')
}

/**
 * What a process did beside talking, from the messages sent to it and those it sent: whether it may be
 * reused. Not while a session's message is still in flight (a turn the gateway ended, deleted or timed out,
 * that Claude Code has not finished), nor once it ran a tool or a command.
 */
export class ProcessUse {
  private changed = false
  /** Session messages Claude Code has not said it finished (`command_lifecycle`). */
  private readonly inFlight = new Set<string>()

  get onlyTalked(): boolean {
    return !this.changed && this.inFlight.size === 0
  }

  /** A session's message was sent. */
  sent(uuid: string, content: string | readonly ContentBlock[]): void {
    this.inFlight.add(uuid)
    if (isCommand(content)) this.changed = true
  }

  /**
   * A message of the process. `hidden`: of a turn of the gateway's own (its result says nothing of a
   * session's); `finished`: the message whose turn Claude Code says it is done with, if any.
   */
  saw(message: SDKMessage, hidden: boolean, finished: string | undefined): void {
    if (finished !== undefined) this.inFlight.delete(finished)
    // A result without a model turn answered a command the CLI ran itself, whatever its text looked like.
    const ranLocally = !hidden && message.type === 'result' && message.num_turns === 0
    if (ranLocally || changesProcess(message)) this.changed = true
  }
}

/** One `/clear` in a live process: its messages go nowhere, and it says when the new conversation is there. */
export class Clearing extends OwnTurn {
  /** Claude Code's id of the new conversation (from `conversation_reset`). */
  conversationId: string | null = null

  /** @param commandUuid the uuid of the `/clear` message: its lifecycle notice after the result is taken too. */
  constructor(private readonly commandUuid: string) {
    super('clearing its conversation')
  }

  protected note(message: SDKMessage): void {
    if (message.type === 'conversation_reset') this.conversationId = message.new_conversation_id
  }

  protected check(): void {
    if (!this.conversationId) throw new Error('Claude Code did not start a new conversation on /clear')
  }

  protected override takesAfterEnd(message: SDKMessage): boolean {
    const notice = message as { type: string; command_uuid?: unknown }
    return notice.type === 'command_lifecycle' && notice.command_uuid === this.commandUuid
  }
}

/** The processes given back that are clearing their conversation to become spares: spares on their way. */
export class Clearings {
  private readonly runners = new Set<Runner>()

  get size(): number {
    return this.runners.size
  }

  /** Those of one profile. */
  of(key: string): number {
    return [...this.runners].filter((runner) => runner.key === key).length
  }

  /** Clear the runner's conversation for another (`/clear`); false (logged) when it could not: stop it. */
  async clear(runner: Runner, startTimeoutMs: number, log: Logger): Promise<boolean> {
    this.runners.add(runner)
    try {
      await runner.clear(Math.min(startTimeoutMs || CLEAR_TIMEOUT_MS, CLEAR_TIMEOUT_MS))
      return true
    } catch (error) {
      log.warn({ err: (error as Error).message, runner: runner.id }, 'a process could not be reused')
      return false
    } finally {
      this.runners.delete(runner)
    }
  }
}
