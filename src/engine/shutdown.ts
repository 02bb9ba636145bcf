/**
 * The engine's shutdown: running turns are drained (bounded), those still running fail, every process stops
 * and is waited for (bounded), and what is left to write is written before the store closes.
 */
import type { LiveSessions } from './live-session.js'
import type { SessionOwnership } from './ownership.js'
import type { ProcessPool } from './pool.js'
import type { ProcessLog } from './process-log.js'
import type { RecordSaver } from './records.js'
import { liveProcesses } from './runner.js'
import type { RunnerBinding } from './runners.js'
import type { TurnLine } from './turns.js'

/** How long the processes killed at the end may take to be gone before the gateway says it stopped. */
const EXIT_WAIT_MS = 2_000

/** The parts of the session manager a shutdown stops, in the order it stops them. */
export interface ShutdownParts {
  sessions: LiveSessions
  turns: TurnLine
  runners: RunnerBinding
  processes: ProcessLog
  pool: ProcessPool
  records: RecordSaver
  /** With replicas: their leases are let go last; null for a single gateway. */
  ownership: SessionOwnership | null
}

/** Finish running turns (up to `graceMs`), then stop every process. */
export async function shutDown(parts: ShutdownParts, graceMs: number): Promise<void> {
  const { sessions, turns, runners } = parts
  // No turn starts from now on (`checkCanStart`, the turn line).
  sessions.closing = true
  const running = [...sessions.live.values()].filter((live) => live.active)
  const drained = Promise.all(running.map((live) => live.tail))
  let timer: NodeJS.Timeout | undefined
  await Promise.race([drained, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))])
  clearTimeout(timer)
  for (const live of sessions.live.values()) {
    live.permissions.settleAll('The gateway is shutting down')
    if (live.active) turns.fail(live, 'shutting_down', 'The gateway is shutting down')
    live.runner = null
    runners.clearIdle(live)
    sessions.setState(live, live.record.claudeSessionId ? 'hibernated' : 'new')
  }
  parts.processes.close()
  await parts.pool.close()
  // Gone before the gateway says it stopped (bounded): a process still dying may write in Claude's folder.
  const gone = [...liveProcesses].map((child) => new Promise((resolve) => child.once('exit', resolve)))
  for (const child of liveProcesses) child.kill('SIGKILL')
  await Promise.race([Promise.all(gone), new Promise((resolve) => setTimeout(resolve, EXIT_WAIT_MS).unref())])
  await sessions.options.bus.flush()
  // The store closes next: what it could not take by now is lost with the process.
  await parts.records.stop()
  // Written: the other replicas may take the sessions at once.
  await parts.ownership?.releaseAll()
}
