/**
 * The bash tool: `bash -c <command>` in the workspace, in a process group of its own so that a timeout, an
 * abort or the end of the command can kill everything it started (background jobs included).
 */
import { spawn } from 'node:child_process'
import { Type } from '@sinclair/typebox'
import { ToolError, workspaceRoot } from './confinement.js'
import type { Tool } from './types.js'

export const BashInput = Type.Object(
  {
    command: Type.String({
      minLength: 1,
      description: 'The shell command, run with `bash -c` in the workspace.',
    }),
    timeout: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 600_000,
        description: 'Milliseconds before the command is killed (default 120000, at most 600000).',
      }),
    ),
    description: Type.Optional(
      Type.String({ description: 'What the command does, in a few words (recorded, not used).' }),
    ),
  },
  { additionalProperties: false },
)

export interface BashResult {
  stdout: string
  stderr: string
  /** The exit code; null when the command was ended by a signal. */
  exitCode: number | null
  /** The signal that ended the command (`SIGTERM`, `SIGKILL`, ...), or null. */
  signal: string | null
  /** The command ran past its timeout and was killed. */
  timedOut: boolean
  /** The run was aborted (for instance the client went away) and the command killed. */
  aborted: boolean
  durationMs: number
  /** stdout or stderr was cut to `bashMaxOutputChars`. */
  truncated: boolean
}

/**
 * Environment variables the command does not get: the gateway's own settings (`CCGW_*`, which may hold its
 * API keys), model credentials (`ANTHROPIC_*`, `CLAUDE_CODE_*` tokens, cloud provider settings used for
 * Bedrock and Vertex) and anything whose name says it is a secret.
 */
const SECRET_PREFIXES = [
  'CCGW_',
  'ANTHROPIC_',
  'CLAUDE_CODE_',
  'AWS_',
  'AZURE_',
  'GOOGLE_',
  'GCLOUD_',
  'CLOUDSDK_',
  'OPENAI_',
]
const SECRET_NAME =
  /(API_?KEY|ACCESS_?KEY|SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|PRIVATE_?KEY|AUTH)/i

export function isSecretVariable(name: string): boolean {
  const upper = name.toUpperCase()
  return SECRET_PREFIXES.some((prefix) => upper.startsWith(prefix)) || SECRET_NAME.test(name)
}

/**
 * The environment commands run with: the gateway's environment less the variables `isSecretVariable`
 * names, so PATH, HOME, LANG, USER, SHELL, TMPDIR, ... pass through; `extra` is added last, unfiltered.
 */
export function bashEnvironment(
  parent: NodeJS.ProcessEnv = process.env,
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(parent))
    if (value !== undefined && !isSecretVariable(name)) env[name] = value
  return { ...env, ...extra }
}

/** Signals the whole process group led by `pid`; a group that is already gone is not an error. */
function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch {
    // ESRCH: nothing left in the group
  }
}

/** Once the command has exited and its group is killed, how long to wait for its output pipes to close. */
const DRAIN_MS = 1000

export const bashTool: Tool<typeof BashInput, BashResult> = {
  name: 'bash',
  claudeCodeName: 'Bash',
  description:
    'Runs a shell command with `bash -c` in the workspace folder, without standard input. Returns stdout, ' +
    'stderr, the exit code or signal, and whether it timed out (default 120000 ms, at most 600000). On ' +
    'timeout the whole process group gets SIGTERM, then SIGKILL; background processes still running when ' +
    'the command ends are killed too. Output is cut at 30000 characters per stream (truncated). The ' +
    "environment is the gateway's, less its secrets (API keys, tokens, credentials).",
  inputSchema: BashInput,
  async run(workspace, input, { limits, signal, env }) {
    const timeoutMs = input.timeout ?? limits.bashDefaultTimeoutMs
    if (timeoutMs > limits.bashMaxTimeoutMs)
      throw new ToolError('invalid_input', `timeout must be at most ${limits.bashMaxTimeoutMs} ms`, {
        field: 'timeout',
      })
    const cwd = await workspaceRoot(workspace)
    signal?.throwIfAborted()
    const started = performance.now()

    return new Promise<BashResult>((resolve, reject) => {
      const child = spawn('bash', ['-c', input.command], {
        cwd,
        env: env ?? bashEnvironment(),
        detached: true, // its own process group, so that it can be killed whole
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      const max = limits.bashMaxOutputChars
      let stdout = ''
      let stderr = ''
      let truncated = false
      child.stdout.setEncoding('utf8')
      child.stderr.setEncoding('utf8')
      child.stdout.on('data', (chunk: string) => {
        if (stdout.length + chunk.length > max) truncated = true
        if (stdout.length < max) stdout += chunk.slice(0, max - stdout.length)
      })
      child.stderr.on('data', (chunk: string) => {
        if (stderr.length + chunk.length > max) truncated = true
        if (stderr.length < max) stderr += chunk.slice(0, max - stderr.length)
      })

      let timedOut = false
      let aborted = false
      let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined
      let killTimer: NodeJS.Timeout | undefined
      let drainTimer: NodeJS.Timeout | undefined
      const pid = child.pid

      const terminate = () => {
        if (pid === undefined || killTimer) return
        killGroup(pid, 'SIGTERM')
        killTimer = setTimeout(() => killGroup(pid, 'SIGKILL'), limits.bashKillGraceMs)
      }
      const timeoutTimer = setTimeout(() => {
        timedOut = true
        terminate()
      }, timeoutMs)
      const onAbort = () => {
        aborted = true
        terminate()
      }
      signal?.addEventListener('abort', onAbort, { once: true })

      const cleanUp = () => {
        clearTimeout(timeoutTimer)
        clearTimeout(killTimer)
        clearTimeout(drainTimer)
        signal?.removeEventListener('abort', onAbort)
      }

      child.once('error', (error) => {
        cleanUp()
        if (pid !== undefined) killGroup(pid, 'SIGKILL')
        reject(error)
      })
      child.once('exit', (code, exitSignal) => {
        exited = { code, signal: exitSignal }
        clearTimeout(timeoutTimer)
        // What the command left running goes too: at once, or after the grace when it is being stopped.
        if (pid !== undefined && !killTimer) killGroup(pid, 'SIGKILL')
        // A process that left the group (setsid) may still hold the pipes: stop waiting for them.
        drainTimer = setTimeout(
          () => {
            child.stdout.destroy()
            child.stderr.destroy()
            settle()
          },
          DRAIN_MS + (killTimer ? limits.bashKillGraceMs : 0),
        )
      })
      child.once('close', () => settle())

      let settled = false
      const settle = () => {
        if (settled) return
        settled = true
        // Stopping it: whatever outlived the grace or closed its output early goes now.
        if (pid !== undefined && killTimer) killGroup(pid, 'SIGKILL')
        cleanUp()
        const end = exited ?? { code: child.exitCode, signal: child.signalCode }
        resolve({
          stdout,
          stderr,
          exitCode: end.code,
          signal: end.signal,
          timedOut,
          aborted,
          durationMs: Math.round(performance.now() - started),
          truncated,
        })
      }
    })
  },
}
