/**
 * The admin UI's agents view: the editor's form ⇄ file logic (web/src/views/agents/agent-file.ts), checked
 * against the gateway's own agent file reader, and the list's figures (web/src/views/agents/model.ts).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseAgentFile } from '../../src/agents/format.js'
import type { AgentConfig, AgentFigure, AgentListItem } from '../../web/src/api/types/agents.js'
import type { LiveEvent } from '../../web/src/api/types/events.js'
import {
  type AgentDraft,
  checkDraft,
  createBody,
  draftOf,
  errorField,
  fileOf,
  parseFile,
  patchOf,
} from '../../web/src/views/agents/agent-file.js'
import {
  agentRows,
  DEFAULT_AGENT,
  figuresChanged,
  searchRows,
  sinceOf,
} from '../../web/src/views/agents/model.js'

const config = (fields: Partial<AgentConfig> = {}): AgentConfig => ({
  name: 'reviewer',
  scope: 'user',
  path: '/home/me/.claude/agents/reviewer.md',
  description: 'Reviews changes: diffs, tests',
  prompt: 'You review changes.\n\nBe brief.',
  tools: ['Read', 'Grep'],
  disallowed_tools: null,
  model: 'sonnet',
  max_turns: 5,
  permission_mode: null,
  other_front_matter: { owner: 'platform' },
  ...fields,
})

const draft = (fields: Partial<AgentDraft> = {}): AgentDraft => ({
  name: 'reviewer',
  description: 'Reviews changes',
  prompt: 'You review changes.',
  settings: {},
  other: {},
  ...fields,
})

describe('agent file ⇄ form', () => {
  test('a config becomes a draft with only the settings that are set', () => {
    assert.deepEqual(draftOf(config()), {
      name: 'reviewer',
      description: 'Reviews changes: diffs, tests',
      prompt: 'You review changes.\n\nBe brief.',
      settings: { tools: ['Read', 'Grep'], model: 'sonnet', maxTurns: 5 },
      other: { owner: 'platform' },
    })
  })

  test('the file of a draft is read by the gateway as the same agent', () => {
    const text = fileOf(draftOf(config()))
    assert.match(
      text,
      /^---\nname: reviewer\ndescription: "Reviews changes: diffs, tests"\ntools: Read, Grep\n/,
    )
    const read = parseAgentFile(text)
    assert.equal(read.error, undefined)
    assert.equal(read.name, 'reviewer')
    assert.equal(read.description, 'Reviews changes: diffs, tests')
    assert.equal(read.prompt, 'You review changes.\n\nBe brief.')
    assert.deepEqual(read.settings, { tools: ['Read', 'Grep'], model: 'sonnet', maxTurns: 5 })
    assert.deepEqual(read.other, { owner: 'platform' })
  })

  test('a file parses back to the draft it was made of', () => {
    const original = draftOf(config())
    assert.deepEqual(parseFile(fileOf(original)).draft, original)
  })

  test('a hand-written file: tools as a YAML list, unknown keys apart, empty settings dropped', () => {
    const parsed = parseFile(
      '\uFEFF---\nname: helper\ndescription: Helps\ntools:\n  - Read\n  - mcp__github__search\ncolor:\nteam: infra\n---\nPrompt here\n',
    )
    assert.deepEqual(parsed.draft, {
      name: 'helper',
      description: 'Helps',
      prompt: 'Prompt here',
      settings: { tools: ['Read', 'mcp__github__search'] },
      other: { team: 'infra' },
    })
  })

  test('a file without front matter, with bad YAML, or with a list for front matter says why', () => {
    assert.match(parseFile('Just a prompt').error ?? '', /No front matter/)
    assert.match(parseFile('---\nname: [unclosed\n---\nx').error ?? '', /^Front matter: /)
    assert.match(parseFile('---\n- a\n- b\n---\nx').error ?? '', /not a mapping/)
  })
})

describe('what the editor sends', () => {
  test('a new agent: every field, settings under their API names, a project one with its workspace', () => {
    const edited = draft({ settings: { tools: ['Read'], maxTurns: 3 } })
    assert.deepEqual(createBody(edited, 'project', ' /work/app ').body, {
      name: 'reviewer',
      description: 'Reviews changes',
      prompt: 'You review changes.',
      scope: 'project',
      workspace: '/work/app',
      tools: ['Read'],
      max_turns: 3,
    })
    assert.deepEqual(createBody(edited, 'user', '/ignored').body?.workspace, undefined)
  })

  test('a new agent is checked first: name, description, workspace, keys the API cannot write', () => {
    const { errors } = createBody(
      draft({ name: 'Bad Name', description: ' ', other: { team: 'x' } }),
      'project',
      '',
    )
    assert.deepEqual(Object.keys(errors ?? {}).sort(), ['description', 'file', 'name', 'workspace'])
    assert.match(errors!.file!, /^team: not an agent setting/)
    assert.deepEqual(checkDraft(draft()), {})
  })

  test('a change sends only what changed; a removed setting is null', () => {
    const original = draftOf(config())
    assert.deepEqual(patchOf(original, original).body, {})
    const edited: AgentDraft = {
      ...original,
      description: 'Reviews every change',
      settings: { tools: ['Read', 'Grep', 'Bash'], maxTurns: 5 },
    }
    assert.deepEqual(patchOf(original, edited).body, {
      description: 'Reviews every change',
      tools: ['Read', 'Grep', 'Bash'],
      model: null,
    })
    // A prompt differing only by the blank lines the file format drops is the same prompt.
    assert.deepEqual(patchOf(original, { ...original, prompt: `${original.prompt}\n\n` }).body, {})
  })

  test('a change may not rename the agent, nor touch keys that are no setting', () => {
    const original = draftOf(config())
    const { errors } = patchOf(original, { ...original, name: 'critic', other: { owner: 'someone' } })
    assert.match(errors?.name ?? '', /cannot be renamed/)
    assert.match(errors?.file ?? '', /^owner: not an agent setting/)
    // Unchanged unknown keys are fine: the gateway keeps them.
    assert.equal(patchOf(original, { ...original, prompt: 'New' }).errors, undefined)
    // A hand-written file's name need not be one the gateway would write.
    const handWritten = { ...original, name: 'Code_Reviewer' }
    assert.deepEqual(patchOf(handWritten, { ...handWritten, prompt: 'New' }).body, { prompt: 'New' })
  })

  test("an API error's field is placed on the editor's field", () => {
    assert.equal(errorField('body.max_turns'), 'maxTurns')
    assert.equal(errorField('body.description'), 'description')
    assert.equal(errorField('querystring.workspace'), 'workspace')
    assert.equal(errorField('body.disallowed_tools[1]'), 'disallowedTools')
    assert.equal(errorField(undefined), 'form')
  })
})

const item = (name: string, fields: Partial<AgentListItem> = {}): AgentListItem => ({
  name,
  description: `${name} agent`,
  tools: null,
  model: null,
  scope: 'user',
  path: `/home/me/.claude/agents/${name}.md`,
  loaded: true,
  overridden: false,
  ...fields,
})

const figure = (agent: string | null, runs: number): AgentFigure => ({
  agent,
  runs,
  succeeded: runs - 1,
  success_rate: (runs - 1) / runs,
  latency_ms: { p50: 800, p95: 2400 },
  tokens: { input: 1000, output: 200 },
  cost_usd: 0.01,
})

describe('agents list', () => {
  test('figures join their agent; the default agent and unknown subagent types get rows of their own', () => {
    const rows = agentRows([item('reviewer'), item('planner')], {
      since: null,
      main: [figure('reviewer', 4), figure(null, 10)],
      subagents: [figure('reviewer', 2), figure('general-purpose', 3)],
    })
    assert.deepEqual(
      rows.map((row) => [row.name, row.main?.runs, row.subagent?.runs, row.agent !== undefined]),
      [
        ['reviewer', 4, 2, true],
        ['planner', undefined, undefined, true],
        [DEFAULT_AGENT, 10, undefined, false],
        ['general-purpose', undefined, 3, false],
      ],
    )
  })

  test('figures of a name go to the definition Claude Code uses, not the one it overrides', () => {
    const rows = agentRows(
      [
        item('reviewer', { overridden: true }),
        item('reviewer', { scope: 'project', path: '/w/.claude/agents/reviewer.md' }),
      ],
      { since: null, main: [figure('reviewer', 4)], subagents: [] },
    )
    assert.deepEqual(
      rows.map((row) => [row.key, row.main?.runs]),
      [
        ['user:reviewer', undefined],
        ['project:reviewer', 4],
      ],
    )
  })

  test('without figures yet the agents are listed alone; search looks at names and descriptions', () => {
    const rows = agentRows(
      [item('reviewer'), item('planner', { description: 'Plans migrations' })],
      undefined,
    )
    assert.equal(rows.length, 2)
    assert.deepEqual(
      searchRows(rows, 'MIGRATION').map((row) => row.name),
      ['planner'],
    )
    assert.equal(searchRows(rows, '  ').length, 2)
  })

  test('finished turns refresh the figures; the since choices are windows back from now', () => {
    const event = (type: string) => ({ type, seq: 1, ts: 0, sessionId: 's', pos: 1 }) as unknown as LiveEvent
    assert.equal(figuresChanged([event('text.delta'), event('turn.completed')]), true)
    assert.equal(figuresChanged([event('tool.call')]), false)
    assert.equal(sinceOf('', 1_000_000_000), undefined)
    assert.equal(sinceOf('24h', 1_000_000_000), 1_000_000_000 - 86_400_000)
  })
})
