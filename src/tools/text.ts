import { openForReading, readUpTo } from './confined-files.js'
import { fsToolError, ToolError } from './confinement.js'

/** As git and ripgrep do: a NUL byte in the first 8000 bytes makes a file binary. */
export const BINARY_SNIFF_BYTES = 8000

export function looksBinary(data: Uint8Array): boolean {
  return data.subarray(0, BINARY_SNIFF_BYTES).includes(0)
}

export type TextFile = { text: string; size: number }

/**
 * Reads a regular text file as UTF-8: `not_found`, `invalid_input` for a folder, a special file or a binary
 * file, `too_large` beyond `maxBytes`. `abs` is a real path inside the real path `root` (see `confineTo`);
 * it is read through a descriptor checked to lead inside `root`. `shown` names the file in messages.
 */
export async function readTextFile(
  root: string,
  abs: string,
  shown: string,
  maxBytes: number,
): Promise<TextFile> {
  const handle = await openForReading(root, abs, shown)
  try {
    const info = await handle.stat()
    if (info.isDirectory())
      throw new ToolError('invalid_input', `${shown} is a directory`, { field: 'file_path' })
    if (!info.isFile())
      throw new ToolError('invalid_input', `${shown} is not a regular file`, { field: 'file_path' })
    if (info.size > maxBytes) throw tooLarge(shown, info.size, maxBytes)
    const data = await readUpTo(handle, maxBytes)
    if (data.length > maxBytes) throw tooLarge(shown, data.length, maxBytes)
    if (looksBinary(data))
      throw new ToolError('invalid_input', `${shown} is a binary file (${data.length} bytes)`, {
        field: 'file_path',
        binary: true,
        size: data.length,
      })
    return { text: data.toString('utf8'), size: data.length }
  } catch (error) {
    throw fsToolError(error, shown)
  } finally {
    await handle.close()
  }
}

function tooLarge(shown: string, size: number, limit: number): ToolError {
  return new ToolError('too_large', `${shown} is ${size} bytes, more than the ${limit} bytes allowed`, {
    size,
    limit,
  })
}

/** Cuts `text` to at most `max` UTF-16 units without splitting a surrogate pair. */
export function cutChars(text: string, max: number): string {
  if (text.length <= max) return text
  const code = text.charCodeAt(max - 1)
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max)
}

/** The file's lines as `cat -n` counts them, without their `\n` or `\r\n`. */
export function splitLines(text: string): string[] {
  if (text === '') return []
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  return lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line))
}

/** Newest first; equal times by path, so that the order is stable. */
export function byMtimeDesc(
  a: { rel: string; mtimeMs: number },
  b: { rel: string; mtimeMs: number },
): number {
  return b.mtimeMs - a.mtimeMs || (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0)
}
