/**
 * How /admin is served (src/api/admin.ts): hashed assets cached for good, the page revalidated and under a
 * strict CSP, precompressed files chosen by Accept-Encoding, deep links answered with the page, a missing
 * file a 404, and a clear 503 when the UI was never built. Then through a whole gateway: the page is
 * there, and its own same-origin API calls pass the origin guard with keys and without.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib'
import Fastify, { type FastifyInstance } from 'fastify'
import { ADMIN_ROOT, adminUi } from '../../src/api/admin.js'
import { withGateway } from '../support/harness.js'
import { nativeClient } from '../support/native-client.js'

const PAGE =
  '<!doctype html><html><head><script type="module" src="/admin/assets/app-Ab12Cd.js"></script></head><body><div id="root"></div></body></html>'
const SCRIPT = `console.log(${JSON.stringify('x'.repeat(2000))})\n`

/** A built UI as `npm run build` leaves it: files and their .br/.gz. */
function builtUi(): string {
  const root = mkdtempSync(join(tmpdir(), 'ccgw-admin-'))
  mkdirSync(join(root, 'assets'))
  for (const [name, content] of [
    ['index.html', PAGE],
    ['assets/app-Ab12Cd.js', SCRIPT],
  ] as const) {
    writeFileSync(join(root, name), content)
    writeFileSync(join(root, `${name}.br`), brotliCompressSync(content))
    writeFileSync(join(root, `${name}.gz`), gzipSync(content))
  }
  return root
}

async function app(options: { enabled: boolean; root: string }): Promise<FastifyInstance> {
  const server = Fastify()
  await server.register(adminUi, { ...options, prefix: '/admin' })
  return server
}

describe('serving a built UI', () => {
  let root: string
  let server: FastifyInstance
  before(async () => {
    root = builtUi()
    server = await app({ enabled: true, root })
  })
  after(async () => {
    await server.close()
    rmSync(root, { recursive: true, force: true })
  })

  test('/admin redirects to /admin/, keeping the query', async () => {
    const plain = await server.inject('/admin')
    assert.equal(plain.statusCode, 301)
    assert.equal(plain.headers.location, '/admin/')
    assert.equal((await server.inject('/admin?x=1')).headers.location, '/admin/?x=1')
  })

  test('the page: no-cache, a strict CSP, precompressed by Accept-Encoding', async () => {
    const plain = await server.inject('/admin/')
    assert.equal(plain.statusCode, 200)
    assert.equal(plain.body, PAGE)
    assert.match(String(plain.headers['content-type']), /^text\/html/)
    assert.equal(plain.headers['cache-control'], 'no-cache')
    assert.equal(plain.headers['content-encoding'], undefined)
    const csp = String(plain.headers['content-security-policy'])
    const scriptSrc = csp.split('; ').find((directive) => directive.startsWith('script-src'))
    assert.equal(scriptSrc, "script-src 'self'")
    assert.match(csp, /default-src 'self'/)
    assert.match(csp, /object-src 'none'/)

    const br = await server.inject({ url: '/admin/', headers: { 'accept-encoding': 'gzip, deflate, br' } })
    assert.equal(br.headers['content-encoding'], 'br')
    assert.match(String(br.headers.vary), /accept-encoding/i)
    assert.equal(brotliDecompressSync(br.rawPayload).toString(), PAGE)
    // The compressed page is the page: same headers.
    assert.equal(br.headers['content-security-policy'], csp)
    assert.equal(br.headers['cache-control'], 'no-cache')
    assert.match(String(br.headers['content-type']), /^text\/html/)
  })

  test('hashed assets: cached for a year, immutable; br, gzip or as they are', async () => {
    const url = '/admin/assets/app-Ab12Cd.js'
    const identity = await server.inject(url)
    assert.equal(identity.statusCode, 200)
    assert.equal(identity.body, SCRIPT)
    assert.equal(identity.headers['cache-control'], 'public, max-age=31536000, immutable')
    assert.match(String(identity.headers['content-type']), /javascript/)

    const gzip = await server.inject({ url, headers: { 'accept-encoding': 'gzip' } })
    assert.equal(gzip.headers['content-encoding'], 'gzip')
    assert.equal(gunzipSync(gzip.rawPayload).toString(), SCRIPT)
    assert.equal(gzip.headers['cache-control'], 'public, max-age=31536000, immutable')
    assert.match(String(gzip.headers['content-type']), /javascript/)

    const br = await server.inject({ url, headers: { 'accept-encoding': 'br, gzip' } })
    assert.equal(br.headers['content-encoding'], 'br')
    assert.ok(br.rawPayload.length < SCRIPT.length / 10)
  })

  test('deep links get the page; a missing file is a 404, never the page', async () => {
    for (const url of [
      '/admin/sessions',
      '/admin/sessions/3f6c0c1e-aaaa-bbbb-cccc-000000000000',
      '/admin/agents',
    ]) {
      const answer = await server.inject(url)
      assert.equal(answer.statusCode, 200, url)
      assert.equal(answer.body, PAGE, url)
      assert.equal(answer.headers['cache-control'], 'no-cache', url)
    }
    for (const url of ['/admin/assets/app-Old999.js', '/admin/assets/nested/x', '/admin/favicon.ico']) {
      const answer = await server.inject(url)
      assert.equal(answer.statusCode, 404, url)
      assert.equal(answer.json().error.code, 'not_found', url)
    }
  })

  test('nothing outside the built folder is reachable', async () => {
    for (const url of [
      '/admin/assets/..%2f..%2fpackage.json',
      '/admin/..%2findex.html.br',
      '/admin/assets/%2e%2e/%2e%2e/x.js',
    ]) {
      const answer = await server.inject(url)
      assert.ok(answer.statusCode === 403 || answer.statusCode === 404, `${url}: ${answer.statusCode}`)
    }
  })
})

test('not built: /admin/ and its deep links answer 503 saying to run npm run build', async () => {
  const missing = mkdtempSync(join(tmpdir(), 'ccgw-admin-missing-'))
  const server = await app({ enabled: true, root: missing })
  try {
    for (const url of ['/admin/', '/admin/sessions/abc', '/admin/assets/app-Ab12Cd.js']) {
      const answer = await server.inject(url)
      assert.equal(answer.statusCode, 503, url)
      assert.match(String(answer.headers['content-type']), /^text\/html/)
      assert.match(answer.body, /npm run build/)
    }
    assert.equal((await server.inject('/admin')).statusCode, 301)
  } finally {
    await server.close()
    rmSync(missing, { recursive: true, force: true })
  }
})

test('admin.enabled false: no /admin at all', async () => {
  const root = builtUi()
  const server = await app({ enabled: false, root })
  try {
    assert.equal((await server.inject('/admin/')).statusCode, 404)
    assert.equal((await server.inject('/admin')).statusCode, 404)
  } finally {
    await server.close()
    rmSync(root, { recursive: true, force: true })
  }
})

/** Headers a browser sends with the page's own fetch to its gateway. */
const sameOrigin = (url: string) => ({
  origin: url,
  'sec-fetch-site': 'same-origin',
  'sec-fetch-mode': 'cors',
})

describe('a gateway serves the UI, and the page may use the API', () => {
  const fixture = withGateway()
  const { call } = nativeClient(() => fixture.gateway)

  test('GET /admin/ answers the built UI (or says it is not built)', async () => {
    const answer = await call('GET', '/admin/')
    assert.equal(answer.status, existsSync(join(ADMIN_ROOT, 'index.html')) ? 200 : 503)
    assert.match(answer.raw, /<!doctype html>/i)
  })

  test('no keys: the page’s same-origin requests pass the origin guard', async () => {
    const created = await call('POST', '/api/sessions', { title: 'from the page' }, sameOrigin(fixture.url))
    assert.equal(created.status, 201, created.raw)
    const listed = await call('GET', '/api/sessions', undefined, sameOrigin(fixture.url))
    assert.equal(listed.status, 200, listed.raw)
  })
})

describe('with API keys, the page’s requests pass with its key', () => {
  const KEY = 'admin-static-key'
  const fixture = withGateway({ server: { apiKeys: [KEY] } })
  const { call } = nativeClient(() => fixture.gateway)

  test('same-origin POST with the key: 201; without: 401; the page itself needs no key', async () => {
    const headers = { ...sameOrigin(fixture.url), authorization: `Bearer ${KEY}` }
    assert.equal((await call('POST', '/api/sessions', {}, headers)).status, 201)
    assert.equal((await call('POST', '/api/sessions', {}, sameOrigin(fixture.url))).status, 401)
    assert.notEqual((await call('GET', '/admin/')).status, 401)
  })
})
