/**
 * Starting a process for a session that waits for it (no spare served it): retried `pool.startRetries`
 * times, each attempt announced to the process log, without priming (it would only delay that session's turn).
 */
import type { Logger } from 'pino'
import { GatewayError } from './errors.js'
import type { Runner } from './runner.js'
import type { PoolHooks, PoolLimits, RunnerLauncher, RunnerProfile } from './types.js'

export async function startForSession(
  launch: RunnerLauncher,
  profile: RunnerProfile,
  limits: Pick<PoolLimits, 'startRetries' | 'startTimeoutMs'>,
  pool: { hooks: PoolHooks; log: Logger; closed: () => boolean },
): Promise<Runner> {
  let lastError: Error | undefined
  for (let attempt = 0; attempt <= limits.startRetries; attempt++) {
    if (pool.closed()) break
    pool.hooks.lifecycle('spawn', null, { attempt })
    try {
      return await launch(profile, limits.startTimeoutMs, false)
    } catch (error) {
      lastError = error as Error
      pool.hooks.lifecycle('fail', null, { attempt })
      pool.log.warn({ attempt, err: lastError.message }, 'Claude Code failed to start')
    }
  }
  throw new GatewayError(
    'start_failed',
    `Claude Code failed to start: ${lastError?.message ?? 'shutting down'}`,
  )
}
