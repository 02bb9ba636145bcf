/**
 * Claude's transcripts between this replica's config folder and the store every replica reads (the SDK's
 * InMemorySessionStore stands in for PostgreSQL): a fork or an agent removal works on the store's whole
 * conversation, and what the gateway writes reaches the store.
 */
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { InMemorySessionStore } from '@anthropic-ai/claude-agent-sdk'
import { projectSlug, transcriptAgent, transcriptPath } from '../../src/engine/claude-home.js'
import { clearAgentEverywhere, pullTranscript, pushTranscript } from '../../src/engine/transcript-mirror.js'
import { tempDir } from '../support/temp-dir.js'

const user = (content: string, uuid: string) => ({ type: 'user', uuid, message: { role: 'user', content } })

/**
 * Session `abc` in a workspace of its own (`root`, removed after the test): where this replica keeps its
 * transcript (`location`), and the store every replica reads with its key there.
 */
function mirrorOf(t: TestContext) {
  const root = realpathSync(tempDir(t, 'ccgw-mirror-'))
  const store = new InMemorySessionStore()
  const location = { configDir: join(root, 'config'), cwd: root, sessionId: 'abc' }
  const key = { projectKey: projectSlug(root), sessionId: 'abc' }
  return { root, store, location, key }
}

test("the store's copy replaces the stale local file; the gateway's own transcript is pushed whole", async (t) => {
  const { root, store, location, key } = mirrorOf(t)
  await store.append(key, [user('one', 'u1'), user('two', 'u2')])

  const path = await transcriptPath(location)
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, `${JSON.stringify(user('one', 'u1'))}\n`)
  await pullTranscript(store, location)
  const local = readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))
  assert.deepEqual(local, [user('one', 'u1'), user('two', 'u2')])

  await pullTranscript(store, { ...location, sessionId: '../escape' })
  await pullTranscript(store, { ...location, sessionId: 'unknown' })
  assert.equal(readFileSync(path, 'utf8').trim().split('\n').length, 2, 'nothing else written')

  const other = await transcriptPath({ ...location, sessionId: 'def' })
  writeFileSync(other, `${JSON.stringify(user('three', 'u3'))}\n`)
  await pushTranscript(store, other, 'def')
  assert.deepEqual(await store.load({ projectKey: projectSlug(root), sessionId: 'def' }), [
    user('three', 'u3'),
  ])
})

test('an agent removed on a resumed session is cleared in the store too', async (t) => {
  const { store, location, key } = mirrorOf(t)
  // The agent was set in a turn that ran after a resume: only the store has it.
  await store.append(key, [
    user('one', 'u1'),
    { type: 'agent-setting', agentSetting: 'parrot', sessionId: 'abc' },
  ])

  await clearAgentEverywhere(store, location)
  assert.equal(await transcriptAgent(location), null, 'cleared in the local file')
  const stored = (await store.load(key))!
  assert.deepEqual(stored.at(-1), { type: 'agent-setting', agentSetting: '', sessionId: 'abc' })

  await clearAgentEverywhere(store, location)
  assert.equal((await store.load(key))!.length, stored.length, 'already cleared: nothing appended')
})
