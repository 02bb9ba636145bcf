/**
 * A runner is one live Claude Code process: one SDK query in streaming-input mode, fed a user message per
 * turn. It knows nothing of sessions or events; it hands every SDK message to whoever serves it.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { setPriority } from 'node:os'
import { setImmediate as nextLoopTurn } from 'node:timers/promises'
import type {
  AgentInfo,
  CanUseTool,
  ModelInfo,
  PermissionResult,
  Query,
  SDKMessage,
  SDKUserMessage,
  SlashCommand,
  SpawnedProcess,
  SpawnOptions,
} from '@anthropic-ai/claude-agent-sdk'
import type { Logger } from 'pino'
import { CLIENT_SERVER, clientFunctionName } from '../events/client-tool-names.js'
import type { ContentBlock } from '../events/types.js'
import { claudeConfigDir, transcriptPath } from './claude-home.js'
import { CliStderr, SecretMask } from './cli-stderr.js'
import { type ClientToolCall, type ClientToolResult, clientToolServer } from './client-tools.js'
import { PRIMING_PROMPT, Priming } from './priming.js'
import { CLEAR_COMMAND, Clearing, ProcessUse } from './process-reuse.js'
import type { RunnerProfile } from './types.js'

export type RunnerState = 'ready' | 'busy' | 'closed'

export interface RunnerExit {
  code: number | null
  signal: NodeJS.Signals | null
  /** Set when the SDK reported why the process stopped serving. */
  error?: Error
  /** The end of what the CLI wrote on stderr, for error messages. */
  stderr: string
}

export type PermissionRequest = Parameters<CanUseTool>[2] & {
  toolName: string
  input: Record<string, unknown>
}

export interface RunnerHooks {
  /** The session served: named in the log lines of what the process writes on stderr. */
  sessionId?: string
  onMessage(message: SDKMessage): void
  onExit(exit: RunnerExit): void
  /** Claude Code would ask the user before running a tool: the session decides. */
  onPermission(request: PermissionRequest): Promise<PermissionResult>
  /** Claude called a function the API client executes: resolves with the client's result. */
  onClientTool(call: ClientToolCall): Promise<ClientToolResult>
}

/** The user messages of a streaming-input query: a queue the SDK reads from for the life of the process. */
export class InputStream implements AsyncIterable<SDKUserMessage> {
  private readonly queued: SDKUserMessage[] = []
  private wake: (() => void) | null = null
  private ended = false

  push(message: SDKUserMessage): void {
    this.queued.push(message)
    this.wake?.()
  }

  end(): void {
    this.ended = true
    this.wake?.()
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SDKUserMessage> {
    for (;;) {
      const next = this.queued.shift()
      if (next) {
        yield next
        continue
      }
      if (this.ended) return
      await new Promise<void>((resolve) => {
        this.wake = resolve
      })
      this.wake = null
    }
  }
}

/**
 * The uuid of the user message Claude Code says it is done with (`command_lifecycle` `completed` or
 * `cancelled`, which the SDK's types do not declare; sent after the message's result, if it had one), or
 * undefined for any other message.
 */
export function finishedCommand(message: SDKMessage): string | undefined {
  const lifecycle = message as { type: string; command_uuid?: unknown; state?: unknown }
  if (lifecycle.type !== 'command_lifecycle' || typeof lifecycle.command_uuid !== 'string') return undefined
  return lifecycle.state === 'completed' || lifecycle.state === 'cancelled'
    ? lifecycle.command_uuid
    : undefined
}

/** Every CLI process the gateway started and that has not exited: what shutdown must stop. */
export const liveProcesses = new Set<ChildProcess>()

export class Runner {
  readonly id = randomUUID()
  state: RunnerState = 'ready'
  /** When its session last finished with it (a spare may reclaim the slot of the longest idle one). */
  idleSince = Date.now()
  readonly exited: Promise<RunnerExit>
  /** The working directory the process was started in. */
  readonly cwd: string
  /**
   * Started with the host's Claude account and no MCP server: what its CLI reports (commands, agents) is
   * everyone's, not one user's (capabilities.ts learns only from such a process).
   */
  readonly generic: boolean
  /**
   * Settles when the process no longer writes its current conversation's transcript: it exited, or it
   * cleared the conversation for another session (`clear`). A session's next process waits for it.
   */
  conversationEnded: Promise<void>
  private endConversation!: () => void
  private hooks: RunnerHooks | null = null
  /** Messages that arrived before anyone attached (a spare's start-up chatter). */
  private backlog: SDKMessage[] = []
  private readonly input = new InputStream()
  private readonly query: Query
  /** A turn of the gateway's own whose messages go nowhere: the spare's priming, a `/clear` for reuse. */
  private hidden: Pick<Clearing, 'takes'> | null
  /** Whether the process did more than talk, or is still busy with a session's message (process-reuse.ts). */
  private readonly use = new ProcessUse()
  /** Cleared for the next session: what it says before one attaches is nobody's (no backlog). */
  private cleared = false
  /** The process's running total of model API time (ms), as its last result said (the gateway's own too). */
  apiMs = 0
  /**
   * Claude Code's id of a conversation holding nothing of a session's (priming, `/clear`) until a session
   * sends its first message: removed at exit or at the next `/clear`.
   */
  private blankConversation: string | null = null

  private constructor(
    /** Which start-up options this process was started with: a spare serves only a session that matches. */
    readonly key: string,
    cwd: string,
    private readonly configDir: string,
    private readonly child: TrackedChild,
    start: (input: AsyncIterable<SDKUserMessage>) => Query,
    /** Set for a spare primed at start: its priming turn's messages go nowhere. */
    priming: Priming | null,
    generic = true,
  ) {
    this.cwd = cwd
    this.generic = generic
    this.hidden = priming
    this.conversationEnded = this.nextConversation()
    this.query = start(this.input)
    this.exited = this.pump()
  }

  /**
   * Start a process and wait until Claude Code has initialised (tools, settings, MCP handshakes), so that
   * the first message costs only a model call; with `prime`, also until it has handled a blocked prompt
   * (see priming.ts), so that it does not pay its first-prompt work on the first message either. Rejects if
   * the process fails to start in time, with PrimingUnsupportedError if the CLI did not block that prompt.
   * What the process writes on stderr goes to `log` (cli-stderr.ts); without one it is only kept for errors.
   */
  static async start(
    profile: RunnerProfile,
    timeoutMs: number,
    prime = false,
    log: Logger | null = null,
  ): Promise<Runner> {
    const { key, options } = profile
    // Known once the runner exists: the lines written before it (the process starting) name the process only.
    let runner: Runner | undefined
    const child = new TrackedChild(profile.niceness, log, () => ({
      runner: runner?.id,
      session: runner?.hooks?.sessionId,
    }))
    const cwd = options.cwd ?? process.cwd()
    const configDir = claudeConfigDir(options.env ?? process.env)
    const priming = prime ? new Priming() : null
    // The callback is fixed at start-up, before any session owns the process: it asks whoever is attached.
    const canUseTool: CanUseTool = async (toolName, input, context) =>
      // The client's own functions need no approval: the client runs them itself.
      clientFunctionName(toolName) !== undefined
        ? { behavior: 'allow', updatedInput: input }
        : runner?.hooks
          ? runner.hooks.onPermission({ ...context, toolName, input })
          : { behavior: 'deny', message: 'No session is attached to this Claude Code process' }
    // Under bypassPermissions nothing is ever asked (the SDK warns when a callback is set anyway).
    const asks = options.permissionMode !== 'bypassPermissions'
    const clientCall = (call: ClientToolCall): Promise<ClientToolResult> =>
      runner?.hooks
        ? runner.hooks.onClientTool(call)
        : Promise.resolve({ content: 'No session is attached to this Claude Code process', isError: true })
    const mcpServers = profile.clientTools?.length
      ? { ...options.mcpServers, [CLIENT_SERVER]: await clientToolServer(profile.clientTools, clientCall) }
      : options.mcpServers
    // Loaded on first use: the SDK is a fifth of the gateway's start-up, and nothing needs it before.
    const { startup } = await import('@anthropic-ai/claude-agent-sdk')
    // Spawning blocks the event loop for the fork (2 ms here, tens under load). Events published in the
    // same run of promise callbacks are only written to their sockets when it ends: let them go first.
    await nextLoopTurn()
    const warm = await startup({
      options: {
        ...options,
        ...(asks ? { canUseTool } : {}),
        ...(mcpServers ? { mcpServers } : {}),
        ...(priming ? { hooks: priming.withHook(options.hooks) } : {}),
        spawnClaudeCodeProcess: (spawnOptions) => child.spawn(spawnOptions),
      },
      // 0 means no limit; the SDK's own default would cut it at a minute.
      initializeTimeoutMs: timeoutMs > 0 ? timeoutMs : 2 ** 31 - 1,
    }).catch((error: Error) => {
      child.kill()
      throw new Error(child.describeFailure(error.message))
    })
    const generic = !profile.account && Object.keys(options.mcpServers ?? {}).length === 0
    runner = new Runner(key, cwd, configDir, child, (input) => warm.query(input), priming, generic)
    if (priming) {
      runner.send(PRIMING_PROMPT, false)
      await priming.finished(runner.exited, timeoutMs).catch(async (error: Error) => {
        child.kill()
        await runner?.exited
        throw error
      })
      runner.blankConversation = priming.claudeSessionId
    }
    return runner
  }

  get pid(): number | null {
    return this.child.pid
  }

  /** Whether a new conversation may start in this process (process-reuse.ts): it is idle and only talked. */
  get reusable(): boolean {
    return this.state === 'ready' && this.use.onlyTalked
  }

  /** Route this process's messages and exit to the session it now serves. */
  attach(hooks: RunnerHooks): void {
    this.hooks = hooks
    this.cleared = false
    const backlog = this.backlog
    this.backlog = []
    for (const message of backlog) hooks.onMessage(message)
  }

  /**
   * Leave the session it served and start a new, empty conversation for the next (process-reuse.ts): the
   * `/clear` and what it says go nowhere. Rejects when the process exits or the time runs out first (the
   * caller stops it); on success `conversationEnded` of the session it served settles.
   */
  async clear(timeoutMs: number): Promise<void> {
    this.hooks = null
    this.backlog = []
    const clearing = new Clearing(this.send(CLEAR_COMMAND, false))
    this.hidden = clearing
    await clearing.finished(this.exited, timeoutMs)
    // An earlier blank conversation (attached, then given back before a word) goes with this one at exit.
    if (this.blankConversation) void this.removeTranscript(this.blankConversation)
    this.blankConversation = clearing.conversationId
    this.cleared = true
    this.idleSince = Date.now()
    const ended = this.endConversation
    this.conversationEnded = this.nextConversation()
    ended()
  }

  /** Queue a user message; Claude Code runs it as the next turn. `fromSession`: a session's, not the gateway's. */
  send(content: string | ContentBlock[], fromSession = true): string {
    const uuid = randomUUID()
    if (fromSession) {
      this.use.sent(uuid, content)
      this.blankConversation = null
    }
    this.input.push({
      type: 'user',
      message: { role: 'user', content: content as SDKUserMessage['message']['content'] },
      parent_tool_use_id: null,
      session_id: '',
      uuid,
    })
    return uuid
  }

  /** The agents this CLI offers in its working directory (built-in ones and the agent files it loaded). */
  supportedAgents(): Promise<AgentInfo[]> {
    return this.query.supportedAgents()
  }

  /** The models this CLI offers (its aliases with the model each resolves to). */
  supportedModels(): Promise<ModelInfo[]> {
    return this.query.supportedModels()
  }

  /** The slash commands this CLI offers in its working directory (its own, plugins', and command files'). */
  supportedCommands(): Promise<SlashCommand[]> {
    return this.query.supportedCommands()
  }

  async interrupt(): Promise<void> {
    if (this.state === 'closed') return
    try {
      await this.query.interrupt()
    } catch (error) {
      // A process that went away meanwhile has nothing left to interrupt.
      if ((this.state as RunnerState) !== 'closed') throw error
    }
  }

  /** Stop the process; resolves once it has exited (the SDK escalates to SIGTERM, then SIGKILL). */
  async close(): Promise<RunnerExit> {
    if (this.state !== 'closed') {
      this.state = 'closed'
      this.input.end()
      this.query.close()
    }
    return this.exited
  }

  /** Kill at once, without the SDK's grace period (shutdown after its deadline, tests). */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child.kill(signal)
  }

  private async pump(): Promise<RunnerExit> {
    let error: Error | undefined
    try {
      for await (const message of this.query) {
        if (message.type === 'result' && Number.isFinite(message.duration_api_ms))
          this.apiMs = message.duration_api_ms
        const hidden = this.hidden?.takes(message) ?? false
        this.use.saw(message, hidden, finishedCommand(message))
        if (hidden) continue
        if (this.hooks) this.hooks.onMessage(message)
        else if (!this.cleared) this.backlog.push(message)
      }
    } catch (thrown) {
      error = thrown as Error
    }
    this.state = 'closed'
    this.input.end()
    const { code, signal } = await this.child.exit
    this.endConversation()
    if (this.blankConversation) await this.removeTranscript(this.blankConversation)
    const exit = { code, signal, error, stderr: this.child.stderrTail() }
    this.hooks?.onExit(exit)
    return exit
  }

  private nextConversation(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.endConversation = resolve
    })
  }

  /** Best effort: a leftover transcript holding no conversation only clutters Claude's session list. */
  private async removeTranscript(sessionId: string): Promise<void> {
    const location = { configDir: this.configDir, cwd: this.cwd, sessionId }
    await rm(await transcriptPath(location), { force: true }).catch(() => undefined)
  }
}

/** Spawns the CLI for the SDK so the gateway knows its pid, its stderr and when it really exited. */
class TrackedChild {
  private process: ChildProcess | null = null
  private stderr: CliStderr | null = null

  constructor(
    private readonly niceness: number,
    private readonly log: Logger | null,
    private readonly owner: () => { runner?: string; session?: string },
  ) {}

  private resolveExit!: (exit: { code: number | null; signal: NodeJS.Signals | null }) => void
  readonly exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    this.resolveExit = resolve
  })

  get pid(): number | null {
    return this.process?.pid ?? null
  }

  spawn(options: SpawnOptions): SpawnedProcess {
    // The SDK's abort signal is deliberately not wired to kill(): it closes stdin first and escalates itself.
    const child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    this.process = child
    liveProcesses.add(child)
    // Claude Code is the heavy part: under load the gateway's event loop (every stream's latency) goes first.
    if (this.niceness > 0 && child.pid) {
      try {
        setPriority(child.pid, this.niceness)
      } catch {
        // not allowed here: the process keeps the gateway's priority
      }
    }
    const stderr = new CliStderr(this.log, new SecretMask(options.env), () => ({
      cliPid: child.pid,
      ...this.owner(),
    }))
    this.stderr = stderr
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (chunk: string) => stderr.write(chunk))
    child.stderr.once('end', () => stderr.end())
    child.on('error', () => {
      // reported through 'exit' and the SDK's own error; without a listener it would crash the gateway
    })
    child.on('exit', (code, signal) => {
      liveProcesses.delete(child)
      this.resolveExit({ code, signal })
    })
    return child as unknown as SpawnedProcess
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.process && this.process.exitCode === null && this.process.signalCode === null)
      this.process.kill(signal)
    if (!this.process) this.resolveExit({ code: null, signal: null })
  }

  stderrTail(): string {
    return this.stderr?.tail() ?? ''
  }

  describeFailure(message: string): string {
    const tail = this.stderrTail()
    return tail ? `${message}: ${tail.split('\n').slice(-5).join(' | ')}` : message
  }
}
