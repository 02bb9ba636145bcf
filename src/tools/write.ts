import { Type } from '@sinclair/typebox'
import { openForWriting, replaceContent } from './confined-files.js'
import {
  confineTo,
  fsToolError,
  isToolError,
  ToolError,
  workspaceRelative,
  workspaceRoot,
} from './confinement.js'
import { readTextFile } from './text.js'
import type { Tool } from './types.js'

export const WriteInput = Type.Object(
  {
    file_path: Type.String({
      minLength: 1,
      description: 'The file to write: relative to the workspace, or absolute inside it.',
    }),
    content: Type.String({ description: 'The whole new content of the file.' }),
  },
  { additionalProperties: false },
)

export interface WriteResult {
  type: 'create' | 'update'
  /** The file's real path. */
  filePath: string
  /** The same, relative to the workspace (`/` separators). */
  relativePath: string
  /** The content before, `null` when the file did not exist (or see `originalOmitted`). */
  originalFile: string | null
  /** Set when the file existed but its content before is not returned: binary, or over `maxFileBytes`. */
  originalOmitted?: true
}

/**
 * The file's text before a write: `undefined` when it does not exist, `null` when it cannot be shown.
 * `filePath` is a confined real path inside the real path `root`.
 */
export async function previousContent(
  root: string,
  filePath: string,
  shown: string,
  maxBytes: number,
): Promise<string | null | undefined> {
  try {
    return (await readTextFile(root, filePath, shown, maxBytes)).text
  } catch (error) {
    if (!isToolError(error)) throw error
    if (error.code === 'not_found') return undefined
    if (error.code === 'too_large' || error.details?.binary === true) return null
    throw error
  }
}

/**
 * Writes `content`, creating the parent folders; `filePath` is a confined real path inside the real path
 * `root`. Written through a descriptor checked to lead inside `root` (see `openForWriting`).
 */
export async function writeConfined(
  root: string,
  filePath: string,
  shown: string,
  content: string,
): Promise<void> {
  const { handle } = await openForWriting(root, filePath, shown)
  try {
    await replaceContent(handle, content)
  } catch (error) {
    throw fsToolError(error, shown)
  } finally {
    await handle.close()
  }
}

export const writeTool: Tool<typeof WriteInput, WriteResult> = {
  name: 'write',
  claudeCodeName: 'Write',
  description:
    'Writes a file of the workspace, replacing it when it exists and creating it and its parent folders ' +
    'when it does not. Returns whether it was created or updated, and its content before (null when new).',
  inputSchema: WriteInput,
  async run(workspace, input, { limits }) {
    const size = Buffer.byteLength(input.content, 'utf8')
    if (size > limits.writeMaxBytes)
      throw new ToolError(
        'too_large',
        `content is ${size} bytes, more than the ${limits.writeMaxBytes} allowed`,
        {
          field: 'content',
          size,
          limit: limits.writeMaxBytes,
        },
      )
    const root = await workspaceRoot(workspace)
    const filePath = await confineTo(root, input.file_path)
    const before = await previousContent(root, filePath, input.file_path, limits.maxFileBytes)
    await writeConfined(root, filePath, input.file_path, input.content)
    const result: WriteResult = {
      type: before === undefined ? 'create' : 'update',
      filePath,
      relativePath: workspaceRelative(root, filePath),
      originalFile: before ?? null,
    }
    if (before === null) result.originalOmitted = true
    return result
  },
}
