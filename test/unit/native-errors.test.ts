import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { readFileSync } from 'node:fs'
import type { ServerResponse } from 'node:http'
import { describe, test } from 'node:test'
import { interruptOnHangUp, interruptUnlessDone } from '../../src/api/hang-up.js'
import {
  ApiError,
  ERROR_STATUS,
  fromEngineError,
  STREAM_ERROR_CODES,
  toApiError,
} from '../../src/api/native/errors.js'
import { liveSession, sessionOrThrow } from '../../src/api/native/resolve.js'
import type { SessionManager } from '../../src/engine/sessions.js'
import type { GatewayContext } from '../../src/gateway.js'

/** docs/api.md's error table: each row's codes (a row may name several) with its status ("4xx" for a class). */
function documentedCodes(): Map<string, string> {
  const text = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8')
  const section = text.slice(text.indexOf('\n## Errors\n'), text.indexOf('\n### Storage errors\n'))
  const table = section.slice(section.indexOf('| code '))
  const codes = new Map<string, string>()
  for (const row of table.split('\n')) {
    if (!row.startsWith('|')) break
    const [names = '', status = ''] = row.split('|').slice(1, 3)
    for (const [, code] of names.matchAll(/`([a-z_]+)`/g)) codes.set(code!, status.trim())
  }
  return codes
}

describe('native error codes', () => {
  test('docs/api.md lists every declared code with its status, and no other', () => {
    const documented = documentedCodes()
    assert.deepEqual([...documented.keys()].sort(), Object.keys(ERROR_STATUS).sort())
    for (const [code, status] of documented) {
      const declared = ERROR_STATUS[code as keyof typeof ERROR_STATUS]
      if (status === '4xx') assert.ok(declared >= 400 && declared < 500, code)
      else assert.equal(String(declared), status, code)
    }
  })

  test('docs/api.md names the codes that exist only inside streams', () => {
    const text = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8')
    const paragraph = text.slice(text.indexOf('Two more codes exist only inside streams'))
    const named = [...paragraph.slice(0, paragraph.indexOf('\n\n')).matchAll(/`([a-z_]+)`/g)].map((m) => m[1])
    assert.deepEqual(named.sort(), [...STREAM_ERROR_CODES].sort())
  })

  test('an error answers with its declared status, its field only when it has one', () => {
    const error = new ApiError('already_exists', 'taken', { field: 'body.name' })
    assert.equal(error.status, 409)
    assert.deepEqual(error.body, { error: { code: 'already_exists', message: 'taken', field: 'body.name' } })
    assert.deepEqual(new ApiError('internal', 'oops').body, { error: { code: 'internal', message: 'oops' } })
  })

  test("engine codes keep their statuses; invalid_request is the API's validation_error", () => {
    assert.equal(fromEngineError('session_busy', 'wait').status, 409)
    assert.equal(fromEngineError('storage_full', 'full').status, 507)
    const invalid = fromEngineError('invalid_request', 'no')
    assert.equal(invalid.code, 'validation_error')
    assert.equal(invalid.status, 400)
    assert.equal(fromEngineError('busy', 'later', 2500).retryAfter, 3)
  })

  test("a request Fastify refuses keeps Fastify's own 4xx as a bad_request", () => {
    const refused = toApiError(Object.assign(new Error('Method not allowed'), { statusCode: 405 }))
    assert.equal(refused.code, 'bad_request')
    assert.equal(refused.status, 405)
    assert.equal(toApiError(new Error('boom')).status, 500)
  })
})

describe('sessionOrThrow', () => {
  const sessions: Record<string, { id: string; state: string }> = {
    open: { id: 'open', state: 'idle' },
    shut: { id: 'shut', state: 'closed' },
  }
  const engine = { getSession: async (id: string) => sessions[id] } as unknown as SessionManager
  const thrown = async (run: () => Promise<unknown>) => {
    try {
      await run()
    } catch (error) {
      assert.ok(error instanceof ApiError)
      return { status: error.status, code: error.code, message: error.message }
    }
    assert.fail('did not throw')
  }

  test('an open session is answered, for both answers to a closed one', async () => {
    assert.equal(await sessionOrThrow(engine, 'open'), sessions.open)
    assert.equal(await sessionOrThrow(engine, 'open', { closed: 'refused' }), sessions.open)
    assert.equal(await liveSession(engine, 'open'), sessions.open)
  })

  test('a missing session is 404, whatever the answer to a closed one', async () => {
    const missing = { status: 404, code: 'not_found', message: 'Session gone does not exist' }
    assert.deepEqual(await thrown(() => sessionOrThrow(engine, 'gone')), missing)
    assert.deepEqual(await thrown(() => sessionOrThrow(engine, 'gone', { closed: 'refused' })), missing)
  })

  test('a closed session is missing (404) by default, session_closed (409) when refused', async () => {
    assert.equal(await liveSession(engine, 'shut'), undefined)
    assert.deepEqual(await thrown(() => sessionOrThrow(engine, 'shut')), {
      status: 404,
      code: 'not_found',
      message: 'Session shut does not exist',
    })
    assert.deepEqual(await thrown(() => sessionOrThrow(engine, 'shut', { closed: 'refused' })), {
      status: 409,
      code: 'session_closed',
      message: 'Session shut is closed',
    })
  })
})

describe('interrupt on hang-up', () => {
  function gateway() {
    const interrupted: string[] = []
    const context = {
      engine: {
        interrupt: async (id: string) => {
          interrupted.push(id)
          return true
        },
      },
      log: { warn: () => undefined },
    } as unknown as GatewayContext
    return { context, interrupted }
  }
  const flush = () => new Promise((resolve) => setImmediate(resolve))

  test('a caller who leaves before the answer is done interrupts its turn, once', async () => {
    const { context, interrupted } = gateway()
    const raw = new EventEmitter() as ServerResponse
    interruptOnHangUp(raw, context, 's1', () => false)
    raw.emit('close')
    raw.emit('close')
    await flush()
    assert.deepEqual(interrupted, ['s1'])
  })

  test('a finished answer, or one no longer watched, interrupts nothing', async () => {
    const { context, interrupted } = gateway()
    const done = new EventEmitter() as ServerResponse
    interruptOnHangUp(done, context, 's1', () => true)
    done.emit('close')
    const detached = new EventEmitter() as ServerResponse
    interruptOnHangUp(detached, context, 's2', () => false)()
    detached.emit('close')
    interruptUnlessDone(context, 's3', () => true)()
    await flush()
    assert.deepEqual(interrupted, [])
  })

  test('a failed interrupt is logged, not thrown', async () => {
    const warned: unknown[] = []
    const context = {
      engine: { interrupt: () => Promise.reject(new Error('gone')) },
      log: { warn: (fields: unknown) => warned.push(fields) },
    } as unknown as GatewayContext
    interruptUnlessDone(context, 's1', () => false)()
    await flush()
    assert.equal(warned.length, 1)
  })
})
