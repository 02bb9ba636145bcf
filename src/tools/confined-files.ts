/**
 * Files and folders inside a confined root (a real path, as `confineTo` returns it) opened, read and written
 * without races. Between a path's check and its use, a folder on the way can be swapped for a symlink leading
 * out, and every later `open`, `mkdir` or `readdir` would follow it; so they are opened here only: with
 * O_NOFOLLOW, and where the descriptor really leads is checked before anything goes through it. New files and
 * folders are created one component at a time from an open, checked descriptor of their folder (on Linux
 * through `/proc/self/fd/<fd>/<name>`, which resolves from the descriptor, as `openat` would).
 */
import { randomUUID } from 'node:crypto'
import { constants, type Dirent, statSync } from 'node:fs'
import {
  type FileHandle,
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  realpath,
  rename,
  rmdir,
  unlink,
} from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { errnoOf, fsToolError, isInside, outsideError, ToolError } from './confinement.js'

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = constants

/**
 * Linux's view of the process's descriptors: `readlink` of `<dir>/<fd>` is where a descriptor really leads,
 * and `<dir>/<fd>/<name>` resolves `name` from the folder the descriptor holds (Node has no `openat`).
 * Elsewhere (null) paths are resolved again after opening: a narrower window, not none.
 */
const PROC_FD = (() => {
  if (process.platform !== 'linux') return null
  try {
    return statSync('/proc/self/fd').isDirectory() ? '/proc/self/fd' : null
  } catch {
    return null
  }
})()

/** How many times a file that vanishes or appears between two steps of an open is tried again. */
const OPEN_ATTEMPTS = 3

/** A folder on the way, or the file itself, became a symbolic link after the path was checked. */
const swappedError = (shown: string, field: string) =>
  new ToolError(
    'path_outside_workspace',
    `${shown} was replaced by a symbolic link while it was being opened; refused`,
    { field },
  )

/** Where the open descriptor really leads: its own path on Linux, else `path` resolved again. */
async function realPathOfHandle(handle: FileHandle, path: string): Promise<string> {
  return PROC_FD ? readlink(`${PROC_FD}/${handle.fd}`) : realpath(path)
}

interface OpenOptions {
  /** Names the file in messages. */
  shown: string
  /** The input field the path came from, for errors. */
  field: string
}

/**
 * Opens `path` with `flags` (never following a symlink as the last component) and checks, before handing
 * the descriptor out, that the file it leads to is inside `root`. `created`: the open created the file, so
 * that a file created out of `root` (possible only where paths are resolved again, not on Linux) is
 * removed again.
 */
async function openChecked(
  root: string,
  path: string,
  flags: number,
  options: OpenOptions & { mode?: number; created?: boolean },
): Promise<FileHandle> {
  let handle: FileHandle
  try {
    handle = await open(path, flags | O_NOFOLLOW, options.mode)
  } catch (error) {
    // The path given is a real path: a symlink as its last component was put there since it was checked.
    if (errnoOf(error) === 'ELOOP') throw swappedError(options.shown, options.field)
    throw error
  }
  try {
    const real = await realPathOfHandle(handle, path)
    if (!isInside(root, real)) {
      if (options.created) await unlink(real).catch(() => undefined)
      throw outsideError(options.shown, options.field)
    }
    return handle
  } catch (error) {
    await handle.close()
    throw error
  }
}

/** A folder inside a root, held open: names in it are resolved from the descriptor, not from its path. */
export class OpenFolder {
  constructor(
    readonly root: string,
    /** The folder's real path when it was opened. */
    readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  /** A path that resolves `name` (one component) in this very folder, wherever its path leads now. */
  at(name: string): string {
    return PROC_FD ? `${PROC_FD}/${this.handle.fd}/${name}` : join(this.path, name)
  }

  /** Opens the file `name` of this folder (`O_CREAT | O_EXCL` in `flags` creates it), checked. */
  openFile(name: string, flags: number, options: OpenOptions & { mode?: number }): Promise<FileHandle> {
    return openChecked(this.root, this.at(name), flags, {
      ...options,
      created: (flags & O_CREAT) !== 0 && (flags & O_EXCL) !== 0,
    })
  }

  /** Creates the file `name` in this folder (it must not exist), open for writing and checked. */
  createFile(name: string, options: OpenOptions & { mode?: number }): Promise<FileHandle> {
    return this.openFile(name, O_WRONLY | O_CREAT | O_EXCL, options)
  }

  /** Opens the folder `name` in this one, creating it when missing (`created` is told about it). */
  async child(name: string, options: OpenOptions & { create: boolean; created?: string[] }) {
    let made = false
    if (options.create) {
      try {
        await mkdir(this.at(name))
        made = true
      } catch (error) {
        if (errnoOf(error) !== 'EEXIST') throw error
      }
    }
    try {
      const handle = await openFolderHandle(this.root, this.at(name), options)
      const folder = new OpenFolder(this.root, join(this.path, name), handle)
      if (made) options.created?.push(folder.path)
      return folder
    } catch (error) {
      // A folder made here and then refused is removed again: where names are resolved from paths (not
      // on Linux), it may have been made out of the root.
      if (made) await rmdir(this.at(name)).catch(() => undefined)
      throw error
    }
  }

  close(): Promise<void> {
    return this.handle.close()
  }
}

/** Opens a folder, checked to be inside `root`; ENOTDIR for a symlink is told from a file in the way. */
async function openFolderHandle(root: string, path: string, options: OpenOptions): Promise<FileHandle> {
  try {
    return await openChecked(root, path, O_RDONLY | O_DIRECTORY, options)
  } catch (error) {
    if (errnoOf(error) === 'ENOTDIR' && (await lstat(path).catch(() => undefined))?.isSymbolicLink())
      throw swappedError(options.shown, options.field)
    throw error
  }
}

/**
 * Opens the folder `dir` (a real path inside the real path `root`, as `confineTo` returns). With `create`,
 * missing folders are created one at a time, each from its parent's open descriptor, refusing symlinks;
 * the real paths of those created are appended to `created`, shallowest first.
 */
export async function openFolder(
  root: string,
  dir: string,
  options: { shown: string; field?: string; create?: boolean; created?: string[] },
): Promise<OpenFolder> {
  const opts = { shown: options.shown, field: options.field ?? 'file_path' }
  if (!isInside(root, dir)) throw outsideError(opts.shown, opts.field)
  try {
    return new OpenFolder(root, dir, await openFolderHandle(root, dir, opts))
  } catch (error) {
    if (!options.create || dir === root || errnoOf(error) !== 'ENOENT') throw fsToolError(error, opts.shown)
  }
  const parent = await openFolder(root, dirname(dir), options)
  try {
    return await parent.child(basename(dir), {
      ...opts,
      create: true,
      ...(options.created ? { created: options.created } : {}),
    })
  } catch (error) {
    throw fsToolError(error, opts.shown)
  } finally {
    await parent.close()
  }
}

/** The entries of the folder `dir` (a real path inside `root`), read from its checked descriptor. */
export async function listFolder(root: string, dir: string): Promise<Dirent[]> {
  const folder = await openFolder(root, dir, { shown: dir })
  try {
    return await readdir(PROC_FD ? folder.at('.') : dir, { withFileTypes: true })
  } finally {
    await folder.close()
  }
}

/**
 * Opens the file `path` (a real path inside the real path `root`, as `confineTo` returns) for reading; its
 * descriptor is checked to lead inside `root`. A FIFO does not block the open (O_NONBLOCK); callers check
 * with `handle.stat()` that it is a regular file.
 */
export async function openForReading(root: string, path: string, shown: string, field = 'file_path') {
  try {
    return await openChecked(root, path, O_RDONLY | O_NONBLOCK, { shown, field })
  } catch (error) {
    throw fsToolError(error, shown)
  }
}

/**
 * Opens the file `path` (a real path inside `root`) for writing, creating it and its missing folders when
 * it does not exist; it is not truncated (see `replaceContent`), so that nothing is changed before the
 * descriptor is checked. A folder or any other file that is not a regular one is refused.
 */
export async function openForWriting(
  root: string,
  path: string,
  shown: string,
  options: { field?: string; mode?: number; created?: string[] } = {},
): Promise<{ handle: FileHandle; created: boolean }> {
  const field = options.field ?? 'file_path'
  for (let attempt = 1; ; attempt++) {
    let handle: FileHandle | undefined
    let created = false
    try {
      try {
        handle = await openChecked(root, path, O_WRONLY | O_NONBLOCK, { shown, field })
      } catch (error) {
        if (errnoOf(error) !== 'ENOENT') throw error
        const folder = await openFolder(root, dirname(path), {
          shown,
          field,
          create: true,
          ...(options.created ? { created: options.created } : {}),
        })
        try {
          handle = await folder.createFile(basename(path), {
            shown,
            field,
            mode: options.mode ?? 0o666,
          })
          created = true
        } finally {
          await folder.close()
        }
      }
      const info = await handle.stat()
      if (!info.isFile()) throw new ToolError('invalid_input', `${shown} is not a regular file`, { field })
      return { handle, created }
    } catch (error) {
      await handle?.close()
      // Created by someone else between the two opens: open it as it is now.
      if (errnoOf(error) === 'EEXIST' && attempt < OPEN_ATTEMPTS) continue
      throw fsToolError(error, shown)
    }
  }
}

/** Makes `data` the whole content of the file open for writing as `handle`. */
export async function replaceContent(handle: FileHandle, data: string | Uint8Array): Promise<void> {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
  await handle.truncate(0)
  for (let at = 0; at < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, at, bytes.length - at, at)
    at += bytesWritten
  }
}

/**
 * Reads the file open as `handle` from its start: at most `maxBytes + 1` bytes, so that a caller can tell a
 * file that grew past its limit since it was measured.
 */
export async function readUpTo(handle: FileHandle, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let total = 0
  while (total <= maxBytes) {
    const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, maxBytes + 1 - total))
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, total)
    if (bytesRead === 0) break
    chunks.push(chunk.subarray(0, bytesRead))
    total += bytesRead
  }
  return Buffer.concat(chunks, total)
}

/**
 * The content of the regular file `path` (a real path inside `root`), read through a checked descriptor:
 * `invalid_input` for anything but a regular file, `too_large` beyond `maxBytes`.
 */
export async function readFileInside(root: string, path: string, shown: string, maxBytes: number) {
  const handle = await openForReading(root, path, shown)
  try {
    const info = await handle.stat()
    if (!info.isFile()) throw new ToolError('invalid_input', `${shown} is not a regular file`)
    const data = await readUpTo(handle, maxBytes)
    if (info.size > maxBytes || data.length > maxBytes)
      throw new ToolError('too_large', `${shown} is larger than ${maxBytes} bytes`, { limit: maxBytes })
    return data
  } finally {
    await handle.close()
  }
}

/**
 * Replaces the file `path` (a real path inside `root`) with `data` in one step: a temporary file created
 * in its folder's checked descriptor, then renamed over it in that same folder, so that no reader ever
 * sees half a file and neither the temporary file nor the result can land outside `root`. A symlink put in
 * place of the file meanwhile is replaced, not written through.
 */
export async function writeAtomically(
  root: string,
  path: string,
  data: string | Uint8Array,
  options: { shown: string; field?: string; mode?: number },
): Promise<void> {
  const field = options.field ?? 'file_path'
  const folder = await openFolder(root, dirname(path), { shown: options.shown, field, create: true })
  try {
    const temporary = `.${basename(path)}.${randomUUID()}.ccgw-tmp`
    const handle = await folder.createFile(temporary, {
      shown: options.shown,
      field,
      mode: options.mode ?? 0o644,
    })
    try {
      try {
        await replaceContent(handle, data)
      } finally {
        await handle.close()
      }
      await rename(folder.at(temporary), folder.at(basename(path)))
    } catch (error) {
      await unlink(folder.at(temporary)).catch(() => undefined)
      throw error
    }
  } catch (error) {
    throw fsToolError(error, options.shown)
  } finally {
    await folder.close()
  }
}
