/** Claude Code agent files (src/agents): parsing as Claude Code does, strict writing, the two scopes on disk. */
import assert from 'node:assert/strict'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { describe, type TestContext, test } from 'node:test'
import {
  AgentError,
  type AgentErrorCode,
  agentsDir,
  builtinAgentsOf,
  createAgent,
  deleteAgent,
  formatAgentFile,
  listAgents,
  parseAgentFile,
  patchAgentFile,
  readAgent,
  updateAgent,
  validateAgent,
} from '../../src/agents/index.js'
import {
  clearTranscriptAgent,
  projectSlug,
  transcriptAgent,
  transcriptPath,
} from '../../src/engine/claude-home.js'
import { raceFolderWithSymlink, raceOutcomes, treeOf } from '../support/symlink-race.js'

const PIRATE = `---
name: pirate
description: Talks like a pirate
tools: Read, Grep
model: sonnet
---

You are a pirate.
Say arr.
`

/** Asserts `action` fails with an AgentError of `code` (and `field`). */
async function rejects(action: () => unknown, code: AgentErrorCode, field?: string): Promise<void> {
  await assert.rejects(
    async () => action(),
    (error: unknown) => {
      assert.ok(error instanceof AgentError, String(error))
      assert.equal(error.code, code, error.message)
      if (field !== undefined) assert.equal(error.field, field)
      return true
    },
  )
}

describe('parsing agent files', () => {
  test('front matter and prompt, tools as a comma list or a YAML list', () => {
    const parsed = parseAgentFile(PIRATE)
    assert.equal(parsed.error, undefined)
    assert.equal(parsed.name, 'pirate')
    assert.equal(parsed.description, 'Talks like a pirate')
    assert.deepEqual(parsed.settings, { tools: ['Read', 'Grep'], model: 'sonnet' })
    assert.equal(parsed.prompt, 'You are a pirate.\nSay arr.')

    const listed = parseAgentFile(
      '\uFEFF---\r\nname: a\r\ndescription: d\r\ntools:\r\n  - Bash\r\n  - Edit\r\ncolor: blue\r\nowner: me\r\n---\r\nBody\r\n',
    )
    assert.equal(listed.error, undefined)
    assert.deepEqual(listed.settings, { tools: ['Bash', 'Edit'], color: 'blue' })
    assert.deepEqual(listed.other, { owner: 'me' })
    assert.equal(listed.prompt, 'Body')
  })

  test('what makes Claude Code skip a file is reported, never thrown', () => {
    assert.match(parseAgentFile('just text').error!, /No YAML front matter/)
    assert.match(parseAgentFile('---\nname: [oops\n---\nx').error!, /Invalid YAML/)
    assert.match(parseAgentFile('---\n- a\n- b\n---\nx').error!, /not a mapping/)
    assert.match(parseAgentFile('---\n---\nx').error!, /"name"/)
    assert.match(parseAgentFile('---\nname: a\n---\nx').error!, /"description"/)
    assert.match(parseAgentFile('---\nname: -a\ndescription: d\n---\n').error!, /must not start/)
    assert.match(parseAgentFile('---\nname: "a:b"\ndescription: d\n---\n').error!, /":"/)
    assert.equal(parseAgentFile('---\nname: My Agent\ndescription: d\n---\n').error, undefined)
  })
})

describe('writing agent files', () => {
  test('a new file round-trips; tools are written the documented way', () => {
    const text = formatAgentFile({
      name: 'reviewer',
      description: 'Reviews code: carefully.\nSecond line',
      prompt: '  Review the diff.  \n',
      tools: ['Read', 'Grep', 'Bash(git diff:*)'],
      model: 'inherit',
      maxTurns: 5,
      effort: 'high',
      permissionMode: 'plan',
    })
    assert.match(text, /^---\nname: reviewer\n/)
    assert.match(text, /\ntools: Read, Grep, Bash\(git diff:\*\)\n/)
    assert.ok(text.endsWith('---\n\nReview the diff.\n'))
    const parsed = parseAgentFile(text)
    assert.equal(parsed.error, undefined)
    assert.equal(parsed.description, 'Reviews code: carefully.\nSecond line')
    assert.deepEqual(parsed.settings, {
      tools: ['Read', 'Grep', 'Bash(git diff:*)'],
      model: 'inherit',
      maxTurns: 5,
      effort: 'high',
      permissionMode: 'plan',
    })
    // A tool name with a comma needs a YAML list.
    const withComma = formatAgentFile({ name: 'a', description: 'd', prompt: 'p', tools: ['X(a,b)', 'Read'] })
    assert.deepEqual(parseAgentFile(withComma).settings.tools, ['X(a,b)', 'Read'])
  })

  test('validation names the field', async () => {
    const base = { name: 'ok', description: 'd', prompt: 'p' }
    for (const name of ['', 'Upper', '-dash', 'a_b', 'a'.repeat(65), '../x'])
      await rejects(() => validateAgent({ ...base, name }), 'invalid', 'name')
    validateAgent({ ...base, name: `a${'-'.repeat(63)}` })
    await rejects(() => validateAgent({ ...base, description: '  ' }), 'invalid', 'description')
    await rejects(() => validateAgent({ ...base, prompt: 3 as unknown as string }), 'invalid', 'prompt')
    await rejects(() => validateAgent({ ...base, tools: 'Read' as unknown as string[] }), 'invalid', 'tools')
    await rejects(() => validateAgent({ ...base, tools: ['Read', ''] }), 'invalid', 'tools')
    await rejects(() => validateAgent({ ...base, model: '' }), 'invalid', 'model')
    await rejects(() => validateAgent({ ...base, maxTurns: 0 }), 'invalid', 'maxTurns')
    await rejects(() => validateAgent({ ...base, effort: 'huge' }), 'invalid', 'effort')
    await rejects(() => validateAgent({ ...base, permissionMode: 'yolo' }), 'invalid', 'permissionMode')
    await rejects(
      () => validateAgent({ ...base, background: 'yes' as unknown as boolean }),
      'invalid',
      'background',
    )
    await rejects(
      () => validateAgent({ ...base, colour: 'red' } as unknown as Parameters<typeof validateAgent>[0]),
      'invalid',
      'colour',
    )
  })

  test('a patch merges: comments and unknown keys kept, null removes, the name stays', async () => {
    const original = `---
# maintained by hand
name: pirate
description: Talks like a pirate
tools: Read, Grep
owner: me
---
Old prompt
`
    const patched = patchAgentFile(original, { model: 'haiku', tools: null, prompt: 'New prompt' })
    assert.match(patched, /# maintained by hand/)
    const parsed = parseAgentFile(patched)
    assert.equal(parsed.name, 'pirate')
    assert.equal(parsed.description, 'Talks like a pirate')
    assert.deepEqual(parsed.settings, { model: 'haiku' })
    assert.deepEqual(parsed.other, { owner: 'me' })
    assert.equal(parsed.prompt, 'New prompt')
    assert.equal(parseAgentFile(patchAgentFile(original, { description: 'Arr' })).prompt, 'Old prompt')
    // A file that lacks its description is repaired by giving one.
    assert.equal(
      parseAgentFile(patchAgentFile('---\nname: x\n---\nP', { description: 'd' })).error,
      undefined,
    )

    await rejects(() => patchAgentFile(original, { maxTurns: -1 }), 'invalid', 'maxTurns')
    await rejects(() => patchAgentFile(original, { description: '' }), 'invalid', 'description')
    await rejects(() => patchAgentFile(original, { name: 'other' } as AgentPatchWithName), 'invalid', 'name')
    await rejects(() => patchAgentFile('no front matter', { model: 'x' }), 'unreadable')
    await rejects(() => patchAgentFile('---\nname: x\n---\nP', { model: 'x' }), 'invalid', 'description')
  })
})

type AgentPatchWithName = Parameters<typeof patchAgentFile>[1]

describe('agent files on disk', () => {
  function dirs(t: TestContext) {
    const root = realpathSync(mkdtempSync(join(tmpdir(), 'ccgw-agents-')))
    t.after(() => rmSync(root, { recursive: true, force: true }))
    const configDir = join(root, 'config')
    const workspace = join(root, 'workspace')
    mkdirSync(workspace, { recursive: true })
    return { root, locations: { configDir, workspace } }
  }
  const put = (path: string, text: string) => {
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, text)
  }

  test('both scopes are listed, subfolders included, broken files with an error', async (t) => {
    const { locations } = dirs(t)
    assert.deepEqual(await listAgents(locations), [])
    const user = agentsDir('user', locations)
    const project = agentsDir('project', locations)
    assert.equal(project, join(locations.workspace, '.claude', 'agents'))
    put(join(user, 'pirate.md'), PIRATE)
    put(join(user, 'team', 'file-name.md'), '---\nname: nested\ndescription: In a subfolder\n---\nN')
    put(join(user, 'broken.md'), '---\nname: [\n---\n')
    put(join(user, 'notes.txt'), 'not an agent')
    put(join(project, 'pirate.md'), '---\nname: pirate\ndescription: The project pirate\n---\nP')

    const all = await listAgents(locations)
    assert.deepEqual(
      all.map(({ name, scope, error }) => ({ name, scope, broken: Boolean(error) })),
      [
        { name: 'broken', scope: 'user', broken: true },
        { name: 'nested', scope: 'user', broken: false },
        { name: 'pirate', scope: 'user', broken: false },
        { name: 'pirate', scope: 'project', broken: false },
      ],
    )
    const pirate = all.find((agent) => agent.name === 'pirate' && agent.scope === 'user')!
    assert.deepEqual(pirate, {
      name: 'pirate',
      description: 'Talks like a pirate',
      tools: ['Read', 'Grep'],
      model: 'sonnet',
      scope: 'user',
      path: join(user, 'pirate.md'),
    })
    assert.deepEqual(
      (await listAgents({ configDir: locations.configDir })).map((agent) => agent.scope),
      ['user', 'user', 'user'],
    )
    // The project's definition wins, as in Claude Code.
    assert.equal((await readAgent('pirate', locations)).description, 'The project pirate')
    assert.equal((await readAgent('pirate', locations, 'user')).prompt, 'You are a pirate.\nSay arr.')
    assert.equal((await readAgent('nested', locations)).path, join(user, 'team', 'file-name.md'))
    await rejects(() => readAgent('nobody', locations), 'not_found')
    await rejects(
      () => readAgent('pirate', { configDir: locations.configDir }, 'project'),
      'invalid',
      'workspace',
    )
  })

  test('create, refuse to overwrite unless asked, update, delete', async (t) => {
    const { locations } = dirs(t)
    const input = { name: 'helper', description: 'Helps', prompt: 'Help.', tools: ['Read'] }
    const created = await createAgent(input, 'project', locations)
    const path = join(locations.workspace, '.claude', 'agents', 'helper.md')
    assert.equal(created.path, path)
    assert.equal(created.scope, 'project')
    assert.equal(created.prompt, 'Help.')
    assert.equal(readFileSync(path, 'utf8'), formatAgentFile(input))
    await rejects(() => createAgent(input, 'project', locations), 'exists')
    const replaced = await createAgent({ ...input, prompt: 'Help more.' }, 'project', locations, {
      overwrite: true,
    })
    assert.equal(replaced.prompt, 'Help more.')
    await rejects(() => createAgent({ ...input, name: 'Bad Name' }, 'user', locations), 'invalid', 'name')
    assert.equal(existsSync(agentsDir('user', locations)), false, 'nothing written for an invalid agent')

    // A file of another name that defines the agent counts as the agent.
    put(join(agentsDir('user', locations), 'old-name.md'), '---\nname: helper\ndescription: Old\n---\nOld')
    await rejects(() => createAgent(input, 'user', locations), 'exists')
    await rejects(() => updateAgent('helper', { model: 'opus' }, locations), 'ambiguous', 'scope')
    const updated = await updateAgent('helper', { model: 'opus', description: 'Newer' }, locations, 'user')
    assert.equal(updated.path, join(agentsDir('user', locations), 'old-name.md'))
    assert.equal(updated.model, 'opus')
    assert.equal(updated.prompt, 'Old')
    await rejects(() => updateAgent('helper', { maxTurns: 0 }, locations, 'user'), 'invalid', 'maxTurns')
    await rejects(() => updateAgent('nobody', { model: 'x' }, locations), 'not_found')

    await rejects(() => deleteAgent('helper', locations), 'ambiguous')
    assert.equal((await deleteAgent('helper', locations, 'user')).scope, 'user')
    assert.equal(existsSync(join(agentsDir('user', locations), 'old-name.md')), false)
    // Only the project's is left: no scope needed now.
    assert.equal((await deleteAgent('helper', locations)).path, path)
    assert.equal(existsSync(path), false)
    await rejects(() => deleteAgent('helper', locations), 'not_found')
  })

  test('paths stay inside their scope', async (t) => {
    const { root, locations } = dirs(t)
    const outside = join(root, 'outside')
    mkdirSync(outside)
    writeFileSync(join(outside, 'secret.md'), '---\nname: secret\ndescription: s\n---\nSECRET')
    // A file linking out of the user's agents folder: listed with an error, never read or written through.
    const user = agentsDir('user', locations)
    mkdirSync(user, { recursive: true })
    symlinkSync(join(outside, 'secret.md'), join(user, 'secret.md'))
    const [listed] = await listAgents({ configDir: locations.configDir })
    assert.equal(listed!.name, 'secret')
    assert.match(listed!.error!, /outside the agents folder/)
    await rejects(() => readAgent('secret', locations, 'user'), 'outside_scope')
    await rejects(() => updateAgent('secret', { model: 'x' }, locations, 'user'), 'outside_scope')
    await rejects(
      () =>
        createAgent({ name: 'secret', description: 'd', prompt: 'p' }, 'user', locations, {
          overwrite: true,
        }),
      'outside_scope',
    )
    assert.match(readFileSync(join(outside, 'secret.md'), 'utf8'), /SECRET/)
    await deleteAgent('secret', locations, 'user')
    assert.ok(existsSync(join(outside, 'secret.md')), 'the link went, not its target')

    // A project whose .claude links out of the workspace.
    symlinkSync(outside, join(locations.workspace, '.claude'))
    await rejects(
      () => createAgent({ name: 'x', description: 'd', prompt: 'p' }, 'project', locations),
      'outside_scope',
    )
    assert.equal(existsSync(join(outside, 'agents')), false, 'nothing created outside')
    mkdirSync(join(outside, 'agents'))
    await rejects(() => listAgents(locations), 'outside_scope')
    await rejects(() => readAgent('x', locations, 'project'), 'outside_scope')
  })

  test('a project folder swapped for a symlink during calls leads nowhere out (race)', async (t) => {
    const { root, locations } = dirs(t)
    const outside = join(root, 'outside')
    put(join(outside, 'agents', 'secret.md'), '---\nname: secret\ndescription: OUTSIDE\n---\nOUTSIDE SECRET')
    put(join(agentsDir('project', locations), 'mine.md'), '---\nname: mine\ndescription: d\n---\ninside')
    const race = raceFolderWithSymlink(join(locations.workspace, '.claude'), outside)
    const { leaks, unexpected, settle } = raceOutcomes(AgentError)
    try {
      const deadline = Date.now() + 3_000
      for (let i = 0; Date.now() < deadline; i++) {
        const agent = { name: `a${i}`, description: 'd', prompt: 'p' }
        await Promise.all([
          // Several creates at once: each one's window between its checks and its write is a chance.
          ...[0, 1, 2, 3, 4, 5].map((k) =>
            settle('create', () => createAgent({ ...agent, name: `a${i}-${k}` }, 'project', locations)),
          ),
          settle('overwrite', () =>
            createAgent({ ...agent, name: 'mine' }, 'project', locations, { overwrite: true }),
          ),
          settle('update', () => updateAgent('mine', { model: 'haiku' }, locations, 'project')),
          settle('list', () => listAgents(locations)),
          settle('read', () => readAgent('mine', locations, 'project')),
          settle('delete', () => deleteAgent('secret', locations, 'project')),
        ])
      }
    } finally {
      await race.stop()
    }
    assert.deepEqual(
      treeOf(outside),
      ['agents', 'agents/secret.md'],
      'nothing was created or removed outside',
    )
    assert.match(readFileSync(join(outside, 'agents', 'secret.md'), 'utf8'), /OUTSIDE SECRET$/)
    assert.deepEqual(leaks, [], 'no outside content was returned')
    assert.deepEqual(unexpected, [], 'every failure is an AgentError')
  })

  test('built-in agents are the reported ones no file defines', async (t) => {
    const { locations } = dirs(t)
    put(join(agentsDir('user', locations), 'pirate.md'), PIRATE)
    put(join(agentsDir('project', locations), 'p.md'), '---\nname: proj\ndescription: d\n---\n')
    const reported = [
      { name: 'Explore', description: 'e' },
      { name: 'pirate', description: 'p' },
      { name: 'proj', description: 'q' },
    ]
    assert.deepEqual(
      (await builtinAgentsOf(reported, locations)).map((agent) => agent.name),
      ['Explore'],
    )
    assert.deepEqual(
      (await builtinAgentsOf(reported, { configDir: locations.configDir })).map((agent) => agent.name),
      ['Explore', 'proj'],
    )
  })
})

describe("a session's main agent in its transcript", () => {
  test('an empty agent-setting record is appended only when the last one names an agent', async (t) => {
    const root = realpathSync(mkdtempSync(join(tmpdir(), 'ccgw-agents-')))
    t.after(() => rmSync(root, { recursive: true, force: true }))
    const options = { configDir: join(root, 'config'), cwd: root, sessionId: 'abc' }
    const path = await transcriptPath(options)
    assert.equal(path, join(root, 'config', 'projects', projectSlug(root), 'abc.jsonl'))
    assert.equal(await clearTranscriptAgent(options), false, 'no transcript: nothing to do')

    const line = (record: object) => `${JSON.stringify(record)}\n`
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, line({ type: 'user', message: { role: 'user', content: 'hi' } }))
    assert.equal(await clearTranscriptAgent(options), false, 'no agent recorded')
    writeFileSync(
      path,
      line({ type: 'agent-setting', agentSetting: 'old', sessionId: 'abc' }) +
        line({ type: 'user', message: { role: 'user', content: 'x' } }) +
        JSON.stringify({ type: 'agent-setting', agentSetting: 'parrot', sessionId: 'abc' }),
    )
    assert.equal(await transcriptAgent(options), 'parrot')
    assert.equal(await clearTranscriptAgent(options), true)
    assert.equal(await transcriptAgent(options), null)
    const lines = readFileSync(path, 'utf8').split('\n')
    assert.deepEqual(JSON.parse(lines.at(-2)!), { type: 'agent-setting', agentSetting: '', sessionId: 'abc' })
    assert.equal(lines.at(-1), '')
    assert.equal(await clearTranscriptAgent(options), false, 'already cleared')
  })
})
