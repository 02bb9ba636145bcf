/**
 * What the gateway adds on the native API (`/api`), against the scripted model of the tests and the real
 * Claude Code CLI the SDK ships; no network. The target is a gateway-added latency under 5 ms at p99.
 *
 * (a) Streamed turns: `POST /api/sessions/{id}/messages` with `Accept: text/event-stream`, first one
 *     session at a time (follow-ups in its live process), then `streams` sessions at once (new sessions,
 *     `pool.maxRunners` 10, no spare, so most turns queue for a process). Each answer is `chunks` text
 *     deltas `chunkDelayMs` apart. The gateway runs in this process, so the client and the bus share one
 *     clock: for every event the client receives live (published after its response began), added latency
 *     = performance.now() at receipt - performance.now() as the bus's publish() was entered for the same
 *     session and sequence number (the SSE `id`).
 * (b) Cheap REST routes, `GET /api/sessions/{id}`, `GET /api/sessions?limit=50` (of `listSessions`
 *     sessions) and `GET /api/tools`, on the gateway as an operator starts it (`node dist/cli.js`, log level
 *     info, its own process) against a bare node:http server answering the same bytes (http.ts's servers):
 *     throughput and CPU per request under autocannon's load, and the latency of one request at a time on a
 *     kept-alive connection (sub-millisecond, rounds alternating between the servers). Added latency = each
 *     gateway request - the raw server's median on the same path.
 * (c) `GET /api/sessions/{id}/events` fan-out: `subscribers` clients follow one session while it runs
 *     `fanoutTurns` turns, after one unmeasured warm-up turn (the session's process started, the gateway's
 *     code compiled: one-time costs the time-to-first-text benchmarks measure). The gateway runs in its own
 *     process, from source, with publish-probe.ts loaded: it records when the bus's publish() was entered for
 *     each event and when the event had been written to every subscriber's socket (the gateway's part), and
 *     hands the times over IPC with its `performance.timeOrigin`, so they are put on this process's clock.
 *     The clients read in a worker thread (native-subscribers.ts), its receipt times moved onto this
 *     thread's clock the same way; delivery latency = receipt - publish, per event and subscriber. That
 *     thread reads the hundred streams one after the other on the same two cores, so the last subscriber's
 *     receipt includes the client's own work.
 *
 * Needs a build for (b): `npm run build && node --import tsx bench/native.ts` (env: BENCH_NATIVE_STREAMS,
 * BENCH_NATIVE_SUBSCRIBERS, BENCH_NATIVE_REST_REQUESTS, and http.ts's BENCH_HTTP_* for the load runs;
 * BENCH_NATIVE_PARTS=streams,fanout runs (a) and (c) only, with no build needed).
 */
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { Agent } from 'node:http'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { detectClaudeCli } from '../src/engine/claude-cli.js'
import { bundledClaudeCli, type TestHome, testHome } from '../test/support/harness.js'
import {
  alternate,
  bodiesOf,
  CLI,
  checkServes,
  defaultHttpOptions,
  fetchBody,
  gatewayChild,
  type HttpOptions,
  loadRows,
  type Run,
  referenceChild,
  runKey,
  type Target,
} from './http.js'
import { jsonCall } from './json-call.js'
import type { SubscribersInput, SubscribersMessage } from './native-subscribers.js'
import type { ProbeAnswer, ProbeMark, ProbeRequest } from './publish-probe.js'
import {
  type BenchResult,
  envInt,
  type Target as Goal,
  main,
  percentileOf,
  type Ratio,
  type Row,
  spread,
  summarize,
} from './stats.js'
import { scriptAnswers, streamingGateway } from './stream-gateway.js'
import {
  type BusMark,
  BusRecorder,
  describeLoad,
  type Followed,
  LoadWatch,
  openEventStream,
  type ProcessLoad,
} from './streaming.js'

export interface NativeOptions {
  /** Sessions streaming a turn at once in (a). */
  streams: number
  /** Turns of the one-at-a-time series in (a), after one discarded. */
  singleTurns: number
  /** Text deltas per scripted answer, and the pause between two. */
  chunks: number
  chunkDelayMs: number
  maxRunners: number
  queueSize: number
  /** Clients following one session in (c), and the turns it runs meanwhile. */
  subscribers: number
  fanoutTurns: number
  /** Sessions in the gateway of (b) (the list route returns 50 of them). */
  listSessions: number
  /** Requests one at a time per server, path and round in (b), after as many discarded once. */
  restRequests: number
  restRounds: number
  /** autocannon settings of (b)'s load runs. */
  http: HttpOptions
  /** The parts to run; all by default (BENCH_NATIVE_PARTS=streams,fanout skips the build-dependent REST part). */
  parts: Set<NativePart>
}

export type NativePart = 'rest' | 'streams' | 'fanout'
const NATIVE_PARTS: NativePart[] = ['rest', 'streams', 'fanout']

function envParts(): Set<NativePart> {
  const named = process.env.BENCH_NATIVE_PARTS?.split(',').map((part) => part.trim())
  if (!named) return new Set(NATIVE_PARTS)
  const unknown = named.filter((part) => !NATIVE_PARTS.includes(part as NativePart))
  if (unknown.length > 0)
    throw new Error(`BENCH_NATIVE_PARTS: unknown ${unknown.join(', ')} (${NATIVE_PARTS.join(', ')})`)
  return new Set(named as NativePart[])
}

export const defaultNativeOptions = (): NativeOptions => ({
  streams: envInt('BENCH_NATIVE_STREAMS', 50),
  singleTurns: 10,
  chunks: 40,
  chunkDelayMs: 5,
  maxRunners: 10,
  queueSize: 64,
  subscribers: envInt('BENCH_NATIVE_SUBSCRIBERS', 100),
  fanoutTurns: 5,
  listSessions: 60,
  restRequests: envInt('BENCH_NATIVE_REST_REQUESTS', 500),
  restRounds: 4,
  http: defaultHttpOptions(),
  parts: envParts(),
})

const TURN_TIMEOUT_MS = 60_000
const TARGET_P99_MS = 5

export interface Json {
  [key: string]: unknown
}

/**
 * `jsonCall` for set-up, and turns whose answer is not timed per event: by default it waits twice the turn
 * timeout the fan-out gateway is given, so the gateway's own answer to a stuck turn comes first.
 */
export const callJson = (
  url: string,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = TURN_TIMEOUT_MS * 2,
): Promise<Json> => jsonCall(url, method, path, body, timeoutMs)

const createSession = async (url: string, title: string) =>
  String((await callJson(url, 'POST', '/api/sessions', { title })).id)

/** A streamed turn from the POST to the end of its stream; checks the turn completed. */
async function streamTurn(url: string, agent: Agent, sessionId: string, content: string): Promise<Followed> {
  const { followed, ended } = await openEventStream(url, sessionId, {
    method: 'POST',
    path: `/api/sessions/${sessionId}/messages`,
    agent,
    body: { content },
  })
  await ended
  if (followed.arrivals.at(-1)?.type !== 'turn.completed')
    throw new Error(`the stream of session ${sessionId} ended without turn.completed`)
  return followed
}

interface Latencies {
  /** Every live event, ms. */
  all: number[]
  textDeltas: number[]
  byType: Map<string, number[]>
  /** Events published before the stream began (replayed to it): not gateway latency, not counted. */
  replayed: number
}

/** A row of milliseconds, noted with their spread. */
const msRow = (name: string, samples: number[]): Row => ({ name, unit: 'ms', samples, note: spread(samples) })

/** A row of per-event latencies, noted with their spread and the text deltas' own. */
const latencyRow = (name: string, latencies: Latencies): Row => ({
  ...msRow(name, latencies.all),
  note: `${spread(latencies.all)}; text.delta ${spread(latencies.textDeltas)}`,
})

/** Where the publish times of a session's events come from: the in-process recorder or the probe. */
interface MarkSource {
  mark(sessionId: string, seq: number): Pick<BusMark, 'at' | 'type'> | undefined
}

/** Receipt - publish of every event a client received live, matched by session and sequence number. */
function latencies(recorder: MarkSource, streams: Followed[]): Latencies {
  const out: Latencies = { all: [], textDeltas: [], byType: new Map(), replayed: 0 }
  for (const { sessionId, openedAt, arrivals } of streams) {
    for (const arrival of arrivals) {
      const mark = recorder.mark(sessionId, arrival.seq)
      if (!mark) throw new Error(`session ${sessionId} event ${arrival.seq} was never published`)
      if (mark.at < openedAt) {
        out.replayed++
        continue
      }
      const ms = arrival.at - mark.at
      out.all.push(ms)
      if (mark.type === 'text.delta') out.textDeltas.push(ms)
      const ofType = out.byType.get(mark.type) ?? []
      ofType.push(ms)
      out.byType.set(mark.type, ofType)
    }
  }
  return out
}

/** The event types with the slowest p99, for the notes: where the tail comes from. */
function slowestTypes({ byType }: Latencies, count = 4): string {
  return [...byType]
    .map(([type, samples]) => ({ type, n: samples.length, p99: percentileOf(samples, 99) }))
    .sort((a, b) => b.p99 - a.p99)
    .slice(0, count)
    .map(({ type, n, p99 }) => `${type} ${p99.toFixed(2)} ms (n ${n})`)
    .join(', ')
}

interface StreamedRuns {
  single: Latencies
  concurrent: Latencies
  concurrentS: number
  load: ProcessLoad
}

async function streamedTurns(home: TestHome, options: NativeOptions): Promise<StreamedRuns> {
  const gateway = await streamingGateway(home, options)
  const recorder = new BusRecorder(gateway.context.bus)
  const agent = new Agent({ keepAlive: true, maxSockets: options.streams + 10 })
  try {
    const single = await createSession(gateway.url, 'one at a time')
    // Discarded: it starts the session's process.
    await streamTurn(gateway.url, agent, single, 'Say hello')
    const singleRuns: Followed[] = []
    for (let i = 0; i < options.singleTurns; i++)
      singleRuns.push(await streamTurn(gateway.url, agent, single, `Once more (#${i})`))

    const ids = await Promise.all(
      Array.from({ length: options.streams }, (_, i) => createSession(gateway.url, `stream ${i}`)),
    )
    const watch = new LoadWatch()
    const began = performance.now()
    const concurrentRuns = await Promise.all(
      ids.map((id, i) => streamTurn(gateway.url, agent, id, `Say hello (#${i})`)),
    )
    const concurrentS = (performance.now() - began) / 1000
    return {
      single: latencies(recorder, singleRuns),
      concurrent: latencies(recorder, concurrentRuns),
      concurrentS,
      load: watch.stop(),
    }
  } finally {
    agent.destroy()
    recorder.close()
    await gateway.close()
  }
}

// ---------------------------------------------------------------------------------------------------------
// (c) Event stream fan-out

interface FanOut {
  delivery: Latencies
  /** Per event: last subscriber's receipt - first subscriber's, ms. */
  spreadMs: number[]
  /** Per event: how long the bus's publish() took, i.e. queueing it for every subscriber, ms. */
  publishMs: number[]
  /** Per event: publish() entered → the gateway has handed it to the kernel for every subscriber, ms. */
  writtenMs: number[]
  events: number
  load: ProcessLoad
}

/**
 * A worker thread running a TypeScript module. Node 20 does not pass tsx's loader hooks on to workers, so the
 * worker registers them before importing the module.
 */
function typescriptWorker(module: URL, workerData: unknown): Worker {
  const tsx = import.meta.resolve('tsx/esm/api')
  const bootstrap = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(module.href)}) })`
  return new Worker(bootstrap, { eval: true, workerData })
}

/** The fan-out's gateway, in its own process with the publish probe: asks it and waits for its answer. */
async function askProbe<T extends ProbeAnswer['type']>(
  child: ChildProcess,
  request: ProbeRequest,
  expected: T,
): Promise<Extract<ProbeAnswer, { type: T }>> {
  const answered = once(child, 'message') as Promise<[ProbeAnswer]>
  child.send(request)
  const [answer] = await answered
  if (answer.type !== expected) throw new Error(`publish probe: expected ${expected}, got ${answer.type}`)
  return answer as Extract<ProbeAnswer, { type: T }>
}

/**
 * A time read with `performance.now()` in another thread or process, given that one's `performance.timeOrigin`,
 * as this thread's `performance.now()` would have read it.
 */
const fromClockOf = (timeOrigin: number) => {
  const shift = timeOrigin - performance.timeOrigin
  return (at: number) => at + shift
}

/** A probe's marks with their times moved onto this process's clock, and a lookup by sequence number. */
function onThisClock(
  sessionId: string,
  answer: Extract<ProbeAnswer, { type: 'marks' }>,
): { marks: ProbeMark[]; source: MarkSource } {
  const onClock = fromClockOf(answer.timeOrigin)
  const marks = answer.marks.map((mark) => ({ ...mark, at: onClock(mark.at) }))
  const bySeq = new Map(marks.map((mark) => [mark.seq, mark]))
  return { marks, source: { mark: (id, seq) => (id === sessionId ? bySeq.get(seq) : undefined) } }
}

async function fanOut(home: TestHome, options: NativeOptions): Promise<FanOut> {
  scriptAnswers(home, options)
  const cli = await detectClaudeCli(null, home.env)
  if (!cli.path) throw new Error(`Claude Code CLI not found: ${cli.reason}`)
  const gateway = await gatewayChild(home, cli.path, {
    level: 'info',
    logFile: join(home.root, 'fanout-gateway.log'),
    env: {
      CCGW_POOL_MAX_RUNNERS: String(options.maxRunners),
      CCGW_POOL_TURN_TIMEOUT_MS: String(TURN_TIMEOUT_MS),
    },
    nodeArgs: ['--import', new URL('./publish-probe.ts', import.meta.url).href],
    ipc: true,
    fromSource: true,
  })
  let worker: Worker | null = null
  try {
    const id = await createSession(gateway.url, 'followed')
    await askProbe(gateway.child, { type: 'watch', sessionId: id }, 'watching')
    // Unmeasured (its events are replayed to the subscribers, not live): starts the session's process and
    // runs the gateway's code once (lazy compilation, the SDK's first import), one-time costs that the
    // time-to-first-text benchmarks measure.
    await callJson(gateway.url, 'POST', `/api/sessions/${id}/messages`, { content: 'Warm up' })
    await askProbe(gateway.child, { type: 'load' }, 'watching')
    const input: SubscribersInput = { url: gateway.url, sessionId: id, subscribers: options.subscribers }
    worker = typescriptWorker(new URL('./native-subscribers.ts', import.meta.url), input)
    const next = async (): Promise<SubscribersMessage> => {
      const [message] = (await once(worker!, 'message')) as [SubscribersMessage]
      if (message.type === 'failed') throw new Error(`subscribers: ${message.message}`)
      return message
    }
    await next()
    const subscribedAt = performance.now()
    for (let i = 0; i < options.fanoutTurns; i++)
      await callJson(gateway.url, 'POST', `/api/sessions/${id}/messages`, { content: `Say hello (#${i})` })
    const sofar = await askProbe(gateway.child, { type: 'marks', sessionId: id }, 'marks')
    worker.postMessage({ lastSeq: sofar.marks.at(-1)?.seq ?? 0 })
    const done = await next()
    if (done.type !== 'done') throw new Error(`subscribers: unexpected ${done.type}`)
    const probed = await askProbe(gateway.child, { type: 'marks', sessionId: id }, 'marks')
    // The worker's performance.now() counts from its own start: moved onto this thread's clock.
    const onClock = fromClockOf(done.timeOrigin)
    const followed = done.followed.map((stream) => ({
      ...stream,
      openedAt: onClock(stream.openedAt),
      arrivals: stream.arrivals.map((arrival) => ({ ...arrival, at: onClock(arrival.at) })),
    }))
    const bySeq = new Map<number, number[]>()
    for (const { arrivals } of followed) {
      for (const { seq, at } of arrivals) {
        const times = bySeq.get(seq) ?? []
        times.push(at)
        bySeq.set(seq, times)
      }
    }
    const { marks, source } = onThisClock(id, probed)
    // The warm-up turn's events reached the subscribers as replay: only the live ones count.
    const live = marks.filter((mark) => mark.at >= subscribedAt)
    return {
      delivery: latencies(source, followed),
      spreadMs: live
        .map(({ seq }) => bySeq.get(seq) ?? [])
        .map((times) => Math.max(...times) - Math.min(...times)),
      publishMs: live.map((mark) => mark.publishMs),
      writtenMs: live.map((mark) => mark.writtenMs).filter((ms) => ms >= 0),
      events: live.length,
      load: probed.load!,
    }
  } finally {
    await worker?.terminate()
    await gateway.stop()
  }
}

// ---------------------------------------------------------------------------------------------------------
// (b) Cheap REST routes against a bare node:http server

interface RestRuns {
  /** The paths measured, as rows name them (`/api/sessions/{id}`). */
  names: string[]
  raw: Target
  gateway: Target
  load: Map<string, Run[]>
  /** One request at a time, by runKey. */
  oneAtATime: Map<string, number[]>
  bytes: Record<string, number>
}

/** `count` GETs one after the other on one kept-alive connection, each timed to the end of its body, ms. */
async function timedGets(url: string, count: number): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  try {
    const samples: number[] = []
    for (let i = 0; i < count; i++) {
      const started = performance.now()
      const { status } = await fetchBody(url, agent)
      if (status !== 200) throw new Error(`${url}: status ${status}`)
      samples.push(performance.now() - started)
    }
    return samples
  } finally {
    agent.destroy()
  }
}

async function restRoutes(home: TestHome, options: NativeOptions): Promise<RestRuns> {
  const cliPath = await bundledClaudeCli()
  const targets: Target[] = []
  try {
    const gateway = await gatewayChild(home, cliPath, {
      level: 'info',
      logFile: join(home.root, 'native-rest.log'),
    })
    targets.push(gateway)
    const ids: string[] = []
    for (let i = 0; i < options.listSessions; i++) ids.push(await createSession(gateway.url, `listed ${i}`))
    const paths = [`/api/sessions/${ids[0]}`, '/api/sessions?limit=50', '/api/tools']
    const nameOf = (path: string) => path.replace(ids[0]!, '{id}')
    const bodies = await bodiesOf(gateway.url, paths)
    const raw = await referenceChild(bodies)
    targets.push(raw)
    await checkServes(raw, bodies)
    const servers = [raw, gateway]
    const oneAtATime = new Map<string, number[]>()
    for (const path of paths)
      for (const server of servers) await timedGets(server.url + path, options.restRequests)
    for (let round = 0; round < options.restRounds; round++) {
      for (const path of paths) {
        for (const server of round % 2 === 0 ? servers : [...servers].reverse()) {
          const key = runKey(server, nameOf(path))
          oneAtATime.set(key, [
            ...(oneAtATime.get(key) ?? []),
            ...(await timedGets(server.url + path, options.restRequests)),
          ])
        }
      }
    }
    const load = await alternate(servers, paths, options.http, nameOf)
    return {
      names: paths.map(nameOf),
      raw,
      gateway,
      load,
      oneAtATime,
      bytes: Object.fromEntries(paths.map((path) => [nameOf(path), bodies[path]!.bytes.length])),
    }
  } finally {
    for (const target of targets.reverse()) await target.stop().catch(() => undefined)
  }
}

// ---------------------------------------------------------------------------------------------------------

export async function runNative(options: NativeOptions = defaultNativeOptions()): Promise<BenchResult> {
  const { parts } = options
  if (parts.has('rest') && !existsSync(CLI))
    throw new Error(`${CLI} is missing: run \`npm run build\` first (npm run bench does)`)
  const began = performance.now()
  const home = await testHome()
  try {
    const rest = parts.has('rest') ? await restRoutes(home, options) : null
    const streamed = parts.has('streams') ? await streamedTurns(home, options) : null
    const fan = parts.has('fanout') ? await fanOut(home, options) : null

    const name = {
      single: 'SSE turn, one session at a time: added latency per event',
      concurrent: `SSE turns, ${options.streams} sessions at once: added latency per event`,
      delivery: `GET /events, ${options.subscribers} subscribers: delivery latency per event`,
      fanSpread: `GET /events, ${options.subscribers} subscribers: last - first subscriber per event`,
      fanPublish: `GET /events, ${options.subscribers} subscribers: publish() per event (queued for all)`,
      fanWritten: `GET /events, ${options.subscribers} subscribers: publish() to written to every socket`,
      oneAtATime: (server: Target, path: string) => `${runKey(server, path)}: one request at a time`,
      added: (path: string) => `${path}: added latency, one request at a time`,
    }
    const rows: Row[] = []
    const ratios: Ratio[] = []
    const targets: Goal[] = []
    const notes: string[] = []
    if (streamed) {
      rows.push(latencyRow(name.single, streamed.single), latencyRow(name.concurrent, streamed.concurrent))
      targets.push({ row: name.concurrent, atMost: TARGET_P99_MS, percentile: 99 })
      notes.push(
        `(a) in-process gateway (testGateway: client, gateway and bus share this process and its clock), pool.maxRunners ${options.maxRunners}, queueSize ${options.queueSize}, warmSpares 0, claude.niceness 10; scripted answer ${options.chunks} text deltas ${options.chunkDelayMs} ms apart; one at a time: ${options.singleTurns} follow-ups in one live session after one discarded turn; at once: ${options.streams} new sessions, done in ${streamed.concurrentS.toFixed(1)} s`,
        `(a) added latency = client receipt (performance.now) - entry into the bus's publish() of the same session and seq (the SSE id); events measured: ${streamed.single.all.length} one at a time, ${streamed.concurrent.all.length} at once (${streamed.single.replayed + streamed.concurrent.replayed} published before their stream began, not counted)`,
        `(a) slowest event types at p99: one at a time ${slowestTypes(streamed.single)}; at once ${slowestTypes(streamed.concurrent)}`,
        `(a) this process (gateway + client) during the ${options.streams} streams: ${describeLoad(streamed.load)}`,
      )
    }
    if (rest) {
      for (const path of rest.names) {
        const rawSamples = rest.oneAtATime.get(runKey(rest.raw, path)) ?? []
        const gatewaySamples = rest.oneAtATime.get(runKey(rest.gateway, path)) ?? []
        const rawMedian = summarize(rawSamples).median
        const added = gatewaySamples.map((ms) => ms - rawMedian)
        rows.push(
          msRow(name.oneAtATime(rest.raw, path), rawSamples),
          msRow(name.oneAtATime(rest.gateway, path), gatewaySamples),
          msRow(name.added(path), added),
          ...loadRows(rest.load, rest.raw, path),
          ...loadRows(rest.load, rest.gateway, path),
        )
        targets.push({ row: name.added(path), atMost: TARGET_P99_MS, percentile: 99 })
        ratios.push(
          {
            name: `${path} gateway / raw, req/s`,
            numerator: `${runKey(rest.gateway, path)}: throughput`,
            denominator: `${runKey(rest.raw, path)}: throughput`,
          },
          {
            name: `${path} gateway / raw, CPU per request`,
            numerator: `${runKey(rest.gateway, path)}: server CPU per request`,
            denominator: `${runKey(rest.raw, path)}: server CPU per request`,
          },
        )
      }
    }
    const medianRow = (row: string) => summarize(rows.find((r) => r.name === row)?.samples ?? []).median
    if (rest) {
      const http = options.http
      notes.push(
        `(b) gateway: node dist/cli.js in its own process, log level info (one line per request, to a file), warmSpares 0, ${options.listSessions} sessions; raw: node:http in its own process answering the gateway's bytes (${Object.entries(
          rest.bytes,
        )
          .map(([path, bytes]) => `${path} ${bytes} B`)
          .join(
            ', ',
          )}); one request at a time: ${options.restRounds} rounds x ${options.restRequests} requests per server and path on one kept-alive connection, alternating, after ${options.restRequests} discarded; added = each gateway request - the raw median on that path`,
        `(b) load: autocannon ${http.connections} connections, ${http.durationS} s per run, ${http.runs} runs per server and path (order rotating), after ${http.warmupS} s warm-up; ratios to two decimals: ${ratios.map((r) => `${r.name} ${(medianRow(r.numerator) / medianRow(r.denominator)).toFixed(2)}`).join('; ')}`,
      )
    }
    if (fan) {
      rows.push(
        latencyRow(name.delivery, fan.delivery),
        msRow(name.fanSpread, fan.spreadMs),
        msRow(name.fanPublish, fan.publishMs),
        msRow(name.fanWritten, fan.writtenMs),
      )
      targets.push({ row: name.delivery, atMost: TARGET_P99_MS, percentile: 99 })
      notes.push(
        `(c) gateway in its own process (node --import tsx --import bench/publish-probe.ts src/cli.ts, log level info, no spare); ${options.subscribers} clients in a worker thread on GET /api/sessions/{id}/events of one session, which then ran ${options.fanoutTurns} turns after an unmeasured one (POST messages, JSON answer): ${fan.events} events, ${fan.delivery.all.length} deliveries measured; delivery latency = receipt - publish() entered, both moved onto this thread's clock (performance.timeOrigin of each)`,
        `(c) slowest event types at p99: ${slowestTypes(fan.delivery)}`,
        `(c) the gateway's main thread during the measured turns: ${describeLoad(fan.load)}`,
      )
    }
    const p95 = (row: string) => percentileOf(rows.find((r) => r.name === row)?.samples ?? [], 95)
    notes.push(
      `p95 of the target rows (SPEC: < 5 ms): ${targets.map((t) => `${t.row} ${p95(t.row).toFixed(2)}`).join('; ')}`,
    )
    return {
      title:
        'Native API: gateway-added latency (SSE turns, REST routes, /events fan-out) and REST throughput',
      rows,
      ratios,
      targets,
      notes,
      elapsedMs: performance.now() - began,
    }
  } finally {
    await home.close()
  }
}

await main(import.meta.url, () => runNative())
