/**
 * A turn's retry budget: how long Claude Code may retry a failing model API before the gateway gives the
 * turn up, so that a client (or the router in front of it) can fall back instead of waiting for minutes.
 */
import type { EventBody } from '../events/types.js'
import type { ActiveTurn, LiveSession, TurnFailure } from './live-session.js'
import type { Runner } from './runner.js'
import { isAuthFailure } from './translate.js'

/** Ends the session's running turn with `failure`, stopping `runner` (TurnLine's `abandon`). */
export type Abandon = (runner: Runner, failure: TurnFailure) => void

/**
 * Follow Claude Code's retries of the model API for the turn. Claude's API refusing the credentials
 * cannot be fixed by retrying: the turn ends at the first such retry. Other failures (overload, rate
 * limits, 5xx) are retried by Claude Code for minutes; the turn gives them its retry budget, counted from
 * its start or its last progress, and is abandoned past it. Any other event of the turn is progress.
 */
export function watchRetries(live: LiveSession, active: ActiveTurn, body: EventBody, abandon: Abandon): void {
  if (body.type !== 'api.retry') {
    if (active.retryTimer) clearTimeout(active.retryTimer)
    active.retryTimer = null
    active.lastRetry = null
    active.waitingSince = Date.now()
    return
  }
  active.lastRetry = body
  const runner = live.runner
  if (!runner || active.failure) return
  if (isAuthFailure(body.status)) {
    abandon(runner, {
      code: 'upstream_auth_failed',
      message: `Claude's API refused the credentials Claude Code runs with (HTTP ${body.status}): check the API key or login of the gateway's Claude Code`,
    })
    return
  }
  if (active.retryBudgetMs <= 0 || active.retryTimer) return
  const budget = active.retryBudgetMs
  active.retryTimer = setTimeout(
    () => {
      active.retryTimer = null
      const last = active.lastRetry
      if (live.active !== active || live.runner !== runner || !last) return
      const limited = last.status === 429
      abandon(runner, {
        code: limited ? 'rate_limited' : 'overloaded',
        message: `Claude's API is ${limited ? 'rate limited' : 'overloaded'} (HTTP ${last.status ?? 'error'}); Claude Code's retries did not succeed within ${budget} ms`,
        retryAfterMs: last.delayMs,
      })
    },
    Math.max(0, active.waitingSince + budget - Date.now()),
  )
}
