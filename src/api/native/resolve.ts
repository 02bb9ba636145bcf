/** What a request names, resolved for a native route: or the native error that says why it cannot be. */
import type { Config } from '../../config/index.js'
import type { SessionManager } from '../../engine/sessions.js'
import type { SessionRecord } from '../../store/types.js'
import { defaultWorkspaceUnder, workspaceUnder } from '../workspaces.js'
import { ApiError, invalid, notFound } from './errors.js'

/**
 * The one rule for "session missing or closed", for both APIs: a closed session is gone for every request
 * that reads it or runs something in it, exactly as if it had never existed. Undefined when it is either.
 */
export async function liveSession(engine: SessionManager, id: string): Promise<SessionRecord | undefined> {
  const record = await engine.getSession(id)
  return record && record.state !== 'closed' ? record : undefined
}

export interface SessionLookup {
  /**
   * How a closed session is answered. `'missing'` (the default): 404 `not_found`, as `liveSession` sees it.
   * `'refused'`: 409 `session_closed`, for resume and pause only: they act on the session's state itself,
   * so the caller is told the session exists but nothing can reopen it (docs/api.md, "Errors").
   */
  closed?: 'missing' | 'refused'
}

/** The session `id` names: else 404 `not_found` when there is none, and for a closed one see `SessionLookup`. */
export async function sessionOrThrow(
  engine: SessionManager,
  id: string,
  { closed = 'missing' }: SessionLookup = {},
): Promise<SessionRecord> {
  const record = await liveSession(engine, id)
  if (record) return record
  if (closed === 'refused' && (await engine.getSession(id)))
    throw new ApiError('session_closed', `Session ${id} is closed`)
  throw notFound(`Session ${id}`)
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
