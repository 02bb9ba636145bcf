/**
 * "The client hung up, so the turn is no longer wanted": one rule for every route that runs a turn for its
 * caller (a native turn answered as JSON or streamed, an OpenAI chat completion). Claude Code would otherwise
 * go on spending the caller's tokens on an answer nobody reads.
 */
import type { ServerResponse } from 'node:http'
import type { GatewayContext } from '../gateway.js'

type Interrupter = Pick<GatewayContext, 'engine' | 'log'>

/** Stop the session's running turn, without waiting; a turn that already ended needs nothing. */
export function interruptTurn(gateway: Interrupter, sessionId: string): void {
  gateway.engine
    .interrupt(sessionId)
    .catch((error: unknown) => gateway.log.warn({ err: error, session: sessionId }, 'interrupt failed'))
}

/**
 * What to do when the caller is gone: interrupt the session's turn unless `isDone()` (its answer was complete).
 * For a stream that reports its own end (EventStream's `onClose`, which also covers a slow consumer cut off).
 */
export const interruptUnlessDone =
  (gateway: Interrupter, sessionId: string, isDone: () => boolean) => (): void => {
    if (!isDone()) interruptTurn(gateway, sessionId)
  }

/**
 * Watch `raw` for the caller hanging up before `isDone()`, and interrupt the session's turn if it does.
 * Returns the function that stops watching (call it once the answer is sent).
 */
export function interruptOnHangUp(
  raw: ServerResponse,
  gateway: Interrupter,
  sessionId: string,
  isDone: () => boolean,
): () => void {
  const onClose = interruptUnlessDone(gateway, sessionId, isDone)
  raw.once('close', onClose)
  return () => raw.off('close', onClose)
}
