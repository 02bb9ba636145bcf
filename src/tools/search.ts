/**
 * The search (Grep) tool. The search itself runs in a worker thread: a regular expression that backtracks
 * for minutes, or megabytes of text to match, never stall the gateway's event loop, and a search past its
 * time is stopped by terminating the worker.
 */
import type { ResourceLimits } from 'node:worker_threads'
import { type Static, Type } from '@sinclair/typebox'
import { startModuleWorker } from '../util/module-worker.js'
import { confineTo, ToolError, type ToolErrorCode, workspaceRoot } from './confinement.js'
import { compilePattern, type OutputMode, type SearchResult } from './search-core.js'
import type { SearchJob, SearchReply } from './search-worker.js'
import type { Tool, ToolLimits } from './types.js'

export type { SearchResult } from './search-core.js'

export const OUTPUT_MODES = [
  'files_with_matches',
  'content',
  'count',
] as const satisfies readonly OutputMode[]

const ContextLines = (description: string) =>
  Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000, description }))

export const SearchInput = Type.Object(
  {
    pattern: Type.String({
      minLength: 1,
      description:
        'The regular expression to search for (JavaScript syntax, close to ripgrep\'s; a leading "(?i)" or "(?s)" is understood).',
    }),
    path: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'The file or folder to search: relative to the workspace, or absolute inside it (default: the workspace).',
      }),
    ),
    glob: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Only files matching this glob ("*.js", "src/**/*.{ts,tsx}"); several separated by spaces or commas, "!" excludes. A glob without "/" matches file names at any depth.',
      }),
    ),
    type: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Only files of this type: ripgrep type names (js, ts, py, rust, go, java, ...) or a file extension.',
      }),
    ),
    output_mode: Type.Optional(
      Type.Unsafe<OutputMode>({
        type: 'string',
        enum: [...OUTPUT_MODES],
        description:
          '"files_with_matches" (default): the files, most recently modified first; "content": the matching lines; "count": matching lines per file.',
      }),
    ),
    '-i': Type.Optional(Type.Boolean({ description: 'Case insensitive.' })),
    '-n': Type.Optional(Type.Boolean({ description: 'Line numbers in content mode (default true).' })),
    '-A': ContextLines('Lines of context after each match (content mode).'),
    '-B': ContextLines('Lines of context before each match (content mode).'),
    '-C': ContextLines('Lines of context before and after each match (content mode).'),
    multiline: Type.Optional(
      Type.Boolean({ description: 'Let matches span lines ("." matches a line break too).' }),
    ),
    head_limit: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          'At most this many output lines, files or counts (default 250; 0: as many as the gateway allows).',
      }),
    ),
    offset: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Skip this many lines, files or counts first.' }),
    ),
  },
  { additionalProperties: false },
)
export type SearchInputType = Static<typeof SearchInput>

/** The worker stops walking at `searchTimeoutMs` and answers with what it found; past this grace it is stopped. */
const HARD_STOP_GRACE_MS = 1000
const WORKER_LIMITS: ResourceLimits = { maxOldGenerationSizeMb: 512 }

/** Runs a search in a worker thread; `timeout` when it has not answered by the time limit and its grace. */
export function searchInWorker(
  workspace: string,
  input: SearchInputType,
  limits: ToolLimits,
  signal?: AbortSignal,
): Promise<SearchResult> {
  signal?.throwIfAborted()
  return new Promise((resolve, reject) => {
    const job: SearchJob = { workspace, input, limits, timeoutMs: limits.searchTimeoutMs }
    const worker = startModuleWorker('search-worker', import.meta.url, {
      workerData: job,
      resourceLimits: WORKER_LIMITS,
    })
    let settled = false
    const finish = (outcome: () => void) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      outcome()
    }
    const stop = (error: unknown) =>
      finish(() => {
        void worker.terminate()
        reject(error)
      })
    let timer: NodeJS.Timeout | undefined
    // Timed from the worker's start, so that its start-up does not count.
    worker.once('online', () => {
      if (settled) return
      timer = setTimeout(
        () => stop(new ToolError('timeout', `the search did not finish within ${limits.searchTimeoutMs} ms`)),
        limits.searchTimeoutMs + HARD_STOP_GRACE_MS,
      )
    })
    const onAbort = () => stop(signal?.reason)
    signal?.addEventListener('abort', onAbort, { once: true })
    worker.once('message', (reply: SearchReply) =>
      finish(() => {
        if (reply.ok) resolve(reply.result)
        else if (reply.error.toolError)
          reject(new ToolError(reply.error.code as ToolErrorCode, reply.error.message, reply.error.details))
        else reject(new Error(reply.error.message))
      }),
    )
    worker.once('error', (error: Error & { code?: string }) =>
      stop(
        error.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? new ToolError('too_large', 'the search needed more memory than it is allowed')
          : error,
      ),
    )
    worker.once('exit', (code) =>
      stop(new Error(`the search worker exited (code ${code}) without an answer`)),
    )
  })
}

export const searchTool: Tool<typeof SearchInput, SearchResult> = {
  name: 'search',
  claudeCodeName: 'Grep',
  description:
    "Searches the contents of the workspace's files with a regular expression, as ripgrep does: .gitignore " +
    'respected, hidden files searched, binary files and version control folders skipped. output_mode ' +
    '"files_with_matches" (default) lists the files, most recently modified first; "content" shows the ' +
    'matching lines (path:line:text, context lines with -A/-B/-C); "count" the matching lines per file. ' +
    'Filter files with glob and type; head_limit and offset page through the results (default 250).',
  inputSchema: SearchInput,
  async run(workspace, input, { limits, signal }) {
    // The quick refusals (bad pattern, path outside the workspace) without starting a worker.
    compilePattern(input.pattern, input['-i'] === true, input.multiline === true)
    const root = await workspaceRoot(workspace)
    if (input.path !== undefined) await confineTo(root, input.path, 'path')
    return searchInWorker(root, input, limits, signal)
  },
}
