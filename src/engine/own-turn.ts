import type { SDKMessage, SDKResultMessage } from '@anthropic-ai/claude-agent-sdk'
import { turnEnded } from './timers.js'

/**
 * A turn of the gateway's own in a process (priming a spare, a `/clear`): its messages go nowhere, and it
 * ends with its result. A kind of turn says what it notes of its messages and what its end must show.
 */
export abstract class OwnTurn {
  /** The turn's result, once it came. */
  protected result: SDKResultMessage | null = null
  private settle!: () => void
  private readonly ended = new Promise<void>((resolve) => {
    this.settle = resolve
  })

  /** @param doing what the process does in the turn, for the errors of `finished` (`warming up`). */
  constructor(private readonly doing: string) {}

  /** Whether this message belongs to the turn (it goes no further). */
  takes(message: SDKMessage): boolean {
    if (this.result) return this.takesAfterEnd(message)
    this.note(message)
    if (message.type === 'result') {
      this.result = message
      this.settle()
    }
    return true
  }

  /**
   * Wait for the turn to end (0: no time limit). Rejects when the process exits or the time runs out first,
   * and when the turn did not do what it was for (`check`).
   */
  async finished(exited: Promise<unknown>, timeoutMs: number): Promise<void> {
    await turnEnded(this.ended, exited, timeoutMs, this.doing)
    this.check()
  }

  /** Notes what the turn's messages tell, up to its result. */
  protected abstract note(message: SDKMessage): void

  /** Throws when the turn that ended did not do what it was for. */
  protected abstract check(): void

  /** Whether a message after the result still belongs to the turn: none, unless a kind says so. */
  protected takesAfterEnd(_message: SDKMessage): boolean {
    return false
  }
}
