/** JSON calls to a gateway's native API, and the check of its error shape, as the integration tests make them. */
import assert from 'node:assert/strict'
import type { Gateway } from '../../src/gateway.js'

export interface Json {
  [key: string]: unknown
}

export interface NativeAnswer {
  status: number
  headers: Headers
  /** The body as received. */
  raw: string
  /** The body parsed, when the answer is JSON; else null (an empty body, a Markdown export...). */
  body: Json
}

/**
 * Calls to the gateway `current()` returns when the call is made: a suite starts its gateway after declaring
 * its helpers, and a test may restart it.
 */
export function nativeClient(current: () => Gateway) {
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<NativeAnswer> => {
    const response = await fetch(`${current().url}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const raw = await response.text()
    const isJson = response.headers.get('content-type')?.startsWith('application/json') ?? false
    return {
      status: response.status,
      headers: response.headers,
      raw,
      body: (raw && isJson ? JSON.parse(raw) : null) as Json,
    }
  }
  /** Creates a session (`body`: its settings) and returns its id. */
  const createSession = async (body: Json = {}): Promise<string> => {
    const created = await call('POST', '/api/sessions', body)
    assert.equal(created.status, 201, created.raw)
    return created.body.id as string
  }
  return { call, createSession }
}

/** Asserts an answer is the native error shape with this status, code and (when given) field; returns the error. */
export function expectError(
  answer: { status: number; body: Json },
  status: number,
  code: string,
  field?: string,
): Json {
  assert.equal(answer.status, status, JSON.stringify(answer.body))
  const error = answer.body.error as Json
  assert.equal(error.code, code)
  if (field !== undefined) assert.equal(error.field, field)
  return error
}

/** Asserts an answer is a 400 `validation_error` naming `field` (when given); returns the error. */
export const expectInvalid = (answer: { status: number; body: Json }, field?: string): Json =>
  expectError(answer, 400, 'validation_error', field)
