/**
 * How the file routes (src/api/native/files.ts) show a workspace's files: the schemas they declare, which
 * the files plugin registers (`FileEntry`, `FileListing`, `Upload`), beside the mappers that fill them.
 */
import { type Static, Type } from '@sinclair/typebox'
import type { ListedEntry } from '../../tools/listing.js'
import type { UploadedFile } from '../../tools/upload.js'
import { Enum, Nullable, ref } from '../responses.js'

const FileEntrySchema = Type.Object(
  {
    name: Type.String(),
    path: Type.String({ description: 'Relative to the workspace.' }),
    type: Enum(['file', 'dir', 'symlink']),
    size: Nullable(Type.Integer({ description: "Bytes (a symlink's: its target's); null for a folder." })),
    modified_at: Type.String({ format: 'date-time' }),
    target: Type.Optional(Type.String({ description: "A symlink's target, relative to the workspace." })),
    children: Type.Optional(
      Type.Array(ref('FileEntry'), {
        description: 'In a tree: the entries of a folder less than `depth` levels down.',
      }),
    ),
  },
  { $id: 'FileEntry', description: 'A file, folder or symlink of a workspace.' },
)

/** A listed entry; its `children` are entries too (the schema refers to itself by its $id). */
export type EntryView = Omit<Static<typeof FileEntrySchema>, 'children'> & { children?: EntryView[] }

const FileListingSchema = Type.Object(
  {
    path: Type.String({ description: 'The folder listed, relative to the workspace.' }),
    entries: Type.Array(ref<EntryView>('FileEntry')),
    truncated: Type.Boolean({ description: 'There were more than `native.filesListMaxEntries` entries.' }),
  },
  { $id: 'FileListing' },
)
export type FileListingView = Static<typeof FileListingSchema>

const UploadedSchema = Type.Object({
  path: Type.String({ description: 'Relative to the workspace.' }),
  size: Type.Integer(),
  sha256: Type.String({ description: 'Hex.' }),
  created: Type.Boolean({ description: 'false: it replaced a file.' }),
})

const UploadSchema = Type.Object(
  {
    path: Type.String({ description: 'The folder uploaded into, relative to the workspace.' }),
    files: Type.Array(UploadedSchema),
  },
  { $id: 'Upload' },
)
export type UploadView = Static<typeof UploadSchema>

/** The schemas of this file, for the files plugin to register. */
export const FILE_SCHEMAS = [FileEntrySchema, FileListingSchema, UploadSchema]

export function uploadedView(file: UploadedFile): Static<typeof UploadedSchema> {
  return { path: file.relativePath, size: file.size, sha256: file.sha256, created: file.created }
}

export function entryView(entry: ListedEntry): EntryView {
  return {
    name: entry.path.slice(entry.path.lastIndexOf('/') + 1),
    path: entry.path,
    type: entry.type,
    size: entry.size,
    modified_at: entry.modified.toISOString(),
    ...(entry.target === undefined ? {} : { target: entry.target }),
  }
}

/**
 * The entries of the folder `root` as a tree: each folder less than `depth` levels down gets the
 * `children` listed in it. The entries come in walk order, each folder before its own entries.
 */
export function treeOf(root: string, depth: number, entries: EntryView[]): EntryView[] {
  const top: EntryView[] = []
  const folders = new Map<string, EntryView[]>()
  for (const entry of entries) {
    const at = entry.path.lastIndexOf('/')
    const parent = at < 0 ? '.' : entry.path.slice(0, at)
    const siblings = parent === root ? top : folders.get(parent)
    siblings?.push(entry)
    const level = (root === '.' ? entry.path : entry.path.slice(root.length + 1)).split('/').length
    if (entry.type === 'dir' && level < depth) {
      entry.children = []
      folders.set(entry.path, entry.children)
    }
  }
  return top
}
