import { Type } from '@sinclair/typebox'
import { confineTo, workspaceRelative, workspaceRoot } from './confinement.js'
import { cutChars, readTextFile, splitLines } from './text.js'
import type { Tool } from './types.js'

export const ReadInput = Type.Object(
  {
    file_path: Type.String({
      minLength: 1,
      description: 'The file to read: relative to the workspace, or absolute inside it.',
    }),
    offset: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: 'The line number to start reading from, 1-based (0 reads from the start, as 1 does).',
      }),
    ),
    limit: Type.Optional(
      Type.Integer({ minimum: 1, description: 'The number of lines to read (default 2000).' }),
    ),
  },
  { additionalProperties: false },
)

export interface ReadResult {
  /** The file's real path. */
  filePath: string
  /** The same, relative to the workspace (`/` separators). */
  relativePath: string
  /** `cat -n` style: each line as its number right-aligned to 6 characters, a tab, then the text. */
  content: string
  /** The number of the first line returned (1-based). */
  startLine: number
  /** Lines returned. */
  numLines: number
  /** Lines in the file (a final newline ends the last line, it does not start another). */
  totalLines: number
  /** True when the file goes on after the lines returned, or a returned line was cut. */
  truncated: boolean
  /** Returned lines that were cut to `readMaxLineChars`. */
  truncatedLines: number
}

export const formatLine = (lineNumber: number, text: string): string =>
  `${String(lineNumber).padStart(6, ' ')}\t${text}`

export const readTool: Tool<typeof ReadInput, ReadResult> = {
  name: 'read',
  claudeCodeName: 'Read',
  description:
    'Reads a text file of the workspace. Returns its lines in `cat -n` format (line number right-aligned ' +
    'to 6 characters, a tab, the text), from `offset` (1-based, default 1) for `limit` lines (default ' +
    '2000); lines longer than 2000 characters are cut. Binary files are refused (invalid_input), files ' +
    'over the size cap too (too_large).',
  inputSchema: ReadInput,
  async run(workspace, input, { limits }) {
    const root = await workspaceRoot(workspace)
    const filePath = await confineTo(root, input.file_path)
    const { text } = await readTextFile(root, filePath, input.file_path, limits.maxFileBytes)
    const lines = splitLines(text.startsWith('\uFEFF') ? text.slice(1) : text)
    const startLine = Math.max(1, input.offset ?? 1)
    const window = lines.slice(startLine - 1, startLine - 1 + (input.limit ?? limits.readDefaultLines))
    let truncatedLines = 0
    const content = window
      .map((line, i) => {
        if (line.length > limits.readMaxLineChars) truncatedLines++
        return formatLine(startLine + i, cutChars(line, limits.readMaxLineChars))
      })
      .join('\n')
    return {
      filePath,
      relativePath: workspaceRelative(root, filePath),
      content,
      startLine,
      numLines: window.length,
      totalLines: lines.length,
      truncated: startLine - 1 + window.length < lines.length || truncatedLines > 0,
      truncatedLines,
    }
  },
}
