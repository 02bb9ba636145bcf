/**
 * The OpenAI API's latency, against the scripted model of the tests (test/support/scripted-anthropic.ts)
 * and the real Claude Code CLI the SDK ships; no network.
 *
 * (a) Time to first token through `POST /v1/chat/completions` (streamed; raw fetch reading the SSE, timed
 *     from just before fetch() to the first chunk with `delta.content`):
 *     - a new conversation: `pool.warmSpares` 1, the same system prompt every time so the spare (started with
 *       the options new conversations asked for last) matches; before each one the benchmark waits until the
 *       spare is ready, and deletes the session after its follow-up so slots never fill up;
 *     - its follow-up: the history plus the answer as received plus a new user message; it must be answered
 *       by the same session (`x-session-id`), i.e. by the live process;
 *     - the CLI spawned per request: `claude -p --output-format stream-json --verbose
 *       --include-partial-messages --append-system-prompt <the same system prompt> <prompt>` (the same binary
 *       and environment the gateway uses), from spawn to the first `text_delta` line on stdout.
 *     Runs interleave (gateway conversation, then a spawn) so machine noise lands on both.
 * (b) What the gateway adds to each streamed chunk under load: `streams` concurrent streaming completions
 *     (new conversations, `pool.maxRunners` 10, `queueSize` 64, no spare, so most of them queue for a
 *     process), each answered by the scripted model in ~40 text deltas a few ms apart. The gateway runs in
 *     this process, so the bus's `ts` (Date.now when the event is published) and the client's receive time
 *     share one clock: for every `delta.content` chunk, added latency = receive time - the `ts` of the
 *     `text.delta` event it carries (matched by session id and order). The same difference in
 *     performance.now() (taken as the bus's publish() is entered) gives sub-millisecond resolution. Plus the
 *     `Server-Timing: gateway;dur=` of each response, and how long this process waited for a CPU
 *     (/proc/self/schedstat, event loop stalls): on a small machine the CLI processes compete with it.
 *     The same chunk latency, one stream at a time, comes from (a).
 *
 * Runs alone: `node --import tsx bench/openai.ts` (env: BENCH_OPENAI_RUNS, BENCH_OPENAI_STREAMS, and
 * BENCH_OPENAI_CLI_NICE=N, a diagnostic that starts the CLI processes of (b) at nice N).
 */
import { ChildProcess } from 'node:child_process'
import { Agent, request as httpRequest } from 'node:http'
import { setPriority } from 'node:os'
import { type TestHome, testConfig, testGateway, testHome } from '../test/support/harness.js'
import { text } from '../test/support/scripted-anthropic.js'
import { ANSWER, FOLLOW_UP, PROMPT, spawnOnce, TURN_TIMEOUT_MS, unique } from './cli-baseline.js'
import { type BenchResult, envInt, main, percentileOf, type Row, sleep, spread, summarize } from './stats.js'
import { streamingGateway } from './stream-gateway.js'
import {
  BusRecorder,
  describeLoad,
  LoadWatch,
  type ProcessLoad,
  type Received,
  SseParser,
} from './streaming.js'

export interface OpenAIOptions {
  /** Conversations (each with a follow-up) and CLI spawns in (a). */
  runs: number
  /** Concurrent streams in (b). */
  streams: number
  /** Text deltas per scripted answer in (b). */
  chunks: number
  /** Pause between two deltas of the scripted answer in (b). */
  chunkDelayMs: number
  maxRunners: number
  queueSize: number
  /** (b) only: start every process spawned during it (the CLI processes) at this nice value; 0 leaves them. */
  cliNice: number
}

export const defaultOpenAIOptions = (): OpenAIOptions => ({
  runs: envInt('BENCH_OPENAI_RUNS', 15),
  streams: envInt('BENCH_OPENAI_STREAMS', 50),
  chunks: 40,
  chunkDelayMs: 5,
  maxRunners: 10,
  queueSize: 64,
  cliNice: envInt('BENCH_OPENAI_CLI_NICE', 0),
})

export const MODEL = 'claude-code'
export const SYSTEM = 'You are the benchmark assistant. Answer in one short sentence.'
const SPARE_TIMEOUT_MS = 30_000

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant'
  content: string
}

/** The text a chunk carries in `choices[0].delta.content`; throws on an error event. */
function contentOf(data: string): string {
  if (data === '[DONE]') return ''
  const chunk = JSON.parse(data) as {
    error?: { message?: string }
    choices?: { delta?: { content?: string | null } }[]
  }
  if (chunk.error) throw new Error(`stream error: ${chunk.error.message}`)
  return chunk.choices?.[0]?.delta?.content ?? ''
}

/** `gateway;dur=12.3` of a Server-Timing header, in ms. */
function timingOf(header: string | null | undefined, name: string): number {
  const match = new RegExp(`(?:^|,)\\s*${name};dur=([\\d.]+)`).exec(header ?? '')
  return match ? Number(match[1]) : Number.NaN
}

export interface Streamed {
  ttftMs: number
  content: string
  /** When each chunk with content arrived. */
  received: { wall: number; at: number }[]
  sessionId: string
  gatewayMs: number
  claudeMs: number
}

/** One streamed completion with fetch: time to the first content chunk, the whole answer, the headers. */
export async function streamCompletion(url: string, messages: ChatMessage[]): Promise<Streamed> {
  const started = performance.now()
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, stream: true, messages }),
    signal: AbortSignal.timeout(TURN_TIMEOUT_MS),
  })
  if (!response.ok || !response.body) throw new Error(`status ${response.status}: ${await response.text()}`)
  const parser = new SseParser()
  const decoder = new TextDecoder()
  const reader = response.body.getReader()
  let first = 0
  let content = ''
  const received: Streamed['received'] = []
  let done = false
  while (!done) {
    const part = await reader.read()
    if (part.done) break
    const now = performance.now()
    const wall = Date.now()
    for (const { data } of parser.push(decoder.decode(part.value, { stream: true }))) {
      if (data === '[DONE]') done = true
      const piece = contentOf(data)
      if (!piece) continue
      if (!first) first = now
      content += piece
      received.push({ wall, at: now })
    }
  }
  if (!first) throw new Error('the stream carried no content')
  const timing = response.headers.get('server-timing')
  return {
    ttftMs: first - started,
    content,
    received,
    sessionId: response.headers.get('x-session-id') ?? '',
    gatewayMs: timingOf(timing, 'gateway'),
    claudeMs: timingOf(timing, 'claude'),
  }
}

async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

// ---------------------------------------------------------------------------------------------------------
// (a) Time to first token

interface TtftRuns {
  fresh: Streamed[]
  followUp: Streamed[]
  spawn: number[]
  /** Conversations that found a ready spare when they were sent. */
  warmHits: number
  /** Added latency of every chunk of the measured conversations (one stream at a time). */
  wallMs: number[]
  preciseMs: number[]
  mismatched: number
}

async function timeToFirstToken(home: TestHome, runs: number): Promise<TtftRuns> {
  home.model.fallback = () => text(ANSWER, { chunkSize: 5 })
  const gateway = await testGateway(
    home,
    testConfig(home, {
      pool: { warmSpares: 1, maxRunners: 8, idleTimeoutMs: 10 * 60_000, turnTimeoutMs: TURN_TIMEOUT_MS },
    }),
  )
  const { engine } = gateway.context
  const recorder = new BusRecorder(gateway.context.bus)
  const result: TtftRuns = {
    fresh: [],
    followUp: [],
    spawn: [],
    warmHits: 0,
    wallMs: [],
    preciseMs: [],
    mismatched: 0,
  }
  try {
    // The binary the gateway's processes run: the baseline spawns the same one.
    const { path: cliPath, reason } = engine.cli
    if (!cliPath) throw new Error(`Claude Code CLI unusable: ${reason}`)
    const conversation = async (measured: boolean) => {
      await waitUntil(() => engine.processStats.spares >= 1, SPARE_TIMEOUT_MS, 'a warm spare')
      const history: ChatMessage[] = [
        { role: 'system', content: SYSTEM },
        { role: 'user', content: unique(PROMPT) },
      ]
      const warm = engine.processStats.spares > 0
      const fresh = await streamCompletion(gateway.url, history)
      history.push(
        { role: 'assistant', content: fresh.content },
        { role: 'user', content: unique(FOLLOW_UP) },
      )
      const followUp = await streamCompletion(gateway.url, history)
      if (followUp.sessionId !== fresh.sessionId)
        throw new Error(
          `the follow-up went to session ${followUp.sessionId}, not ${fresh.sessionId}: the conversation was not continued`,
        )
      await engine.deleteSession(fresh.sessionId, false)
      if (!measured) return
      result.fresh.push(fresh)
      result.followUp.push(followUp)
      if (warm) result.warmHits++
      const added = recorder.match(fresh.sessionId, [...fresh.received, ...followUp.received])
      if (!added) result.mismatched++
      else {
        result.wallMs.push(...added.wallMs)
        result.preciseMs.push(...added.preciseMs)
      }
    }
    // Discarded: the first conversation sets the spares' options (its system prompt), the first spawn warms
    // the page cache.
    await conversation(false)
    await spawnOnce(cliPath, home, unique(PROMPT), ['--append-system-prompt', SYSTEM])
    for (let i = 0; i < runs; i++) {
      await conversation(true)
      result.spawn.push(
        (await spawnOnce(cliPath, home, unique(PROMPT), ['--append-system-prompt', SYSTEM])).ttftMs,
      )
    }
  } finally {
    recorder.close()
    await gateway.close()
  }
  return result
}

// ---------------------------------------------------------------------------------------------------------
// (b) Gateway-added latency under concurrent streams

interface StreamRun {
  sessionId: string
  gatewayMs: number
  received: Received[]
}

/** One streamed completion over node:http (lighter than fetch in a loop shared with the gateway). */
function streamOverHttp(url: string, agent: Agent, messages: ChatMessage[]): Promise<StreamRun> {
  return new Promise((done, fail) => {
    const body = JSON.stringify({ model: MODEL, stream: true, messages })
    const request = httpRequest(
      `${url}/v1/chat/completions`,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: TURN_TIMEOUT_MS * 2,
      },
      (response) => {
        if (response.statusCode !== 200) {
          let error = ''
          response.setEncoding('utf8')
          response.on('data', (piece: string) => {
            error += piece
          })
          response.on('end', () => fail(new Error(`status ${response.statusCode}: ${error}`)))
          return
        }
        const run: StreamRun = {
          sessionId: String(response.headers['x-session-id'] ?? ''),
          gatewayMs: timingOf(String(response.headers['server-timing'] ?? ''), 'gateway'),
          received: [],
        }
        const parser = new SseParser()
        response.setEncoding('utf8')
        response.on('data', (piece: string) => {
          const wall = Date.now()
          const at = performance.now()
          for (const { data } of parser.push(piece)) {
            try {
              if (contentOf(data)) run.received.push({ wall, at })
            } catch (error) {
              request.destroy(error as Error)
            }
          }
        })
        response.on('end', () => done(run))
        response.on('error', fail)
      },
    )
    request.on('timeout', () => request.destroy(new Error('timeout')))
    request.on('error', fail)
    request.end(body)
  })
}

interface ConcurrentRuns extends ProcessLoad {
  /** Per chunk: client receive Date.now() - event ts (ms, 1 ms resolution). */
  wallMs: number[]
  /** Per chunk: client receive performance.now() - bus delivery performance.now(). */
  preciseMs: number[]
  /** Per response: Server-Timing gateway;dur. */
  gatewayMs: number[]
  /** Streams whose chunk count differed from their text.delta count (not measured). */
  mismatched: number
  deltasPerAnswer: number[]
  wallS: number
}

/**
 * Run `fn` with every child process this process spawns meanwhile (the SDK starts the CLI with
 * node:child_process) set to `nice` right after its spawn: a diagnostic, to see how much of the added
 * latency is the gateway waiting for a CPU its own CLI processes hold. Returns how many were reniced.
 */
async function withNicedChildren<T>(
  nice: number,
  fn: () => Promise<T>,
): Promise<{ value: T; reniced: number }> {
  if (nice === 0) return { value: await fn(), reniced: 0 }
  // ChildProcess#spawn is what child_process.spawn() calls; it is not in the public typings.
  const proto = ChildProcess.prototype as unknown as {
    spawn(this: ChildProcess, ...args: unknown[]): unknown
  }
  const original = proto.spawn
  let reniced = 0
  proto.spawn = function (this: ChildProcess, ...args: unknown[]) {
    const result = original.apply(this, args)
    if (this.pid !== undefined) {
      try {
        setPriority(this.pid, nice)
        reniced++
      } catch {
        // it exited already
      }
    }
    return result
  }
  try {
    return { value: await fn(), reniced }
  } finally {
    proto.spawn = original
  }
}

async function concurrentStreams(home: TestHome, options: OpenAIOptions): Promise<ConcurrentRuns> {
  const gateway = await streamingGateway(home, options)
  const recorder = new BusRecorder(gateway.context.bus)
  const agent = new Agent({ keepAlive: true, maxSockets: options.streams + 10 })
  const watch = new LoadWatch()
  const began = performance.now()
  try {
    const runs = await Promise.all(
      Array.from({ length: options.streams }, () =>
        streamOverHttp(gateway.url, agent, [
          { role: 'system', content: SYSTEM },
          { role: 'user', content: unique(PROMPT) },
        ]),
      ),
    )
    const wallS = (performance.now() - began) / 1000
    const result: ConcurrentRuns = {
      wallMs: [],
      preciseMs: [],
      gatewayMs: [],
      mismatched: 0,
      deltasPerAnswer: [],
      wallS,
      ...watch.stop(),
    }
    for (const run of runs) {
      result.gatewayMs.push(run.gatewayMs)
      result.deltasPerAnswer.push(recorder.deltas(run.sessionId))
      const added = recorder.match(run.sessionId, run.received)
      if (!added) {
        result.mismatched++
        continue
      }
      result.wallMs.push(...added.wallMs)
      result.preciseMs.push(...added.preciseMs)
    }
    return result
  } finally {
    watch.stop()
    recorder.close()
    agent.destroy()
    await gateway.close()
  }
}

// ---------------------------------------------------------------------------------------------------------

export async function runOpenAI(options: OpenAIOptions = defaultOpenAIOptions()): Promise<BenchResult> {
  const began = performance.now()
  const home = await testHome()
  try {
    const ttft = await timeToFirstToken(home, options.runs)
    const { value: load, reniced } = await withNicedChildren(options.cliNice, () =>
      concurrentStreams(home, options),
    )
    const name = {
      fresh: 'TTFT /v1/chat/completions, new conversation (warm spare)',
      followUp: 'TTFT /v1/chat/completions, follow-up (same session)',
      spawn: 'TTFT claude -p per request',
      freshGateway: 'Server-Timing gateway;dur, new conversation',
      followUpGateway: 'Server-Timing gateway;dur, follow-up',
      single: 'added latency per chunk, one stream at a time (performance.now)',
      added: `added latency per chunk, ${options.streams} streams (Date.now)`,
      precise: `added latency per chunk, ${options.streams} streams (performance.now)`,
      loadGateway: `Server-Timing gateway;dur, ${options.streams} streams`,
    }
    const finite = (samples: number[]) => samples.filter(Number.isFinite)
    const rows: Row[] = [
      {
        name: name.fresh,
        unit: 'ms',
        samples: ttft.fresh.map((run) => run.ttftMs),
        note: `warm spare ready for ${ttft.warmHits}/${ttft.fresh.length}`,
      },
      { name: name.followUp, unit: 'ms', samples: ttft.followUp.map((run) => run.ttftMs) },
      { name: name.spawn, unit: 'ms', samples: ttft.spawn },
      {
        name: name.freshGateway,
        unit: 'ms',
        samples: finite(ttft.fresh.map((run) => run.gatewayMs)),
        note: 'validated request -> turn handed to the spare',
      },
      {
        name: name.followUpGateway,
        unit: 'ms',
        samples: finite(ttft.followUp.map((run) => run.gatewayMs)),
        note: 'validated request -> turn handed to the live process',
      },
      { name: name.single, unit: 'ms', samples: ttft.preciseMs, note: spread(ttft.preciseMs) },
      { name: name.added, unit: 'ms', samples: load.wallMs, note: spread(load.wallMs) },
      { name: name.precise, unit: 'ms', samples: load.preciseMs, note: spread(load.preciseMs) },
      {
        name: name.loadGateway,
        unit: 'ms',
        samples: finite(load.gatewayMs),
        note: `${spread(finite(load.gatewayMs))}; includes the wait for a process`,
      },
    ]
    const deltas = summarize(load.deltasPerAnswer)
    const verdict = (samples: number[]) => (percentileOf(samples, 99) < 10 ? 'met' : 'NOT met')
    return {
      title: 'OpenAI API: time to first token and gateway-added latency per chunk',
      rows,
      ratios: [
        { name: 'spawn / gateway, new conversation', numerator: name.spawn, denominator: name.fresh },
        { name: 'spawn / gateway, follow-up', numerator: name.spawn, denominator: name.followUp },
        { name: 'new conversation / follow-up', numerator: name.fresh, denominator: name.followUp },
      ],
      targets: [],
      notes: [
        `(a) ${options.runs} conversations (new + follow-up) and ${options.runs} claude -p spawns, interleaved, after one discarded of each; in-process gateway (testGateway), pool.warmSpares 1, maxRunners 8, the same system prompt every time, the benchmark waits for the spare before each conversation and deletes the session after its follow-up; every follow-up was answered by its conversation's session (x-session-id, checked); TTFT from before fetch() to the first SSE chunk with delta.content; spawn: to the first text_delta line`,
        `(a) one stream at a time: ${ttft.preciseMs.length} chunks (${ttft.mismatched} conversations not matched), Date.now ${spread(ttft.wallMs)}`,
        `(b) ${options.streams} concurrent streamed new conversations, done in ${load.wallS.toFixed(1)} s; in-process gateway (testGateway: client, gateway and bus share this process and its clock), pool.maxRunners ${options.maxRunners}, queueSize ${options.queueSize}, warmSpares 0; scripted answer ${options.chunks} deltas, ${options.chunkDelayMs} ms apart; text.delta events per answer: median ${deltas.median}, min ${deltas.min}, max ${deltas.max}`,
        `(b) chunks measured: ${load.wallMs.length} in ${options.streams - load.mismatched} streams (${load.mismatched} not measured: chunk count differed from their text.delta count); added latency = client receive time - bus publish time of the text.delta the chunk carries; target p99 < 10 ms: Date.now ${verdict(load.wallMs)}, performance.now ${verdict(load.preciseMs)}`,
        `(b) this process (gateway + client) during the streams: ${describeLoad(load)}`,
        options.cliNice === 0
          ? "(b) CLI processes at the gateway's own priority (BENCH_OPENAI_CLI_NICE=N starts them at nice N, to see how much of the added latency is waiting for a CPU they hold)"
          : `(b) BENCH_OPENAI_CLI_NICE=${options.cliNice}: the ${reniced} processes spawned during (b) (the CLI processes) were set to nice ${options.cliNice} right after their spawn, the gateway process was not`,
        '(b) Server-Timing gateway;dur runs from the validated request to the turn handed to a process, so under load it includes the queue wait and the process start; the follow-up row of (a) is the gateway alone',
      ],
      elapsedMs: performance.now() - began,
    }
  } finally {
    await home.close()
  }
}

await main(import.meta.url, () => runOpenAI())
