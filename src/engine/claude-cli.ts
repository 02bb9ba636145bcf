import { execFile } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { createRequire } from 'node:module'
import { delimiter, join } from 'node:path'

export interface ClaudeCliInfo {
  /** The executable the gateway runs; null when none was found. */
  path: string | null
  source: 'config' | 'path' | 'bundled' | null
  version: string | null
  usable: boolean
  /** Why the CLI is not usable; null when it is. */
  reason: string | null
}

const VERSION_TIMEOUT_MS = 15_000

/**
 * Finds the Claude Code CLI the gateway will drive: the configured path, else the user's `claude` on PATH
 * (their login, settings and version), else the one the SDK package ships. Then asks it for its version:
 * a CLI that cannot answer `--version` cannot serve a session either.
 */
export async function detectClaudeCli(
  configuredPath: string | null,
  env: NodeJS.ProcessEnv,
): Promise<ClaudeCliInfo> {
  const found = configuredPath
    ? { path: configuredPath, source: 'config' as const }
    : (findOnPath('claude', env.PATH) ?? findBundled())
  if (!found) {
    return {
      path: null,
      source: null,
      version: null,
      usable: false,
      reason: 'No Claude Code CLI found: `claude` is not on PATH and the SDK bundled CLI is not installed',
    }
  }
  try {
    const version = await readVersion(found.path, env)
    return { ...found, version, usable: true, reason: null }
  } catch (error) {
    return {
      ...found,
      version: null,
      usable: false,
      reason: `${found.path} --version failed: ${(error as Error).message}`,
    }
  }
}

function findOnPath(name: string, pathVariable = ''): { path: string; source: 'path' } | undefined {
  for (const dir of pathVariable.split(delimiter)) {
    if (!dir) continue
    const candidate = join(dir, name)
    if (isExecutable(candidate)) return { path: candidate, source: 'path' }
  }
  return undefined
}

/** The SDK ships its CLI as a per-platform optional package, the same lookup the SDK does itself. */
function findBundled(): { path: string; source: 'bundled' } | undefined {
  const require = createRequire(import.meta.url)
  const base = `@anthropic-ai/claude-agent-sdk-${process.platform}-${process.arch}`
  const executable = process.platform === 'win32' ? 'claude.exe' : 'claude'
  for (const pkg of isMusl() ? [`${base}-musl`, base] : [base, `${base}-musl`]) {
    try {
      const path = require.resolve(`${pkg}/${executable}`)
      if (isExecutable(path)) return { path, source: 'bundled' }
    } catch {
      // not installed for this platform: try the next candidate
    }
  }
  return undefined
}

function isMusl(): boolean {
  if (process.platform !== 'linux') return false
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined
  return !report?.header?.glibcVersionRuntime
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

function readVersion(path: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(path, ['--version'], { env, timeout: VERSION_TIMEOUT_MS }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(stderr.trim() || error.message))
        return
      }
      resolve(stdout.trim().split(/\s+/)[0] ?? stdout.trim())
    })
  })
}
