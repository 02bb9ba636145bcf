/** The routes a Fastify app serves, as the tests compare them with the OpenAPI document. */
import type { FastifyInstance } from 'fastify'

/**
 * Every route of the app as `METHOD /path/{param}`, read from `printRoutes` (a tree whose lines are the
 * path segments added to their parent's). HEAD routes are left out: Fastify adds one to every GET.
 */
export function routesOf(app: FastifyInstance): string[] {
  const routes: string[] = []
  const stack: string[] = []
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([│ ]*)[├└]── (\S+)(?: \(([^)]*)\))?/.exec(line)
    if (!match) continue
    const depth = match[1]!.length / 4
    stack.length = depth
    stack.push(match[2]!)
    const path = stack.join('').replace(/:(\w+)/g, '{$1}')
    for (const method of (match[3] ?? '').split(',').map((m) => m.trim())) {
      if (method && method !== 'HEAD') routes.push(`${method} ${path}`)
    }
  }
  return routes.sort()
}
