/**
 * The client-call mailbox of one session: calls of functions the API client executes, by Claude's tool_use
 * id. A call's result may arrive before or after Claude Code asks for it (the client reads the call from the
 * event stream as soon as Claude makes it), so each call gets its slot at whichever comes first.
 */
import type { ClientToolCall, ClientToolResult } from './client-tools.js'
import { after } from './timers.js'

interface ClientCallSlot {
  result: Promise<ClientToolResult>
  deliver(result: ClientToolResult): void
  delivered: boolean
}

export class ClientCallMailbox {
  private readonly slots = new Map<string, ClientCallSlot>()

  /** Claude made the call (or Claude Code asks for its result): its slot, made on first sight. */
  open(toolUseId: string): ClientCallSlot {
    let slot = this.slots.get(toolUseId)
    if (!slot) {
      let deliver!: (result: ClientToolResult) => void
      const result = new Promise<ClientToolResult>((resolve) => {
        deliver = resolve
      })
      slot = { result, deliver, delivered: false }
      this.slots.set(toolUseId, slot)
    }
    return slot
  }

  /**
   * Claude Code runs the call: wait for the client's result, Claude Code's cancelling, or `timeoutMs`
   * (0: no limit). At the limit `timedOut` is told first (false: the call is no longer this session's
   * concern, and nothing is delivered), then the call ends with the message as an error result.
   */
  async wait(
    call: ClientToolCall,
    timeoutMs: number,
    timedOut: (message: string) => boolean,
  ): Promise<ClientToolResult> {
    const slot = this.open(call.toolUseId)
    const timer = after(timeoutMs, () => {
      if (slot.delivered) return
      const message = `The client did not return the result of ${call.name} within ${timeoutMs} ms`
      if (!timedOut(message)) return
      slot.delivered = true
      slot.deliver({ content: message, isError: true })
    })
    const aborted = new Promise<ClientToolResult>((resolve) => {
      call.signal.addEventListener(
        'abort',
        () => resolve({ content: 'The call was cancelled', isError: true }),
        { once: true },
      )
    })
    try {
      return await Promise.race([slot.result, aborted])
    } finally {
      if (timer) clearTimeout(timer)
    }
  }

  /** Whether a call with this id waits for the client's result. */
  isWaiting(toolUseId: string): boolean {
    const slot = this.slots.get(toolUseId)
    return slot !== undefined && !slot.delivered
  }

  /** The client's result of a waiting call (see `isWaiting`). */
  deliver(toolUseId: string, result: ClientToolResult): void {
    const slot = this.slots.get(toolUseId)
    if (!slot || slot.delivered) return
    slot.delivered = true
    slot.deliver(result)
  }

  /** Tool_use ids of the calls that still wait for a result. */
  pending(): string[] {
    return [...this.slots].filter(([, slot]) => !slot.delivered).map(([id]) => id)
  }

  /** Claude Code has the call's result: the slot is done. */
  close(toolUseId: string): void {
    this.slots.delete(toolUseId)
  }

  /** Let go of every call (the turn ended, or its process did): each waiting one ends with `reason`. */
  releaseAll(reason: string): void {
    for (const slot of this.slots.values())
      if (!slot.delivered) slot.deliver({ content: reason, isError: true })
    this.slots.clear()
  }
}
