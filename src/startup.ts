/**
 * The block the gateway logs once it listens: what an operator needs to know it started as meant (which
 * Claude Code, which credentials, where the data goes, who may call it, how much memory the pool may take),
 * without a secret in it. Logged at `info` whatever `log.level` is (`silent` excepted): with `warn`, the one
 * line saying the gateway is ready is still there.
 */

import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { defaultWorkspace } from './api/workspaces.js'
import type { Config } from './config/index.js'
import type { ClaudeCliInfo } from './engine/claude-cli.js'
import { ASSUMED_PROCESS_MB, ProcessSizes } from './engine/process-memory.js'
import { keysConfigured } from './users/keys.js'

/**
 * How Claude Code will authenticate, in its own order of precedence: a cloud provider, a bearer token, an API
 * key, an `apiKeyHelper` script, a long-lived OAuth token, then the login `claude /login` stored. Read from
 * the environment Claude Code gets and its configuration directory: what it names, never the secret.
 */
export interface ClaudeAuth {
  mode:
    | 'bedrock'
    | 'vertex'
    | 'foundry'
    | 'auth-token'
    | 'api-key'
    | 'api-key-helper'
    | 'oauth-token'
    | 'login'
    | 'none'
  /** The variable or file it comes from. */
  from: string | null
}

export function claudeAuth(env: NodeJS.ProcessEnv): ClaudeAuth {
  const set = (name: string) => env[name] !== undefined && env[name] !== '' && env[name] !== '0'
  if (set('CLAUDE_CODE_USE_BEDROCK')) return { mode: 'bedrock', from: 'CLAUDE_CODE_USE_BEDROCK' }
  if (set('CLAUDE_CODE_USE_VERTEX')) return { mode: 'vertex', from: 'CLAUDE_CODE_USE_VERTEX' }
  if (set('CLAUDE_CODE_USE_FOUNDRY')) return { mode: 'foundry', from: 'CLAUDE_CODE_USE_FOUNDRY' }
  if (set('ANTHROPIC_AUTH_TOKEN')) return { mode: 'auth-token', from: 'ANTHROPIC_AUTH_TOKEN' }
  if (set('ANTHROPIC_API_KEY')) return { mode: 'api-key', from: 'ANTHROPIC_API_KEY' }
  const configDir = env.CLAUDE_CONFIG_DIR || join(env.HOME || homedir(), '.claude')
  const settings = join(configDir, 'settings.json')
  if (hasApiKeyHelper(settings)) return { mode: 'api-key-helper', from: settings }
  if (set('CLAUDE_CODE_OAUTH_TOKEN')) return { mode: 'oauth-token', from: 'CLAUDE_CODE_OAUTH_TOKEN' }
  const credentials = join(configDir, '.credentials.json')
  if (existsSync(credentials)) return { mode: 'login', from: credentials }
  // On macOS the login is in the keychain, which cannot be read without asking.
  if (process.platform === 'darwin') return { mode: 'login', from: 'macOS keychain (if logged in)' }
  return { mode: 'none', from: null }
}

function hasApiKeyHelper(settingsFile: string): boolean {
  try {
    const settings = JSON.parse(readFileSync(settingsFile, 'utf8')) as { apiKeyHelper?: unknown }
    return typeof settings.apiKeyHelper === 'string' && settings.apiKeyHelper !== ''
  } catch {
    return false
  }
}

/** A URL as it may be logged: without credentials, query or fragment. */
export function loggableUrl(raw: string): string {
  try {
    const url = new URL(raw)
    return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`
  } catch {
    return '(not a URL)'
  }
}

export interface StartupFacts {
  version: string
  config: Config
  cli: ClaudeCliInfo
  /** The environment Claude Code runs with (the gateway's, then `claude.env`). */
  claudeEnv: NodeJS.ProcessEnv
  /** Where the main port listens, e.g. http://127.0.0.1:8080 */
  url: string
  startMs: number
  /** With several replicas: this one's name (`cluster.replicaId`, or the host name and process id). */
  replicaId?: string
}

/** The start-up block: one record, its message the line saying the gateway is ready. */
export function logStartup(log: Logger, facts: StartupFacts): void {
  const { version, config, cli, claudeEnv, url, startMs } = facts
  const { pool, server, metrics } = config
  const baseUrl = claudeEnv.ANTHROPIC_BASE_URL
  // Before any process is measured, the pool counts each at the assumed size: so does this.
  const maxProcesses = new ProcessSizes().slots(pool.maxRunners, pool.memoryBudgetMb)
  const block = {
    version,
    listen: url,
    cli: cli.usable
      ? { path: cli.path, version: cli.version, source: cli.source }
      : { path: cli.path, usable: false, reason: cli.reason },
    auth: claudeAuth(claudeEnv),
    ...(baseUrl ? { anthropicBaseUrl: loggableUrl(baseUrl) } : {}),
    dataDir: config.store.dataDir,
    // Where the store is when it is not in dataDir, and the replicas it is shared with (no credentials).
    ...(config.store.url
      ? { database: { url: loggableUrl(config.store.url), schema: config.store.schema } }
      : {}),
    ...(config.cluster.redisUrl
      ? {
          cluster: {
            replicaId: facts.replicaId,
            redis: loggableUrl(config.cluster.redisUrl),
            workspaces: config.cluster.workspaces,
          },
        }
      : {}),
    apiKeys: { enabled: keysConfigured(config), count: server.apiKeys.length },
    users: config.users.list.length,
    defaultWorkspace: defaultWorkspace(config),
    pool: {
      maxRunners: pool.maxRunners,
      warmSpares: pool.warmSpares,
      maxSpares: pool.maxSpares,
      memoryBudgetMb: pool.memoryBudgetMb,
      // What the processes take at about 190 MB each: the spares kept warm when idle, all of them when busy.
      memoryMb: { idle: pool.warmSpares * ASSUMED_PROCESS_MB, full: maxProcesses * ASSUMED_PROCESS_MB },
    },
    adminUrl: config.admin.enabled ? `${url}/admin/` : null,
    metricsUrl: metrics.enabled ? metricsUrl(url, server.host, metrics.port) : null,
  }
  const message = `Claude Code Gateway ${version} ready at ${url} (${startMs} ms)`
  // A child with its own level: the block is written at `info` even when the gateway logs only warnings.
  const announcer =
    log.isLevelEnabled('info') || log.level === 'silent' ? log : log.child({}, { level: 'info' })
  announcer.info(block, message)
}

function metricsUrl(url: string, host: string, port: number): string {
  if (port === 0) return `${url}/metrics`
  const bracketed = host.includes(':') ? `[${host}]` : host
  return `http://${bracketed}:${port}/metrics`
}
