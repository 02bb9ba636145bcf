/**
 * The permission broker of one session: Claude Code asks before running a tool, the broker publishes the
 * request and waits for the API client's answer (or its time limit, or the turn's interrupt). Every request
 * ends with one `permission.resolved`.
 */
import { randomUUID } from 'node:crypto'
import type { PermissionResult } from '@anthropic-ai/claude-agent-sdk'
import type { EventBody, EventOf, GatewayEvent } from '../events/types.js'
import type { PermissionRequest } from './runner.js'
import { after } from './timers.js'
import type { PermissionAnswer, WaitingPermission } from './types.js'

export type PermissionSettler = 'client' | 'timeout' | 'interrupt'

/** How one request is asked: its turn, whether the session takes answers at all, and for how long. */
export interface PermissionAsk {
  turnId: string
  /** False: the session does not take interactive approvals, and the request is denied by rule. */
  interactive: boolean
  /** How long the request waits for an answer (0: no limit). */
  timeoutMs: number
}

interface PendingPermission extends WaitingPermission {
  settle(answer: PermissionAnswer, by: PermissionSettler): void
}

export class PermissionBroker {
  /** Requests waiting for an answer, by request id, oldest first. */
  private readonly waiting = new Map<string, PendingPermission>()

  /** `publish` returns null for an event that could not be kept (its turn fails then). */
  constructor(private readonly publish: (body: EventBody) => GatewayEvent | null) {}

  ask(
    request: PermissionRequest,
    { turnId, interactive, timeoutMs }: PermissionAsk,
  ): Promise<PermissionResult> {
    const requestId = request.requestId ?? randomUUID()
    const requested = this.publish({
      type: 'permission.requested',
      turnId,
      requestId,
      toolUseId: request.toolUseID,
      toolName: request.toolName,
      input: request.input,
      ...(request.decisionReason || request.title ? { reason: request.decisionReason ?? request.title } : {}),
    }) as EventOf<'permission.requested'> | null
    // A request that cannot be kept cannot be answered either: its turn is failing.
    if (!requested) return Promise.resolve({ behavior: 'deny', message: 'The request could not be kept' })
    if (!interactive) {
      const message = `${request.toolName} needs approval and this session does not take interactive approvals`
      this.publish({ type: 'permission.resolved', turnId, requestId, behavior: 'deny', message, by: 'rule' })
      return Promise.resolve({ behavior: 'deny', message })
    }
    return new Promise((resolve) => {
      const settle = (answer: PermissionAnswer, by: PermissionSettler) => {
        if (!this.waiting.delete(requestId)) return
        if (timer) clearTimeout(timer)
        request.signal.removeEventListener('abort', onAbort)
        if (answer.behavior === 'allow') {
          const { updatedInput } = answer
          this.publish({
            type: 'permission.resolved',
            turnId,
            requestId,
            behavior: 'allow',
            by,
            ...(updatedInput ? { updatedInput } : {}),
          })
          resolve({ behavior: 'allow', updatedInput: updatedInput ?? request.input })
          return
        }
        const message = answer.message || `The user denied ${request.toolName}`
        this.publish({ type: 'permission.resolved', turnId, requestId, behavior: 'deny', message, by })
        resolve({ behavior: 'deny', message })
      }
      const onAbort = () => settle({ behavior: 'deny', message: 'The turn was interrupted' }, 'interrupt')
      const timer = after(timeoutMs, () =>
        settle({ behavior: 'deny', message: `No answer within ${timeoutMs} ms` }, 'timeout'),
      )
      request.signal.addEventListener('abort', onAbort, { once: true })
      this.waiting.set(requestId, { requested, expiresAt: timer ? requested.ts + timeoutMs : null, settle })
    })
  }

  /** The client's answer to a waiting request; false when none waits with that id. */
  answer(requestId: string, answer: PermissionAnswer): boolean {
    const pending = this.waiting.get(requestId)
    if (!pending) return false
    pending.settle(answer, 'client')
    return true
  }

  /** The requests that wait for an answer, oldest first. */
  pending(): WaitingPermission[] {
    return [...this.waiting.values()].map(({ requested, expiresAt }) => ({ requested, expiresAt }))
  }

  /** Deny every waiting request (the session lets its process go, or the gateway stops). */
  settleAll(message: string): void {
    for (const { settle } of this.waiting.values()) settle({ behavior: 'deny', message }, 'interrupt')
  }
}
