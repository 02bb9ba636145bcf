/**
 * How the native API shows engine records, each view a schema (what the routes declare and Fastify
 * serialises with) beside its mapper: snake_case JSON, times as ISO strings. These views are answered by
 * routes of several plugins, so the /api plugin registers their schemas once (`VIEW_SCHEMAS`).
 */
import { type Static, Type } from '@sinclair/typebox'
import type { SessionManager } from '../../engine/sessions.js'
import { SESSION_STATES, type TokenUsage } from '../../events/types.js'
import { PERMISSION_MODES, type SessionRecord } from '../../store/types.js'
import { Enum, Nullable, NullableEnum } from '../responses.js'

export const UsageSchema = Type.Object({
  input_tokens: Type.Integer(),
  output_tokens: Type.Integer(),
  cache_read_input_tokens: Type.Integer(),
  cache_creation_input_tokens: Type.Integer(),
  thinking_tokens: Type.Integer({
    description: 'Output tokens spent on thinking, when the CLI reports them.',
  }),
})

export function usageView(usage: TokenUsage): Static<typeof UsageSchema> {
  return {
    input_tokens: usage.inputTokens,
    output_tokens: usage.outputTokens,
    cache_read_input_tokens: usage.cacheReadInputTokens,
    cache_creation_input_tokens: usage.cacheCreationInputTokens,
    thinking_tokens: usage.thinkingTokens,
  }
}

const SessionSchema = Type.Object(
  {
    id: Type.String({ description: "The gateway's session id (a UUID)." }),
    title: Nullable(Type.String()),
    owner: Nullable(
      Type.String({ description: "The user it belongs to; null: the operator's (a gateway without users)." }),
    ),
    state: Enum(SESSION_STATES),
    workspace: Type.String({ description: 'The real path of the folder Claude Code works in.' }),
    model: Nullable(Type.String({ description: "null: the CLI's default model." })),
    agent: Nullable(Type.String()),
    permission_mode: Enum(PERMISSION_MODES),
    claude_session_id: Nullable(
      Type.String({ description: "Claude Code's own session id; null until its first turn." }),
    ),
    runner: Nullable(
      Type.Object(
        { pid: Nullable(Type.Integer()), busy: Type.Boolean() },
        { description: 'The live Claude Code process serving the session; null when it has none.' },
      ),
    ),
    usage: UsageSchema,
    cost_usd: Type.Number(),
    turns: Type.Integer(),
    settings: Type.Object({
      tools: Nullable(Type.Array(Type.String()), { description: "null: Claude Code's default tools." }),
      allowed_tools: Type.Array(Type.String()),
      disallowed_tools: Type.Array(Type.String()),
      system_prompt: Nullable(Type.String()),
      append_system_prompt: Nullable(Type.String()),
      thinking: Nullable(
        Type.Union(
          [
            Type.Object({ type: Type.Literal('enabled'), budgetTokens: Type.Integer() }),
            Type.Object({ type: Type.Literal('disabled') }),
            Type.Object({ type: Type.Literal('adaptive') }),
          ],
          { description: 'As stored: `budgetTokens` (the request field is `budget_tokens`).' },
        ),
      ),
      effort: NullableEnum(['low', 'medium', 'high', 'xhigh', 'max']),
      max_turns: Nullable(Type.Integer()),
      additional_directories: Type.Array(Type.String()),
      ask_permissions: Type.Boolean(),
    }),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  {
    $id: 'Session',
    description: 'A session: a durable record, served by a Claude Code process while it is live.',
  },
)
export type SessionView = Static<typeof SessionSchema>

export function sessionView(record: SessionRecord, engine: SessionManager): SessionView {
  const { settings } = record
  const runner = engine.runnerOf(record.id)
  return {
    id: record.id,
    title: record.title,
    owner: record.owner ?? null,
    state: record.state,
    workspace: settings.workspace,
    model: settings.model,
    agent: settings.agent,
    permission_mode: settings.permissionMode,
    claude_session_id: record.claudeSessionId,
    runner: runner ? { pid: runner.pid, busy: runner.busy } : null,
    usage: usageView(record.usage),
    cost_usd: record.costUsd,
    turns: record.turns,
    settings: {
      tools: settings.tools,
      allowed_tools: settings.allowedTools,
      disallowed_tools: settings.disallowedTools,
      system_prompt: settings.systemPrompt,
      append_system_prompt: settings.appendSystemPrompt,
      thinking: settings.thinking,
      effort: settings.effort,
      max_turns: settings.maxTurns,
      additional_directories: settings.additionalDirectories,
      ask_permissions: settings.askPermissions,
    },
    created_at: new Date(record.createdAt).toISOString(),
    updated_at: new Date(record.updatedAt).toISOString(),
  }
}

const ToolPermissionsSchema = Type.Object(
  {
    permission_mode: Enum(PERMISSION_MODES),
    allowed_tools: Type.Array(Type.String()),
    disallowed_tools: Type.Array(Type.String()),
    ask_permissions: Type.Boolean(),
  },
  { $id: 'ToolPermissions' },
)

/** What Claude may do with its tools in a session (`/sessions/{id}/tool-permissions`). */
export function toolPermissionsView({ settings }: SessionRecord): Static<typeof ToolPermissionsSchema> {
  return {
    permission_mode: settings.permissionMode,
    allowed_tools: settings.allowedTools,
    disallowed_tools: settings.disallowedTools,
    ask_permissions: settings.askPermissions,
  }
}

/** What a tool call returned to the model: text, or content blocks in Anthropic's shape. */
export const ToolResultContent = Type.Union([
  Type.String(),
  Type.Array(Type.Object({ type: Type.String() }, { additionalProperties: true })),
])

export const VIEW_SCHEMAS = [SessionSchema, ToolPermissionsSchema]
