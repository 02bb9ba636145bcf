/**
 * Files uploaded into a workspace folder, confined like the direct tools' paths. Each file streams into a
 * temporary file beside its destination; only `commit` puts them in place (each one with a rename, so no
 * reader ever sees half a file), and `discard` removes whatever an upload that failed left behind: its
 * temporary files and the folders it created for them. Every step works from the destination folder's
 * checked descriptor (see `openFolder`), so that a folder swapped for a symlink meanwhile cannot lead out.
 */
import { createHash, randomUUID } from 'node:crypto'
import { constants } from 'node:fs'
import { lstat, rename, rmdir, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { type Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { type OpenFolder, openFolder } from './confined-files.js'
import { confineTo, fsToolError, ToolError, workspaceRelative, workspaceRoot } from './confinement.js'

export interface UploadedFile {
  /** The file's real path. */
  filePath: string
  /** The same, relative to the workspace (`/` separators). */
  relativePath: string
  size: number
  /** SHA-256 of the content, hex. */
  sha256: string
  /** The file did not exist before. */
  created: boolean
}

/** A file of the upload exists already and the upload may not replace it. */
export class UploadConflict extends Error {
  override readonly name = 'UploadConflict'

  constructor(readonly relativePath: string) {
    super(`${relativePath} exists already (set overwrite to replace it)`)
  }
}

interface Staged {
  /** The temporary file's name, in the destination's folder. */
  temporary: string
  filePath: string
  size: number
  sha256: string
  committed: boolean
}

export class Upload {
  private readonly staged: Staged[] = []
  /** Folders this upload created, deepest first. */
  private readonly createdFolders: string[] = []

  private constructor(
    private readonly root: string,
    private readonly folder: string,
    private readonly overwrite: boolean,
  ) {}

  /**
   * An upload into `folder` (relative to the workspace or absolute inside it; the workspace by default),
   * which is created when the first file arrives if it does not exist.
   */
  static async into(workspace: string, folder: string | undefined, overwrite: boolean): Promise<Upload> {
    const root = await workspaceRoot(workspace)
    const real = folder === undefined ? root : await confineTo(root, folder, 'path')
    const info = await stat(real).catch(() => undefined)
    if (info && !info.isDirectory())
      throw new ToolError('invalid_input', `${folder} is not a directory`, { field: 'path' })
    return new Upload(root, real, overwrite)
  }

  /** The upload's folder, relative to the workspace. */
  get path(): string {
    return workspaceRelative(this.root, this.folder)
  }

  /** Streams `content` into a temporary file beside the destination of the file `name`. */
  async add(name: string, content: Readable): Promise<void> {
    if (name === '') throw new ToolError('invalid_input', 'a file has no file name', { field: 'files' })
    if (name === '.' || name === '..' || /[/\\]/.test(name))
      throw new ToolError('invalid_input', `'${name}' is not a file name`, { field: 'files' })
    const filePath = await confineTo(this.root, join(this.folder, name), 'files')
    const shown = workspaceRelative(this.root, filePath)
    if (this.staged.some((file) => file.filePath === filePath))
      throw new ToolError('invalid_input', `${shown} is uploaded twice`, { field: 'files' })
    const created: string[] = []
    let folder: OpenFolder
    try {
      folder = await openFolder(this.root, dirname(filePath), {
        shown,
        field: 'files',
        create: true,
        created,
      })
    } finally {
      // Deepest first, for `discard`.
      this.createdFolders.unshift(...created.reverse())
    }
    const temporary = `.ccgw-upload-${randomUUID()}`
    const hash = createHash('sha256')
    let size = 0
    const measure = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk)
        size += chunk.length
        done(null, chunk)
      },
    })
    const staged: Staged = { temporary, filePath, size: 0, sha256: '', committed: false }
    try {
      await this.checkReplaceable(folder, basename(filePath), shown)
      const handle = await folder.createFile(temporary, { shown, field: 'files', mode: 0o666 })
      this.staged.push(staged)
      await pipeline(content, measure, handle.createWriteStream())
    } catch (error) {
      throw fsToolError(error, shown)
    } finally {
      await folder.close()
    }
    staged.size = size
    staged.sha256 = hash.digest('hex')
  }

  /** The files added, relative to the workspace. */
  get names(): string[] {
    return this.staged.map((file) => workspaceRelative(this.root, file.filePath))
  }

  /** Puts every added file in place, in the order they came. */
  async commit(): Promise<UploadedFile[]> {
    const done: UploadedFile[] = []
    for (const file of this.staged) {
      const relativePath = workspaceRelative(this.root, file.filePath)
      const folder = await openFolder(this.root, dirname(file.filePath), {
        shown: relativePath,
        field: 'files',
      })
      let replaced: Awaited<ReturnType<Upload['checkReplaceable']>>
      try {
        const name = basename(file.filePath)
        replaced = await this.checkReplaceable(folder, name, relativePath)
        // A replaced file keeps its permissions (an executable script stays executable).
        if (replaced) {
          const handle = await folder.openFile(file.temporary, constants.O_RDONLY, {
            shown: relativePath,
            field: 'files',
          })
          try {
            await handle.chmod(replaced.mode & 0o7777)
          } finally {
            await handle.close()
          }
        }
        await rename(folder.at(file.temporary), folder.at(name))
      } catch (error) {
        throw fsToolError(error, relativePath)
      } finally {
        await folder.close()
      }
      file.committed = true
      const { filePath, size, sha256 } = file
      done.push({ filePath, relativePath, size, sha256, created: replaced === undefined })
    }
    return done
  }

  /** Removes what the upload left that is not in place: temporary files, then the folders it created. */
  async discard(): Promise<void> {
    for (const file of this.staged.filter((each) => !each.committed))
      await this.removeIn(dirname(file.filePath), file.temporary, unlink)
    // Only while empty: something else may have written into a folder meanwhile.
    for (const folder of this.createdFolders) await this.removeIn(dirname(folder), basename(folder), rmdir)
  }

  /** Removes `name` from the folder `dir` as its checked descriptor sees it; nothing when it cannot. */
  private async removeIn(dir: string, name: string, remove: (path: string) => Promise<void>) {
    const folder = await openFolder(this.root, dir, { shown: name }).catch(() => undefined)
    if (!folder) return
    try {
      await remove(folder.at(name)).catch(() => undefined)
    } finally {
      await folder.close()
    }
  }

  /** What `name` in `folder` is now (undefined: nothing); throws when the upload may not replace it. */
  private async checkReplaceable(folder: OpenFolder, name: string, shown: string) {
    const existing = await lstat(folder.at(name)).catch(() => undefined)
    if (!existing) return undefined
    if (existing.isDirectory())
      throw new ToolError('invalid_input', `${shown} is a directory`, { field: 'files' })
    if (!this.overwrite) throw new UploadConflict(shown)
    return existing
  }
}
