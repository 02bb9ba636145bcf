/** What a request names, resolved for a native route: or the native error that says why it cannot be. */
import type { Config } from '../../config/index.js'
import type { SessionManager } from '../../engine/sessions.js'
import type { SessionRecord } from '../../store/types.js'
import { defaultWorkspaceUnder, workspaceUnder } from '../workspaces.js'
import { invalid, notFound } from './errors.js'

/** The session, unless it does not exist or is closed (404). */
export function sessionOf(engine: SessionManager, id: string): SessionRecord {
  const record = engine.getSession(id)
  if (!record || record.state === 'closed') throw notFound(`Session ${id}`)
  return record
}

/** The real path of a workspace folder under one of `roots`; else a 400 naming `field`. */
export function confinedWorkspace(requested: string, roots: readonly string[], field: string): string {
  const resolved = workspaceUnder(requested, roots)
  if ('problem' in resolved) throw invalid(resolved.problem, field)
  return resolved.path
}

/** The real path of the default workspace when it is under `roots` (`rootsKey`); else a 400 naming `field`. */
export function confinedDefaultWorkspace(
  config: Config,
  roots: readonly string[],
  rootsKey: string,
  field: string,
): string {
  const resolved = defaultWorkspaceUnder(config, roots, rootsKey)
  if ('problem' in resolved) throw invalid(resolved.problem, field)
  return resolved.path
}
