import { stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { Type } from '@sinclair/typebox'
import picomatch from 'picomatch'
import { confineTo, fsToolError, ToolError, workspaceRelative, workspaceRoot } from './confinement.js'
import { byMtimeDesc } from './text.js'
import type { Tool } from './types.js'
import { walk } from './walk.js'

export const GlobInput = Type.Object(
  {
    pattern: Type.String({
      minLength: 1,
      description:
        'The glob to match files against, relative to `path` (e.g. "**/*.ts", "src/**/*.{js,jsx}").',
    }),
    path: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'The folder to search in: relative to the workspace, or absolute inside it (default: the workspace).',
      }),
    ),
  },
  { additionalProperties: false },
)

export interface GlobResult {
  /** Matching files relative to the workspace root (`/` separators), most recently modified first. */
  filenames: string[]
  numFiles: number
  /** More files matched than returned (`globMaxResults`), or the walk stopped at `walkMaxEntries`. */
  truncated: boolean
  durationMs: number
}

interface Match {
  rel: string
  abs: string
  mtimeMs: number
}

/** Stats in small batches: mtimes of a large match set without opening thousands of files at once. */
async function withMtimes(files: { rel: string; abs: string }[]): Promise<Match[]> {
  const out: Match[] = []
  for (let i = 0; i < files.length; i += 64) {
    const batch = files.slice(i, i + 64)
    const infos = await Promise.all(batch.map((f) => stat(f.abs).catch(() => undefined)))
    batch.forEach((f, j) => {
      const info = infos[j]
      if (info) out.push({ ...f, mtimeMs: info.mtimeMs })
    })
  }
  return out
}

export const globTool: Tool<typeof GlobInput, GlobResult> = {
  name: 'glob',
  claudeCodeName: 'Glob',
  description:
    'Finds files of the workspace by glob pattern ("**/*.js", "src/**/*.ts"; dot files included). Returns ' +
    'their paths relative to the workspace root, most recently modified first, at most 100 (truncated ' +
    'says when there were more). Version control folders (.git, ...) are skipped, .gitignore is not ' +
    'applied (as in Claude Code), symlinked folders are not followed.',
  inputSchema: GlobInput,
  async run(workspace, input, { limits, signal }) {
    const started = performance.now()
    const root = await workspaceRoot(workspace)
    const base = input.path === undefined ? root : await confineTo(root, input.path, 'path')
    const baseInfo = await stat(base).catch((error: unknown) => {
      throw fsToolError(error, input.path ?? '.')
    })
    if (!baseInfo.isDirectory())
      throw new ToolError('invalid_input', `${input.path} is not a directory`, { field: 'path' })

    // Walk from the pattern's fixed leading folders only: "src/**/*.ts" walks src.
    const scan = picomatch.scan(input.pattern)
    const start = await confineTo(root, resolve(base, scan.base || '.'), 'pattern')
    const done = (files: Match[], truncated: boolean): GlobResult => {
      files.sort(byMtimeDesc)
      const filenames = files.slice(0, limits.globMaxResults).map((f) => f.rel)
      return {
        filenames,
        numFiles: filenames.length,
        truncated: truncated || files.length > limits.globMaxResults,
        durationMs: Math.round(performance.now() - started),
      }
    }
    const startInfo = await stat(start).catch(() => undefined)
    if (!scan.isGlob) {
      // A plain path: that file, if it is one.
      if (!startInfo?.isFile()) return done([], false)
      return done(await withMtimes([{ rel: workspaceRelative(root, start), abs: start }]), false)
    }
    if (!startInfo?.isDirectory()) return done([], false)

    const isMatch = picomatch(scan.glob, { dot: true })
    const unbounded = scan.glob.includes('**') || scan.glob.includes('{') || scan.glob.includes('(')
    const found: { rel: string; abs: string }[] = []
    const outcome = await walk({
      root,
      start,
      gitignore: false,
      maxEntries: limits.walkMaxEntries,
      ...(unbounded ? {} : { maxDepth: scan.glob.split('/').length }),
      ...(signal ? { signal } : {}),
      onFile(file) {
        if (isMatch(file.relToStart)) found.push({ rel: file.rel, abs: file.abs })
        return undefined
      },
    })
    return done(await withMtimes(found), outcome.limitReached)
  },
}
