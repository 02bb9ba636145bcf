/**
 * The admin UI's tools view: the tool calls list (web/src/views/tools/calls-model.ts), the form made from a
 * direct tool's schema (schema-form.ts, against the gateway's real schemas) and the permission rules
 * (permissions-model.ts).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { describeTools } from '../../src/tools/index.js'
import type { LiveEvent } from '../../web/src/api/types/events.js'
import type { Page } from '../../web/src/api/types/page.js'
import type { ToolPermissions } from '../../web/src/api/types/permissions.js'
import type { JsonSchema, ToolCall } from '../../web/src/api/types/tools.js'
import {
  addPage,
  callsChanged,
  EMPTY,
  filterQuery,
  inputSummary,
  mergeHead,
  NO_FILTERS,
  resultText,
} from '../../web/src/views/tools/calls-model.js'
import { addRule, changed, fileRules, ruleOf } from '../../web/src/views/tools/permissions-model.js'
import { fieldsOf, formFieldOf, inputOf } from '../../web/src/views/tools/schema-form.js'

const T0 = Date.parse('2026-12-01T10:00:00.000Z')

function call(id: string, second: number, fields: Partial<ToolCall> = {}): ToolCall {
  return {
    id,
    session_id: 's1',
    seq: second,
    name: 'Bash',
    input: { command: `echo ${id}` },
    status: 'succeeded',
    caller: 'main',
    agent: null,
    parent_tool_use_id: null,
    turn_id: 't1',
    result: { content: id, is_error: false },
    permission: null,
    started_at: new Date(T0 + second * 1000).toISOString(),
    finished_at: new Date(T0 + second * 1000 + 50).toISOString(),
    duration_ms: 50,
    ...fields,
  }
}

const page = (items: ToolCall[], total: number, offset = 0, limit = 3): Page<ToolCall> => ({
  items,
  total,
  limit,
  offset,
})
const ids = (state: { items: ToolCall[] }) => state.items.map((each) => each.id)

describe('tool calls list', () => {
  test('pages append in order; a call seen again is replaced, not repeated', () => {
    let state = addPage(EMPTY, page([call('c5', 5), call('c4', 4), call('c3', 3)], 5))
    assert.equal(state.complete, false)
    state = addPage(state, page([call('c3', 3, { status: 'failed' }), call('c2', 2)], 5, 3))
    assert.deepEqual(ids(state), ['c5', 'c4', 'c3', 'c2'])
    assert.equal(state.items[2]!.status, 'failed')
    state = addPage(state, page([call('c1', 1)], 5, 4))
    assert.equal(state.complete, true)
  })

  test('the newest page merged again: new calls on top, changed ones updated, older pages kept', () => {
    let state = addPage(EMPTY, page([call('c5', 5, { status: 'running' }), call('c4', 4), call('c3', 3)], 5))
    state = addPage(state, page([call('c2', 2), call('c1', 1)], 5, 3))
    state = mergeHead(state, page([call('c6', 6), call('c5', 5), call('c4', 4)], 6))
    assert.deepEqual(ids(state), ['c6', 'c5', 'c4', 'c3', 'c2', 'c1'])
    assert.equal(state.items[1]!.status, 'succeeded')
    assert.equal(state.total, 6)
  })

  test('a call no longer matching the filters leaves the top; a short newest page is the whole list', () => {
    let state = addPage(
      EMPTY,
      page([call('c3', 3, { status: 'running' }), call('c2', 2, { status: 'running' })], 2),
    )
    state = mergeHead(state, page([call('c2', 2, { status: 'running' })], 1))
    assert.deepEqual(ids(state), ['c2'])
    assert.equal(state.complete, true)
    // Calls of two sessions may share an id: they are two rows.
    state = addPage(EMPTY, page([call('x', 2), call('x', 1, { session_id: 's2' })], 2))
    assert.equal(state.items.length, 2)
  })

  test("filters are the route's query; the stream's call events ask for a refresh", () => {
    assert.deepEqual(filterQuery({ ...NO_FILTERS, name: ' Bash ', session: 'abc', caller: 'direct' }), {
      name: 'Bash',
      status: '',
      session_id: 'abc',
      agent: '',
      caller: 'direct',
    })
    const event = (type: string) => ({ type, seq: 1, ts: 0, sessionId: 's', pos: 1 }) as unknown as LiveEvent
    assert.equal(callsChanged([event('text.delta')]), false)
    assert.equal(callsChanged([event('text.delta'), event('tool.result')]), true)
  })

  test('a row says what the call did: the telling input field, or its JSON, cut', () => {
    assert.equal(inputSummary({ description: 'List', command: 'ls\n  -la' }), 'ls -la')
    assert.equal(inputSummary({ file_path: 'src/app.ts', limit: 3 }), 'src/app.ts')
    assert.equal(inputSummary({ todos: [1] }), '{"todos":[1]}')
    assert.equal(inputSummary({ command: 'x'.repeat(200) }, 10), `${'x'.repeat(9)}…`)
    assert.equal(resultText([{ type: 'text', text: 'a' }, { type: 'image' }]), 'a\n[image]')
    assert.equal(resultText('{"numFiles":1}'), '{\n  "numFiles": 1\n}')
    assert.equal(resultText('[not json'), '[not json')
  })
})

describe('direct tool form', () => {
  const schemaOf = (name: string) =>
    describeTools().find((tool) => tool.name === name)!.inputSchema as unknown as JsonSchema

  test("the gateway's read and search schemas become fields of the right kinds", () => {
    const read = fieldsOf(schemaOf('read'))
    assert.deepEqual(
      read.map((field) => [field.name, field.kind, field.required]),
      [
        ['file_path', 'text', true],
        ['offset', 'integer', false],
        ['limit', 'integer', false],
      ],
    )
    const search = fieldsOf(schemaOf('search'))
    assert.deepEqual(search.find((field) => field.name === 'output_mode')?.options, [
      'files_with_matches',
      'content',
      'count',
    ])
    assert.equal(search.find((field) => field.name === '-i')?.kind, 'boolean')
    assert.equal(fieldsOf(schemaOf('write')).find((field) => field.name === 'content')?.kind, 'multiline')
  })

  test('the input: blanks left out, numbers and booleans parsed, what cannot be sent named', () => {
    const search = fieldsOf(schemaOf('search'))
    assert.deepEqual(
      inputOf(search, { pattern: 'TODO', '-i': 'true', '-n': 'false', '-A': '2', path: ' ' }),
      {
        input: { pattern: 'TODO', '-i': true, '-n': false, '-A': 2 },
        errors: {},
      },
    )
    assert.deepEqual(inputOf(search, { '-A': '1.5' }).errors, {
      pattern: 'Required.',
      '-A': 'A whole number.',
    })
    // Writing an empty file is a real input.
    assert.deepEqual(inputOf(fieldsOf(schemaOf('write')), { file_path: 'empty.txt' }).input, {
      file_path: 'empty.txt',
      content: '',
    })
    const json = fieldsOf({ type: 'object', properties: { options: { type: 'object' } } })
    assert.deepEqual(inputOf(json, { options: '{"a":1}' }).input, { options: { a: 1 } })
    assert.deepEqual(inputOf(json, { options: '{' }).errors, { options: 'Not valid JSON.' })
  })

  test("an API error's field names the form's field when it is one", () => {
    const read = fieldsOf(schemaOf('read'))
    assert.equal(formFieldOf('body.file_path', read), 'file_path')
    assert.equal(formFieldOf('body', read), undefined)
    assert.equal(formFieldOf(undefined, read), undefined)
  })
})

describe('permission rules', () => {
  test('a rule is added once, trimmed; a malformed one is refused with an example', () => {
    assert.deepEqual(addRule(['Read'], ' Bash(npm test:*) '), { rules: ['Read', 'Bash(npm test:*)'] })
    assert.deepEqual(addRule(['Read'], 'Read'), { rules: ['Read'] })
    assert.deepEqual(addRule(['Read'], '  '), { rules: ['Read'] })
    assert.match(addRule([], 'not a rule').error ?? '', /tool name/)
  })

  test('the rule a refusal names; whether anything changed', () => {
    assert.deepEqual(ruleOf('body.disallowed_tools[2]'), { list: 'disallowed_tools', index: 2 })
    assert.equal(ruleOf('body.permission_mode'), undefined)
    const saved: ToolPermissions = {
      permission_mode: 'default',
      allowed_tools: [],
      disallowed_tools: [],
      ask_permissions: true,
    }
    assert.equal(changed(saved, { ...saved, allowed_tools: [] }), false)
    assert.equal(changed(saved, { ...saved, ask_permissions: false }), true)
  })

  test("a settings file's permissions: its lists and default mode, or none", () => {
    assert.deepEqual(fileRules({ allow: ['Read'], deny: 'Bash', defaultMode: 'plan' }), {
      allow: ['Read'],
      deny: [],
      ask: [],
      defaultMode: 'plan',
    })
    assert.equal(fileRules(null), null)
    assert.equal(fileRules({ additionalDirectories: ['/x'] }), null)
  })
})
