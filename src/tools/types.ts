import type { Static, TSchema } from '@sinclair/typebox'

export const TOOL_NAMES = ['read', 'write', 'edit', 'glob', 'search', 'bash'] as const
export type ToolName = (typeof TOOL_NAMES)[number]

/**
 * The bounds of the direct tools and their defaults, listed once: the ToolLimits type and the configuration's
 * `tools` section (config/schema.ts) are derived from it. Every one is a plain number so that the
 * configuration can set it.
 */
export const DEFAULT_TOOL_LIMITS = Object.freeze({
  /** read and edit refuse larger files (`too_large`); write does not return a larger original. */
  maxFileBytes: 10 * 1024 * 1024,
  /** write refuses larger `content` (`too_large`). */
  writeMaxBytes: 10 * 1024 * 1024,
  /** read: lines returned when the request sets no `limit`. */
  readDefaultLines: 2000,
  /** read: longer lines are cut to this many characters. */
  readMaxLineChars: 2000,
  /** glob: at most this many paths are returned (`truncated` says when there were more). */
  globMaxResults: 100,
  /** glob and search: folder entries looked at before the walk stops (`truncated`). */
  walkMaxEntries: 200_000,
  /** search: results (lines, files or counts) when the request sets no `head_limit`. */
  searchDefaultResults: 250,
  /** search: the most results a request can ask for with `head_limit`. */
  searchMaxResults: 5000,
  /** search: larger files are skipped. */
  searchMaxFileBytes: 5 * 1024 * 1024,
  /** search: bytes read in all before the search stops (`truncated`). */
  searchMaxTotalBytes: 256 * 1024 * 1024,
  /** search: output lines (content mode) are cut to this many characters. */
  searchMaxColumns: 500,
  /** search: the whole search (run in a worker thread) is stopped after this long (`timeout`). */
  searchTimeoutMs: 30_000,
  /** bash: the command's timeout when the request sets none. */
  bashDefaultTimeoutMs: 120_000,
  /** bash: the longest timeout a request can ask for. */
  bashMaxTimeoutMs: 600_000,
  /** bash: stdout and stderr are each cut to this many characters (`truncated`). */
  bashMaxOutputChars: 30_000,
  /** bash: time between SIGTERM and SIGKILL to the command's process group on timeout or abort. */
  bashKillGraceMs: 2_000,
})

/** The bounds of the direct tools (see DEFAULT_TOOL_LIMITS, which documents each). */
export type ToolLimits = { -readonly [Limit in keyof typeof DEFAULT_TOOL_LIMITS]: number }

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
