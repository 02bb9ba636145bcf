import type { Static, TSchema } from '@sinclair/typebox'

export const TOOL_NAMES = ['read', 'write', 'edit', 'glob', 'search', 'bash'] as const
export type ToolName = (typeof TOOL_NAMES)[number]

/** The bounds of the direct tools; every one is a plain number so that the configuration can set it. */
export interface ToolLimits {
  /** read and edit refuse larger files (`too_large`); write does not return a larger original. */
  maxFileBytes: number
  /** write refuses larger `content` (`too_large`). */
  writeMaxBytes: number
  /** read: lines returned when the request sets no `limit`. */
  readDefaultLines: number
  /** read: longer lines are cut to this many characters. */
  readMaxLineChars: number
  /** glob: at most this many paths are returned (`truncated` says when there were more). */
  globMaxResults: number
  /** glob and search: folder entries looked at before the walk stops (`truncated`). */
  walkMaxEntries: number
  /** search: results (lines, files or counts) when the request sets no `head_limit`. */
  searchDefaultResults: number
  /** search: the most results a request can ask for with `head_limit`. */
  searchMaxResults: number
  /** search: larger files are skipped. */
  searchMaxFileBytes: number
  /** search: bytes read in all before the search stops (`truncated`). */
  searchMaxTotalBytes: number
  /** search: output lines (content mode) are cut to this many characters. */
  searchMaxColumns: number
  /** search: the whole search (run in a worker thread) is stopped after this long (`timeout`). */
  searchTimeoutMs: number
  /** bash: the command's timeout when the request sets none. */
  bashDefaultTimeoutMs: number
  /** bash: the longest timeout a request can ask for. */
  bashMaxTimeoutMs: number
  /** bash: stdout and stderr are each cut to this many characters (`truncated`). */
  bashMaxOutputChars: number
  /** bash: time between SIGTERM and SIGKILL to the command's process group on timeout or abort. */
  bashKillGraceMs: number
}

export const DEFAULT_TOOL_LIMITS: Readonly<ToolLimits> = Object.freeze({
  maxFileBytes: 10 * 1024 * 1024,
  writeMaxBytes: 10 * 1024 * 1024,
  readDefaultLines: 2000,
  readMaxLineChars: 2000,
  globMaxResults: 100,
  walkMaxEntries: 200_000,
  searchDefaultResults: 250,
  searchMaxResults: 5000,
  searchMaxFileBytes: 5 * 1024 * 1024,
  searchMaxTotalBytes: 256 * 1024 * 1024,
  searchMaxColumns: 500,
  searchTimeoutMs: 30_000,
  bashDefaultTimeoutMs: 120_000,
  bashMaxTimeoutMs: 600_000,
  bashMaxOutputChars: 30_000,
  bashKillGraceMs: 2_000,
})

export interface ToolRunOptions {
  limits: ToolLimits
  /** Aborting stops the tool: bash kills its process group, search stops its worker, glob its walk. */
  signal?: AbortSignal
  /** bash: the command's environment (default: `bashEnvironment(process.env)`). */
  env?: NodeJS.ProcessEnv
}

export interface Tool<S extends TSchema = TSchema, R = unknown> {
  name: ToolName
  /** The Claude Code tool with the same semantics. */
  claudeCodeName: string
  description: string
  inputSchema: S
  run(workspace: string, input: Static<S>, options: ToolRunOptions): Promise<R>
}
