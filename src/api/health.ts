/**
 * Probes on the main port, open like GET /v1/health (probes carry no key) and never calling the model:
 *
 * - `GET /livez`: the process works. It answers from the event loop and checks nothing else: a gateway
 *   whose CLI or login is missing is alive, and restarting it would not help.
 * - `GET /readyz`: it can serve. The CLI was found and starts, Claude Code is authenticated, the store
 *   takes writes, and the gateway is not draining; else 503 naming each failing check and what to do.
 *
 * The open answers name no file and no secret; a caller with one of the configured API keys also gets each
 * check's `detail` (the CLI's path and failure, the login's method, the database's error), as /v1/health.
 */
import { constants } from 'node:fs'
import { access } from 'node:fs/promises'
import type { FastifyInstance } from 'fastify'
import type { GatewayContext } from '../gateway.js'
import { isStaffWithKey } from './auth.js'
import { JSON_TYPE } from './media-types.js'
import { STORAGE_REASONS } from './openai/health.js'

interface Check {
  ok: boolean
  /** Why it fails, in words that name no file. */
  reason?: string
  /** What an operator does about it. */
  action?: string
  /** Only for a caller with an API key: what names files or says how Claude Code is logged in. */
  detail?: Record<string, unknown>
}

type CheckName = 'cli' | 'claude_auth' | 'store' | 'draining'

const LIVE_BODY = JSON.stringify({ status: 'ok' })

export async function healthProbes(app: FastifyInstance, gateway: GatewayContext): Promise<void> {
  // Probes poll every few seconds: their request lines are debug lines.
  const config = { requestLogLevel: 'debug' as const }
  app.get('/livez', { config }, (_request, reply) => {
    reply.type(JSON_TYPE).send(LIVE_BODY)
  })
  // The folder the store was opened in: store.dataDir changes only with a restart.
  const dataDir = gateway.config.store.dataDir
  app.get('/readyz', { config }, async (request, reply) => {
    const checks = await readinessChecks(gateway, dataDir)
    const ready = Object.values(checks).every((check) => check.ok)
    const full = await isStaffWithKey(gateway, request)
    const shown = Object.fromEntries(
      Object.entries(checks).map(([name, { detail, ...check }]) => [
        name,
        full ? { ...check, detail } : check,
      ]),
    )
    return reply
      .code(ready ? 200 : 503)
      .type(JSON_TYPE)
      .send(JSON.stringify({ status: ready ? 'ready' : 'not_ready', checks: shown }))
  })
}

async function readinessChecks(gateway: GatewayContext, dataDir: string): Promise<Record<CheckName, Check>> {
  return {
    cli: cliCheck(gateway),
    claude_auth: authCheck(gateway),
    store: await storeCheck(gateway.store, dataDir),
    draining: gateway.readiness.draining
      ? {
          ok: false,
          reason: 'The gateway is shutting down: running turns finish, new ones are refused',
          action: 'None: send new work to another instance, or wait for this one to come back',
        }
      : { ok: true },
  }
}

function cliCheck({ engine }: GatewayContext): Check {
  const cli = engine.cli
  const detail = { path: cli.path, source: cli.source, version: cli.version, reason: cli.reason }
  if (cli.usable) return { ok: true, detail }
  return {
    ok: false,
    reason: cli.path === null ? 'No Claude Code CLI was found' : 'The Claude Code CLI does not start',
    action:
      'Install Claude Code (npm install -g @anthropic-ai/claude-code) or set claude.cliPath, then restart',
    detail,
  }
}

function authCheck({ readiness, config }: GatewayContext): Check {
  const auth = readiness.claudeAuth
  if (auth === null) return { ok: false, reason: "Claude's authentication is being checked", action: 'Wait' }
  const detail = {
    state: auth.state,
    method: auth.method,
    provider: auth.provider,
    api_key_source: auth.apiKeySource,
    checked_at: new Date(auth.checkedAt).toISOString(),
    ...(auth.state === 'unknown' ? { reason: auth.reason } : {}),
  }
  // A CLI that cannot tell is not held against the gateway: its turns say whether they can run.
  if (auth.state !== 'not_authenticated') return { ok: true, detail }
  const every = config.claude.authCheckIntervalMs
  return {
    ok: false,
    reason: 'Claude Code is not logged in',
    action: `${auth.reason}. The gateway checks again ${every > 0 ? `every ${every / 1000} s, ` : ''}on a configuration reload (SIGHUP) and at start`,
    detail,
  }
}

/** The store's own failure (what the last writes met), and its folder accepting writes now. */
async function storeCheck(store: GatewayContext['store'], dataDir: string): Promise<Check> {
  const health = store.health()
  if (!health.ok)
    return {
      ok: false,
      reason: STORAGE_REASONS[health.error],
      action: 'Free space on its disk, or fix the data directory (store.dataDir); it recovers by itself',
      detail: { message: health.message, since: new Date(health.since).toISOString() },
    }
  try {
    await access(dataDir, constants.W_OK)
    return { ok: true }
  } catch (error) {
    return {
      ok: false,
      reason: "The gateway's data directory does not accept writes",
      action: 'Make store.dataDir writable by the user the gateway runs as',
      detail: { message: (error as Error).message },
    }
  }
}
