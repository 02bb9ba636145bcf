/**
 * Fuzzing every route (issue 11): requests generated with fast-check from the schemas of the served OpenAPI
 * document, valid-ish and hostile (test/support/fuzz.ts), against a real gateway driving the real Claude
 * Code CLI. One bad request must never answer 5xx (other than 503 with Retry-After or 507), answer an error
 * in another shape than its API's, break the gateway for the next request, leak or write a file outside the
 * workspace, or leave a session unable to take a turn.
 *
 * Seeded and bounded in time: FUZZ_SEED (printed), FUZZ_SECONDS for the search over all routes,
 * FUZZ_SHRINK_SECONDS to shrink each failure. To replay a failure, set FUZZ_SEED, FUZZ_ROUTE and FUZZ_PATH
 * as its report says. FUZZ_RUNS (runs per route, no time limit) makes a run exactly reproducible.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import fc from 'fast-check'
import type { Config } from '../../src/config/index.js'
import type { Gateway } from '../../src/gateway.js'
import {
  type BodyValue,
  caseArbitrary,
  confineTo,
  type FuzzCase,
  type FuzzContext,
  type OpenApiDocument,
  type Operation,
  operationsOf,
  RawJson,
} from '../support/fuzz.js'
import { type TestHome, testConfig, testGateway, testHome } from '../support/harness.js'
import { type Json, nativeClient } from '../support/native-client.js'
import { type RawResponse, rawRequest } from '../support/raw-http.js'
import { routesOf } from '../support/routes.js'

const SEED = Number(process.env.FUZZ_SEED ?? 20261106)
const SECONDS = Number(process.env.FUZZ_SECONDS ?? 25)
const SHRINK_SECONDS = Number(process.env.FUZZ_SHRINK_SECONDS ?? 20)
const RUNS = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : undefined
const ONLY_ROUTE = process.env.FUZZ_ROUTE
const REPLAY_PATH = process.env.FUZZ_PATH
/** A request (a turn included: the scripted model answers at once) that takes longer has hung. */
const REQUEST_TIMEOUT_MS = Number(process.env.FUZZ_REQUEST_TIMEOUT_MS ?? 20_000)

/**
 * Served routes that are not fuzzed, each with the reason; none so far (an event stream is read up to its
 * headers, a WebSocket up to its upgrade). The routes come from the OpenAPI document, which the first test
 * checks lists every route Fastify serves: a new route is fuzzed without a change here.
 */
const NOT_FUZZED: Record<string, string> = {}

/** Routes whose accepted requests run a Claude Code turn (seconds each): mostly hostile cases there. */
const RUNS_A_TURN = [
  'POST /api/sessions/{id}/messages',
  'POST /api/sessions/{id}/project/init',
  'POST /api/sessions/{id}/commands/{name}',
  'POST /v1/chat/completions',
]

/** Commands a session runs safely: the gateway's own, Claude Code's that take a turn, an unknown one. */
const COMMANDS = [
  'help',
  'status',
  'usage',
  'cost',
  'context',
  'clear',
  'compact',
  'model',
  'no-such-command',
]
/** What the direct bash tool may run: nothing that reaches outside the workspace or lasts. */
const SAFE_COMMANDS = [
  'true',
  'false',
  'echo hi',
  'ls -a',
  'cat notes.txt',
  'pwd',
  'exit 3',
  'sleep 0.1',
  'printf "%s" x',
]
/** A UUID nothing has: the seed alone decides every request (no random id in a hint). */
const UNKNOWN_UUID = '6f1c2b3a-0000-4000-8000-00000000f022'
/** A line only a file outside every workspace holds: no answer may carry it. */
const SECRET = `FUZZ-SECRET-${randomUUID()}`

/** A 32-bit seed of its own for each route: a route's cases do not depend on which routes ran before. */
function seedFor(route: string): number {
  let hash = SEED | 0
  for (const char of route) hash = (Math.imul(hash, 31) + (char.codePointAt(0) ?? 0)) | 0
  return hash
}

const truncate = (text: string, max = 400) =>
  text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text

const isObject = (value: BodyValue): value is { [key: string]: BodyValue } =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof RawJson)

/** What a route's run remembers: the last case sent (see `holds`), and how often each status answered. */
interface RouteRun {
  report: string
  statuses: Map<number, number>
}

/** A failing case with everything needed to route it to a fix. */
class CaseFailure extends Error {}

describe('fuzz: every route, from its schema', { concurrency: false }, () => {
  let home: TestHome
  let config: Config
  let gateway: Gateway
  let doc: OpenApiDocument & { paths: Record<string, Record<string, { description?: string }>> }
  let operations: Operation[]
  let folders: { jail: string; workspace: string; other: string; outside: string; configDir: string }
  const witnesses: { id: string; claudeSessionId: string | null; turnId: string | null }[] = []
  let closedId: string
  const { call } = nativeClient(() => gateway)

  before(async () => {
    home = await testHome()
    const jail = join(home.root, 'jail')
    folders = {
      jail,
      workspace: join(jail, 'workspace'),
      other: join(jail, 'other'),
      outside: join(home.root, 'outside'),
      configDir: home.env.CLAUDE_CONFIG_DIR!,
    }
    for (const folder of [folders.workspace, folders.other, folders.outside, join(folders.workspace, 'docs')])
      mkdirSync(folder, { recursive: true })
    writeFileSync(join(folders.workspace, 'notes.txt'), 'hello notes\n')
    writeFileSync(join(folders.workspace, 'docs', 'guide.md'), '# Guide\n')
    writeFileSync(join(folders.outside, 'secret.txt'), `${SECRET}\n`)
    // A way out that only confinement stops.
    symlinkSync(folders.outside, join(folders.workspace, 'link-out'))

    config = testConfig(home, {
      native: { workspaceRoots: [jail] },
      claude: { defaultWorkspace: folders.workspace, env: { CLAUDE_CONFIG_DIR: folders.configDir } },
      // Bodies over the limit are sent often: a small limit keeps them cheap.
      server: { bodyLimitBytes: 1024 * 1024 },
    })
    gateway = await testGateway(home, config)

    const created = async (body: Json) => {
      const answer = await call('POST', '/api/sessions', body)
      assert.equal(answer.status, 201, answer.raw)
      return String(answer.body.id)
    }
    // Witnesses: one that has had a turn, one in another folder, one untouched.
    for (const body of [{ title: 'witness with a turn' }, { workspace: folders.other }, {}]) {
      witnesses.push({ id: await created(body), claudeSessionId: null, turnId: null })
    }
    const turn = await call('POST', `/api/sessions/${witnesses[0]!.id}/messages`, { content: 'hello' })
    assert.equal(turn.status, 200, turn.raw)
    assert.equal(turn.body.status, 'success', turn.raw)
    witnesses[0]!.turnId = String(turn.body.turn_id)
    witnesses[0]!.claudeSessionId = String(
      (await call('GET', `/api/sessions/${witnesses[0]!.id}`)).body.claude_session_id,
    )
    closedId = await created({})
    assert.equal((await call('DELETE', `/api/sessions/${closedId}`)).status, 204)
    const agent = await call('POST', '/api/agents', {
      name: 'fuzz-agent',
      description: 'An agent for the fuzzer',
      prompt: 'You help.',
      scope: 'user',
    })
    assert.equal(agent.status, 201, agent.raw)

    const served = await call('GET', '/api/openapi.json')
    assert.equal(served.status, 200)
    doc = served.body as unknown as typeof doc
    operations = operationsOf(doc)
  })

  after(async () => {
    try {
      // A gateway the fuzzing broke may fail to close; its home is removed all the same.
      await gateway?.close()
    } finally {
      await home?.close()
    }
  })

  /** The context the cases are generated in: the test's folders, sessions, models and limits. */
  const fuzzContext = async (): Promise<FuzzContext> => {
    const models = ((await call('GET', '/v1/models')).body.data as { id: string }[]).map((model) => model.id)
    const { workspace, other, jail, outside, configDir } = folders
    const escapes = [
      '../../outside/escaped.txt',
      join(outside, 'escaped.txt'),
      join(home.root, 'escaped-folder', 'escaped.txt'),
      'link-out/escaped.txt',
      'link-out/secret.txt',
      'link-out',
      '../../outside/secret.txt',
      join(outside, 'secret.txt'),
      outside,
    ]
    const strings = (...values: BodyValue[]) => fc.constantFrom(...values)
    return {
      witnesses: witnesses.length,
      escapes,
      confine: confineTo(home.root, [jail, workspace, configDir, join(configDir, 'agents')], escapes),
      bodyLimitBytes: config.server.bodyLimitBytes,
      validWeight: (operation) => (RUNS_A_TURN.includes(operation.key) ? 1 : 4),
      guard: (operation, body) => {
        // The bash tool runs what it is given: a made-up command is only ever printed.
        if (operation.key !== 'POST /api/sessions/{id}/tools/{name}' || !isObject(body)) return body
        const { command } = body
        if (typeof command !== 'string' || SAFE_COMMANDS.includes(command)) return body
        return { ...body, command: `printf '%s' '${command.replaceAll("'", `'\\''`)}'` }
      },
      destroysSession: (operation) => operation.key === 'DELETE /api/sessions/{id}',
      websocket: (operation) => /^WebSocket\b/.test(describedAs(operation)),
      hints: {
        workspace: strings(workspace, other, jail),
        file_path: strings(
          'notes.txt',
          'docs/guide.md',
          'fuzz-out.txt',
          join(workspace, 'notes.txt'),
          'new/deep/file.txt',
        ),
        path: strings('.', 'docs', 'notes.txt', workspace),
        'GET /api/sessions/{id}/files/content path': strings('notes.txt', 'docs/guide.md'),
        pattern: strings('**/*', '*.txt', 'hello', 'Guide', '(?i)guide'),
        glob: strings('*.md', '**/*.txt'),
        command: strings(...SAFE_COMMANDS),
        timeout: fc.integer({ min: 1, max: 3000 }),
        'POST /api/sessions/{id}/messages content': strings('hi', [{ type: 'text', text: 'hi' }]),
        content: fc.string({ maxLength: 40 }),
        messages: strings([{ role: 'user', content: 'hi' }]),
        model: strings(...models),
        agent: strings('fuzz-agent', null),
        name: fc.stringMatching(/^fuzz-[a-z0-9]{1,8}$/),
        claude_session_id: strings(witnesses[0]!.claudeSessionId!, UNKNOWN_UUID),
        at_message: strings(witnesses[0]!.turnId!),
        session_id: strings(UNKNOWN_UUID),
        additional_directories: strings([], [other]),
        allowed_tools: strings([], ['Read'], ['Bash(echo:*)']),
        disallowed_tools: strings([], ['Write']),
        tools: strings(null, [], ['Read']),
        max_turns: fc.integer({ min: 1, max: 5 }),
        budget_tokens: fc.integer({ min: 1024, max: 2048 }),
      },
      pathHints: {
        'POST /api/sessions/{id}/commands/{name} name': fc.constantFrom(...COMMANDS),
        request_id: fc.uuid(),
        name: fc.constantFrom('fuzz-agent', 'no-such-agent', 'general-purpose'),
        'GET /v1/models/{id} id': fc.constantFrom(...models, 'no-such-model'),
      },
    }
  }

  /** What is wrong with the gateway now, or null: it answers health, and a witness's history and tool calls. */
  const brokenBecause = async (): Promise<string | null> => {
    // Health, and a witness's history and tool calls: reads of the store, each after the bus's writes.
    const witness = `/api/sessions/${witnesses[0]!.id}`
    for (const path of ['/v1/health', `${witness}/history?limit=1`, `${witness}/tool-calls?limit=1`]) {
      try {
        const answer = await fetch(`${gateway.url}${path}`, { signal: AbortSignal.timeout(10_000) })
        const text = await answer.text()
        if (answer.status !== 200) return `GET ${path} answered ${answer.status}: ${truncate(text, 200)}`
      } catch (error) {
        return `GET ${path}: no answer (${(error as Error).message})`
      }
    }
    return null
  }

  /** A new gateway on the same folders and store, when an earlier route broke this one. */
  const revive = async (why: string, t: { diagnostic(message: string): void }) => {
    t.diagnostic(`restarting the gateway, broken by an earlier route: ${why}`)
    // A broken gateway may fail to close, or never finish: that was reported by the route that broke it.
    await Promise.race([gateway.close().catch(() => {}), sleep(15_000)])
    gateway = await testGateway(home, config)
  }

  const wireSegment = async (value: FuzzCase['path'][string]): Promise<string> => {
    if ('wire' in value) return value.wire
    if (value.session === 'witness') return witnesses[value.index]!.id
    if (value.session === 'closed') return closedId
    const answer = await call('POST', '/api/sessions', {})
    assert.equal(answer.status, 201, `creating a session for the case: ${answer.raw}`)
    return String(answer.body.id)
  }

  /** Sends a case: its path resolved, as raw bytes. */
  const send = async (fuzzCase: FuzzCase) => {
    const { operation } = fuzzCase
    let path = operation.path
    for (const [name, value] of Object.entries(fuzzCase.path))
      path = path.replace(`{${name}}`, await wireSegment(value))
    const target = fuzzCase.query ? `${path}?${fuzzCase.query}` : path
    const headers = [...fuzzCase.headers]
    if (fuzzCase.body?.contentType) headers.push(['Content-Type', fuzzCase.body.contentType])
    const request = {
      method: fuzzCase.method,
      target,
      headers,
      ...(fuzzCase.body ? { body: fuzzCase.body.text } : {}),
    }
    // A GET answered with an event stream follows it until the client leaves (a session's, every session's).
    const longLived =
      operation.method === 'GET' &&
      'text/event-stream' in (doc.paths[operation.path]?.get?.responses?.['200']?.content ?? {})
    let response: RawResponse
    try {
      response = await rawRequest(gateway.url, request, {
        timeoutMs: REQUEST_TIMEOUT_MS,
        // An event stream does not end, and an upgraded socket is no longer HTTP.
        headersOnly: (status, answered) =>
          status === 101 || (longLived && (answered['content-type'] ?? '').startsWith('text/event-stream')),
      })
    } catch (error) {
      throw new CaseFailure(report(fuzzCase, request, null, [(error as Error).message]))
    }
    return { request, response }
  }

  const describedAs = (operation: Operation) =>
    doc.paths[operation.path]?.[operation.method.toLowerCase()]?.description ?? ''

  /** What is wrong with an answer: its status, its error shape, a leaked secret. */
  const problemsOf = (fuzzCase: FuzzCase, target: string, response: RawResponse): string[] => {
    const problems: string[] = []
    const { status, headers } = response
    const retryable = status === 503 && headers['retry-after'] !== undefined
    if (status >= 500 && !retryable && status !== 507) problems.push(`answered ${status}`)
    const text = response.body.toString('utf8')
    if (text.includes(SECRET)) problems.push('answered with the content of a file outside every workspace')
    // The HTTP parser refuses some bytes before any route (or error handler) sees the request; an answer
    // to HEAD has no body.
    if (fuzzCase.malformed || status < 400 || fuzzCase.method === 'HEAD') return problems
    const family = target.startsWith('/v1/') ? 'openai' : 'native'
    if (!(headers['content-type'] ?? '').startsWith('application/json')) {
      problems.push(`error ${status} is not JSON (content-type ${headers['content-type']})`)
      return problems
    }
    let error: Record<string, unknown> | undefined
    try {
      error = (JSON.parse(text) as { error?: Record<string, unknown> }).error
    } catch {
      problems.push(`error ${status} is not valid JSON`)
      return problems
    }
    const isText = (value: unknown) => typeof value === 'string' && value.length > 0
    const nullableText = (value: unknown) => value === null || typeof value === 'string'
    const shaped =
      typeof error === 'object' &&
      error !== null &&
      (family === 'openai'
        ? isText(error.message) && isText(error.type) && nullableText(error.param) && nullableText(error.code)
        : isText(error.code) &&
          typeof error.message === 'string' &&
          (error.field === undefined || typeof error.field === 'string') &&
          Object.keys(error).every((key) => ['code', 'message', 'field'].includes(key)))
    if (!shaped) problems.push(`error ${status} is not in the ${family} error shape`)
    return problems
  }

  const report = (
    fuzzCase: FuzzCase,
    request: { method: string; target: string; headers: [string, string][]; body?: string },
    response: RawResponse | null,
    problems: string[],
  ) =>
    [
      problems.join('; '),
      `  case: ${fuzzCase.label}`,
      `  request: ${request.method} ${truncate(JSON.stringify(request.target).slice(1, -1), 300)}`,
      ...request.headers.map(([key, value]) => `    ${key}: ${truncate(JSON.stringify(value), 120)}`),
      ...(request.body !== undefined ? [`    body: ${truncate(JSON.stringify(request.body), 600)}`] : []),
      response
        ? `  response: ${response.status} ${response.headers['content-type'] ?? ''} ${truncate(response.body.toString('utf8'), 600)}`
        : '  response: none',
    ].join('\n')

  /** The property every case of every route must hold. */
  /**
   * The property every case of every route must hold. While searching, a gateway found broken before a case
   * was broken by the case before it, after its check passed (an asynchronous failure): that case is the
   * one reported. While shrinking, such a case tells nothing about the smaller one and is skipped.
   */
  const holds =
    (deadline: { at: number }, phase: 'search' | 'shrink', run: RouteRun) => async (fuzzCase: FuzzCase) => {
      // The time is up: end the run, with no request left in flight (as fast-check's own time limit would).
      if (Date.now() > deadline.at) throw new fc.PreconditionFailure(true)
      const before = await brokenBecause()
      if (before && phase === 'shrink') fc.pre(false)
      if (before)
        throw new CaseFailure(
          `the gateway broke after the previous case (not at once: its own check passed): ${before}\n${run.report}`,
        )
      const { request, response } = await send(fuzzCase)
      const problems = problemsOf(fuzzCase, request.target, response)
      run.report = report(fuzzCase, request, response, ['previous case'])
      run.statuses.set(response.status, (run.statuses.get(response.status) ?? 0) + 1)
      const broken = await brokenBecause()
      if (broken) problems.push(`afterwards the gateway is broken: ${broken}`)
      if (problems.length > 0) throw new CaseFailure(report(fuzzCase, request, response, problems))
    }

  test('the fuzzed routes are every route Fastify serves under /api and /v1', () => {
    const served = routesOf(gateway.app).filter((route) => / \/(api|v1)\//.test(route))
    const documented = operations.map((operation) => operation.key)
    assert.deepEqual(documented, served, 'the OpenAPI document lists every served route')
    for (const route of Object.keys(NOT_FUZZED)) assert.ok(served.includes(route), `${route} is still served`)
    assert.ok(documented.includes('POST /v1/chat/completions') && documented.includes('POST /api/sessions'))
  })

  test('no request breaks the gateway, answers 5xx or answers an error in the wrong shape', async (t) => {
    const context = await fuzzContext()
    const fuzzed = operations.filter((operation) => !(operation.key in NOT_FUZZED))
    const chosen = ONLY_ROUTE ? fuzzed.filter((operation) => operation.key === ONLY_ROUTE) : fuzzed
    assert.ok(chosen.length > 0, `no route ${ONLY_ROUTE}`)
    // The time goes where the inputs are: a body has more to spoil than a path, a turn takes seconds.
    const weight = (operation: Operation) =>
      (operation.body ? 3 : operation.parameters.length > 0 ? 2 : 1) *
      (RUNS_A_TURN.includes(operation.key) ? 2 : 1)
    const perWeight = (SECONDS * 1000) / chosen.reduce((sum, operation) => sum + weight(operation), 0)
    t.diagnostic(
      `fuzz seed ${SEED} (FUZZ_SEED), ${RUNS ? `${RUNS} runs` : `${SECONDS} s`} over ${chosen.length} routes`,
    )
    // One subtest per route: each failure is reported on its own, and the next route still runs.
    for (const operation of chosen) {
      await t.test(operation.key, async (route) => {
        const broken = await brokenBecause()
        if (broken) await revive(broken, route)
        const seed = seedFor(operation.key)
        const arbitrary = caseArbitrary(operation, doc, context)
        const search = {
          at: RUNS || REPLAY_PATH ? Number.POSITIVE_INFINITY : Date.now() + perWeight * weight(operation),
        }
        const run: RouteRun = { report: '(none)', statuses: new Map() }
        const details = await fc.check(fc.asyncProperty(arbitrary, holds(search, 'search', run)), {
          seed,
          numRuns: RUNS ?? 100_000,
          endOnFailure: true,
          ...(REPLAY_PATH ? { path: REPLAY_PATH } : {}),
        })
        const statuses = [...run.statuses].sort(([a], [b]) => a - b)
        route.diagnostic(
          `${details.numRuns} cases: ${statuses.map(([status, n]) => `${status}×${n}`).join(' ')}`,
        )
        if (!details.failed) return
        // Shrunk with a budget of its own, from where the search failed.
        const shrink = { at: Date.now() + SHRINK_SECONDS * 1000 }
        const shrunk = await fc.check(fc.asyncProperty(arbitrary, holds(shrink, 'shrink', run)), {
          seed,
          path: details.counterexamplePath ?? undefined,
        })
        // A shrinking run that found no counterexample (interrupted, or nothing failed again) leaves the search's.
        const final = shrunk.failed && shrunk.errorInstance ? shrunk : details
        const error = final.errorInstance
        assert.fail(
          [
            `${operation.key}: failed after ${details.numRuns} cases, ${final === shrunk ? `shrunk ${shrunk.numShrinks} times` : 'not shrunk (no replay failed on its own: the gateway stayed broken, or the failure did not recur)'}`,
            error instanceof CaseFailure
              ? error.message
              : error
                ? String((error as Error).stack ?? error)
                : fc.defaultReportMessage(final),
            `  replay: FUZZ_SEED=${SEED} FUZZ_ROUTE='${operation.key}' FUZZ_PATH='${final.counterexamplePath}'`,
          ].join('\n'),
        )
      })
    }
  })

  test('afterwards every session answers, and every witness session takes a turn', async () => {
    const broken = await brokenBecause()
    assert.equal(broken, null, 'the gateway is not broken after fuzzing')
    // Every session the fuzzing left: readable, with a readable history.
    let total = 0
    for (let offset = 0; ; offset += 500) {
      const page = await call('GET', `/api/sessions?limit=500&offset=${offset}`)
      assert.equal(page.status, 200, page.raw)
      const items = page.body.items as { id: string; state: string }[]
      for (const { id, state } of items) {
        // A deleted session is listed (its history kept) but no longer served.
        const served = state === 'closed' ? 404 : 200
        const session = await call('GET', `/api/sessions/${id}`)
        assert.equal(session.status, served, `GET session ${id}: ${session.raw}`)
        const history = await call('GET', `/api/sessions/${id}/history?limit=5`)
        assert.equal(history.status, served, `GET history of ${id}: ${truncate(history.raw)}`)
      }
      total += items.length
      if (items.length < 500) break
    }
    assert.ok(total >= witnesses.length)

    // Each witness, whatever the fuzzing did to it: resumed if it was paused, then a real turn.
    for (const [index, witness] of witnesses.entries()) {
      const path = `/api/sessions/${witness.id}`
      let state = ''
      for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(200)) {
        state = String((await call('GET', path)).body.state)
        if (state !== 'running' && state !== 'starting') break
      }
      assert.notEqual(state, 'running', `witness ${index} is still running 30 s after fuzzing`)
      if (state === 'paused') assert.equal((await call('POST', `${path}/resume`)).status, 200)
      home.model.fallback = () => ({ blocks: [{ type: 'text', text: `still here ${index}` }] })
      const turn = await call('POST', `${path}/messages`, { content: 'Are you still there?' })
      assert.equal(turn.status, 200, `a turn of witness ${index}: ${truncate(turn.raw)}`)
      assert.equal(turn.body.status, 'success', `a turn of witness ${index}: ${truncate(turn.raw)}`)
      assert.equal(turn.body.text, `still here ${index}`)
      for (const read of ['/history', '/tool-calls', '/permissions', '/tool-permissions', '/memory']) {
        const answer = await call('GET', `${path}${read}`)
        assert.equal(answer.status, 200, `GET ${read} of witness ${index}: ${truncate(answer.raw)}`)
      }
      const exported = await call('POST', `${path}/export`, { format: 'json' })
      assert.equal(exported.status, 200, `export of witness ${index}: ${truncate(exported.raw)}`)
    }

    // A new session and a /v1 completion work too.
    const created = await call('POST', '/api/sessions', {})
    assert.equal(created.status, 201, created.raw)
    const first = await call('POST', `/api/sessions/${created.body.id}/messages`, { content: 'hi' })
    assert.equal(first.body.status, 'success', truncate(first.raw))
    const models = (await call('GET', '/v1/models')).body.data as { id: string }[]
    const completion = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: models[0]!.id, messages: [{ role: 'user', content: 'hi' }] }),
    })
    assert.equal(completion.status, 200, truncate(await completion.text()))
  })

  test('nothing was written, or changed, outside the workspaces', () => {
    assert.deepEqual(readdirSync(folders.outside), ['secret.txt'])
    assert.equal(readFileSync(join(folders.outside, 'secret.txt'), 'utf8'), `${SECRET}\n`)
    assert.equal(existsSync(join(home.root, 'escaped-folder')), false)
  })
})
