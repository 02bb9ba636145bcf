/**
 * A session's permission rules as the Permissions tab edits them (GET/PUT /api/sessions/{id}/tool-permissions),
 * and the rules of Claude Code's settings files it shows beside them, read-only (the gateway's
 * `/permissions` command reports those files). Pure: node:test checks it.
 */
import type { ToolPermissions } from '../../api/types/permissions.js'

export type RuleList = 'allowed_tools' | 'disallowed_tools'

/** A rule as Claude Code takes it: a tool name, optionally `(pattern)` (as the gateway checks it). */
const RULE = /^[\w*.-]+(?:\(.+\))?$/s

/** The list with `rule` added (trimmed, once), or why it cannot be. */
export function addRule(rules: readonly string[], typed: string): { rules: string[]; error?: string } {
  const rule = typed.trim()
  if (!rule) return { rules: [...rules] }
  if (!RULE.test(rule))
    return {
      rules: [...rules],
      error: 'A tool name, optionally with a pattern: Bash(npm test:*), Read(./src/**).',
    }
  return { rules: rules.includes(rule) ? [...rules] : [...rules, rule] }
}

/** Whether the edited permissions differ from those in force. */
export const changed = (saved: ToolPermissions, edited: ToolPermissions) =>
  JSON.stringify(saved) !== JSON.stringify(edited)

/** Which rule an API error's `field` names: `body.allowed_tools[2]`; undefined for any other field. */
export function ruleOf(field: string | undefined): { list: RuleList; index: number } | undefined {
  const match = /^body\.(allowed_tools|disallowed_tools)\[(\d+)\]$/.exec(field ?? '')
  return match ? { list: match[1] as RuleList, index: Number(match[2]) } : undefined
}

/** A settings file as the `/permissions` command reports it. */
export interface SettingsFileView {
  scope: 'user' | 'project' | 'local'
  path: string
  /** Claude Code reads it (its scope is one of claude.settingSources). */
  loaded: boolean
  permissions: unknown
  error?: string
}

export interface FileRules {
  allow: string[]
  deny: string[]
  ask: string[]
  /** `defaultMode`, when the file sets one. */
  defaultMode: string | null
}

/** The rules of a settings file's `permissions` object; null when it has none. */
export function fileRules(permissions: unknown): FileRules | null {
  if (typeof permissions !== 'object' || permissions === null || Array.isArray(permissions)) return null
  const fields = permissions as Record<string, unknown>
  const list = (value: unknown) => (Array.isArray(value) ? value.map(String) : [])
  const rules: FileRules = {
    allow: list(fields.allow),
    deny: list(fields.deny),
    ask: list(fields.ask),
    defaultMode: typeof fields.defaultMode === 'string' ? fields.defaultMode : null,
  }
  const empty = !rules.allow.length && !rules.deny.length && !rules.ask.length && !rules.defaultMode
  return empty ? null : rules
}
