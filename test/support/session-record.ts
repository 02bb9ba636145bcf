/** A stored session for tests: a plain new one, with the fields a test cares about set. */
import { EMPTY_USAGE } from '../../src/engine/types.js'
import type { SessionRecord, SessionSettings } from '../../src/store/types.js'

export function sessionRecord(
  id: string,
  fields: Partial<Omit<SessionRecord, 'id' | 'settings'>> = {},
  settings: Partial<SessionSettings> = {},
): SessionRecord {
  return {
    id,
    title: null,
    settings: {
      workspace: '/tmp',
      model: null,
      agent: null,
      permissionMode: 'default',
      tools: null,
      allowedTools: [],
      disallowedTools: [],
      systemPrompt: null,
      appendSystemPrompt: null,
      thinking: null,
      effort: null,
      outputSchema: null,
      maxOutputTokens: null,
      maxTurns: null,
      clientTools: null,
      additionalDirectories: [],
      askPermissions: false,
      ...settings,
    },
    claudeSessionId: null,
    state: 'new',
    createdAt: 0,
    updatedAt: 0,
    usage: { ...EMPTY_USAGE },
    costUsd: 0,
    turns: 0,
    ...fields,
  }
}
