/**
 * A `settings.changed` event in words: "Model: default → opus · Agent: none → reviewer". Its settings are
 * named as the engine names them (src/engine/session-settings.ts); a name not known here shows as it is.
 */
import type { SettingChange } from '../../../api/types/events.js'

const LABELS: Record<string, string> = {
  workspace: 'Workspace',
  model: 'Model',
  agent: 'Agent',
  permissionMode: 'Permission mode',
  tools: 'Tools',
  allowedTools: 'Allowed tools',
  disallowedTools: 'Disallowed tools',
  systemPrompt: 'System prompt',
  appendSystemPrompt: 'Appended system prompt',
  thinking: 'Thinking',
  effort: 'Effort',
  outputSchema: 'Output schema',
  maxOutputTokens: 'Max output tokens',
  maxTurns: 'Max turns',
  clientTools: 'Client tools',
  additionalDirectories: 'Additional directories',
  askPermissions: 'Ask for permissions',
}

/** A setting's value in words; null is the default (for an agent: none, the session runs without one). */
function valueText(name: string, value: unknown): string {
  if (value === null || value === undefined) return name === 'agent' ? 'none' : 'default'
  if (typeof value === 'string') return value
  if (typeof value === 'boolean') return value ? 'on' : 'off'
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.map(String).join(', ')
  if (name === 'thinking' && typeof value === 'object' && 'type' in value) {
    const { type, budgetTokens } = value as { type: string; budgetTokens?: number }
    return budgetTokens === undefined ? String(type) : `${type} (${budgetTokens} tokens)`
  }
  return JSON.stringify(value)
}

/** Each changed setting in a line's parts, in the event's order. */
export function settingsChangeText(changes: Readonly<Record<string, SettingChange>>): string {
  return Object.entries(changes)
    .map(([name, change]) => {
      const label = LABELS[name] ?? name
      if ('changed' in change) return `${label} changed`
      return `${label}: ${valueText(name, change.from)} → ${valueText(name, change.to)}`
    })
    .join(' · ')
}
