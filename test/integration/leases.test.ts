/**
 * Session leases on the real PostgreSQL (src/cluster/leases.ts): each LeaseBook has its own pool, as each
 * replica would, and each test its own schema. Acquire, read and release; two replicas racing for an
 * expired lease, one winner every time; takeover after expiry with the epoch raised and reported; a slow
 * holder that resumes after a takeover loses the lease and never takes it back; pinned workspaces; the drain.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, afterEach, before, describe, test } from 'node:test'
import pg from 'pg'
import { LeaseBook, type LeaseBookOptions } from '../../src/cluster/leases.js'
import { Replica } from '../../src/cluster/replica.js'
import { POSTGRES_URL, servicesSkip } from '../support/services.js'
import { waitUntil } from '../support/wait.js'

describe('session leases', { skip: await servicesSkip('lease tests', { postgres: true }) }, () => {
  let admin: pg.Pool
  let schema: string
  const books: LeaseBook[] = []

  before(() => {
    admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 })
  })
  after(() => admin.end())
  afterEach(async () => {
    await Promise.all(books.splice(0).map((book) => book.close()))
    if (schema) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  })

  /** A fresh schema for the test. */
  function newSchema(): string {
    schema = `leases_${randomBytes(6).toString('hex')}`
    return schema
  }

  /** A replica named `id` (a new process each call) with its own lease book on the test's schema. */
  async function replica(
    id: string,
    options: Partial<LeaseBookOptions> = {},
  ): Promise<{ book: LeaseBook; lost: string[] }> {
    const lost: string[] = []
    const book = await LeaseBook.open({
      url: POSTGRES_URL,
      schema,
      replica: new Replica({ id, advertiseUrl: `http://${id}.test:8080`, secret: 'a-secret-of-16-chars' }),
      onLost: (sessionId) => lost.push(sessionId),
      onError: (error) => assert.fail(`heartbeat failed: ${error}`),
      ...options,
    })
    books.push(book)
    return { book, lost }
  }

  const expired = (book: LeaseBook, sessionId: string) =>
    waitUntil(async () => (await book.owner(sessionId))?.live === false, 10_000, 'the lease to expire')

  test('acquire, read and release: the holder renews under its epoch, the others are told who holds it', async () => {
    newSchema()
    const { book: a } = await replica('a')
    const { book: b } = await replica('b')

    assert.equal(await a.owner('s1'), null)
    assert.deepEqual(await a.acquire('s1'), { owner: 'self', epoch: 1, takeover: null })
    assert.ok(a.holds('s1'))
    assert.deepEqual(await a.acquire('s1'), { owner: 'self', epoch: 1, takeover: null }, 'already ours')

    const seen = await b.acquire('s1')
    assert.equal(seen.owner, 'other')
    assert.equal(seen.owner === 'other' && seen.replicaId, 'a')
    assert.equal(seen.owner === 'other' && seen.address, 'http://a.test:8080')
    assert.equal(seen.owner === 'other' && seen.live, true)
    assert.ok(seen.owner === 'other' && seen.expiresInMs > 10_000 && seen.expiresInMs <= 15_000)
    assert.equal(b.holds('s1'), false)
    assert.deepEqual(
      { ...(await b.owner('s1')), expiresInMs: 0 },
      { replicaId: 'a', address: 'http://a.test:8080', epoch: 1, self: false, live: true, expiresInMs: 0 },
    )
    assert.equal((await a.owner('s1'))?.self, true)

    await a.release('s1')
    assert.equal(a.holds('s1'), false)
    assert.equal((await b.owner('s1'))?.live, false)
    // Released, not lost: no takeover, and the epoch still grows.
    assert.deepEqual(await b.acquire('s1'), { owner: 'self', epoch: 2, takeover: null })
    assert.equal((await a.acquire('s1')).owner, 'other')
    assert.deepEqual(b.heldSessions(), ['s1'])
  })

  test('two replicas racing 50 times for an expired lease: exactly one wins each time', async () => {
    newSchema()
    const { book: a } = await replica('a')
    const { book: b } = await replica('b')
    // Connections open and statements prepared on both sides, so that the rounds race.
    await Promise.all([a.acquire('warm-a'), b.acquire('warm-b')])
    const wins = { a: 0, b: 0 }
    for (let round = 0; round < 50; round++) {
      const sessionId = `race-${round}`
      await admin.query(
        `INSERT INTO ${schema}.session_leases
           (session_id, replica_id, incarnation, address, epoch, acquired_at, renewed_at, expires_at)
         VALUES ($1, 'dead', 'dead-1', 'http://dead.test:8080', 7, now() - interval '1 min',
           now() - interval '20 s', now() - interval '5 s')`,
        [sessionId],
      )
      const [fromA, fromB] = await Promise.all([a.acquire(sessionId), b.acquire(sessionId)])
      const winners = [fromA, fromB].filter((result) => result.owner === 'self')
      assert.equal(winners.length, 1, `round ${round}: ${JSON.stringify([fromA, fromB])}`)
      const winner = fromA.owner === 'self' ? 'a' : 'b'
      wins[winner]++
      assert.deepEqual(winners[0], { owner: 'self', epoch: 8, takeover: { replicaId: 'dead' } })
      const loser = fromA.owner === 'self' ? fromB : fromA
      assert.equal(loser.owner === 'other' && loser.replicaId, winner, `round ${round}`)
      assert.equal(loser.owner === 'other' && loser.epoch, 8)
      assert.equal(
        (await admin.query(`SELECT epoch FROM ${schema}.session_leases WHERE session_id = $1`, [sessionId]))
          .rows[0].epoch,
        '8',
      )
    }
    console.log(`# race winners: ${JSON.stringify(wins)}`)
  })

  test('an expired lease is taken over: epoch + 1, the dead holder named once', async () => {
    newSchema()
    // Its heartbeat never comes: the holder is as good as dead.
    const { book: dead } = await replica('dead', { ttlMs: 1_000, heartbeatMs: 3_600_000 })
    const { book: survivor } = await replica('survivor')
    assert.equal((await dead.acquire('s1')).owner, 'self')
    assert.equal((await survivor.acquire('s1')).owner, 'other')
    await expired(survivor, 's1')

    assert.deepEqual(await survivor.acquire('s1'), {
      owner: 'self',
      epoch: 2,
      takeover: { replicaId: 'dead' },
    })
    assert.deepEqual(await survivor.acquire('s1'), { owner: 'self', epoch: 2, takeover: null })
    assert.deepEqual(await survivor.owner('s1').then((lease) => lease?.replicaId), 'survivor')
  })

  test('a slow holder taken over loses the lease at its next heartbeat and never takes it back', async () => {
    newSchema()
    // A holder stalled past its TTL (its heartbeat is run by hand below), and a healthy replica.
    const slow = await replica('slow', { ttlMs: 1_000, heartbeatMs: 3_600_000 })
    // Renewed every second: a loaded machine may hold its heartbeat back two seconds without losing it.
    const fast = await replica('fast', { ttlMs: 3_000 })
    assert.equal((await slow.book.acquire('s1')).owner, 'self')
    assert.equal((await slow.book.acquire('s2')).owner, 'self')
    await expired(fast.book, 's1')
    assert.deepEqual(await fast.book.acquire('s1'), {
      owner: 'self',
      epoch: 2,
      takeover: { replicaId: 'slow' },
    })

    // The slow one wakes up: its heartbeat renews s2 (nobody wanted it) but not s1.
    await slow.book.renew()
    assert.deepEqual(slow.lost, ['s1'])
    assert.equal(slow.book.holds('s1'), false)
    assert.equal(slow.book.holds('s2'), true)
    assert.equal((await fast.book.owner('s2'))?.live, true, 's2 renewed by the slow holder')

    // Past the new holder's TTL, its heartbeat has kept s1; neither the slow one nor a third replica
    // takes it.
    await new Promise((resolve) => setTimeout(resolve, 4_000))
    const again = await slow.book.acquire('s1')
    assert.equal(again.owner === 'other' && again.replicaId, 'fast')
    const third = await replica('third')
    const fromThird = await third.book.acquire('s1')
    assert.equal(fromThird.owner === 'other' && fromThird.replicaId, 'fast')
    assert.equal(fromThird.owner === 'other' && fromThird.epoch, 2)
    assert.deepEqual(slow.lost, ['s1'], 'told once')
    assert.deepEqual(fast.lost, [])
    assert.ok(fast.book.holds('s1'))
  })

  test('a holder told about a takeover by its own acquire: lost, then named as the other', async () => {
    newSchema()
    const slow = await replica('slow', { ttlMs: 1_000, heartbeatMs: 3_600_000 })
    const fast = await replica('fast')
    await slow.book.acquire('s1')
    await expired(fast.book, 's1')
    await fast.book.acquire('s1')
    const seen = await slow.book.acquire('s1')
    assert.equal(seen.owner === 'other' && seen.replicaId, 'fast')
    assert.deepEqual(slow.lost, ['s1'])
    await slow.book.renew()
    assert.deepEqual(slow.lost, ['s1'], 'not told twice')
  })

  test('a holder whose heartbeat cannot reach the database gives its leases up once they may have expired', async () => {
    newSchema()
    const errors: unknown[] = []
    const cut = await replica('cut', { ttlMs: 1_000, heartbeatMs: 3_600_000, onError: (e) => errors.push(e) })
    await cut.book.acquire('s1')
    // The table locked away: every renewal waits past its statement timeout and fails.
    const locker = await admin.connect()
    try {
      await locker.query('BEGIN')
      await locker.query(`LOCK TABLE ${schema}.session_leases IN ACCESS EXCLUSIVE MODE`)
      await new Promise((resolve) => setTimeout(resolve, 1_100))
      await cut.book.renew()
      assert.equal(errors.length, 1)
      assert.match(String(errors[0]), /statement timeout/)
      assert.deepEqual(cut.lost, ['s1'])
      assert.equal(cut.book.holds('s1'), false)
    } finally {
      await locker.query('ROLLBACK')
      locker.release()
    }
  })

  test('pinned workspaces: only a replica of the same name takes an expired or released lease', async () => {
    newSchema()
    const first = await replica('pin-a', { workspaces: 'pinned', ttlMs: 1_000, heartbeatMs: 3_600_000 })
    const other = await replica('pin-b', { workspaces: 'pinned' })
    await first.book.acquire('s1')
    await expired(other.book, 's1')
    const refused = await other.book.acquire('s1')
    assert.equal(refused.owner, 'other')
    assert.equal(refused.owner === 'other' && refused.replicaId, 'pin-a')
    assert.equal(refused.owner === 'other' && refused.live, false, 'its holder is gone: the caller says so')

    // pin-a restarted (a new process under its name) takes its session back.
    const restarted = await replica('pin-a', { workspaces: 'pinned' })
    assert.deepEqual(await restarted.book.acquire('s1'), {
      owner: 'self',
      epoch: 2,
      takeover: { replicaId: 'pin-a' },
    })
    await restarted.book.release('s1')
    assert.equal((await other.book.acquire('s1')).owner, 'other', 'released, still pinned')
  })

  test('releaseAll gives every held session up in one go; forget removes the row', async () => {
    newSchema()
    const { book: draining, lost } = await replica('draining')
    const { book: next } = await replica('next')
    for (const id of ['s1', 's2', 's3']) await draining.acquire(id)
    assert.deepEqual(draining.heldSessions().sort(), ['s1', 's2', 's3'])
    await draining.releaseAll()
    assert.deepEqual(draining.heldSessions(), [])
    for (const id of ['s1', 's2', 's3'])
      assert.deepEqual(await next.acquire(id), { owner: 'self', epoch: 2, takeover: null })
    await draining.renew()
    assert.deepEqual(lost, [], 'released leases are not lost')

    await next.forget('s1')
    assert.equal(await next.owner('s1'), null)
    assert.equal(next.holds('s1'), false)
  })

  test('migrations: replicas opening at once migrate once; a newer lease table is refused', async () => {
    newSchema()
    await Promise.all([replica('a'), replica('b'), replica('c')])
    const { rows } = await admin.query(`SELECT version FROM ${schema}.cluster_migrations`)
    assert.deepEqual(
      rows.map((row) => row.version),
      [1],
    )
    await admin.query(`INSERT INTO ${schema}.cluster_migrations (version) VALUES (99)`)
    await assert.rejects(replica('d'), /has lease table version 99, newer than this gateway's 1/)
  })
})
