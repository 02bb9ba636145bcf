/** The nesting limit on clients' JSON (src/api/json-limits.ts): counted in the text, before parsing. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { JsonTooDeepError, jsonNestingExceeds, parseLimitedJson } from '../../src/api/json-limits.js'

const arrays = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`
const objects = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`

test('objects and arrays count, up to the limit and not past it', () => {
  for (const text of [arrays(5), objects(5), '{"a":[{"b":[1]}],"c":{"d":[]}}'.replace('[1]', '[[1]]')]) {
    assert.equal(jsonNestingExceeds(text, 5), false, text)
    assert.equal(jsonNestingExceeds(text, 4), true, text)
  }
  // Siblings do not add up: only the deepest path counts.
  assert.equal(jsonNestingExceeds(`[${Array(50).fill(arrays(3)).join(',')}]`, 4), false)
  assert.equal(jsonNestingExceeds('{}', 1), false)
  assert.equal(jsonNestingExceeds('1', 1), false)
})

test('brackets inside strings do not count, escaped quotes included', () => {
  assert.equal(jsonNestingExceeds(JSON.stringify({ a: '[[[[[[[[{{{{{{' }), 1), false)
  assert.equal(jsonNestingExceeds(JSON.stringify({ a: 'say \\"[[[[[[\\" and \\\\', b: '"[[[[' }), 1), false)
  // A string that ends in an escaped backslash ends there: what follows counts again.
  assert.equal(jsonNestingExceeds(`{"a":"\\\\","b":${arrays(3)}}`, 3), true)
  assert.equal(jsonNestingExceeds(`{"a":"\\\\","b":${arrays(3)}}`, 4), false)
})

test('a hostile depth is refused in one pass, whatever the parser would have built', () => {
  const deep = arrays(1_000_000)
  const started = performance.now()
  assert.equal(jsonNestingExceeds(deep, 128), true)
  assert.ok(performance.now() - started < 1000)
  assert.throws(
    () => parseLimitedJson(objects(10_000), 128),
    (error: unknown) => {
      assert.ok(error instanceof JsonTooDeepError)
      assert.equal(error.statusCode, 400)
      assert.match(error.message, /128 levels \(server\.maxJsonDepth\)/)
      return true
    },
  )
  assert.deepEqual(parseLimitedJson('{"a":[1,{"b":2}]}', 3), { a: [1, { b: 2 }] })
})

test('text that is not JSON is left to the parser to refuse', () => {
  assert.equal(jsonNestingExceeds('{"a": "unterminated [[[[[[[[', 2), false)
  assert.throws(() => parseLimitedJson('{"a": "unterminated', 2), SyntaxError)
})
