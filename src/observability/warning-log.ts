import type { Logger } from 'pino'

/** Distinct warnings remembered; past it the memory starts again (a warning may then be logged again). */
const REMEMBERED = 1_000

/**
 * Node writes every process warning to stderr as plain text: the Agent SDK's among them
 * (`[CLAUDE_SDK_CAN_USE_TOOL_SHADOWED] …`, emitted at every query, so twice per request). Written there, they
 * are unstructured lines in a JSON log. Instead each distinct warning is logged once per process, at `warn`,
 * with `source` saying who emitted it (`claude-agent-sdk` or `node`) and its `code`.
 *
 * Node's own printer is the `warning` listener it adds at start (the one `--no-warnings` leaves out): it is
 * removed, so call this before anything else listens. The function returned puts Node's listeners back and
 * stops logging (for a gateway that is not the whole process: the tests).
 */
export function logProcessWarnings(log: Logger): () => void {
  const printers = process.listeners('warning')
  for (const listener of printers) process.off('warning', listener)
  const seen = new Set<string>()
  const logWarning = (warning: Error & { code?: string }) => {
    const key = `${warning.name}\0${warning.code ?? ''}\0${warning.message}`
    if (seen.has(key)) return
    if (seen.size >= REMEMBERED) seen.clear()
    seen.add(key)
    log.warn(
      { source: sourceOf(warning), code: warning.code, kind: warning.name },
      warning.message.replace(/\s+/g, ' ').trim(),
    )
  }
  process.on('warning', logWarning)
  return () => {
    process.off('warning', logWarning)
    for (const listener of printers) process.on('warning', listener)
  }
}

function sourceOf(warning: Error & { code?: string }): 'claude-agent-sdk' | 'node' {
  return warning.code?.startsWith('CLAUDE_SDK_') || warning.stack?.includes('claude-agent-sdk')
    ? 'claude-agent-sdk'
    : 'node'
}
