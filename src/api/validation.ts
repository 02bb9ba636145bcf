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
