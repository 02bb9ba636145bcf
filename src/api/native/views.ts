/** How the native API shows engine records: snake_case JSON, times as ISO strings. */
import type { SessionManager } from '../../engine/sessions.js'
import type { TokenUsage } from '../../events/types.js'
import type { SessionRecord } from '../../store/types.js'

export function usageView(usage: TokenUsage) {
  return {
    input_tokens: usage.inputTokens,
    output_tokens: usage.outputTokens,
    cache_read_input_tokens: usage.cacheReadInputTokens,
    cache_creation_input_tokens: usage.cacheCreationInputTokens,
    thinking_tokens: usage.thinkingTokens,
  }
}

export function sessionView(record: SessionRecord, engine: SessionManager) {
  const { settings } = record
  const runner = engine.runnerOf(record.id)
  return {
    id: record.id,
    title: record.title,
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

/** What Claude may do with its tools in a session (`/sessions/{id}/tool-permissions`). */
export function toolPermissionsView({ settings }: SessionRecord) {
  return {
    permission_mode: settings.permissionMode,
    allowed_tools: settings.allowedTools,
    disallowed_tools: settings.disallowedTools,
    ask_permissions: settings.askPermissions,
  }
}
