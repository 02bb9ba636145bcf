import type { McpServerConfig, Options, SessionStore, ThinkingConfig } from '@anthropic-ai/claude-agent-sdk'
import { CLIENT_TOOLS_RULE } from '../events/client-tool-names.js'
import type { SessionSettings, ThinkingSetting } from '../store/types.js'
import { claudeConfigDir } from './claude-home.js'
import { GatewayError } from './errors.js'
import type { ClaudeAccount, RunnerProfile } from './types.js'

/** What every runner of this gateway shares: which CLI, its environment and which settings it loads. */
export interface HostOptions {
  cliPath: string | undefined
  env: Record<string, string | undefined>
  settingSources: NonNullable<Options['settingSources']>
  /** How much lower than the gateway's the CLI processes' scheduling priority is (0: the same). */
  niceness: number
  /**
   * Where Claude Code's transcripts are mirrored (PostgreSQL, which every replica reads): the SDK's
   * `sessionStore`, flushed after every entry, so that a turn that ended is resumable on another replica
   * at once; resumes load the transcript from there. Undefined: the CLI's local files only.
   */
  transcripts?: SessionStore
}

/** The environment of an account's processes: the host's, the account's over it, its config folder last. */
export function accountEnv(
  host: HostOptions,
  account: ClaudeAccount | null,
): Record<string, string | undefined> {
  if (!account) return host.env
  return {
    ...host.env,
    ...account.env,
    ...(account.configDir ? { CLAUDE_CONFIG_DIR: account.configDir } : {}),
  }
}

/** Claude Code's config folder as an account's processes see it: where their transcripts are. */
export const accountConfigDir = (host: HostOptions, account: ClaudeAccount | null): string =>
  claudeConfigDir(accountEnv(host, account))

/**
 * The SDK options a session's runner starts with. The key names everything that is fixed at start-up, so a
 * warm spare serves only sessions whose key matches: the account's too (its digest, never its secrets).
 */
export function runnerProfile(
  settings: SessionSettings,
  resume: string | null,
  host: HostOptions,
  hostGeneration: number,
  account: ClaudeAccount | null = null,
): RunnerProfile {
  const env = accountEnv(host, account)
  const options: Options = {
    cwd: settings.workspace,
    env,
    pathToClaudeCodeExecutable: host.cliPath,
    settingSources: host.settingSources,
    includePartialMessages: true,
    permissionMode: settings.permissionMode,
    allowDangerouslySkipPermissions: settings.permissionMode === 'bypassPermissions',
    allowedTools: settings.allowedTools,
    disallowedTools: settings.disallowedTools,
    additionalDirectories: settings.additionalDirectories,
  }
  if (settings.model) options.model = settings.model
  if (settings.agent) options.agent = settings.agent
  if (settings.tools) options.tools = settings.tools
  if (settings.maxTurns) options.maxTurns = settings.maxTurns
  if (settings.thinking) options.thinking = thinkingConfig(settings.thinking)
  if (settings.effort) options.effort = settings.effort
  if (settings.outputSchema) options.outputFormat = { type: 'json_schema', schema: settings.outputSchema }
  // Claude Code reads its per-response output cap from the environment only.
  if (settings.maxOutputTokens) {
    options.env = { ...env, CLAUDE_CODE_MAX_OUTPUT_TOKENS: String(settings.maxOutputTokens) }
  }
  if (settings.mcpServers?.length) options.mcpServers = mcpServersOf(settings.mcpServers, account)
  // Claude Code's own prompt unless replaced (the SDK alone would send a bare agent prompt). Rendered fresh at
  // each launch rather than recorded in the transcript, so a changed context applies on resume.
  options.systemPrompt =
    settings.systemPrompt !== null
      ? { type: 'custom', prompt: settings.systemPrompt, snapshot: false }
      : {
          type: 'preset',
          preset: 'claude_code',
          snapshot: false,
          ...(settings.appendSystemPrompt ? { append: settings.appendSystemPrompt } : {}),
        }
  if (resume) options.resume = resume
  if (host.transcripts) {
    options.sessionStore = host.transcripts
    options.sessionStoreFlush = 'eager'
  }
  // Elsewhere the runner's permission callback lets client functions run; in dontAsk mode only rules count.
  if (settings.clientTools?.length && settings.permissionMode === 'dontAsk') {
    options.allowedTools = [...settings.allowedTools, CLIENT_TOOLS_RULE]
  }
  return {
    key: JSON.stringify([settings, resume, hostGeneration, account?.key ?? '']),
    account: account?.key ?? '',
    options,
    clientTools: settings.clientTools,
    niceness: host.niceness,
  }
}

/**
 * The session's MCP servers as its owner starts them. One no longer approved (the configuration changed since
 * the session named it) refuses the start: the session would otherwise run without tools it was given.
 */
export function mcpServersOf(
  names: string[],
  account: ClaudeAccount | null,
): Record<string, McpServerConfig> {
  const servers: Record<string, McpServerConfig> = {}
  for (const name of names) {
    const server = account?.mcpServers[name]
    if (!server)
      throw new GatewayError('invalid_request', `MCP server ${name} is not one this session's owner may use`)
    servers[name] = server
  }
  return servers
}

function thinkingConfig(setting: ThinkingSetting): ThinkingConfig {
  return setting.type === 'enabled' ? { type: 'enabled', budgetTokens: setting.budgetTokens } : setting
}
