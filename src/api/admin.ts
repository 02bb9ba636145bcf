/**
 * The admin UI (web/, built by `npm run build` into dist/admin) served at /admin: hashed assets cached for
 * good, the page itself revalidated on every load, and every other path under /admin answered with the page
 * so that the app's own router handles deep links (/admin/sessions/abc). Files are sent precompressed (.br,
 * .gz written by scripts/compress-admin.ts) when the client accepts it.
 *
 * The page holds no data and needs no key: it asks /api for everything, with the key the user gives it.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { ApiError } from './native/errors.js'

/**
 * dist/admin at the package root: this module is src/api/admin.ts under tsx and dist/api/admin.js once built
 * (scripts/bundle.ts gives the bundled copy that URL), two levels below the root either way.
 */
export const ADMIN_ROOT = fileURLToPath(new URL('../../dist/admin/', import.meta.url))

const IMMUTABLE = 'public, max-age=31536000, immutable'

/**
 * No script but the app's own files: an injected `<script>` or inline handler does not run. Styles allow
 * inline `style` attributes, which the highlighter's token colours and the virtual lists' row positions use;
 * they cannot run code.
 */
export const ADMIN_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

export interface AdminOptions {
  enabled: boolean
  /** The built app; ADMIN_ROOT unless a test serves another. */
  root?: string
}

/** Registered with the prefix `/admin` (its 404 handler answers for that prefix only). */
export const adminUi: FastifyPluginAsync<AdminOptions> = async (app, { enabled, root = ADMIN_ROOT }) => {
  if (!enabled) return
  const built = existsSync(join(root, 'index.html'))

  if (built) {
    // Routes are ours (below): `serve: false` only decorates reply.sendFile, which picks the .br/.gz file.
    await app.register(fastifyStatic, {
      root,
      serve: false,
      preCompressed: true,
      index: false,
      dotfiles: 'deny',
      cacheControl: false,
      // `path` is the file sent: `index.html.br` for a compressed page.
      setHeaders: (reply, path) => {
        if (/\.html(?:\.br|\.gz)?$/.test(path)) pageHeaders(reply)
        else if (path.startsWith(join(root, 'assets'))) reply.header('cache-control', IMMUTABLE)
        else reply.header('cache-control', 'no-cache')
        reply.header('x-content-type-options', 'nosniff')
      },
    })
  }

  // `/` under the prefix is both /admin and /admin/.
  app.get('/', (request, reply) => {
    const [path = '', query = ''] = request.url.split(/(?=\?)/, 2)
    // Relative URLs in the page resolve against /admin/, not /.
    if (!path.endsWith('/')) return reply.redirect(`${path}/${query}`, 301)
    return built ? reply.sendFile('index.html') : notBuilt(reply)
  })

  app.get<{ Params: { '*': string } }>('/*', (request, reply) => {
    if (!built) return notBuilt(reply)
    const path = request.params['*']
    // A file (a name with an extension) is sent or missing; any other path is a route of the app.
    const last = path.slice(path.lastIndexOf('/') + 1)
    if (path.startsWith('assets/') || last.includes('.')) return reply.sendFile(path)
    return reply.sendFile('index.html')
  })

  // A missing file is a 404 in the native error shape, not the page: a stale hashed name must fail loudly.
  app.setNotFoundHandler((request, reply) => {
    const error = new ApiError('not_found', `No file ${request.url}`)
    return reply.code(error.status).send(error.body)
  })
}

const notBuilt = (reply: FastifyReply) =>
  reply.code(503).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(NOT_BUILT)

function pageHeaders(reply: FastifyReply): void {
  reply.header('cache-control', 'no-cache')
  reply.header('content-security-policy', ADMIN_CSP)
  reply.header('referrer-policy', 'no-referrer')
}

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Admin UI not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>The admin UI is not built</h1>
<p>This gateway has no <code>dist/admin</code>. Run <code>npm run build</code> in its folder, then reload.</p>
</body></html>
`
