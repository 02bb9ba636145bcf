/**
 * Claude Code's own stored sessions: the transcripts the CLI keeps per working directory under
 * `<config dir>/projects/`. They are listed, looked up and forked with the Agent SDK's helpers, which find
 * the config folder in `process.env.CLAUDE_CONFIG_DIR`, while the gateway's CLI processes may run with
 * another one (`claude.env`, the environment given to the gateway). So the helpers run in a worker thread
 * whose environment names the CLI's folder: the gateway's own environment is never touched.
 *
 * One thread per config folder serves every call (the SDK loads once, in about 200 ms, and many calls at
 * once cost one SDK's memory); it stops after a few idle seconds.
 */
import type { Worker } from 'node:worker_threads'
import type { SDKSessionInfo } from '@anthropic-ai/claude-agent-sdk'
import { startModuleWorker } from '../util/module-worker.js'

export type ClaudeSessionInfo = SDKSessionInfo

/** A fork's new Claude session, or what was not there to fork. */
export type ForkOutcome = { sessionId: string } | { missing: 'session' | 'message' }

export interface ClaudeSessionsJob {
  id: number
  /** The working directory whose transcripts are meant (a real path). */
  dir: string
  action:
    | { kind: 'list'; limit: number; offset: number }
    | { kind: 'find'; sessionId: string }
    | { kind: 'fork'; sessionId: string; upTo?: string; title?: string }
}

export type ClaudeSessionsReply = { id: number } & (
  | { ok: true; result: unknown }
  | { ok: false; message: string }
)

/** How long the thread stays after its last call. */
const LINGER_MS = 10_000

/** The CLI's sessions in a working directory, most recently modified first. */
export function listClaudeSessions(
  configDir: string,
  workspace: string,
  page: { limit: number; offset: number },
): Promise<ClaudeSessionInfo[]> {
  return threadFor(configDir).run(workspace, { kind: 'list', ...page })
}

/** One of the CLI's sessions in a working directory, or null when it has no such transcript. */
export function findClaudeSession(
  configDir: string,
  workspace: string,
  sessionId: string,
): Promise<ClaudeSessionInfo | null> {
  return threadFor(configDir).run(workspace, { kind: 'find', sessionId })
}

/**
 * Copy a Claude session into a new one (fresh ids, its own transcript), whole or up to `upTo`: the uuid of
 * a transcript entry, or the id of an assistant message (`msg_…`), then up to that message's last block.
 */
export function forkClaudeSession(
  configDir: string,
  workspace: string,
  sessionId: string,
  options: { upTo?: string; title?: string },
): Promise<ForkOutcome> {
  return threadFor(configDir).run(workspace, { kind: 'fork', sessionId, ...options })
}

const threads = new Map<string, HelperThread>()

function threadFor(configDir: string): HelperThread {
  let thread = threads.get(configDir)
  if (!thread) {
    thread = new HelperThread(configDir)
    threads.set(configDir, thread)
  }
  return thread
}

interface Waiting {
  resolve(result: unknown): void
  reject(error: Error): void
}

/** The worker thread of one config folder, started on demand and stopped when idle. */
class HelperThread {
  private worker: Worker | null = null
  private readonly waiting = new Map<number, Waiting>()
  private nextId = 1
  private lingering: NodeJS.Timeout | undefined

  constructor(private readonly configDir: string) {}

  run<T>(dir: string, action: ClaudeSessionsJob['action']): Promise<T> {
    clearTimeout(this.lingering)
    const worker = this.worker ?? this.start()
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (result: unknown) => void, reject })
      worker.postMessage({ id, dir, action } satisfies ClaudeSessionsJob)
    })
  }

  private start(): Worker {
    const worker = startModuleWorker('claude-sessions-worker', import.meta.url, {
      env: { CLAUDE_CONFIG_DIR: this.configDir },
    })
    // Waiting calls do not keep the gateway running; a stopping gateway does not wait for them.
    worker.unref()
    worker.on('message', (reply: ClaudeSessionsReply) => {
      const waiting = this.waiting.get(reply.id)
      if (!waiting) return
      this.waiting.delete(reply.id)
      if (reply.ok) waiting.resolve(reply.result)
      else waiting.reject(new Error(reply.message))
      if (this.waiting.size === 0) this.linger(worker)
    })
    const fail = (error: Error) => {
      // A thread let go when idle had no call waiting; the calls waiting now are its successor's.
      if (this.worker !== worker) return
      this.worker = null
      for (const waiting of this.waiting.values()) waiting.reject(error)
      this.waiting.clear()
    }
    worker.on('error', fail)
    worker.on('exit', (code) => fail(new Error(`The session helper thread stopped (code ${code})`)))
    this.worker = worker
    return worker
  }

  private linger(worker: Worker): void {
    this.lingering = setTimeout(() => {
      if (this.worker !== worker || this.waiting.size > 0) return
      this.worker = null
      void worker.terminate()
    }, LINGER_MS)
    this.lingering.unref()
  }
}
