/**
 * The request line written byte by byte (src/observability/request-line.ts) says exactly what pino would
 * write for the same fields: same keys in the same order, same numbers, the logger's bindings included.
 */
import assert from 'node:assert/strict'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { test } from 'node:test'
import pino from 'pino'
import { BatchedStdout } from '../../src/observability/logger.js'
import { requestLineWriter } from '../../src/observability/request-line.js'

interface Case {
  level: 'debug' | 'info' | 'error'
  reqId: string
  method: string
  route: string
  status: number
  hundredths: number
  aborted: boolean
}

const cases: Case[] = [
  {
    level: 'info',
    reqId: 'k3x9q-1',
    method: 'GET',
    route: '/v1/models',
    status: 200,
    hundredths: 37,
    aborted: false,
  },
  {
    level: 'info',
    reqId: 'a.b:c-D_9',
    method: 'POST',
    route: '/v1/chat/completions',
    status: 200,
    hundredths: 0,
    aborted: true,
  },
  {
    level: 'error',
    reqId: 'x'.repeat(128),
    method: 'DELETE',
    route: '/api/sessions/:id',
    status: 503,
    hundredths: 5,
    aborted: false,
  },
  {
    level: 'debug',
    reqId: 'k3x9q-zz',
    method: 'GET',
    route: '/v1/health',
    status: 200,
    hundredths: 1230,
    aborted: false,
  },
  {
    level: 'info',
    reqId: 'k3x9q-10',
    method: 'OPTIONS',
    route: 'unmatched',
    status: 404,
    hundredths: 1200,
    aborted: false,
  },
  // Durations of hours; a route with characters JSON escapes, and others it does not.
  {
    level: 'info',
    reqId: 'r',
    method: 'GET',
    route: '/a"b\\c/é/日本',
    status: 101,
    hundredths: 123_456_789,
    aborted: true,
  },
]

test('the request line written by hand is what pino writes for the same fields', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ccgw-line-'))
  const path = join(dir, 'out.log')
  const fd = openSync(path, 'w')
  try {
    const out = new BatchedStdout(fd)
    const base = { level: 'debug' as const }
    const byHand = pino(base, out).child({ component: 'http' })
    const write = requestLineWriter(byHand)
    assert.ok(write, 'a logger writing to BatchedStdout gets the byte writer')

    const sink = new PassThrough()
    const expected: string[] = []
    sink.on('data', (chunk: Buffer) => expected.push(...chunk.toString().split('\n').filter(Boolean)))
    const byPino = pino(base, sink).child({ component: 'http' })
    assert.equal(requestLineWriter(byPino), null, 'any other destination keeps pino’s own path')

    const before = Date.now()
    for (const line of cases) {
      const level = byHand.levels.values[line.level] as number
      write(level, line.reqId, line.method, line.route, line.status, line.hundredths, line.aborted)
      const { level: name, hundredths, aborted, ...fields } = line
      byPino[name]({ ...fields, durationMs: hundredths / 100, ...(aborted ? { aborted } : {}) }, 'request')
    }
    out.flushSync()
    const after = Date.now()
    await new Promise((resolve) => setImmediate(resolve))

    const written = readFileSync(path, 'utf8').split('\n').filter(Boolean)
    assert.equal(written.length, cases.length)
    written.forEach((text, i) => {
      const ours = JSON.parse(text) as Record<string, unknown>
      const theirs = JSON.parse(expected[i] as string) as Record<string, unknown>
      assert.ok((ours.time as number) >= before && (ours.time as number) <= after, 'the time is now')
      // Byte for byte once the time is the same: keys, order, numbers' text.
      assert.equal(text, (expected[i] as string).replace(`"time":${theirs.time}`, `"time":${ours.time}`))
    })
  } finally {
    closeSync(fd)
    rmSync(dir, { recursive: true, force: true })
  }
})
