import { Type } from '@sinclair/typebox'
import { confineTo, ToolError, workspaceRelative, workspaceRoot } from './confinement.js'
import { readTextFile } from './text.js'
import type { Tool } from './types.js'
import { previousContent, writeConfined } from './write.js'

export const EditInput = Type.Object(
  {
    file_path: Type.String({
      minLength: 1,
      description: 'The file to edit: relative to the workspace, or absolute inside it.',
    }),
    old_string: Type.String({
      description: 'The exact text to replace. Empty: create the file with `new_string` (it must not exist).',
    }),
    new_string: Type.String({ description: 'The text to put in its place (must differ from old_string).' }),
    replace_all: Type.Optional(
      Type.Boolean({
        description: 'Replace every occurrence; otherwise old_string must occur exactly once.',
      }),
    ),
  },
  { additionalProperties: false },
)

export interface EditResult {
  /** `create` when an empty `old_string` created the file. */
  type: 'create' | 'update'
  /** The file's real path. */
  filePath: string
  /** The same, relative to the workspace (`/` separators). */
  relativePath: string
  /** The content before, `null` when the edit created the file. */
  originalFile: string | null
  updatedFile: string
  /** Occurrences replaced (0 when the edit created the file). */
  replacements: number
}

/** Non-overlapping occurrences of `needle` (not empty) in `text`. */
export function countOccurrences(text: string, needle: string): number {
  let count = 0
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) count++
  return count
}

/** Replaces the first or every occurrence literally (`$` in `replacement` has no special meaning). */
function replaceLiteral(text: string, search: string, replacement: string, all: boolean): string {
  if (all) return text.split(search).join(replacement)
  const at = text.indexOf(search)
  return text.slice(0, at) + replacement + text.slice(at + search.length)
}

export const editTool: Tool<typeof EditInput, EditResult> = {
  name: 'edit',
  claudeCodeName: 'Edit',
  description:
    'Replaces exact text in a file of the workspace. old_string must occur exactly once (not_unique with ' +
    'the count when it occurs more often, no_match when it does not occur) unless replace_all is set. ' +
    'An empty old_string creates the file with new_string when it does not exist (or is empty). Deleting ' +
    'text (empty new_string) also deletes the line break right after it when old_string does not end with ' +
    'one. In a file with CRLF line breaks, old_string and new_string written with LF match and are ' +
    'written with CRLF.',
  inputSchema: EditInput,
  async run(workspace, input, { limits }) {
    const { old_string: oldString, new_string: newString } = input
    const shown = input.file_path
    if (oldString === newString)
      throw new ToolError('invalid_input', 'old_string and new_string are the same: nothing to change', {
        field: 'new_string',
      })
    const root = await workspaceRoot(workspace)
    const filePath = await confineTo(root, shown)
    const relativePath = workspaceRelative(root, filePath)

    if (oldString === '') {
      const before = await previousContent(root, filePath, shown, limits.maxFileBytes)
      if (before !== undefined && before !== '')
        throw new ToolError(
          'invalid_input',
          `${shown} already exists: old_string may be empty only to create a file`,
          {
            field: 'old_string',
          },
        )
      await writeConfined(root, filePath, shown, newString)
      return {
        type: before === undefined ? 'create' : 'update',
        filePath,
        relativePath,
        originalFile: before ?? null,
        updatedFile: newString,
        replacements: before === undefined ? 0 : 1,
      }
    }

    const original = (await readTextFile(root, filePath, shown, limits.maxFileBytes)).text
    let search = oldString
    let replacement = newString
    let count = countOccurrences(original, search)
    if (count === 0 && original.includes('\r\n') && oldString.includes('\n')) {
      // The file has CRLF line breaks and the strings were written with LF.
      const crlf = (s: string) => s.replace(/\r?\n/g, '\r\n')
      search = crlf(oldString)
      replacement = crlf(newString)
      count = countOccurrences(original, search)
    }
    if (count === 0)
      throw new ToolError('no_match', `old_string does not occur in ${shown}`, {
        field: 'old_string',
        count: 0,
      })
    if (count > 1 && input.replace_all !== true)
      throw new ToolError(
        'not_unique',
        `old_string occurs ${count} times in ${shown}: add context to make it unique, or set replace_all`,
        { field: 'old_string', count },
      )
    if (replacement === '' && !search.endsWith('\n')) {
      // As Claude Code does: deleting a whole line's text deletes its line break too.
      const lineBreak = original.includes(`${search}\r\n`) ? '\r\n' : '\n'
      if (countOccurrences(original, search + lineBreak) === count) search += lineBreak
    }
    const updated = replaceLiteral(original, search, replacement, input.replace_all === true)
    await writeConfined(root, filePath, shown, updated)
    return {
      type: 'update',
      filePath,
      relativePath,
      originalFile: original,
      updatedFile: updated,
      replacements: input.replace_all === true ? count : 1,
    }
  },
}
