/**
 * The OpenAI conversation index: in memory for one gateway (the most recent keys, taken on use), in Redis for
 * replicas (one GETDEL per take, each key with its TTL), where Redis failing costs a cold start, never an
 * error.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  ConversationIndex,
  type KeyValueClient,
  SharedConversations,
} from '../../src/api/openai/conversations.js'
import { capturedLog } from '../support/captured-log.js'

test('in memory: a key is taken once, peeking leaves it, the oldest go past the capacity', async () => {
  const index = new ConversationIndex(2)
  await index.remember('a', 's1')
  await index.remember('b', 's2')
  assert.equal(await index.peek('a'), 's1')
  assert.equal(await index.take('a'), 's1')
  assert.equal(await index.take('a'), undefined)
  await index.remember('c', 's3')
  await index.remember('d', 's4')
  assert.equal(await index.peek('b'), undefined, 'the oldest went')
  assert.equal(index.size, 2)
})

/** A Redis stand-in: values with their TTLs, or failing like a Redis that is down. */
function fakeRedis() {
  const values = new Map<string, { value: string; px: number }>()
  const fake = {
    down: false,
    values,
    async set(key: string, value: string, options: { PX: number }) {
      if (fake.down) throw new Error('The client is closed')
      values.set(key, { value, px: options.PX })
    },
    async get(key: string) {
      if (fake.down) throw new Error('The client is closed')
      return values.get(key)?.value ?? null
    },
    async getDel(key: string) {
      if (fake.down) throw new Error('The client is closed')
      const found = values.get(key)?.value ?? null
      values.delete(key)
      return found
    },
  } satisfies KeyValueClient & Record<string, unknown>
  return fake
}

test('in Redis: keys under the prefix with their TTL, taken once; a failing Redis answers nothing and logs', async () => {
  const redis = fakeRedis()
  const { log, lines } = capturedLog()
  const shared = new SharedConversations(redis, 'ccgw:', 60_000, log)
  await shared.remember('k1', 's1')
  assert.deepEqual(redis.values.get('ccgw:conversation:k1'), { value: 's1', px: 60_000 })
  assert.equal(await shared.peek('k1'), 's1')
  assert.equal(await shared.take('k1'), 's1')
  assert.equal(await shared.take('k1'), undefined)

  redis.down = true
  await shared.remember('k2', 's2')
  assert.equal(await shared.take('k2'), undefined)
  assert.equal(await shared.peek('k2'), undefined)
  assert.equal(lines.filter((line) => line.level === 40).length, 3, 'each failure logged as a warning')
})
