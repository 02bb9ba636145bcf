import { realpathSync, statSync } from 'node:fs'
import { sep } from 'node:path'

/**
 * A workspace a client asks for, resolved to its real path (symlinks included) and accepted only under one
 * of the allowed roots. Returns the path, or why it is refused.
 */
export function workspaceUnder(
  requested: string,
  roots: readonly string[],
): { path: string } | { problem: string } {
  let real: string
  try {
    real = realpathSync(requested)
  } catch {
    return { problem: `Workspace '${requested}' does not exist` }
  }
  if (!statSync(real).isDirectory()) return { problem: `Workspace '${requested}' is not a directory` }
  const inside = roots.some((root) => {
    const realRoot = realOrNull(root)
    return (
      realRoot !== null &&
      (real === realRoot || real.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep))
    )
  })
  return inside ? { path: real } : { problem: `Workspace '${requested}' is outside the allowed roots` }
}

function realOrNull(path: string): string | null {
  try {
    return realpathSync(path)
  } catch {
    return null
  }
}
