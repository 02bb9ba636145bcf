/**
 * RedisFanout against a real Redis (CCGW_TEST_REDIS_URL, redis://127.0.0.1:6379 by default): two fanouts,
 * as two replicas, hear each other's notices; a subscriber connection killed by Redis comes back and says
 * notices may have been missed; an outage (a relay in front of Redis taken down) fails announcements
 * without an exception, and its end is a resync; closed, nothing keeps the process alive. Each test has a
 * channel prefix of its own.
 *
 * Without Redis the suite is skipped, saying why, except under CI=true, where that is a failure.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { createClient } from 'redis'
import type { Notice } from '../../src/events/fanout.js'
import {
  connectRedisFanout,
  type RedisFanout,
  type RedisFanoutOptions,
} from '../../src/events/redis-fanout.js'
import { capturedLog } from '../support/captured-log.js'
import { freePort } from '../support/ports.js'
import { REDIS_URL, servicesSkip } from '../support/services.js'
import { waitUntil } from '../support/wait.js'

/** A fanout on a channel of its own (or `keyPrefix`), closed after the test, with its log lines. */
async function fanout(options: Partial<RedisFanoutOptions> = {}) {
  const { log, lines } = capturedLog()
  const fanout = await connectRedisFanout({
    url: REDIS_URL,
    keyPrefix: `ccgw-test-${randomUUID()}:`,
    logger: log,
    reconnectDelayMs: { min: 20, max: 200 },
    ...options,
  })
  opened.push(fanout)
  const notices: Notice[] = []
  fanout.onNotice((notice) => notices.push(notice))
  let resyncs = 0
  fanout.onResync(() => resyncs++)
  return { fanout, notices, lines, resyncs: () => resyncs }
}

const opened: RedisFanout[] = []

/** A TCP relay in front of Redis that a test takes down and brings back: Redis as a fanout sees it. */
class Relay {
  port = 0
  private server: Server | null = null
  private readonly sockets = new Set<Socket>()

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  async up(): Promise<void> {
    const target = new URL(REDIS_URL)
    const server = createServer((client) => {
      const upstream = connect(Number(target.port || 6379), target.hostname)
      for (const [socket, other] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        this.sockets.add(socket)
        socket.on('error', () => socket.destroy())
        socket.on('close', () => {
          this.sockets.delete(socket)
          other.destroy()
        })
        socket.pipe(other)
      }
    })
    // The same port as before, so that the fanout's reconnection finds it.
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.port, '127.0.0.1', resolve)
    })
    this.port = (server.address() as AddressInfo).port
    this.server = server
  }

  async down(): Promise<void> {
    const server = this.server
    this.server = null
    for (const socket of this.sockets) socket.destroy()
    if (server) await new Promise((resolve) => server.close(resolve))
  }
}

/** The id of the subscribed connection named `name`, as Redis lists it. */
async function subscriberId(
  admin: ReturnType<typeof createClient>,
  name: string,
): Promise<string | undefined> {
  const list = String(await admin.sendCommand(['CLIENT', 'LIST', 'TYPE', 'pubsub']))
  const line = list.split('\n').find((entry) => entry.split(' ').includes(`name=${name}`))
  return line?.match(/\bid=(\d+)/)?.[1]
}

describe('Redis fanout', { skip: await servicesSkip('redis-fanout tests', { redis: true }) }, () => {
  let admin: ReturnType<typeof createClient>

  before(async () => {
    admin = createClient({ url: REDIS_URL })
    admin.on('error', () => {})
    await admin.connect()
  })

  after(async () => {
    await Promise.all(opened.map((fanout) => fanout.close()))
    await admin.close()
  })

  test('two replicas hear each other, and themselves; other channels are not theirs', async () => {
    const keyPrefix = `ccgw-test-${randomUUID()}:`
    const a = await fanout({ keyPrefix })
    const b = await fanout({ keyPrefix })
    const elsewhere = await fanout()

    await a.fanout.announce({ pos: 7, replica: 'a' })
    await b.fanout.announce({ pos: 9, replica: 'b' })
    await waitUntil(() => a.notices.length === 2 && b.notices.length === 2, 5_000, 'both notices on both')
    const expected = [
      { pos: 7, replica: 'a' },
      { pos: 9, replica: 'b' },
    ]
    assert.deepEqual(a.notices, expected)
    assert.deepEqual(b.notices, expected)
    assert.equal(a.fanout.channel, `${keyPrefix}events`)
    assert.deepEqual(a.fanout.counts, {
      announced: 1,
      announceFailures: 0,
      notices: 2,
      malformedNotices: 0,
      resyncs: 0,
    })
    await sleep(50)
    assert.deepEqual(elsewhere.notices, [])
  })

  test('a message that is no notice is counted and ignored', async () => {
    const a = await fanout()
    await admin.publish(a.fanout.channel, 'hello')
    await admin.publish(a.fanout.channel, JSON.stringify({ pos: -1, replica: 'x' }))
    await a.fanout.announce({ pos: 1, replica: 'a' })
    await waitUntil(() => a.notices.length === 1, 5_000, 'the notice')
    assert.equal(a.fanout.counts.malformedNotices, 2)
    assert.equal(a.lines.filter((line) => line.msg === 'Ignored a message that is no notice').length, 2)
    assert.equal(a.lines.filter((line) => line.level === 40).length, 1, 'warned once')
  })

  test('a killed subscriber connection comes back subscribed, and says notices may have been missed', async () => {
    const clientName = `ccgw-test-${randomUUID()}`
    const a = await fanout({ clientName })
    const b = await fanout({ keyPrefix: a.fanout.channel.replace(/events$/, '') })
    const id = await subscriberId(admin, clientName)
    assert.ok(id, 'the subscriber is listed under its name')
    assert.equal(await admin.sendCommand(['CLIENT', 'KILL', 'ID', id, 'TYPE', 'pubsub']), 1)

    await waitUntil(() => a.resyncs() === 1, 5_000, 'the resync')
    assert.equal(b.resyncs(), 0)
    assert.equal(a.fanout.counts.resyncs, 1)
    await b.fanout.announce({ pos: 3, replica: 'b' })
    await waitUntil(() => a.notices.length === 1, 5_000, 'a notice after the reconnection')
    assert.deepEqual(a.notices, [{ pos: 3, replica: 'b' }])
    const messages = a.lines.map((line) => line.msg)
    assert.ok(messages.includes('Lost the connection to Redis: reconnecting'))
    assert.ok(messages.includes('Reconnected to Redis'))
  })

  test('while Redis is down announcements fail without throwing; back, it resyncs and announces again', async () => {
    const relay = new Relay()
    await relay.up()
    const a = await fanout({ url: relay.url })
    await a.fanout.announce({ pos: 1, replica: 'a' })
    await waitUntil(() => a.notices.length === 1, 5_000, 'a notice before the outage')

    await relay.down()
    await waitUntil(
      () => a.lines.some((line) => line.msg === 'Lost the connection to Redis: reconnecting'),
      5_000,
      'the outage noticed',
    )
    for (let pos = 2; pos <= 4; pos++) await a.fanout.announce({ pos, replica: 'a' })
    assert.equal(a.fanout.counts.announceFailures, 3)
    const failures = a.lines.filter((line) => line.msg.startsWith('Cannot announce committed events'))
    assert.equal(failures.length, 1, 'logged once per outage')
    assert.equal(a.resyncs(), 0)

    await relay.up()
    await waitUntil(() => a.resyncs() === 1, 5_000, 'the resync after the outage')
    await waitUntil(
      async () => {
        await a.fanout.announce({ pos: 5, replica: 'a' })
        return a.notices.some((notice) => notice.pos === 5)
      },
      5_000,
      'an announcement after the outage',
    )
    assert.ok(a.lines.some((line) => line.msg === 'Announcing events works again'))
    await a.fanout.close()
    await relay.down()
  })

  test('a fanout closed while Redis is down closes at once', async () => {
    const relay = new Relay()
    await relay.up()
    const a = await fanout({ url: relay.url, reconnectDelayMs: { min: 20, max: 20 } })
    await relay.down()
    await waitUntil(() => a.lines.some((line) => line.level === 40), 5_000, 'the outage noticed')
    const started = Date.now()
    await a.fanout.close()
    assert.ok(Date.now() - started < 1_000, `closed in ${Date.now() - started} ms`)
  })
})

test('Redis unreachable at the start: the error names the URL, never its password', async () => {
  const port = await freePort()
  const { log } = capturedLog()
  await assert.rejects(
    connectRedisFanout({
      url: `redis://gateway:s3cret-pw@127.0.0.1:${port}`,
      keyPrefix: 'ccgw-test:',
      logger: log,
    }),
    (error: Error) => {
      assert.match(
        error.message,
        new RegExp(`^Cannot connect to Redis at redis://gateway:\\*+@127\\.0\\.0\\.1:${port}`),
      )
      assert.ok(!error.message.includes('s3cret-pw'))
      return true
    },
  )
})

test('a closed fanout, or one that could not start, leaves nothing to keep the process alive', async (t) => {
  const skip = await servicesSkip('redis-fanout tests', { redis: true })
  if (skip) return t.skip(skip)
  // A process of its own: it must end by itself, within the time given, once the fanouts are closed.
  const module = JSON.stringify(new URL('../../src/events/redis-fanout.ts', import.meta.url).href)
  const script = `
    const { connectRedisFanout } = await import(${module})
    const { default: pino } = await import('pino')
    const logger = pino({ level: 'silent' })
    const fanout = await connectRedisFanout({ url: ${JSON.stringify(REDIS_URL)}, keyPrefix: 'ccgw-test-${randomUUID()}:', logger })
    let heard = 0
    fanout.onNotice(() => heard++)
    await fanout.announce({ pos: 1, replica: 'a' })
    while (heard === 0) await new Promise((resolve) => setTimeout(resolve, 10))
    await fanout.close()
    await connectRedisFanout({ url: 'redis://127.0.0.1:${await freePort()}', keyPrefix: 'x:', logger }).catch(() => {})
    console.log('closed')
  `
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    { cwd: new URL('../..', import.meta.url), timeout: 15_000 },
  )
  assert.equal(stdout.trim(), 'closed')
})
