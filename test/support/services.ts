/**
 * The servers some suites need beside the gateway: PostgreSQL and Redis, which the machines run on
 * 127.0.0.1 (TEST_POSTGRES_URL, CCGW_TEST_REDIS_URL to point elsewhere). A suite whose server does not
 * answer is skipped, saying why; under CI (CI=true) it runs and fails instead: there the servers must run.
 */
import pg from 'pg'
import { createClient } from 'redis'

export const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
export const REDIS_URL = process.env.CCGW_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

async function postgresProblem(): Promise<string | false> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3_000 })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.query('SELECT 1')
    return false
  } catch (error) {
    const why = (error as Error).message || (error as { code?: string }).code
    return `PostgreSQL unreachable at ${POSTGRES_URL}: ${why}`
  } finally {
    await client.end().catch(() => {})
  }
}

async function redisProblem(): Promise<string | false> {
  const probe = createClient({ url: REDIS_URL, socket: { connectTimeout: 2_000, reconnectStrategy: false } })
  probe.on('error', () => {})
  try {
    await probe.connect()
    await probe.close()
    return false
  } catch (error) {
    probe.destroy()
    return `Redis unreachable at ${REDIS_URL}: ${(error as Error).message}`
  }
}

/**
 * The `skip` option of a suite that needs these servers: false when they answer (or under CI, where a
 * missing one fails the suite), else the reason, printed once.
 */
export async function servicesSkip(
  suite: string,
  needs: { postgres?: boolean; redis?: boolean },
): Promise<string | false> {
  const problems = (
    await Promise.all([needs.postgres && postgresProblem(), needs.redis && redisProblem()])
  ).filter((problem): problem is string => typeof problem === 'string')
  if (problems.length === 0) return false
  const reason = problems.join('; ')
  if (process.env.CI === 'true') {
    console.log(`# ${suite}: failing, in CI: ${reason}`)
    return false
  }
  console.log(`# ${suite} skipped: ${reason}`)
  return reason
}

/** Deletes the keys a test's deployment left in Redis under `prefix` (OpenAI conversations, say). */
export async function dropRedisKeys(prefix: string): Promise<void> {
  const client = createClient({ url: REDIS_URL, socket: { reconnectStrategy: false } })
  client.on('error', () => {})
  await client.connect()
  try {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 }))
      if (keys.length > 0) await client.del(keys)
  } finally {
    await client.close()
  }
}
