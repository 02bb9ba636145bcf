/**
 * A gateway process in a test: the JSON lines of its log as they come (stdout is not a TTY), the address its
 * "ready at" line gives, and the command started from the sources (`node --import tsx src/cli.ts`) for a
 * test home, as the drain and replica tests run it.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import type { TestHome } from './harness.js'
import { waitUntil } from './wait.js'

const ROOT = new URL('../..', import.meta.url).pathname

export interface GatewayProcess {
  child: ChildProcessWithoutNullStreams
  url: string
  /** Log lines as they come; what the process writes to stderr as `{ stderr }`. */
  log: Record<string, unknown>[]
}

/** The process's log lines, filled as they come: its stdout's JSON lines, and its stderr as `{ stderr }`. */
export function logLines(child: ChildProcessWithoutNullStreams): Record<string, unknown>[] {
  const log: Record<string, unknown>[] = []
  let rest = ''
  child.stdout.on('data', (chunk: Buffer) => {
    const parts = (rest + chunk.toString()).split('\n')
    rest = parts.pop() ?? ''
    for (const part of parts) if (part.startsWith('{')) log.push(JSON.parse(part))
  })
  child.stderr.on('data', (chunk: Buffer) => log.push({ stderr: chunk.toString() }))
  return log
}

/** The address the "ready at" line gives once it is logged; rejects, with the log, if the process exits first. */
export async function readyUrl(
  child: ChildProcessWithoutNullStreams,
  log: Record<string, unknown>[],
  timeoutMs = 60_000,
  what = 'gateway',
): Promise<string> {
  const ready = await waitUntil(
    () => log.find((line) => String(line.msg).includes('ready at')) ?? (child.exitCode !== null && log),
    timeoutMs,
    `${what} ready`,
  )
  if (Array.isArray(ready)) throw new Error(`${what} exited: ${JSON.stringify(ready)}`)
  return /(http:\/\/[^\s]+)/.exec(String(ready.msg))![1]!
}

/**
 * Starts the gateway from the sources on a free port, for `home` (its data folder, workspace, no setting
 * sources, no warm spares, JSON logs), `env` set over that; resolves once it is ready.
 */
export async function startGateway(
  home: TestHome,
  env: NodeJS.ProcessEnv = {},
  what = 'gateway',
): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', '--port', '0'], {
    cwd: ROOT,
    env: {
      ...home.env,
      CCGW_STORE_DATA_DIR: home.dataDir,
      CCGW_CLAUDE_DEFAULT_WORKSPACE: home.workspace,
      CCGW_NATIVE_WORKSPACE_ROOTS: home.root,
      CCGW_CLAUDE_SETTING_SOURCES: '',
      CCGW_POOL_WARM_SPARES: '0',
      CCGW_LOG_PRETTY: 'never',
      ...env,
    },
  })
  const log = logLines(child)
  return { child, log, url: await readyUrl(child, log, 60_000, what) }
}
