/**
 * Priming a warm spare. Claude Code does a good deal of one-off work on the first prompt a process handles
 * (prompt-submit hooks, attachments, system prompt and tool list assembly, code paths run for the first time):
 * about 40 ms of a first text that takes ~145 ms on an untouched process and ~105 ms on a primed one, with a
 * zero-latency model (docs/PERFORMANCE.md). So a spare is sent one prompt while it idles, and a
 * UserPromptSubmit hook of the gateway blocks that prompt: the CLI runs its prompt path, calls no model and
 * keeps nothing of the prompt in the conversation. Slash commands would leave a `<local-command-caveat>` trace
 * that the next conversation's model would see, and `/clear` leaves its own.
 *
 * What the blocked prompt leaves is a short transcript record (`system`/`informational`) that neither the
 * model nor the SDK's session views (`listSessions`, `getSessionMessages`) show; a spare that is never used
 * would leave a transcript holding only that record, so its transcript is removed when it stops (runner.ts).
 */
import type { HookCallback, Options, SDKMessage } from '@anthropic-ai/claude-agent-sdk'
import { OwnTurn } from './own-turn.js'

/** Worded for whoever reads a raw transcript: it says what it is. */
export const PRIMING_PROMPT =
  'Claude Code Gateway: warming up this process. A hook of the gateway blocks this prompt; no model sees it.'

/** The CLI let the priming prompt through (it did not run the gateway's hook, or ignored its verdict). */
export class PrimingUnsupportedError extends Error {
  override readonly name = 'PrimingUnsupportedError'
}

/** One spare's priming: the hook that blocks its prompt, the turn's messages, and its outcome. */
export class Priming extends OwnTurn {
  /** Claude Code's session id of the primed process, from the priming turn's `system/init`. */
  claudeSessionId: string | null = null
  private blocked = false

  constructor() {
    super('warming up')
  }

  /** The process's start-up hooks with the one that blocks the priming prompt added. */
  withHook(hooks: Options['hooks']): NonNullable<Options['hooks']> {
    const block: HookCallback = async (input) => {
      if (this.result || input.hook_event_name !== 'UserPromptSubmit' || input.prompt !== PRIMING_PROMPT)
        return { continue: true }
      this.blocked = true
      return { decision: 'block', reason: 'Claude Code Gateway warm-up' }
    }
    return { ...hooks, UserPromptSubmit: [...(hooks?.UserPromptSubmit ?? []), { hooks: [block] }] }
  }

  protected note(message: SDKMessage): void {
    if (message.type === 'system' && message.subtype === 'init') this.claudeSessionId = message.session_id
  }

  /** PrimingUnsupportedError when the prompt was not blocked before any model call. */
  protected check(): void {
    if (!this.blocked || this.result?.num_turns !== 0) {
      throw new PrimingUnsupportedError(
        'Claude Code did not block the warm-up prompt with the gateway hook; spares are no longer primed',
      )
    }
  }
}
