/**
 * The confinement of every path the gateway touches for a client to a folder (a session's workspace, or
 * Claude Code's config folder for user memory and agents), and the direct tools' one error type.
 *
 * `confineTo` checks a path: it is resolved against the folder, symlinks are resolved (also a dangling one,
 * through its target), and anything whose real path is not the folder's real path or below it is refused.
 * Callers then work on the real path it returned, never on the path they were given, and open it only
 * through src/tools/confined-files.ts: checking a path is not enough, a folder on the way can be swapped for
 * a symlink between the check and the use.
 */
import { lstat, readlink, realpath, stat } from 'node:fs/promises'
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path'

/** Stable error codes of the direct tools, with the HTTP status each one maps to. */
export const TOOL_ERROR_STATUS = {
  invalid_input: 400,
  path_outside_workspace: 403,
  permission_denied: 403,
  not_found: 404,
  too_large: 413,
  not_unique: 422,
  no_match: 422,
  timeout: 504,
} as const

export type ToolErrorCode = keyof typeof TOOL_ERROR_STATUS

export class ToolError extends Error {
  override readonly name = 'ToolError'
  readonly status: number

  constructor(
    readonly code: ToolErrorCode,
    message: string,
    /** Machine-readable extras: the `field` an `invalid_input` is about, the `count` of a `not_unique`, ... */
    readonly details?: Record<string, unknown>,
  ) {
    super(message)
    this.status = TOOL_ERROR_STATUS[code]
  }
}

export const isToolError = (error: unknown): error is ToolError => error instanceof ToolError

/** The `code` of a Node system error (`ENOENT`, ...); undefined for anything else. */
export const errnoOf = (error: unknown): string | undefined =>
  typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined

/**
 * A file system error as a ToolError (`shown` is the path as the caller named it); any other error is
 * returned unchanged, for the caller to rethrow.
 */
export function fsToolError(error: unknown, shown: string): unknown {
  if (error instanceof ToolError) return error
  switch (errnoOf(error)) {
    case 'ENOENT':
      return new ToolError('not_found', `${shown}: no such file or directory`)
    case 'EISDIR':
      return new ToolError('invalid_input', `${shown} is a directory`, { field: 'file_path' })
    case 'ENOTDIR':
    case 'EEXIST':
      return new ToolError('invalid_input', `${shown}: a part of the path is not a directory`)
    case 'EACCES':
    case 'EPERM':
      return new ToolError('permission_denied', `${shown}: permission denied`)
    case 'ENXIO':
      return new ToolError('invalid_input', `${shown} is not a regular file`, { field: 'file_path' })
    case 'ELOOP':
      return new ToolError('invalid_input', `${shown}: too many levels of symbolic links`)
    case 'ENAMETOOLONG':
      return new ToolError('invalid_input', `${shown}: file name too long`)
    case 'EFBIG':
      return new ToolError('too_large', `${shown}: file too large`)
    default:
      return error
  }
}

/** The workspace's real path; `not_found` when it does not exist, `invalid_input` when it is no folder. */
export async function workspaceRoot(workspace: string): Promise<string> {
  let root: string
  try {
    root = await realpath(workspace)
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') throw new ToolError('not_found', 'the workspace folder does not exist')
    throw error
  }
  if (!(await stat(root)).isDirectory()) throw new ToolError('invalid_input', 'the workspace is not a folder')
  return root
}

/** The refusal of a path (named as the caller named it) whose real path is not inside the root. */
export const outsideError = (shown: string, field: string) =>
  new ToolError('path_outside_workspace', `${shown} is outside the workspace`, { field })

/** True when `path` is `root` or below it (both absolute, normalised). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path)
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel))
}

/** `path` (inside `root`) relative to `root` with `/` separators; `.` for the root itself. */
export function workspaceRelative(root: string, path: string): string {
  const rel = relative(root, path)
  return rel === '' ? '.' : sep === '/' ? rel : rel.split(sep).join('/')
}

const MAX_SYMLINK_HOPS = 40

/**
 * The real path of `abs` (absolute, normalised). A path that does not exist resolves to the real path of
 * its nearest existing parent plus the rest; a dangling symlink on the way resolves through its target.
 */
async function realPathOf(abs: string, hops = 0): Promise<string> {
  try {
    return await realpath(abs)
  } catch (error) {
    const code = errnoOf(error)
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error
  }
  const parent = dirname(abs)
  if (parent === abs) return abs
  const candidate = join(await realPathOf(parent, hops), basename(abs))
  const link = await lstat(candidate).catch(() => undefined)
  if (link?.isSymbolicLink()) {
    if (hops >= MAX_SYMLINK_HOPS) throw new ToolError('invalid_input', 'too many levels of symbolic links')
    let target: string
    try {
      target = await readlink(candidate)
    } catch (error) {
      // No longer a symlink (EINVAL) or gone: it changed since lstat; resolved again (the hops bound it).
      const code = errnoOf(error)
      if (code !== 'EINVAL' && code !== 'ENOENT') throw error
      return realPathOf(abs, hops + 1)
    }
    return realPathOf(resolve(dirname(candidate), target), hops + 1)
  }
  return candidate
}

/**
 * Resolves `requested` (relative to the workspace, or absolute) to its real path inside the workspace whose
 * real path is `root`; `path_outside_workspace` for anything else (`..`, absolute paths elsewhere, symlinks
 * that lead out). The path need not exist.
 */
export async function confineTo(root: string, requested: string, field = 'file_path'): Promise<string> {
  if (typeof requested !== 'string' || requested === '')
    throw new ToolError('invalid_input', `${field} must be a non-empty path`, { field })
  if (requested.includes('\0'))
    throw new ToolError('invalid_input', `${field} contains a NUL byte`, { field })
  let real: string
  try {
    real = await realPathOf(resolve(root, requested))
  } catch (error) {
    throw fsToolError(error, requested)
  }
  if (!isInside(root, real)) throw outsideError(requested, field)
  return real
}

/** `confineTo` for a workspace given by any path (resolved to its real path first). */
export async function confine(workspace: string, requested: string): Promise<string> {
  return confineTo(await workspaceRoot(workspace), requested)
}
