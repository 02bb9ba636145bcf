/**
 * What a session asks of Claude Code, as `POST /api/sessions` and `PUT /api/sessions/{id}/context` take it,
 * in the engine's terms: workspaces confined to the caller's roots, the rest held to their user's policy.
 */
import { type Static, Type } from '@sinclair/typebox'
import type { GatewayContext } from '../../gateway.js'
import type { SessionSettings } from '../../store/types.js'
import type { Principal } from '../../users/principal.js'
import { MAX_INTEGER } from '../validation.js'
import { PermissionFields, permissionSettingsFrom } from './permission-settings.js'
import { confinedWorkspace, nativeWorkspaces, permittedPatch, sessionOrThrow } from './resolve.js'
import { ThinkingSchema, thinkingSetting } from './schemas.js'
import { type SessionView, sessionView } from './views.js'

export const Names = Type.Array(Type.String({ minLength: 1 }))

/** What a session asks of Claude Code; every key optional (the configured defaults apply). */
export const SessionOptions = Type.Object(
  {
    workspace: Type.Optional(Type.String({ minLength: 1 })),
    agent: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Null()])),
    model: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Null()])),
    ...PermissionFields,
    tools: Type.Optional(Type.Union([Names, Type.Null()])),
    system_prompt: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    append_system_prompt: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    thinking: Type.Optional(Type.Union([ThinkingSchema, Type.Null()])),
    max_turns: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: MAX_INTEGER }), Type.Null()])),
    additional_directories: Type.Optional(Names),
    mcp_servers: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description:
          "Approved MCP servers (`users.mcpServers`) the session starts with; the user's policy decides which.",
      }),
    ),
  },
  { additionalProperties: false },
)
export type SessionOptions = Static<typeof SessionOptions>

/** `PUT /sessions/{id}/context`: the options given change (from the next turn); answers the session. */
export async function changeContext(
  gateway: GatewayContext,
  principal: Principal,
  id: string,
  body: SessionOptions,
): Promise<SessionView> {
  const { roots } = await nativeWorkspaces(gateway, principal)
  return changeSettings(gateway, principal, id, () => settingsFrom(body, roots))
}

/**
 * Changes an open session's settings, from its next turn, as far as `principal`'s policy allows; answers
 * the session. `settings` is worked out once the session is known to be open, so that a missing session is
 * a 404 before any field is judged.
 */
export async function changeSettings(
  gateway: GatewayContext,
  principal: Principal,
  id: string,
  settings: () => Partial<SessionSettings>,
): Promise<SessionView> {
  const { engine } = gateway
  await sessionOrThrow(engine, id)
  const allowed = await permittedPatch(gateway, principal, settings())
  return sessionView(await engine.updateSettings(id, allowed), engine)
}

/** Session options of the API in engine terms; workspaces are confined to `roots`. */
export function settingsFrom(body: SessionOptions, roots: readonly string[]): Partial<SessionSettings> {
  const settings = permissionSettingsFrom(body)
  if (body.workspace !== undefined)
    settings.workspace = confinedWorkspace(body.workspace, roots, 'body.workspace')
  if (body.additional_directories !== undefined) {
    settings.additionalDirectories = body.additional_directories.map((dir, i) =>
      confinedWorkspace(dir, roots, `body.additional_directories[${i}]`),
    )
  }
  if (body.agent !== undefined) settings.agent = body.agent
  if (body.model !== undefined) settings.model = body.model
  if (body.tools !== undefined) settings.tools = body.tools
  if (body.system_prompt !== undefined) settings.systemPrompt = body.system_prompt
  if (body.append_system_prompt !== undefined) settings.appendSystemPrompt = body.append_system_prompt
  if (body.thinking !== undefined)
    settings.thinking = body.thinking === null ? null : thinkingSetting(body.thinking)
  if (body.max_turns !== undefined) settings.maxTurns = body.max_turns
  if (body.mcp_servers !== undefined) settings.mcpServers = body.mcp_servers
  return settings
}
