/**
 * The gateway's logger (src/observability/logger.ts): Fastify's request and reply objects are logged as a
 * few fields, without headers, and standard output loses no line when the process exits.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { PassThrough } from 'node:stream'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { createLogger } from '../../src/observability/logger.js'

test('a request and a reply are logged as method, url and status, never their headers', async () => {
  const stream = new PassThrough()
  const chunks: string[] = []
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()))
  const log = createLogger({ level: 'info', pretty: 'never', destination: stream })
  const req = { method: 'GET', url: '/v1/models', headers: { authorization: 'Bearer sk-secret-value' } }
  // As Fastify logs a stream closed prematurely: the whole reply, which holds the request, the server...
  const reply = { statusCode: 200, request: req, raw: { socket: { huge: 'x'.repeat(10_000) } } }
  log.child({ reqId: 'k3x9q-1' }).info({ req, res: reply }, 'stream closed prematurely')
  await new Promise((resolve) => setImmediate(resolve))
  const line = JSON.parse(chunks.join('')) as Record<string, unknown>
  assert.deepEqual(line.req, { method: 'GET', url: '/v1/models' })
  assert.deepEqual(line.res, { statusCode: 200 })
  assert.equal(line.reqId, 'k3x9q-1')
  assert.ok(!chunks.join('').includes('sk-secret-value'))
})

test('every line logged on standard output is written, the last ones just before process.exit()', async () => {
  const lines = 20_000
  const script = `
    const { createLogger } = await import(${JSON.stringify(new URL('../../src/observability/logger.ts', import.meta.url).href)})
    const log = createLogger({ level: 'info', pretty: 'never' })
    for (let i = 0; i < ${lines}; i++) log.info({ i }, 'line')
    process.exit(0)
  `
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    { maxBuffer: 64 * 1024 * 1024 },
  )
  const written = stdout
    .split('\n')
    .filter(Boolean)
    .map((text) => (JSON.parse(text) as { i: number }).i)
  assert.equal(written.length, lines)
  assert.deepEqual(
    written,
    Array.from({ length: lines }, (_, i) => i),
    'in order, none lost',
  )
})
