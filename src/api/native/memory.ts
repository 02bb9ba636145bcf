/**
 * Claude Code's memory files (CLAUDE.md) as a session sees them: `GET /api/sessions/{id}/memory` reads the
 * three, `POST /api/sessions/{id}/memory` adds to one (like Claude Code's `#` shortcut) or replaces it.
 *
 * - project: `<workspace>/CLAUDE.md`, shared with the team (the `project` setting source loads it);
 * - local: `<workspace>/CLAUDE.local.md`, personal to this checkout (`local`);
 * - user: `<Claude config dir>/CLAUDE.md`, every project of this user (`user`): the session owner's own
 *   folder (`claude.configDir`), else the gateway's, which everyone shares and only admins change.
 *
 * Claude Code reads them when a conversation starts, so after a write the session's process is let go
 * (now if idle, else when its turn ends) and its next turn resumes with the new memory.
 */
import { type FileHandle, mkdir, realpath } from 'node:fs/promises'
import { join } from 'node:path'
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { GatewayContext } from '../../gateway.js'
import type { SessionRecord } from '../../store/types.js'
import { openForReading, readUpTo, writeAtomically } from '../../tools/confined-files.js'
import { confineTo, isToolError, ToolError } from '../../tools/confinement.js'
import type { Principal } from '../../users/principal.js'
import { Enum, json, Nullable, ref } from '../responses.js'
import { ApiError, invalid } from './errors.js'
import { checkHomeWritable, claudeHome, sessionOrThrow } from './resolve.js'
import { BODY_ERRORS, sessionResponses } from './responses.js'
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
export type MemoryWrite = Static<typeof MemoryWrite>

interface MemoryFile {
  scope: Scope
  path: string
  /**
   * The folder the file must stay in: it is read and written only when its real path is inside it, so a
   * symlink (the file's, or a folder's swapped in meanwhile) cannot lead the gateway anywhere else.
   */
  root: string
  /** Its name in `root`. */
  name: string
}

const MemoryFileSchema = Type.Object(
  {
    scope: Enum(SCOPES),
    path: Type.String(),
    content: Nullable(Type.String({ description: 'null: the file does not exist.' })),
    size: Type.Integer({ description: 'Bytes; 0 when absent.' }),
    truncated: Type.Boolean({ description: 'Only the first 1 MiB is in `content`.' }),
    error: Type.Optional(
      Type.String({
        description:
          'Why an existing file is not shown (`content` null): a symlink leading out of its folder, which the ' +
          'gateway neither reads nor writes.',
      }),
    ),
  },
  { $id: 'MemoryFile' },
)
/** A memory file as the routes show it. */
export type MemoryView = Static<typeof MemoryFileSchema>

const MemoryFiles = Type.Object({ files: Type.Array(ref<MemoryView>('MemoryFile')) })

export const memoryRoutes: FastifyPluginAsync<{ gateway: GatewayContext }> = async (app, { gateway }) => {
  app.addSchema(MemoryFileSchema)

  app.get<{ Params: Static<typeof SessionParams> }>(
    '/sessions/:id/memory',
    {
      schema: {
        operationId: 'getMemory',
        tags: ['sessions'],
        summary: "Claude Code's memory files (CLAUDE.md) for a session",
        params: SessionParams,
        response: sessionResponses({ 200: json('The project, local and user memory files.', MemoryFiles) }),
      },
    },
    async (request) => memoryOf(gateway, request.params.id),
  )

  app.post<{ Params: Static<typeof SessionParams>; Body: MemoryWrite }>(
    '/sessions/:id/memory',
    {
      schema: {
        operationId: 'writeMemory',
        tags: ['sessions'],
        summary: 'Add to or replace a memory file',
        description:
          "`add` appends like Claude Code's `#` shortcut; `replace` writes the whole file. The session's " +
          'process is let go so that its next turn reads the new memory.',
        params: SessionParams,
        body: MemoryWrite,
        response: sessionResponses(
          { 200: json('The file after the write.', ref('MemoryFile')) },
          {
            ...BODY_ERRORS,
            409: 'conflict: the file is a folder, or a symlink leading out of its folder.',
            413: 'payload_too_large: the file would hold more than 1 MiB, or the body is over server.bodyLimitBytes.',
          },
        ),
      },
    },
    async (request) => writeMemory(gateway, request.principal, request.params.id, request.body),
  )
}

/** `GET /sessions/{id}/memory`: the session's three memory files. */
export async function memoryOf(gateway: GatewayContext, id: string): Promise<Static<typeof MemoryFiles>> {
  const record = await sessionOrThrow(gateway.engine, id)
  const home = await claudeHome(gateway, record.owner)
  return { files: await Promise.all(filesOf(record, home.dir).map(readMemory)) }
}

/** `POST /sessions/{id}/memory`: add to one memory file, or replace it; answers the file as written. */
export async function writeMemory(
  gateway: GatewayContext,
  principal: Principal,
  id: string,
  body: MemoryWrite,
): Promise<MemoryView> {
  const { engine } = gateway
  const record = await sessionOrThrow(engine, id)
  const { scope, mode, content } = body
  const home = await claudeHome(gateway, record.owner)
  if (scope === 'user') checkHomeWritable(home, principal, 'body.scope')
  if (mode === 'add' && content.trim() === '')
    throw invalid('body.content must not be empty when adding to memory', 'body.content')
  if (Buffer.byteLength(content) > MEMORY_MAX_BYTES) throw tooLarge()
  const file = filesOf(record, home.dir).find((f) => f.scope === scope)!
  const view = await exclusive(file.path, async () => {
    const target = await writableTarget(file)
    const current = mode === 'add' ? await memoryWrite(file, () => readIfExists(target)) : null
    const next = mode === 'add' ? appended(current ?? '', content) : content
    if (Buffer.byteLength(next) > MEMORY_MAX_BYTES) throw tooLarge()
    await memoryWrite(file, () =>
      writeAtomically(target.root, target.path, next, { shown: file.path, mode: target.mode }),
    )
    return { scope, path: file.path, content: next, size: Buffer.byteLength(next), truncated: false }
  })
  // Claude Code read the memory when its process started: the next turn starts one that reads it anew.
  engine.restartRunner(id)
  return view
}

/** The three files for a session: its workspace, and Claude Code's config dir as the gateway runs it. */
function filesOf(record: SessionRecord, configDir: string): MemoryFile[] {
  const workspace = record.settings.workspace
  return [
    { scope: 'project', path: join(workspace, 'CLAUDE.md'), root: workspace, name: 'CLAUDE.md' },
    { scope: 'local', path: join(workspace, 'CLAUDE.local.md'), root: workspace, name: 'CLAUDE.local.md' },
    { scope: 'user', path: join(configDir, 'CLAUDE.md'), root: configDir, name: 'CLAUDE.md' },
  ]
}

const tooLarge = () =>
  new ApiError('payload_too_large', `A memory file may hold at most ${MEMORY_MAX_BYTES} bytes`)

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

/** Where a memory file really is, checked to be inside its folder; null when the folder does not exist. */
async function confined(file: MemoryFile): Promise<{ root: string; path: string } | null> {
  let root: string
  try {
    root = await realpath(file.root)
  } catch (error) {
    if (isMissing(error)) return null
    throw error
  }
  return { root, path: await confineTo(root, file.name) }
}

const outside = (file: MemoryFile) =>
  `${file.path} leads out of ${file.root} (a symbolic link); the gateway neither reads nor writes it`

async function readMemory(file: MemoryFile): Promise<MemoryView> {
  const absent = { scope: file.scope, path: file.path, content: null, size: 0, truncated: false }
  try {
    const target = await confined(file)
    if (!target) return absent
    // Read through a descriptor checked to lead inside the folder (see openForReading).
    const handle = await openForReading(target.root, target.path, file.path)
    try {
      const info = await handle.stat()
      if (!info.isFile()) return absent
      const bytes = await readUpTo(handle, MEMORY_MAX_BYTES)
      const truncated = bytes.length > MEMORY_MAX_BYTES
      const content = (truncated ? bytes.subarray(0, MEMORY_MAX_BYTES) : bytes).toString('utf8')
      return { ...absent, content, size: Math.max(info.size, bytes.length), truncated }
    } finally {
      await handle.close()
    }
  } catch (error) {
    if (!isToolError(error)) throw error
    if (error.code === 'not_found') return absent
    if (error.code === 'path_outside_workspace') return { ...absent, error: outside(file) }
    return { ...absent, error: `${file.path} cannot be read: ${error.message}` }
  }
}

interface Target {
  root: string
  path: string
  /** The permissions of the file replaced, kept by the new one. */
  mode: number
}

/**
 * The real file a write goes to: the memory path itself, or where its symlink points when that stays inside
 * the file's folder (workspace or config dir). A folder or a link leading out is refused.
 */
async function writableTarget(file: MemoryFile): Promise<Target> {
  // The config folder of the user scope is the gateway's own; it may not exist yet.
  if (file.scope === 'user') await mkdir(file.root, { recursive: true })
  return memoryWrite(file, async () => {
    const target = await confined(file)
    if (!target) throw new ApiError('conflict', `${file.root} does not exist`)
    let handle: FileHandle
    try {
      handle = await openForReading(target.root, target.path, file.path)
    } catch (error) {
      if (isToolError(error) && error.code === 'not_found') return { ...target, mode: 0o644 }
      throw error
    }
    try {
      const info = await handle.stat()
      if (!info.isFile()) throw notRegular(file)
      return { ...target, mode: info.mode & 0o777 }
    } finally {
      await handle.close()
    }
  })
}

const notRegular = (file: MemoryFile) =>
  new ApiError('conflict', `${file.path} is not a regular file inside ${file.root}; it is left as it is`)

/** Runs a file operation of a write; the confinement's refusals as the 409 the API documents. */
async function memoryWrite<T>(file: MemoryFile, run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (error) {
    if (!isToolError(error)) throw error
    if (error.code === 'path_outside_workspace') throw new ApiError('conflict', outside(file))
    if (error.code === 'invalid_input') throw notRegular(file)
    throw new ApiError('conflict', `${file.path} cannot be written: ${error.message}`)
  }
}

async function readIfExists(target: Target): Promise<string | null> {
  try {
    const handle = await openForReading(target.root, target.path, target.path)
    try {
      return (await readUpTo(handle, MEMORY_MAX_BYTES)).toString('utf8')
    } finally {
      await handle.close()
    }
  } catch (error) {
    if (error instanceof ToolError && error.code === 'not_found') return null
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
