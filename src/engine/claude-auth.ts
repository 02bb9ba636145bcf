import { execFile } from 'node:child_process'

/**
 * Whether Claude Code can call the model, as `claude auth status --json` tells without calling it: the
 * environment's API key or token, the login in its config folder, Bedrock, Vertex. It does not verify a key
 * with Anthropic: a wrong key still counts as logged in (its first turn then fails as `upstream_auth_failed`).
 */
export interface ClaudeAuth {
  /** `unknown`: the CLI cannot tell (none found, or too old for `auth status`); `reason` says why. */
  state: 'authenticated' | 'not_authenticated' | 'unknown'
  /** As the CLI names it: `api_key`, `oauth_token`, `third_party`, `none`, ...; null when unknown. */
  method: string | null
  /** `firstParty`, `bedrock`, `vertex`, ...; null when unknown. */
  provider: string | null
  /** Where an API key comes from (`ANTHROPIC_API_KEY`, `apiKeyHelper`, ...): a name, never the key. */
  apiKeySource: string | null
  /** Why not authenticated, or why it is unknown; null when authenticated. Names no file. */
  reason: string | null
  /** When the CLI answered (ms since the epoch). */
  checkedAt: number
}

const STATUS_TIMEOUT_MS = 15_000

/** What the operator runs to log Claude Code in: said wherever the gateway refuses for the lack of it. */
export const LOGIN_HINT =
  'run `claude auth login` as the user the gateway runs as (same CLAUDE_CONFIG_DIR), or give it ANTHROPIC_API_KEY (environment or claude.env)'

/** Asks the CLI at `cliPath` whether it is logged in, with the environment its sessions get. */
export async function readClaudeAuth(
  cliPath: string | null,
  env: NodeJS.ProcessEnv,
  signal?: AbortSignal,
): Promise<ClaudeAuth> {
  if (cliPath === null) return unknown('no Claude Code CLI was found')
  const answer = await run(cliPath, ['auth', 'status', '--json'], env, signal)
  const status = parseStatus(answer.stdout)
  if (!status) {
    // `auth status` came with CLI 2.x; an older or wrapped CLI answers with usage text or an error.
    const said = answer.error ?? (firstLine(answer.stderr) || firstLine(answer.stdout) || 'no output')
    return unknown(`\`claude auth status --json\` gave no status (${said}); the CLI may predate it`)
  }
  const common = {
    method: typeof status.authMethod === 'string' ? status.authMethod : null,
    provider: typeof status.apiProvider === 'string' ? status.apiProvider : null,
    apiKeySource: typeof status.apiKeySource === 'string' ? status.apiKeySource : null,
    checkedAt: Date.now(),
  }
  if (status.loggedIn === true) return { state: 'authenticated', ...common, reason: null }
  return { state: 'not_authenticated', ...common, reason: `Claude Code is not logged in: ${LOGIN_HINT}` }
}

function unknown(reason: string): ClaudeAuth {
  return {
    state: 'unknown',
    method: null,
    provider: null,
    apiKeySource: null,
    reason: `Claude's authentication was not checked: ${reason}`,
    checkedAt: Date.now(),
  }
}

interface StatusAnswer {
  loggedIn?: unknown
  authMethod?: unknown
  apiProvider?: unknown
  apiKeySource?: unknown
}

function parseStatus(stdout: string): StatusAnswer | undefined {
  try {
    const parsed: unknown = JSON.parse(stdout)
    if (typeof parsed === 'object' && parsed !== null && 'loggedIn' in parsed) return parsed as StatusAnswer
  } catch {
    // not JSON: reported by the caller with what the CLI printed
  }
  return undefined
}

const firstLine = (text: string) => text.trim().split('\n')[0]?.trim() ?? ''

/** The CLI's answer whatever its exit code: "not logged in" is exit 1 with the status on stdout. */
function run(
  path: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  signal?: AbortSignal,
): Promise<{ stdout: string; stderr: string; error: string | null }> {
  return new Promise((resolve) => {
    // `signal`: the gateway stops; a check under way must not outlive it (it writes in Claude's folder).
    execFile(path, args, { env, timeout: STATUS_TIMEOUT_MS, signal }, (error, stdout, stderr) => {
      let failure: string | null = null
      if (error?.killed) failure = `no answer within ${STATUS_TIMEOUT_MS / 1000} s`
      else if (error && error.code !== 1) failure = `exit ${error.code}`
      resolve({ stdout, stderr, error: failure })
    })
  })
}
