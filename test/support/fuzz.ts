/**
 * Requests for fuzzing the gateway, generated with fast-check from the request schemas of its OpenAPI
 * document (GET /api/openapi.json): valid-ish requests derived from each route's JSON schemas, and hostile
 * mutations of them: wrong types, numbers that are not numbers (1e400, NaN, -1), deep nesting, huge and
 * strange strings (NUL, CRLF, lone surrogates, right-to-left marks), path traversal, extra and missing
 * fields, wrong content types, invalid JSON, empty bodies, odd headers. test/integration/fuzz.test.ts sends
 * them and checks the answers.
 *
 * A case is generated as data (a `FuzzCase`), never sent from here: session ids that only exist at run time
 * are symbolic (`SessionRef`) and resolved by the test.
 */
import { isAbsolute, relative, resolve } from 'node:path'
import fc from 'fast-check'

// ---- Bodies -------------------------------------------------------------------------------------------

/** JSON text put into a body as is: what JSON.stringify cannot write (1e400, NaN, 10,000 levels). */
export class RawJson {
  constructor(
    readonly text: string,
    readonly label: string,
  ) {}
}

export type BodyValue =
  | null
  | boolean
  | number
  | string
  | RawJson
  | BodyValue[]
  | { [key: string]: BodyValue }

/** A body value as JSON text: RawJson as its text, a number that is not finite as `NaN`/`Infinity`. */
export function toJsonText(value: BodyValue): string {
  if (value instanceof RawJson) return value.text
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : String(value)
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(',')}]`
  if (value !== null && typeof value === 'object')
    return `{${Object.entries(value)
      .map(([key, item]) => `${JSON.stringify(key)}:${toJsonText(item)}`)
      .join(',')}}`
  return JSON.stringify(value)
}

/** A short description of a value for labels and reports. */
export function describeValue(value: BodyValue | undefined): string {
  if (value instanceof RawJson) return value.label
  const text = value === undefined ? 'undefined' : toJsonText(value)
  return text.length > 80 ? `${text.slice(0, 60)}… (${text.length} chars)` : text
}

const deepArray = (depth: number) => new RawJson(`${'['.repeat(depth)}${']'.repeat(depth)}`, `[…] ×${depth}`)
const deepObject = (depth: number) =>
  new RawJson(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`, `{"a":…} ×${depth}`)
const raw = (text: string) =>
  new RawJson(text, text.length > 40 ? `${text.slice(0, 20)}… (${text.length})` : text)

/** Strings any field may get; those that could name something outside the test's folders go through `confine`. */
const HOSTILE_STRINGS: string[] = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\r\n',
  'x\r\nX-Injected: 1',
  '\t\v\f',
  '\u2028\u2029',
  '\ud800',
  '\udfff\ud800',
  '😀'.repeat(40),
  '\u202eevil',
  'e\u0301\u0301\u0301',
  '\ufeff',
  '..',
  '../',
  '.',
  '%2e%2e%2f',
  '__proto__',
  'constructor',
  'toString',
  '$(id)',
  '`id`',
  "'; DROP TABLE sessions; --",
  '{{7*7}}#{7*7}',
  '<script>alert(1)</script>',
  '%s%s%n',
  'null',
  'NaN',
  '-1',
  '1e400',
  'a'.repeat(100_000),
  '\u0000'.repeat(1000),
  '😀'.repeat(20_000),
  'a/'.repeat(5000),
  '*'.repeat(2000),
  '('.repeat(3000),
]

const HOSTILE_NUMBERS: BodyValue[] = [
  raw('1e400'),
  raw('-1e400'),
  raw('1e-400'),
  raw('NaN'),
  raw('Infinity'),
  raw('-Infinity'),
  raw('-0'),
  raw('9007199254740993'),
  raw('9'.repeat(400)),
  raw('1E5'),
  raw('0x10'),
  raw('01'),
  raw('.5'),
  -1,
  0,
  1.5,
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 53,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
]

const HOSTILE_SHAPES: BodyValue[] = [
  null,
  true,
  false,
  [],
  {},
  [null],
  { '': null },
  { __proto__: { polluted: true } } as unknown as BodyValue,
  raw('{"__proto__":{"polluted":true}}'),
  raw('{"constructor":{"prototype":{"polluted":true}}}'),
  deepArray(1000),
  deepArray(5000),
  deepArray(10_000),
  deepArray(100_000),
  deepObject(3000),
  deepObject(10_000),
  raw(`[${Array(50_000).fill('0').join(',')}]`),
  raw(`{${Array.from({ length: 10_000 }, (_, i) => `"k${i}":${i}`).join(',')}}`),
]

/** Any hostile JSON value: a strange string, number or shape, or random JSON. */
export const hostileValue = (paths: string[]): fc.Arbitrary<BodyValue> =>
  fc.oneof(
    { arbitrary: fc.constantFrom(...HOSTILE_STRINGS, ...paths), weight: 4 },
    { arbitrary: fc.constantFrom(...HOSTILE_NUMBERS), weight: 3 },
    { arbitrary: fc.constantFrom(...HOSTILE_SHAPES), weight: 3 },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 1 },
    { arbitrary: fc.double(), weight: 1 },
    { arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<BodyValue>, weight: 1 },
  )

/** Names of extra fields: plain, prototype-polluting, empty, huge. */
const EXTRA_KEYS = [
  'x',
  'extra',
  '__proto__',
  'constructor',
  'prototype',
  '',
  'a'.repeat(10_000),
  '\u0000',
  'type',
]

/** Whole bodies that are not what a route takes, sent as application/json unless said otherwise. */
const HOSTILE_TEXTS = [
  '',
  ' ',
  '{',
  '{"a":',
  '{"a":1,}',
  "{'a':1}",
  '\ufeff{}',
  'null',
  '[]',
  '"x"',
  '1e400',
  'nul',
  '{"a":1}{"b":2}',
  '\u0000',
  '{"content":"a","content":5}',
  `${'['.repeat(200_000)}`,
  '\u00ff\u00fe{',
]

const CONTENT_TYPES: (string | null)[] = [
  null,
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'multipart/form-data; boundary=x',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'APPLICATION/JSON',
  'application/json;;;',
  'application/octet-stream',
  '*/*',
  'application/json, text/plain',
  'application/merge-patch+json',
  'text/event-stream',
  'foo',
]

// ---- Query strings, path segments, headers ------------------------------------------------------------

/**
 * A value on the wire through `confine`, decoded first: a path segment or query value reaches the file system
 * too (an agent's name, a workspace). What does not decode is left as it is.
 */
function confineWire(value: string, confine: (value: string) => string): string {
  let decoded: string
  try {
    decoded = decodeURIComponent(value.replace(/\+/g, ' '))
  } catch {
    return value
  }
  const confined = confine(decoded)
  return confined === decoded ? value : wire(confined)
}

/** Percent-encoded UTF-8; a lone surrogate (which encodeURIComponent refuses) as the bytes WTF-8 gives it. */
export function wire(value: string): string {
  let out = ''
  for (const char of value) {
    const code = char.codePointAt(0)!
    if (code >= 0xd800 && code <= 0xdfff)
      out +=
        `%${(0xe0 | (code >> 12)).toString(16)}%${(0x80 | ((code >> 6) & 0x3f)).toString(16)}%${(0x80 | (code & 0x3f)).toString(16)}`.toUpperCase()
    else out += encodeURIComponent(char)
  }
  return out
}

/** Query values as they go on the wire (already encoded, or deliberately badly encoded). */
const HOSTILE_QUERY_VALUES = [
  '1e400',
  'Infinity',
  '-Infinity',
  'NaN',
  '-1',
  '-0',
  '1.5',
  '0x10',
  '1e3',
  '%201',
  '',
  '9'.repeat(400),
  '%00',
  '%zz',
  '%',
  '%E2%80%AE',
  '%F0%9F%98%80',
  '..%2F..%2F..%2Fetc%2Fpasswd',
  '%2Fetc%2Fpasswd',
  '%2F',
  'true',
  'null',
  '%5B%5D',
  'a'.repeat(10_000),
  '%0d%0a',
  '+',
  '%C0%AE%C0%AE',
  '%FF',
  '__proto__',
]

/** Path segments as they go on the wire. */
const HOSTILE_SEGMENTS = [
  '..',
  '.',
  '%2e%2e',
  '%2E',
  '%2F',
  '..%2F..%2F..%2Fetc%2Fpasswd',
  '%00',
  '%0d%0a',
  '%zz',
  '%',
  '%20',
  '+',
  '%E2%80%AE',
  '%F0%9F%98%80',
  'é',
  'a'.repeat(5000),
  '__proto__',
  'constructor',
  '1e400',
  '-1',
  'null',
  '%C0%AE%C0%AE',
  '%FF%FE',
  ';',
  '*',
  '~',
]

/** Bytes the HTTP parser may refuse before any route sees them: only liveness and status are checked. */
const MALFORMED_SEGMENTS = ['a b', '\u0001', '\u007f', '"', '<>', '{|}', '\\', '^', '`', 'é\u0000']

export type Header = [string, string]

const HOSTILE_HEADERS: Header[] = [
  ['X-Request-Id', 'a'.repeat(10_000)],
  ['X-Request-Id', '../../x'],
  ['X-Request-Id', ''],
  ['Accept', 'text/event-stream'],
  ['Accept', 'application/json'],
  ['Accept', 'image/png'],
  ['Authorization', 'Bearer not-a-key'],
  ['Authorization', 'bearer'],
  ['Authorization', 'Basic Zm9vOmJhcg=='],
  ['Authorization', `Bearer ${'a'.repeat(10_000)}`],
  ['Host', 'evil.example'],
  ['Host', 'localhost'],
  ['Origin', 'https://evil.example'],
  ['Origin', 'null'],
  ['Sec-Fetch-Site', 'cross-site'],
  ['Last-Event-ID', '1e400'],
  ['Last-Event-ID', '-1'],
  ['Content-Encoding', 'gzip'],
  ['Expect', '100-continue'],
]

const MALFORMED_HEADERS: Header[] = [
  ['X-Request-Id', 'a\u007fb'],
  ['X-Request-Id', 'é'],
  ['Authorization', 'Bearer \u007f'],
  ['X Bad Name', '1'],
  ['X-Folded', 'a\r\n b'],
  ['Content-Length', '-1'],
  ['Content-Length', '1e400'],
]

// ---- The document -------------------------------------------------------------------------------------

export type Schema = { [key: string]: unknown }

export interface Parameter {
  name: string
  in: 'path' | 'query' | 'header'
  required: boolean
  schema: Schema
}

export interface Operation {
  /** `METHOD /path/{param}`, as the document writes it. */
  key: string
  method: string
  path: string
  parameters: Parameter[]
  body?: { required: boolean; mediaType: string; schema: Schema }
}

export interface OpenApiDocument {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: Parameter[]
        requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> }
        responses?: Record<string, { content?: Record<string, unknown> }>
      }
    >
  >
  components?: { schemas?: Record<string, Schema> }
}

export function operationsOf(document: OpenApiDocument): Operation[] {
  const operations: Operation[] = []
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      const [mediaType, content] = Object.entries(operation.requestBody?.content ?? {})[0] ?? []
      operations.push({
        key: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        parameters: operation.parameters ?? [],
        ...(mediaType && content
          ? {
              body: { required: operation.requestBody?.required === true, mediaType, schema: content.schema },
            }
          : {}),
      })
    }
  }
  return operations.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
}

// ---- Cases --------------------------------------------------------------------------------------------

/** A session the test resolves when it sends the case. */
export type SessionRef =
  | { session: 'witness'; index: number }
  /** A session created for this case alone (what DELETE may destroy). */
  | { session: 'fresh' }
  /** A session that was deleted before fuzzing started. */
  | { session: 'closed' }

export type PathValue = SessionRef | { wire: string }

export interface FuzzCase {
  operation: Operation
  /** What was done to the valid request, for the report. */
  label: string
  method: string
  path: Record<string, PathValue>
  /** The query string on the wire, without `?`. */
  query: string
  headers: Header[]
  /** `contentType: null`: no Content-Type header. */
  body?: { contentType: string | null; text: string }
  /** The HTTP parser may refuse it before routing: only the status and liveness are checked. */
  malformed: boolean
}

export interface FuzzContext {
  /** Witness sessions: created before fuzzing, checked after it. */
  witnesses: number
  /** Valid values of body and query fields by name, or by `METHOD /path name` for one route. */
  hints: Record<string, fc.Arbitrary<BodyValue>>
  /** Valid path parameter values (on the wire) by `METHOD /path name`, or by name. */
  pathHints: Record<string, fc.Arbitrary<string>>
  /** Paths that lead out of the workspace but stay inside the test's folders (traversal, symlinks). */
  escapes: string[]
  /** Rewrites every string that could name something outside the test's folders (see `confineTo`). */
  confine: (value: string) => string
  /** Rewrites a body that would do harm if accepted (a shell command the fuzzer made up). */
  guard: (operation: Operation, body: BodyValue) => BodyValue
  /** How often a case is the valid request, against 1 for a hostile one: low for routes that run a turn. */
  validWeight: (operation: Operation) => number
  /** Session routes whose `{id}` must never be a witness (DELETE). */
  destroysSession: (operation: Operation) => boolean
  /** A body over the configured limit. */
  bodyLimitBytes: number
  /** Routes that upgrade to a WebSocket: most of their cases ask for the upgrade. */
  websocket: (operation: Operation) => boolean
}

/** The headers of a WebSocket handshake. */
const UPGRADE: Header[] = [
  ['Upgrade', 'websocket'],
  ['Connection', 'Upgrade'],
  ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
  ['Sec-WebSocket-Version', '13'],
]

/**
 * A string the fuzzer sends may reach the file system as a path (a file to write, a workspace, an agent's
 * name). Were confinement broken, `/etc/passwd` or `../../../x` would reach the machine's files: `confineTo`
 * rewrites every string that resolves outside `root` from any of `bases` to one of `escapes`, which lead
 * out of the workspace but stay inside `root`. A confinement bug then shows in the test's own folder, where
 * the test looks for it. (A NUL byte is left alone: Node refuses it in any path.)
 */
export function confineTo(root: string, bases: string[], escapes: string[]): (value: string) => string {
  const inside = (path: string) => {
    const rest = relative(root, path)
    return rest === '' || (!rest.startsWith('..') && !isAbsolute(rest))
  }
  return (value) => {
    // `~/x` and `file:///x` resolve inside as relative paths, but a server that expanded them would not.
    const expandable = /^\s*~|^file:/i.test(value)
    const risky = expandable || /^\s*[/\\]/.test(value) || value.includes('..')
    if (!risky || (!expandable && bases.every((base) => inside(resolve(base, value))))) return value
    let hash = 0
    for (const char of value) hash = (hash * 31 + (char.codePointAt(0) ?? 0)) | 0
    return escapes[Math.abs(hash) % escapes.length]!
  }
}

const constant = <T>(value: T) => fc.constant(value)

/** A valid-ish value for `schema` (resolved against `document`), with `hints` for named fields. */
export function valueFor(
  schema: Schema,
  document: OpenApiDocument,
  hint: (name: string) => fc.Arbitrary<BodyValue> | undefined,
  name?: string,
): fc.Arbitrary<BodyValue> {
  const hinted = name === undefined ? undefined : hint(name)
  if (hinted) return hinted
  const ref = schema.$ref
  if (typeof ref === 'string') {
    const target = document.components?.schemas?.[ref.replace('#/components/schemas/', '')]
    return target ? valueFor(target, document, hint, name) : fc.constant(null)
  }
  const nullable = schema.nullable === true
  const value = nonNullValueFor(schema, document, hint)
  return nullable
    ? fc.oneof({ arbitrary: value, weight: 4 }, { arbitrary: constant(null), weight: 1 })
    : value
}

function nonNullValueFor(
  schema: Schema,
  document: OpenApiDocument,
  hint: (name: string) => fc.Arbitrary<BodyValue> | undefined,
): fc.Arbitrary<BodyValue> {
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as BodyValue[]))
  for (const key of ['anyOf', 'oneOf'] as const) {
    const options = schema[key] as Schema[] | undefined
    if (options) return fc.oneof(...options.map((option) => valueFor(option, document, hint)))
  }
  if (Array.isArray(schema.allOf)) {
    const merged: Schema = { type: 'object', properties: {}, required: [] }
    for (const part of schema.allOf as Schema[]) {
      Object.assign(merged.properties as Schema, part.properties)
      ;(merged.required as string[]).push(...((part.required as string[] | undefined) ?? []))
    }
    return valueFor(merged, document, hint)
  }
  const type = Array.isArray(schema.type) ? (schema.type as string[])[0] : (schema.type as string | undefined)
  switch (type) {
    case 'string': {
      if (typeof schema.pattern === 'string') return fc.stringMatching(new RegExp(schema.pattern))
      const minLength = (schema.minLength as number | undefined) ?? 0
      const maxLength = Math.min((schema.maxLength as number | undefined) ?? minLength + 12, minLength + 12)
      return fc.string({ minLength, maxLength })
    }
    case 'integer':
    case 'number': {
      const min = (schema.minimum as number | undefined) ?? -5
      const max = Math.min((schema.maximum as number | undefined) ?? min + 100, min + 100)
      return type === 'integer'
        ? fc.integer({ min, max })
        : fc.double({ min, max, noNaN: true, noDefaultInfinity: true })
    }
    case 'boolean':
      return fc.boolean()
    case 'null':
      return constant(null)
    case 'array': {
      const items = (schema.items as Schema | undefined) ?? {}
      const minLength = (schema.minItems as number | undefined) ?? 0
      const maxLength = Math.min((schema.maxItems as number | undefined) ?? minLength + 3, minLength + 3)
      return fc.array(valueFor(items, document, hint), { minLength, maxLength })
    }
    case 'object': {
      const properties = Object.entries((schema.properties as Record<string, Schema> | undefined) ?? {})
      if (properties.length === 0)
        return schema.additionalProperties === false
          ? constant({})
          : (fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 }), {
              maxKeys: 2,
            }) as fc.Arbitrary<BodyValue>)
      const required = (schema.required as string[] | undefined) ?? []
      return fc.record(
        Object.fromEntries(
          properties.map(([key, property]) => [key, valueFor(property, document, hint, key)]),
        ),
        { requiredKeys: required },
      ) as fc.Arbitrary<BodyValue>
    }
    default:
      return fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<BodyValue>
  }
}

/** One hostile change to a body, chosen before the body it applies to is known. */
interface BodyMutation {
  kind: 'set' | 'delete' | 'replace'
  /** Which object or array of the body (in document order), modulo their number. */
  at: number
  /** An existing key (by index, modulo their number) rather than `extraKey`. */
  existing: boolean
  keyIndex: number
  extraKey: string
  value: BodyValue
}

const bodyMutation = (values: fc.Arbitrary<BodyValue>): fc.Arbitrary<BodyMutation> =>
  fc.record({
    kind: fc.constantFrom('set', 'set', 'set', 'delete', 'replace'),
    at: fc.nat(),
    existing: fc.boolean(),
    keyIndex: fc.nat(),
    extraKey: fc.oneof(fc.constantFrom(...EXTRA_KEYS), fc.string({ maxLength: 8 })),
    value: values,
  })

/** `body` changed by `mutation`, and what was done. */
function mutate(body: BodyValue, mutation: BodyMutation): { value: BodyValue; label: string } {
  if (mutation.kind === 'replace' || body === null || typeof body !== 'object' || body instanceof RawJson)
    return { value: mutation.value, label: `body ← ${describeValue(mutation.value)}` }
  const copy = structuredClone(body) as BodyValue
  const containers: { node: BodyValue[] | Record<string, BodyValue>; where: string }[] = []
  const walk = (node: BodyValue, where: string) => {
    if (node === null || typeof node !== 'object' || node instanceof RawJson) return
    containers.push({ node, where })
    if (Array.isArray(node)) for (const [i, item] of node.entries()) walk(item, `${where}[${i}]`)
    else for (const [key, item] of Object.entries(node)) walk(item, `${where}.${key}`)
  }
  walk(copy, 'body')
  const { node, where } = containers[mutation.at % containers.length]!
  if (Array.isArray(node)) {
    const index = mutation.existing && node.length > 0 ? mutation.keyIndex % node.length : node.length
    if (mutation.kind === 'delete') {
      node.splice(index, 1)
      return { value: copy, label: `${where}[${index}] removed` }
    }
    node[index] = mutation.value
    return { value: copy, label: `${where}[${index}] ← ${describeValue(mutation.value)}` }
  }
  const keys = Object.keys(node)
  const key =
    mutation.existing && keys.length > 0 ? keys[mutation.keyIndex % keys.length]! : mutation.extraKey
  if (mutation.kind === 'delete') {
    delete node[key]
    return { value: copy, label: `${where}.${key} removed` }
  }
  // defineProperty: a key named __proto__ is a field of the body, not the object's prototype.
  Object.defineProperty(node, key, {
    value: mutation.value,
    enumerable: true,
    writable: true,
    configurable: true,
  })
  return {
    value: copy,
    label: `${where}.${JSON.stringify(key).slice(0, 40)} ← ${describeValue(mutation.value)}`,
  }
}

/** Every string of a value through `confine` (RawJson left alone: it holds no paths). */
function confineAll(value: BodyValue, confine: (value: string) => string): BodyValue {
  if (typeof value === 'string') return confine(value)
  if (value === null || typeof value !== 'object' || value instanceof RawJson) return value
  if (Array.isArray(value)) return value.map((item) => confineAll(item, confine))
  const out: Record<string, BodyValue> = {}
  for (const [key, item] of Object.entries(value))
    Object.defineProperty(out, key, {
      value: confineAll(item, confine),
      enumerable: true,
      writable: true,
      configurable: true,
    })
  return out
}

/** A multipart/form-data body: fields first, then files. */
function multipart(
  fields: [string, string][],
  files: [string, string][],
): { contentType: string; text: string } {
  const boundary = 'fuzz-boundary-7d1c'
  const parts = [
    ...fields.map(([name, value]) => `Content-Disposition: form-data; name="${name}"\r\n\r\n${value}`),
    ...files.map(
      ([filename, content]) =>
        `Content-Disposition: form-data; name="files"; filename="${filename}"\r\n` +
        `Content-Type: application/octet-stream\r\n\r\n${content}`,
    ),
  ]
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    text: `${parts.map((part) => `--${boundary}\r\n${part}\r\n`).join('')}--${boundary}--\r\n`,
  }
}

interface BodyPart {
  label: string
  body?: { contentType: string | null; text: string }
}

/** The body of a case: valid, or mutated, or replaced by something that is not the route's media type. */
function bodyArbitrary(
  operation: Operation,
  context: FuzzContext,
  valid: fc.Arbitrary<BodyValue>,
): fc.Arbitrary<BodyPart> {
  const spec = operation.body
  const confine = (value: BodyValue) => context.guard(operation, confineAll(value, context.confine))
  const json = (value: BodyValue) => ({ contentType: 'application/json', text: toJsonText(confine(value)) })
  const hostile = hostileValue(context.escapes)

  if (spec?.mediaType.startsWith('multipart/')) {
    const name = fc.oneof(
      fc.constantFrom('up.txt', 'notes.txt', ...context.escapes),
      fc.constantFrom(...HOSTILE_STRINGS),
    )
    const field = fc.oneof(
      fc.constantFrom('uploads', '.', 'docs'),
      fc.constantFrom(...HOSTILE_STRINGS, ...context.escapes),
    )
    return fc.oneof(
      fc
        .record({
          path: fc.option(field, { nil: undefined }),
          overwrite: fc.option(fc.constantFrom('true', 'false', 'yes', ''), { nil: undefined }),
          files: fc.array(fc.tuple(name, fc.string({ maxLength: 20 })), { maxLength: 3 }),
        })
        .map(({ path, overwrite, files }) => {
          const fields: [string, string][] = []
          if (path !== undefined) fields.push(['path', context.confine(path)])
          if (overwrite !== undefined) fields.push(['overwrite', overwrite])
          const confined = files.map(([file, content]): [string, string] => [
            // A file name carries no line break on the wire (it would end the part's headers).
            context.confine(file).replace(/[\r\n"]/g, '_'),
            content,
          ])
          return {
            label: `multipart path=${describeValue(path ?? null)} files=${confined.map(([f]) => describeValue(f)).join(',')}`,
            body: multipart(fields, confined),
          }
        }),
      fc.constantFrom<BodyPart>(
        { label: 'multipart without boundary', body: { contentType: 'multipart/form-data', text: 'x' } },
        {
          label: 'multipart truncated',
          body: {
            contentType: 'multipart/form-data; boundary=b',
            text: '--b\r\nContent-Disposition: form-data; name="files"; filename="a"\r\n\r\nabc',
          },
        },
        { label: 'JSON instead of a form', body: { contentType: 'application/json', text: '{"files":[]}' } },
        { label: 'no body', body: undefined },
      ),
    )
  }

  const whole = fc.oneof(
    fc.constantFrom(...HOSTILE_TEXTS).map((text) => ({
      label: `body text ${describeValue(text)}`,
      body: { contentType: 'application/json', text },
    })),
    fc.tuple(valid, fc.constantFrom(...CONTENT_TYPES)).map(([value, contentType]) => ({
      label: `valid body as Content-Type ${contentType}`,
      body: { contentType, text: toJsonText(confine(value)) },
    })),
    fc.constant<BodyPart>({
      label: `body over the limit (${context.bodyLimitBytes + 1} bytes)`,
      body: { contentType: 'application/json', text: `"${'a'.repeat(context.bodyLimitBytes)}"` },
    }),
    fc.constant<BodyPart>({ label: 'no body', body: undefined }),
  )
  if (!spec) {
    // A route that takes no body gets one anyway, sometimes.
    return fc.oneof(
      { arbitrary: fc.constant<BodyPart>({ label: 'no body' }), weight: 4 },
      {
        arbitrary: hostile.map((value) => ({
          label: `unexpected body ${describeValue(value)}`,
          body: json(value),
        })),
        weight: 1,
      },
      { arbitrary: whole, weight: 1 },
    )
  }
  return fc.oneof(
    { arbitrary: valid.map((value) => ({ label: 'valid body', body: json(value) })), weight: 1 },
    {
      arbitrary: fc.tuple(valid, bodyMutation(hostile)).map(([value, mutation]) => {
        const changed = mutate(value, mutation)
        return { label: changed.label, body: json(changed.value) }
      }),
      weight: 6,
    },
    { arbitrary: whole, weight: 2 },
  )
}

/**
 * The query (or header) parameters of a case as name and value on the wire: each left out, valid (encoded)
 * or, when `hostile`, hostile; and for a query, unknown or repeated names too.
 */
function parameterPairs(
  operation: Operation,
  document: OpenApiDocument,
  context: FuzzContext,
  hostile: boolean,
  where: 'query' | 'header' = 'query',
): fc.Arbitrary<[string, string][]> {
  const hint = hintFor(operation, context)
  const params = operation.parameters.filter((param) => param.in === where)
  // A header value is text as it is; a query value is percent-encoded.
  const encode = where === 'query' ? wire : (value: string) => value
  return fc
    .tuple(
      fc.tuple(
        ...params.map((param) =>
          fc.oneof(
            {
              arbitrary: constant<string | undefined>(undefined),
              weight: param.required && !('default' in param.schema) ? 0 : 2,
            },
            {
              arbitrary: valueFor(param.schema, document, hint, param.name).map((value) =>
                encode(typeof value === 'string' ? context.confine(value) : String(value)),
              ),
              weight: 3,
            },
            { arbitrary: fc.constantFrom(...HOSTILE_QUERY_VALUES), weight: hostile ? 3 : 0 },
            { arbitrary: fc.constantFrom(...context.escapes).map(encode), weight: hostile ? 1 : 0 },
            {
              arbitrary: fc.string({ unit: 'binary', maxLength: 12 }).map((value) => wire(value)),
              weight: hostile && where === 'query' ? 1 : 0,
            },
          ),
        ),
      ),
      hostile && where === 'query'
        ? fc.array(
            fc.tuple(
              fc.constantFrom('x', '__proto__', 'limit', 'after', 'a[b]', '', 'constructor'),
              fc.constantFrom(...HOSTILE_QUERY_VALUES),
            ),
            { maxLength: 2 },
          )
        : fc.constant([] as [string, string][]),
    )
    .map(([values, extra]) => {
      const pairs: [string, string][] = []
      for (const [i, param] of params.entries()) {
        const value = values[i]
        if (value !== undefined) pairs.push([param.name, value])
      }
      return [...pairs, ...extra]
    })
}

function hintFor(operation: Operation, context: FuzzContext) {
  return (name: string) => context.hints[`${operation.key} ${name}`] ?? context.hints[name]
}

/** Every case of one operation: the valid request, or one with a hostile body, query, path or headers. */
export function caseArbitrary(
  operation: Operation,
  document: OpenApiDocument,
  context: FuzzContext,
): fc.Arbitrary<FuzzCase> {
  const hint = hintFor(operation, context)
  const pathParams = operation.parameters.filter((param) => param.in === 'path')
  const isSessionRoute = operation.path.startsWith('/api/sessions/{id}')

  // The tool routes take the input of the tool their path names: both are chosen together.
  const toolVariants = (operation.body?.schema.oneOf as Schema[] | undefined)?.filter((variant) =>
    String(variant.title ?? '').endsWith(' input'),
  )
  const namedBy = pathParams.find((param) => Array.isArray(param.schema.enum))
  const validBodyAndName: fc.Arbitrary<{ value: BodyValue; name?: string }> =
    operation.body && toolVariants?.length && namedBy
      ? fc.constantFrom(...toolVariants).chain((variant) =>
          valueFor(variant, document, hint).map((value) => ({
            value,
            name: String(variant.title).replace(/ input$/, ''),
          })),
        )
      : operation.body
        ? valueFor(operation.body.schema, document, hint).map((value) => ({ value }))
        : fc.constant({ value: null })

  const validSegment = (param: Parameter): fc.Arbitrary<PathValue> => {
    if (isSessionRoute && param.name === 'id') {
      const witness = fc.nat(context.witnesses - 1).map((index): PathValue => ({ session: 'witness', index }))
      const fresh = constant<PathValue>({ session: 'fresh' })
      return context.destroysSession(operation)
        ? fresh
        : fc.oneof({ arbitrary: witness, weight: 6 }, { arbitrary: fresh, weight: 1 })
    }
    const hinted = context.pathHints[`${operation.key} ${param.name}`] ?? context.pathHints[param.name]
    return (hinted ?? valueFor(param.schema, document, hint).map((value) => wire(String(value)))).map(
      (wire): PathValue => ({ wire }),
    )
  }
  const hostileSegment = fc.oneof(
    { arbitrary: fc.constantFrom(...HOSTILE_SEGMENTS), weight: 6 },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 16 }).map(wire), weight: 2 },
    { arbitrary: constant('closed'), weight: 1 },
  )
  const paths = fc.tuple(...pathParams.map(validSegment))

  const toCase = (
    label: string,
    parts: {
      path: PathValue[]
      name?: string
      query: [string, string][]
      body: BodyPart
      headers?: Header[]
      malformed?: boolean
    },
  ): FuzzCase => {
    const confine = (value: string) => confineWire(value, context.confine)
    const path: Record<string, PathValue> = {}
    for (const [i, param] of pathParams.entries()) {
      const value = param === namedBy && parts.name !== undefined ? { wire: parts.name } : parts.path[i]!
      path[param.name] = 'wire' in value ? { wire: confine(value.wire) } : value
    }
    return {
      operation,
      label,
      method: operation.method,
      path,
      query: parts.query.map(([key, value]) => (key === '' ? value : `${key}=${confine(value)}`)).join('&'),
      headers: [...(parts.headers ?? [])],
      ...(parts.body.body ? { body: parts.body.body } : {}),
      malformed: parts.malformed ?? false,
    }
  }

  const validBody = validBodyAndName.map(({ value, name }) => ({
    name,
    body: {
      label: 'valid body',
      body: operation.body
        ? {
            contentType: 'application/json',
            text: toJsonText(context.guard(operation, confineAll(value, context.confine))),
          }
        : undefined,
    } as BodyPart,
  }))
  const valid = fc
    .record({
      path: paths,
      body: validBody,
      query: parameterPairs(operation, document, context, false),
      headers: parameterPairs(operation, document, context, false, 'header'),
    })
    .map(({ path, body, query, headers }) =>
      toCase('valid', { path, name: body.name, query, body: body.body, headers }),
    )

  // The hostile body is made from a valid one of the same tool, as the path names it.
  const hostileBody = validBodyAndName.chain(({ value, name }) =>
    bodyArbitrary(operation, context, fc.constant(value)).map((body) => ({ body, name })),
  )
  const withHostileBody = fc
    .record({ path: paths, hostile: hostileBody, query: parameterPairs(operation, document, context, false) })
    .map(({ path, hostile: { body, name }, query }) => toCase(body.label, { path, name, query, body }))

  const withHostileQuery = fc
    .record({
      path: paths,
      body: validBody,
      query: parameterPairs(operation, document, context, true),
      headers: parameterPairs(operation, document, context, true, 'header'),
    })
    .map(({ path, body, query, headers }) =>
      toCase(
        `query ${describeValue(query.map((pair) => pair.join('=')).join('&'))}${headers.length > 0 ? ` headers ${describeValue(headers.map((pair) => pair.join(': ')).join('; '))}` : ''}`,
        { path, name: body.name, query, body: body.body, headers },
      ),
    )

  const withHostilePath = fc
    .record({
      path: paths,
      which: fc.nat(),
      segment: hostileSegment,
      body: validBody,
    })
    .map(({ path, which, segment, body }) => {
      if (pathParams.length === 0)
        return toCase('valid', { path, name: body.name, query: [], body: body.body })
      const index = which % pathParams.length
      const changed = [...path]
      changed[index] = segment === 'closed' && isSessionRoute ? { session: 'closed' } : { wire: segment }
      const named = pathParams[index] === namedBy ? undefined : body.name
      return toCase(`path {${pathParams[index]!.name}} ← ${describeValue(segment)}`, {
        path: changed,
        name: named,
        query: [],
        body: body.body,
      })
    })

  const withHostileHeaders = fc
    .record({
      path: paths,
      body: validBody,
      headers: fc.subarray(HOSTILE_HEADERS, { minLength: 1, maxLength: 3 }),
    })
    .map(({ path, body, headers }) =>
      toCase(`headers ${headers.map(([key, value]) => `${key}: ${describeValue(value)}`).join('; ')}`, {
        path,
        name: body.name,
        query: [],
        body: body.body,
        headers,
      }),
    )

  // A method the route does not take: another route's, an unknown one, or HEAD (which answers no body).
  const withOtherMethod = fc
    .record({
      path: paths,
      body: validBody,
      method: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'FOO'),
    })
    .map(({ path, body, method }) => {
      // Another method on a session's path may be DELETE: never on a witness.
      const own = path.map((value): PathValue => ('session' in value ? { session: 'fresh' } : value))
      return {
        ...toCase(`method ${method}`, { path: own, name: body.name, query: [], body: body.body }),
        method,
      }
    })

  const malformed = fc
    .record({
      path: paths,
      body: validBody,
      segment: fc.constantFrom(...MALFORMED_SEGMENTS),
      header: fc.option(fc.constantFrom(...MALFORMED_HEADERS), { nil: undefined }),
    })
    .map(({ path, body, segment, header }) =>
      toCase(
        `malformed: path ${JSON.stringify(segment)}${header ? `, header ${JSON.stringify(header)}` : ''}`,
        {
          path: pathParams.length > 0 ? [{ wire: segment }, ...path.slice(1)] : path,
          name: body.name,
          query: pathParams.length > 0 ? [] : [['', segment]],
          body: body.body,
          headers: header ? [header] : [],
          malformed: true,
        },
      ),
    )

  // A route that takes no parameters has no path to spoil: its weight goes to the other kinds.
  const cases = fc.oneof(
    { arbitrary: valid, weight: context.validWeight(operation) },
    { arbitrary: withHostileBody, weight: operation.body ? 8 : 2 },
    { arbitrary: withHostileQuery, weight: operation.parameters.some((p) => p.in === 'query') ? 4 : 1 },
    { arbitrary: withHostilePath, weight: pathParams.length > 0 ? 3 : 0 },
    { arbitrary: withHostileHeaders, weight: 2 },
    { arbitrary: withOtherMethod, weight: 1 },
    { arbitrary: malformed, weight: 1 },
  )
  if (!context.websocket(operation)) return cases
  // A WebSocket route asked for the upgrade, mostly; the plain request it refuses, sometimes.
  return fc
    .tuple(cases, fc.nat(3))
    .map(([fuzzCase, pick]) =>
      pick === 0 || fuzzCase.malformed
        ? fuzzCase
        : { ...fuzzCase, label: `${fuzzCase.label} (upgrade)`, headers: [...fuzzCase.headers, ...UPGRADE] },
    )
}
