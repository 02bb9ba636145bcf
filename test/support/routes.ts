/** The routes a Fastify app serves, as the tests compare them with the OpenAPI document. */
import { subscribe } from 'node:diagnostics_channel'
import type { FastifyInstance } from 'fastify'

/** What each app added, in the app's own words: `onRoute` sees every route, its plugins' included. */
const added = new WeakMap<FastifyInstance, string[]>()

// Fastify announces every instance it creates before any plugin or route is added to it: the one place a
// test can hook an app it does not build (the gateway's). Importing this module starts the collection.
subscribe('fastify.initialization', (message) => {
  const { fastify } = message as { fastify: FastifyInstance }
  const routes: string[] = []
  added.set(fastify, routes)
  fastify.addHook('onRoute', ({ method, url }) => {
    for (const one of [method].flat()) routes.push(`${one} ${url.replace(/:(\w+)/g, '{$1}')}`)
  })
})

/**
 * Every route of the app as `METHOD /path/{param}`, as its `onRoute` hook saw them added. HEAD routes are
 * left out: Fastify adds one to every GET. The app must have been created after this module was imported.
 */
export function routesOf(app: FastifyInstance): string[] {
  const routes = added.get(app)
  if (routes === undefined) throw new Error('the app was created before test/support/routes.ts was imported')
  return [...new Set(routes.filter((route) => !route.startsWith('HEAD ')))].sort()
}
