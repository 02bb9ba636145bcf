/**
 * A session's settings: a new one's (what it asked for, the engine's defaults for the rest), and a change to
 * them, stored and published. The workspace is always made real.
 */
import { realpathSync, statSync } from 'node:fs'
import type { SettingChange } from '../events/types.js'
import type { SessionRecord, SessionSettings } from '../store/types.js'
import { GatewayError } from './errors.js'
import type { LiveSessions } from './live-session.js'
import { mcpServersOf } from './options.js'
import type { EngineDefaults, NewSession } from './types.js'

export function settingsOf(input: NewSession, defaults: EngineDefaults): SessionSettings {
  return {
    workspace: resolveWorkspace(input.workspace ?? defaults.workspace),
    model: input.model ?? defaults.model,
    agent: input.agent ?? null,
    permissionMode: input.permissionMode ?? defaults.permissionMode,
    tools: input.tools ?? null,
    allowedTools: input.allowedTools ?? [],
    disallowedTools: input.disallowedTools ?? [],
    systemPrompt: input.systemPrompt ?? null,
    appendSystemPrompt: input.appendSystemPrompt ?? null,
    thinking: input.thinking ?? null,
    effort: input.effort ?? null,
    outputSchema: input.outputSchema ?? null,
    maxOutputTokens: input.maxOutputTokens ?? null,
    maxTurns: input.maxTurns ?? null,
    clientTools: input.clientTools ?? null,
    additionalDirectories: input.additionalDirectories ?? [],
    mcpServers: input.mcpServers ?? [],
    askPermissions: input.askPermissions ?? false,
  }
}

/**
 * The record with `patch` applied to its settings (not saved). A session that drops its agent has the agent
 * cleared from its transcript when it resumes next.
 */
export function patchedRecord(record: SessionRecord, patch: Partial<SessionSettings>): SessionRecord {
  const workspace = patch.workspace ? resolveWorkspace(patch.workspace) : record.settings.workspace
  return {
    ...record,
    settings: { ...record.settings, ...patch, workspace },
    updatedAt: Date.now(),
    ...(patch.agent === null && record.settings.agent ? { clearAgentOnResume: true } : {}),
  }
}

/**
 * Apply `patch` to a session's record (the one in memory when it is live) and publish what changed. Its
 * runner is the caller's to let go: Claude Code takes most settings only at start.
 */
export async function changeSettings(
  sessions: LiveSessions,
  record: SessionRecord,
  patch: Partial<SessionSettings>,
): Promise<void> {
  if (patch.mcpServers?.length) mcpServersOf(patch.mcpServers, await sessions.account(record.owner ?? null))
  const updated = patchedRecord(record, patch)
  // Stored first: a change the store refuses (507, 503) is not made either, nor published.
  await sessions.options.store.updateSession(updated)
  const changes = settingsChanges(record.settings, updated.settings)
  Object.assign(record, updated)
  if (Object.keys(changes).length > 0)
    sessions.options.bus.publish(record.id, { type: 'settings.changed', changes })
}

/**
 * How each setting shows in a `settings.changed` event: its values, or (prompt texts, schemas, client tools'
 * descriptions: long, and possibly private) only that it changed. A record, so a new setting must choose.
 */
const REPORTED: Record<keyof SessionSettings, 'values' | 'changed'> = {
  workspace: 'values',
  model: 'values',
  agent: 'values',
  permissionMode: 'values',
  tools: 'values',
  allowedTools: 'values',
  disallowedTools: 'values',
  systemPrompt: 'changed',
  appendSystemPrompt: 'changed',
  thinking: 'values',
  effort: 'values',
  outputSchema: 'changed',
  maxOutputTokens: 'values',
  maxTurns: 'values',
  clientTools: 'changed',
  additionalDirectories: 'values',
  mcpServers: 'values',
  askPermissions: 'values',
}

/** The settings whose value differs between `before` and `after`, as a `settings.changed` event says them. */
export function settingsChanges(
  before: SessionSettings,
  after: SessionSettings,
): Record<string, SettingChange> {
  const changes: Record<string, SettingChange> = {}
  for (const key of Object.keys(REPORTED) as (keyof SessionSettings)[]) {
    // Plain JSON data built by the same code on both sides: equal values serialise alike.
    if (JSON.stringify(before[key]) === JSON.stringify(after[key])) continue
    changes[key] = REPORTED[key] === 'values' ? { from: before[key], to: after[key] } : { changed: true }
  }
  return changes
}

/** The real path of an existing directory; the client's error otherwise. */
export function resolveWorkspace(path: string): string {
  let real: string
  try {
    real = realpathSync(path)
  } catch {
    throw new GatewayError('invalid_request', `Workspace ${path} does not exist`)
  }
  if (!statSync(real).isDirectory())
    throw new GatewayError('invalid_request', `Workspace ${path} is not a directory`)
  return real
}
