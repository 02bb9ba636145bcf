/** The search worker thread: runs one search (workerData) and posts its result or its error. */
import { parentPort, workerData } from 'node:worker_threads'
import { isToolError } from './confinement.js'
import type { SearchInputType } from './search.js'
import { searchWorkspace } from './search-core.js'
import type { ToolLimits } from './types.js'

export interface SearchJob {
  workspace: string
  input: SearchInputType
  limits: ToolLimits
  /** How long the walk may go on (from the worker's start) before it returns what it found. */
  timeoutMs: number
}

export type SearchReply =
  | { ok: true; result: Awaited<ReturnType<typeof searchWorkspace>> }
  | {
      ok: false
      error: { toolError: boolean; code?: string; message: string; details?: Record<string, unknown> }
    }

const job = workerData as SearchJob
searchWorkspace(job.workspace, job.input, job.limits, Date.now() + job.timeoutMs).then(
  (result) => parentPort?.postMessage({ ok: true, result } satisfies SearchReply),
  (error: unknown) => {
    const reply: SearchReply = isToolError(error)
      ? {
          ok: false,
          error: {
            toolError: true,
            code: error.code,
            message: error.message,
            ...(error.details ? { details: error.details } : {}),
          },
        }
      : {
          ok: false,
          error: { toolError: false, message: error instanceof Error ? error.message : String(error) },
        }
    parentPort?.postMessage(reply)
  },
)
