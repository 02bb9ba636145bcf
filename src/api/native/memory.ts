/**
 * Claude Code's memory files (CLAUDE.md) as a session sees them: `GET /api/sessions/{id}/memory` reads the
 * three, `POST /api/sessions/{id}/memory` adds to one (like Claude Code's `#` shortcut) or replaces it.
 *
 * - project: `<workspace>/CLAUDE.md`, shared with the team (the `project` setting source loads it);
 * - local: `<workspace>/CLAUDE.local.md`, personal to this checkout (`local`);
 * - user: `<Claude config dir>/CLAUDE.md`, every project of this user (`user`).
 *
 * Claude Code reads them when a conversation starts, so after a write the session's process is let go
 * (now if idle, else when its turn ends) and its next turn resumes with the new memory.
 */
import { randomUUID } from 'node:crypto'
import { lstat, mkdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, join, sep } from 'node:path'
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { GatewayContext } from '../../gateway.js'
import type { SessionRecord } from '../../store/types.js'
import { ApiError, invalid } from './errors.js'
import { sessionOf } from './resolve.js'
import { SessionParams } from './schemas.js'

/** The most a memory file may hold (bytes, UTF-8) after a write; a larger file is read only in part. */
export const MEMORY_MAX_BYTES = 1024 * 1024

const SCOPES = ['project', 'local', 'user'] as const
type Scope = (typeof SCOPES)[number]

const MemoryWrite = Type.Object(
  {
    scope: Type.Union(SCOPES.map((scope) => Type.Literal(scope))),
    /** add: append a line (as a `- ` bullet) or a paragraph; replace: the file becomes `content`. */
    mode: Type.Union([Type.Literal('add'), Type.Literal('replace')], { default: 'add' }),
    content: Type.String(),
  },
  { additionalProperties: false },
)

interface MemoryFile {
  scope: Scope
  path: string
  /** The folder the file must stay in (a symlink pointing elsewhere is not written through). */
  root: string
}

export interface MemoryView {
  scope: Scope
  path: string
  /** The file's text; null when it does not exist. */
  content: string | null
  /** Size in bytes; 0 when absent. */
  size: number
  /** Only the first MEMORY_MAX_BYTES are in `content`. */
  truncated: boolean
}

export const memoryRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  const { engine } = gateway

  /** The three files for a session: its workspace, and Claude Code's config dir as the gateway runs it. */
  const filesOf = (record: SessionRecord): MemoryFile[] => {
    const workspace = record.settings.workspace
    const configDir = engine.claudeConfigDir
    return [
      { scope: 'project', path: join(workspace, 'CLAUDE.md'), root: workspace },
      { scope: 'local', path: join(workspace, 'CLAUDE.local.md'), root: workspace },
      { scope: 'user', path: join(configDir, 'CLAUDE.md'), root: configDir },
    ]
  }

  app.get<{ Params: Static<typeof SessionParams> }>(
    '/sessions/:id/memory',
    { schema: { params: SessionParams } },
    async (request) => {
      const record = sessionOf(engine, request.params.id)
      return { files: await Promise.all(filesOf(record).map(readMemory)) }
    },
  )

  app.post<{ Params: Static<typeof SessionParams>; Body: Static<typeof MemoryWrite> }>(
    '/sessions/:id/memory',
    { schema: { params: SessionParams, body: MemoryWrite } },
    async (request) => {
      const { id } = request.params
      const record = sessionOf(engine, id)
      const { scope, mode, content } = request.body
      if (mode === 'add' && content.trim() === '')
        throw invalid('body.content must not be empty when adding to memory', 'body.content')
      if (Buffer.byteLength(content) > MEMORY_MAX_BYTES) throw tooLarge()
      const file = filesOf(record).find((f) => f.scope === scope)!
      const view = await exclusive(file.path, async () => {
        const target = await writableTarget(file)
        const current = mode === 'add' ? await readIfExists(target) : null
        const next = mode === 'add' ? appended(current ?? '', content) : content
        if (Buffer.byteLength(next) > MEMORY_MAX_BYTES) throw tooLarge()
        await writeAtomically(target, next)
        return { scope, path: file.path, content: next, size: Buffer.byteLength(next), truncated: false }
      })
      // Claude Code read the memory when its process started: the next turn starts one that reads it anew.
      engine.restartRunner(id)
      return view
    },
  )
}

const tooLarge = () =>
  new ApiError(413, 'payload_too_large', `A memory file may hold at most ${MEMORY_MAX_BYTES} bytes`)

/**
 * `text` added to a memory file the way Claude Code's `#` shortcut does: one line becomes a `- ` bullet on
 * its own line; several lines are a paragraph of their own. The file ends with a newline.
 */
export function appended(existing: string, text: string): string {
  const trimmed = text.trim()
  const oneLine = !trimmed.includes('\n')
  const addition = oneLine && !/^[-*+] /.test(trimmed) ? `- ${trimmed}` : trimmed
  if (existing.trim() === '') return `${addition}\n`
  const base = existing.endsWith('\n') ? existing : `${existing}\n`
  if (base.endsWith('\n\n')) return `${base}${addition}\n`
  // A bullet joins the list that ends the file; anything else is set apart by a blank line.
  const lastLine = base.trimEnd().split('\n').at(-1) ?? ''
  const joinsList = oneLine && /^\s*[-*+] /.test(lastLine)
  return `${base}${joinsList ? '' : '\n'}${addition}\n`
}

async function readMemory(file: MemoryFile): Promise<MemoryView> {
  const base = { scope: file.scope, path: file.path }
  let size: number
  try {
    const info = await stat(file.path)
    if (!info.isFile()) return { ...base, content: null, size: 0, truncated: false }
    size = info.size
  } catch (error) {
    if (isMissing(error)) return { ...base, content: null, size: 0, truncated: false }
    throw error
  }
  const bytes = await readFile(file.path)
  const truncated = bytes.length > MEMORY_MAX_BYTES
  const content = (truncated ? bytes.subarray(0, MEMORY_MAX_BYTES) : bytes).toString('utf8')
  return { ...base, content, size, truncated }
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8')
  } catch (error) {
    if (isMissing(error)) return null
    throw error
  }
}

/**
 * The real file a write goes to: the memory path itself, or where its symlink points when that stays inside
 * the file's folder (workspace or config dir). A folder or a link leading out is refused.
 */
async function writableTarget(file: MemoryFile): Promise<string> {
  let info: Awaited<ReturnType<typeof lstat>>
  try {
    info = await lstat(file.path)
  } catch (error) {
    if (!isMissing(error)) throw error
    await mkdir(dirname(file.path), { recursive: true })
    return file.path
  }
  if (info.isFile()) return file.path
  if (info.isSymbolicLink()) {
    const [real, root] = await Promise.all([
      realpath(file.path).catch(() => null),
      realpath(file.root).catch(() => file.root),
    ])
    if (real?.startsWith(root.endsWith(sep) ? root : root + sep) && (await stat(real)).isFile()) return real
  }
  throw new ApiError(
    409,
    'conflict',
    `${file.path} is not a regular file inside ${file.root}; it is left as it is`,
  )
}

/** Write through a temporary file and a rename, so Claude Code never reads half a file. */
async function writeAtomically(path: string, content: string): Promise<void> {
  const mode = await stat(path).then(
    (info) => info.mode & 0o777,
    () => 0o644,
  )
  const temporary = join(dirname(path), `.${randomUUID()}.ccgw-tmp`)
  try {
    await writeFile(temporary, content, { mode, flag: 'wx' })
    await rename(temporary, path)
  } catch (error) {
    await rm(temporary, { force: true })
    throw error
  }
}

/** Writes to one file run one after another (an add reads, then writes). */
const queues = new Map<string, Promise<unknown>>()
async function exclusive<T>(key: string, run: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve()
  const result = previous.then(run, run)
  const tail = result.catch(() => undefined)
  queues.set(key, tail)
  try {
    return await result
  } finally {
    if (queues.get(key) === tail) queues.delete(key)
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code
  return code === 'ENOENT' || code === 'ENOTDIR'
}
