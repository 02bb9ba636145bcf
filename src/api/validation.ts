/**
 * Where a schema validation error points, as a path: `/messages/0/content` + missingProperty `role` →
 * `messages[0].content.role`. Both API families name fields this way.
 */
export function validationPath(instancePath: string, params: Record<string, unknown>, prefix = ''): string {
  const parts = instancePath.split('/').filter(Boolean)
  if (typeof params.missingProperty === 'string') parts.push(params.missingProperty)
  if (typeof params.additionalProperty === 'string') parts.push(params.additionalProperty)
  return parts.reduce(
    (name, part) => (/^\d+$/.test(part) ? `${name}[${part}]` : name ? `${name}.${part}` : part),
    prefix,
  )
}

/**
 * The ceiling of an integer parameter with no smaller natural one (an offset, a sequence number, a turn
 * count): exact as a JavaScript number and within SQLite's 64-bit integers, so nothing past it sees a
 * rounded or floating-point value.
 */
export const MAX_INTEGER = Number.MAX_SAFE_INTEGER

/** One problem of a failed schema validation, as Ajv reports it. */
export interface ValidationIssue {
  instancePath: string
  params: Record<string, unknown>
  message?: string
}

/**
 * The problem to report of a failed validation: the one deepest inside the value. Where a field may take
 * several shapes (a string or an array of blocks), Ajv lists each shape's first problem in turn: for an
 * array with one bad block, "must be string" comes first, although the bad block is what the caller must
 * fix. Among equally deep problems the first one listed wins.
 */
export function mainIssue<T extends ValidationIssue>(issues: readonly T[]): T | undefined {
  let main: T | undefined
  let mainDepth = -1
  for (const issue of issues) {
    const depth = pathDepth(issue)
    if (depth > mainDepth) {
      main = issue
      mainDepth = depth
    }
  }
  return main
}

function pathDepth(issue: ValidationIssue): number {
  const named =
    typeof issue.params.missingProperty === 'string' || typeof issue.params.additionalProperty === 'string'
  return issue.instancePath.split('/').filter(Boolean).length + (named ? 1 : 0)
}
