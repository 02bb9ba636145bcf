/**
 * The CLI's stderr as log lines: one structured `warn` line per line written, with who wrote it; credentials
 * masked in the lines and in the tail kept for errors; long lines cut; a process's lines limited per minute,
 * with the count of those held back.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CliStderr, SecretMask, type StderrLimits } from '../../src/engine/cli-stderr.js'
import { capturedLog } from '../support/captured-log.js'

const CONTEXT = { cliPid: 4242, runner: 'runner-1', session: 'session-1' }

function stderr(limits: StderrLimits = { linesPerMinute: 100, maxLineChars: 200 }, env = {}) {
  const { log, lines } = capturedLog('warn')
  const clock = { now: 1_000_000 }
  const output = new CliStderr(
    log,
    new SecretMask(env),
    () => CONTEXT,
    limits,
    () => clock.now,
  )
  return { output, lines, clock }
}

test('each line is a warn line with source, process, runner and session; a partial line waits for its end', () => {
  const { output, lines } = stderr()
  output.write('first line\nsecond ')
  assert.deepEqual(
    lines.map((l) => l.line),
    ['first line'],
  )
  output.write('half\n\n   \nthird, never ended')
  output.end()
  assert.deepEqual(
    lines.map((l) => l.line),
    ['first line', 'second half', 'third, never ended'],
    'blank lines are not logged',
  )
  const [first] = lines
  assert.equal(first?.level, 40)
  assert.equal(first?.msg, 'claude-cli stderr')
  assert.deepEqual(
    { source: first?.source, cliPid: first?.cliPid, runner: first?.runner, session: first?.session },
    { source: 'claude-cli', ...CONTEXT },
  )
  assert.equal(output.tail(), 'first line\nsecond half\n\n\nthird, never ended')
})

test('credentials are masked in the log lines and in the tail: the environment, and by their shape', () => {
  const envSecret = 'proxy-credential-value-93'
  const { output, lines } = stderr(undefined, {
    ANTHROPIC_AUTH_TOKEN: envSecret,
    SHORT_KEY: 'abc',
    ANTHROPIC_BASE_URL: 'http://127.0.0.1:9',
  })
  const written = [
    `auth with ${envSecret} failed`,
    'key sk-ant-api03-AbCdEf0123456789_xyz rejected',
    'header Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig',
    'x-api-key: plainsecretvalue42 and apiKey="anotherSecret77"',
    'proxy http://user:hunter2hunter2@proxy.internal:3128 unreachable',
    'max_tokens: 4096, abc at http://127.0.0.1:9',
  ]
  output.write(`${written.join('\n')}\n`)
  const logged = lines.map((l) => String(l.line))
  assert.deepEqual(logged, [
    'auth with ******** failed',
    'key sk-ant-******** rejected',
    'header Authorization: Bearer ********',
    'x-api-key: ******** and apiKey="********"',
    'proxy http://user:********@proxy.internal:3128 unreachable',
    'max_tokens: 4096, abc at http://127.0.0.1:9',
  ])
  for (const secret of [
    envSecret,
    'AbCdEf0123456789',
    'eyJhbGciOiJIUzI1NiJ9',
    'plainsecretvalue42',
    'hunter2',
  ]) {
    assert.ok(!JSON.stringify(lines).includes(secret), `${secret} is not logged`)
    assert.ok(!output.tail().includes(secret), `${secret} is not in the tail`)
  }
})

test('a line past maxLineChars is logged cut, and the rest of it is dropped however it arrives', () => {
  const { output, lines } = stderr({ linesPerMinute: 100, maxLineChars: 10 })
  output.write('0123456789abcdef\nshort\n')
  output.write('ABCDEFGHIJKL')
  output.write('MNOPQRSTUVWXYZ')
  output.write(' still the same line\nafter\n')
  assert.deepEqual(
    lines.map((l) => [l.line, l.cut]),
    [
      ['0123456789', true],
      ['short', undefined],
      ['ABCDEFGHIJ', true],
      ['after', undefined],
    ],
  )
  assert.equal(output.tail(), '0123456789\nshort\nABCDEFGHIJ\nafter')
})

test('past linesPerMinute a process lines are counted, and the count logged when the minute is over or at the end', () => {
  const { output, lines, clock } = stderr({ linesPerMinute: 3, maxLineChars: 200 })
  output.write('1\n2\n3\n4\n5\n')
  assert.deepEqual(
    lines.map((l) => l.line),
    ['1', '2', '3'],
  )
  clock.now += 60_000
  output.write('6\n7\n8\n9\n')
  const report = lines[3]
  assert.equal(report?.suppressed, 2)
  assert.equal(report?.session, 'session-1')
  assert.match(String(report?.msg), /2 more lines not logged \(over 3 a minute\)/)
  assert.deepEqual(
    lines.slice(4).map((l) => l.line),
    ['6', '7', '8'],
  )
  output.end()
  assert.equal(lines.at(-1)?.suppressed, 1)
  assert.equal(output.tail().split('\n').length, 9, 'the tail keeps every line')
})

test('terminal colours and control characters are removed; without a logger the tail is still kept', () => {
  const { output, lines } = stderr()
  output.write('\u001b[31mred\u001b[0m and \u0007bell\r\n')
  assert.equal(lines[0]?.line, 'red and bell')
  const quiet = new CliStderr(null, new SecretMask(), () => ({}))
  quiet.write('simulated start failure\nsk-ant-api03-0123456789abcdef')
  assert.equal(quiet.tail(), 'simulated start failure\nsk-ant-********')
})
