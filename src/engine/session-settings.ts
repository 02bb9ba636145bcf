/** A new session's settings: what it asked for, the engine's defaults for the rest, its workspace real. */
import { realpathSync, statSync } from 'node:fs'
import type { SessionSettings } from '../store/types.js'
import { GatewayError } from './errors.js'
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
    askPermissions: input.askPermissions ?? false,
  }
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
