/**
 * Grep over a workspace, in Node: ripgrep's semantics as Claude Code's Grep tool uses them (regular
 * expressions, `.gitignore` respected, hidden files searched, binary files and version control folders
 * skipped), with caps on the bytes read and the results. Runs inside the search worker (see search.ts), so it
 * imports little (no TypeBox: the schema is in search.ts); it is plain async code and can run anywhere.
 */
import type { Stats } from 'node:fs'
import { stat } from 'node:fs/promises'
import { basename } from 'node:path'
import picomatch from 'picomatch'
import { openForReading, readUpTo } from './confined-files.js'
import { confineTo, fsToolError, ToolError, workspaceRelative, workspaceRoot } from './confinement.js'
import type { SearchInputType } from './search.js'
import { byMtimeDesc, cutChars, looksBinary, splitLines } from './text.js'
import type { ToolLimits } from './types.js'
import { walk } from './walk.js'

export type OutputMode = 'files_with_matches' | 'content' | 'count'

export interface SearchResult {
  mode: OutputMode
  /** Files relative to the workspace root (`/` separators): in files_with_matches mode the page of files, most
   * recently modified first; in the other modes the files whose lines or counts are returned. */
  filenames: string[]
  numFiles: number
  /** content mode: `path:line:text` for matching lines, `path-line-text` for context lines, `--` between
   * groups (without `-n`, no line numbers); count mode: `path:count` lines. */
  content?: string
  /** content mode: lines in `content`. */
  numLines?: number
  /** count mode: the sum of the counts returned. */
  numMatches?: number
  /** The results per page, and the results skipped. */
  appliedLimit: number
  appliedOffset: number
  /** More results than returned, or the search stopped at a cap (entries, bytes or time). */
  truncated: boolean
  /** The search stopped at its time limit and returns what it had found. */
  timedOut: boolean
  /** Files read (binary and oversized files are skipped and not counted). */
  filesSearched: number
}

/** ripgrep's type names for the common languages; any other `type` is taken as a file extension. */
const FILE_TYPES: Record<string, string[]> = {
  js: ['*.js', '*.jsx', '*.mjs', '*.cjs', '*.vue'],
  ts: ['*.ts', '*.tsx', '*.mts', '*.cts'],
  py: ['*.py', '*.pyi'],
  rust: ['*.rs'],
  go: ['*.go'],
  java: ['*.java'],
  kotlin: ['*.kt', '*.kts'],
  scala: ['*.scala', '*.sbt'],
  c: ['*.c', '*.h'],
  cpp: ['*.cpp', '*.cc', '*.cxx', '*.c++', '*.hpp', '*.hh', '*.hxx', '*.h++', '*.h', '*.inl'],
  cs: ['*.cs', '*.csx'],
  swift: ['*.swift'],
  ruby: ['*.rb', '*.gemspec', '*.rake', 'Gemfile', 'Rakefile'],
  php: ['*.php', '*.phtml'],
  sh: ['*.sh', '*.bash', '*.zsh', '*.ksh', '.bashrc', '.zshrc', '.profile'],
  lua: ['*.lua'],
  r: ['*.R', '*.r', '*.Rmd'],
  sql: ['*.sql'],
  html: ['*.html', '*.htm', '*.xhtml'],
  css: ['*.css', '*.scss', '*.sass', '*.less'],
  md: ['*.md', '*.markdown', '*.mdx'],
  markdown: ['*.md', '*.markdown', '*.mdx'],
  json: ['*.json', '*.jsonl'],
  yaml: ['*.yaml', '*.yml'],
  toml: ['*.toml'],
  xml: ['*.xml', '*.xsd', '*.xsl'],
  txt: ['*.txt'],
  docker: ['Dockerfile', '*.dockerfile'],
  make: ['Makefile', 'makefile', 'GNUmakefile', '*.mk'],
}
FILE_TYPES.python = FILE_TYPES.py!
FILE_TYPES.rs = FILE_TYPES.rust!
FILE_TYPES.rb = FILE_TYPES.ruby!
FILE_TYPES.typescript = FILE_TYPES.ts!
FILE_TYPES.javascript = FILE_TYPES.js!

const invalid = (field: string, message: string) => new ToolError('invalid_input', message, { field })

/** The regular expression, with ripgrep's leading inline flags turned into JavaScript flags. */
export function compilePattern(pattern: string, ignoreCase: boolean, multiline: boolean): RegExp {
  let source = pattern
  let flags = 'm'
  if (ignoreCase) flags += 'i'
  if (multiline) flags += 's'
  const inline = /^\(\?([imsU]+)\)/.exec(source)
  if (inline) {
    source = source.slice(inline[0].length)
    for (const flag of inline[1]!) if ((flag === 'i' || flag === 's') && !flags.includes(flag)) flags += flag
  }
  try {
    return new RegExp(source, `${flags}u`)
  } catch {
    try {
      return new RegExp(source, flags)
    } catch (error) {
      throw invalid('pattern', `pattern is not a valid regular expression: ${(error as Error).message}`)
    }
  }
}

/** Splits a `glob` parameter on spaces, and on commas outside braces. */
export function splitGlobs(globs: string): string[] {
  const out: string[] = []
  let current = ''
  let depth = 0
  for (const ch of globs) {
    if (ch === '{') depth++
    else if (ch === '}') depth = Math.max(0, depth - 1)
    if (/\s/.test(ch) || (ch === ',' && depth === 0)) {
      if (current) out.push(current)
      current = ''
    } else current += ch
  }
  if (current) out.push(current)
  return out
}

type PathFilter = (relToStart: string) => boolean

/** ripgrep's `--glob` semantics: a glob without `/` matches the file name, at any depth. */
function globMatcher(glob: string): PathFilter {
  const onName = !glob.includes('/')
  const isMatch = picomatch(glob.replace(/^\//, ''), { dot: true })
  return (rel) => isMatch(onName ? basename(rel) : rel)
}

function fileFilter(input: SearchInputType): PathFilter {
  const includes: PathFilter[] = []
  const excludes: PathFilter[] = []
  for (const glob of input.glob === undefined ? [] : splitGlobs(input.glob)) {
    if (glob.startsWith('!')) excludes.push(globMatcher(glob.slice(1)))
    else includes.push(globMatcher(glob))
  }
  let typeFilter: PathFilter | undefined
  if (input.type !== undefined) {
    const key = input.type.toLowerCase().replace(/^\*?\./, '')
    const globs = FILE_TYPES[key] ?? [`*.${key}`]
    const matchers = globs.map(globMatcher)
    typeFilter = (rel) => matchers.some((m) => m(rel))
  }
  return (rel) =>
    (includes.length === 0 || includes.some((m) => m(rel))) &&
    !excludes.some((m) => m(rel)) &&
    (typeFilter === undefined || typeFilter(rel))
}

const LOOKAROUND = /\(\?<?[=!]/

/** Matching lines (0-based, ascending) and the count reported in count mode. */
interface FileMatches {
  lines: string[]
  matched: number[]
  count: number
}

function matchFile(
  text: string,
  re: RegExp,
  multiline: boolean,
  quickTest: boolean,
): FileMatches | undefined {
  if (!multiline) {
    // One test over the whole text rules out most files; it can only err towards "maybe".
    if (quickTest && !text.includes('\r')) {
      re.lastIndex = 0
      if (!re.test(text)) return undefined
    }
    const lines = splitLines(text)
    const matched: number[] = []
    lines.forEach((line, i) => {
      re.lastIndex = 0
      if (re.test(line)) matched.push(i)
    })
    return matched.length === 0 ? undefined : { lines, matched, count: matched.length }
  }
  const normalised = text.replace(/\r\n/g, '\n')
  const lines = splitLines(normalised)
  const starts: number[] = [0]
  for (let i = normalised.indexOf('\n'); i !== -1; i = normalised.indexOf('\n', i + 1)) starts.push(i + 1)
  const lineOf = (offset: number): number => {
    let lo = 0
    let hi = starts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (starts[mid]! <= offset) lo = mid
      else hi = mid - 1
    }
    return Math.min(lo, Math.max(0, lines.length - 1))
  }
  const global = new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`)
  const marked = new Set<number>()
  let count = 0
  for (let m = global.exec(normalised); m !== null; m = global.exec(normalised)) {
    count++
    const first = lineOf(m.index)
    const last = lineOf(m.index + Math.max(m[0].length, 1) - 1)
    for (let i = first; i <= last; i++) marked.add(i)
    if (m[0].length === 0) global.lastIndex++
  }
  if (count === 0) return undefined
  return { lines, matched: [...marked].sort((a, b) => a - b), count }
}

/**
 * Runs a search (input already validated against SearchInput). `deadline` (epoch ms) ends the walk early
 * with what was found; the caller enforces a hard stop.
 */
export async function searchWorkspace(
  workspace: string,
  input: SearchInputType,
  limits: ToolLimits,
  deadline = Number.POSITIVE_INFINITY,
  signal?: AbortSignal,
): Promise<SearchResult> {
  const mode: OutputMode = input.output_mode ?? 'files_with_matches'
  const multiline = input.multiline === true
  const re = compilePattern(input.pattern, input['-i'] === true, multiline)
  const quickTest = !LOOKAROUND.test(input.pattern)
  const accept = fileFilter(input)
  const appliedOffset = input.offset ?? 0
  const requested = input.head_limit ?? limits.searchDefaultResults
  const appliedLimit =
    requested === 0 ? limits.searchMaxResults : Math.min(requested, limits.searchMaxResults)
  const wanted = appliedOffset + appliedLimit
  const after = input['-A'] ?? input['-C'] ?? 0
  const before = input['-B'] ?? input['-C'] ?? 0
  const withContext = after > 0 || before > 0
  const numbered = input['-n'] ?? true

  const root = await workspaceRoot(workspace)
  const target = input.path === undefined ? root : await confineTo(root, input.path, 'path')
  const info = await stat(target).catch((error: unknown) => {
    throw fsToolError(error, input.path ?? '.')
  })

  let filesSearched = 0
  let bytesRead = 0
  let truncated = false
  let timedOut = false
  const matchedFiles: { rel: string; mtimeMs: number }[] = []
  /** Output lines (content or count mode), each with the file it is about ('' for a `--` separator). */
  const out: { text: string; file: string; count: number }[] = []

  const display = (line: string) =>
    line.length > limits.searchMaxColumns
      ? `${cutChars(line, limits.searchMaxColumns)} [... ${line.length - limits.searchMaxColumns} more characters]`
      : line

  /** Searches one file; false stops the search. */
  const searchFile = async (abs: string, rel: string): Promise<boolean> => {
    if (Date.now() >= deadline) {
      timedOut = true
      truncated = true
      return false
    }
    // Read through a descriptor checked to lead inside the workspace: no folder swapped for a symlink
    // during the walk can make the search read (and quote) a file outside it.
    const handle = await openForReading(root, abs, rel).catch(() => undefined)
    if (!handle) return true
    let fileInfo: Stats
    let data: Buffer
    try {
      fileInfo = await handle.stat()
      if (!fileInfo.isFile() || fileInfo.size > limits.searchMaxFileBytes) return true
      if (bytesRead + fileInfo.size > limits.searchMaxTotalBytes) {
        truncated = true
        return false
      }
      const read = await readUpTo(handle, limits.searchMaxFileBytes).catch(() => undefined)
      if (read === undefined || read.length > limits.searchMaxFileBytes) return true
      data = read
    } finally {
      await handle.close()
    }
    bytesRead += data.length
    if (looksBinary(data)) return true
    filesSearched++
    const found = matchFile(data.toString('utf8'), re, multiline, quickTest)
    if (!found) return true
    if (mode === 'files_with_matches') {
      matchedFiles.push({ rel, mtimeMs: fileInfo.mtimeMs })
      return true
    }
    if (mode === 'count') {
      out.push({ text: `${rel}:${found.count}`, file: rel, count: found.count })
      return out.length <= wanted
    }
    // content: the matching lines with their context, in groups of adjacent lines.
    const isMatch = new Set(found.matched)
    let groupEnd = -2
    for (const m of found.matched) {
      const from = Math.max(0, m - before, groupEnd + 1)
      const to = Math.min(found.lines.length - 1, m + after)
      if (withContext && out.length > 0 && from > groupEnd + 1) out.push({ text: '--', file: '', count: 0 })
      for (let i = from; i <= to; i++) {
        const sep = isMatch.has(i) ? ':' : '-'
        const text = display(found.lines[i]!)
        out.push({
          text: numbered ? `${rel}${sep}${i + 1}${sep}${text}` : `${rel}${sep}${text}`,
          file: rel,
          count: 0,
        })
      }
      groupEnd = Math.max(groupEnd, to)
    }
    return out.length <= wanted
  }

  if (info.isDirectory()) {
    const outcome = await walk({
      root,
      start: target,
      gitignore: true,
      maxEntries: limits.walkMaxEntries,
      ...(signal ? { signal } : {}),
      async onFile(file) {
        if (!accept(file.relToStart)) return undefined
        return searchFile(file.abs, file.rel)
      },
    })
    if (outcome.limitReached) truncated = true
  } else if (info.isFile()) {
    // An explicit file is searched whatever the filters say, as ripgrep does.
    await searchFile(target, workspaceRelative(root, target))
  } else throw invalid('path', `${input.path} is not a regular file or a directory`)

  if (mode === 'files_with_matches') {
    matchedFiles.sort(byMtimeDesc)
    const filenames = matchedFiles.slice(appliedOffset, wanted).map((f) => f.rel)
    return {
      mode,
      filenames,
      numFiles: filenames.length,
      appliedLimit,
      appliedOffset,
      truncated: truncated || matchedFiles.length > wanted,
      timedOut,
      filesSearched,
    }
  }
  if (out.length > wanted) truncated = true
  const page = out.slice(appliedOffset, wanted)
  const filenames = [...new Set(page.filter((line) => line.file !== '').map((line) => line.file))]
  const result: SearchResult = {
    mode,
    filenames,
    numFiles: filenames.length,
    content: page.map((line) => line.text).join('\n'),
    appliedLimit,
    appliedOffset,
    truncated,
    timedOut,
    filesSearched,
  }
  if (mode === 'content') result.numLines = page.length
  else result.numMatches = page.reduce((sum, line) => sum + line.count, 0)
  return result
}
