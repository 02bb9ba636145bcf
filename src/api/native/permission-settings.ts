/**
 * What Claude may do with its tools, as the session options (`POST /sessions`, `PUT /sessions/{id}/context`)
 * and `PUT /sessions/{id}/tool-permissions` take it: one schema and one check for all three.
 */
import { type Static, type TObject, Type } from '@sinclair/typebox'
import { PERMISSION_MODES, type SessionSettings } from '../../store/types.js'
import { invalid } from './errors.js'

/** A Claude Code permission rule: a tool name (`Bash`, `mcp__server__tool`), optionally `(pattern)`. */
const RULE = /^[\w*.-]+(?:\(.+\))?$/s

const PermissionRules = (description: string) =>
  Type.Array(Type.String({ minLength: 1 }), {
    description: `${description} Each a tool name, optionally with a pattern: \`Bash(npm test:*)\`, \`Read(./src/**)\`, \`mcp__github\`.`,
  })

/** The permission fields of a request body, every one optional. */
export const PermissionFields = {
  permission_mode: Type.Optional(
    Type.Union(
      PERMISSION_MODES.map((mode) => Type.Literal(mode)),
      { description: "Claude Code's permission mode." },
    ),
  ),
  allowed_tools: Type.Optional(PermissionRules('Rules allowed without asking (replaces the list).')),
  disallowed_tools: Type.Optional(PermissionRules('Rules always denied (replaces the list).')),
  ask_permissions: Type.Optional(
    Type.Boolean({
      description:
        'true: a call the mode and rules do not decide waits for an answer (`permission.requested`); ' +
        'false: it is denied at once.',
    }),
  ),
}
type PermissionBody = Static<TObject<typeof PermissionFields>>

/** The permission fields given in `body`, in engine terms; a malformed rule is a 400 naming it. */
export function permissionSettingsFrom(body: PermissionBody): Partial<SessionSettings> {
  const settings: Partial<SessionSettings> = {}
  if (body.permission_mode !== undefined) settings.permissionMode = body.permission_mode
  if (body.allowed_tools !== undefined)
    settings.allowedTools = checkedRules(body.allowed_tools, 'allowed_tools')
  if (body.disallowed_tools !== undefined)
    settings.disallowedTools = checkedRules(body.disallowed_tools, 'disallowed_tools')
  if (body.ask_permissions !== undefined) settings.askPermissions = body.ask_permissions
  return settings
}

function checkedRules(rules: string[], field: string): string[] {
  rules.forEach((rule, i) => {
    if (!RULE.test(rule))
      throw invalid(
        `body.${field}[${i}] is not a permission rule: expected a tool name, optionally followed by (pattern), got ${JSON.stringify(rule)}`,
        `body.${field}[${i}]`,
      )
  })
  return rules
}
