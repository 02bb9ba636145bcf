/**
 * What a running turn waits for from the API client: answers to its permission requests, and results of the
 * functions the client executes. The turn goes on once they are in.
 */
import { GatewayError } from './errors.js'
import type { LiveSessions } from './live-session.js'
import type { TurnLine } from './turns.js'
import type { PermissionAnswer, ToolResultInput, WaitingPermission } from './types.js'

export class ClientReplies {
  constructor(
    private readonly sessions: LiveSessions,
    private readonly turns: TurnLine,
  ) {}

  /**
   * Results of client-executed function calls of the running turn: the turn goes on with them. Returns the
   * turn and the sequence number to follow it from. Fails when a call is not waiting (wrong id, timed out).
   */
  submitToolResults(
    sessionId: string,
    results: readonly ToolResultInput[],
  ): { turnId: string; afterSeq: number } {
    const live = this.sessions.live.get(sessionId)
    const active = live?.active
    if (!live || !active) {
      throw new GatewayError('invalid_request', 'No turn of this session is waiting for function results')
    }
    for (const result of results) {
      if (!live.clientCalls.isWaiting(result.toolUseId))
        throw new GatewayError(
          'invalid_request',
          `No function call '${result.toolUseId}' is waiting for a result`,
        )
    }
    const afterSeq = this.sessions.options.bus.currentSeq(sessionId)
    // The client came back with the results: a conversation that goes on keeps its process the usual time.
    active.idleTimeoutMs = undefined
    for (const result of results)
      live.clientCalls.deliver(result.toolUseId, { content: result.content, isError: result.isError })
    this.turns.resumeClock(live)
    return { turnId: active.id, afterSeq }
  }

  /** Tool_use ids of the running turn's client function calls that still wait for a result. */
  pendingClientCalls(sessionId: string): string[] {
    return this.sessions.live.get(sessionId)?.clientCalls.pending() ?? []
  }

  /** Answer a pending permission request; false when there is none with that id. */
  answerPermission(sessionId: string, requestId: string, answer: PermissionAnswer): boolean {
    return this.sessions.live.get(sessionId)?.permissions.answer(requestId, answer) ?? false
  }

  /** The session's permission requests that wait for an answer, oldest first. */
  pendingPermissions(sessionId: string): WaitingPermission[] {
    return this.sessions.live.get(sessionId)?.permissions.pending() ?? []
  }
}
