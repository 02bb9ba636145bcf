/**
 * The gateway's standard-output destination (src/observability/logger.ts): lines are batched into one
 * buffer and written together, in order and byte for byte, whatever their length or characters.
 */
import assert from 'node:assert/strict'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { BatchedStdout } from '../../src/observability/logger.js'

async function withFile(run: (fd: number, read: () => string) => void | Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ccgw-log-'))
  const path = join(dir, 'out.log')
  const fd = openSync(path, 'w')
  try {
    await run(fd, () => readFileSync(path, 'utf8'))
  } finally {
    closeSync(fd)
    rmSync(dir, { recursive: true, force: true })
  }
}

test('lines wait for the batch, then are written in order, multi-byte text and oversized lines included', async () => {
  await withFile((fd, read) => {
    const out = new BatchedStdout(fd)
    const lines = [
      '{"msg":"first"}\n',
      '{"msg":"naïve café — 日本語 🚀"}\n',
      `{"msg":"${'x'.repeat(100_000)}"}\n`, // larger than a whole batch: written on its own, after the first two
      '{"msg":"after the big one"}\n',
    ]
    out.write(lines[0]!)
    out.write(lines[1]!)
    assert.equal(read(), '', 'short lines wait for the batch')
    out.write(lines[2]!)
    out.write(lines[3]!)
    out.flushSync()
    assert.equal(read(), lines.join(''))
  })
})

test('a batch that would overflow is written first, and a pending batch is written within 10 ms', async () => {
  await withFile(async (fd, read) => {
    const out = new BatchedStdout(fd)
    // 3,000 lines of about 100 bytes: more than one 64 KiB batch, so the full ones are written at once.
    const lines = Array.from(
      { length: 3000 },
      (_, i) => `{"n":${String(i).padStart(6, '0')},"pad":"${'é'.repeat(40)}"}\n`,
    )
    for (const line of lines) out.write(line)
    const early = read()
    assert.ok(early.length > 0 && early.length < lines.join('').length, 'full batches are written at once')
    assert.ok(lines.join('').startsWith(early), 'in order')
    await delay(50)
    assert.equal(read(), lines.join(''), 'the rest follows by the timer')
  })
})
