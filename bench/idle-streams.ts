/**
 * Idle SSE connections on one gateway process (issue 15): BENCH_IDLE_STREAMS connections (10,000) on the
 * built gateway (`node dist/cli.js`, scripted model), half on `GET /api/events` (the admin UI's stream) and
 * half spread over BENCH_IDLE_SESSIONS sessions' `GET /api/sessions/:id/events` (a client following one
 * session): the two subscription paths of the bus. They are held by BENCH_IDLE_HOLDERS separate Node
 * processes (bench/idle-holder.ts, bare sockets, `Connection: close`), opened in batches of BENCH_IDLE_BATCH
 * per holder (each batch waits for its headers), held BENCH_IDLE_HOLD_S seconds, then one native turn is run
 * on each session: every session follower must receive its session's `turn.completed` and every
 * `/api/events` follower every session's, with no connection dropped; then all are closed.
 *
 * Figures: the gateway's RSS (/proc) and V8 heap used (GET /api/metrics) before, held and after closing, and
 * their difference per connection; open fds (/proc/<pid>/fd) against the process's limit; a `GET /livez`
 * round trip every 100 ms from this process, idle before and during the hold (event-loop delay as a client
 * sees it); what GET /api/metrics counts as SSE streams.
 *
 * Run: `npm run build && node --import tsx bench/idle-streams.ts`, or `npm run bench -- --only idle-streams`.
 * Env (defaults): BENCH_IDLE_STREAMS (10000), BENCH_IDLE_SESSIONS (4), BENCH_IDLE_HOLDERS (2),
 * BENCH_IDLE_BATCH (500), BENCH_IDLE_HOLD_S (60).
 */
import { type ChildProcess, fork } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { bundledClaudeCli, testHome } from '../test/support/harness.js'
import { text } from '../test/support/scripted-anthropic.js'
import { ANSWER, PROMPT } from './cli-baseline.js'
import { CLI, gatewayChild } from './http.js'
import type { Held, HolderReply, HolderRequest } from './idle-holder.js'
import { jsonCall } from './json-call.js'
import { type BenchResult, envInt, main, type Row, rssMb, sleep, spread } from './stats.js'

export interface IdleStreamsOptions {
  streams: number
  sessions: number
  holders: number
  batch: number
  holdS: number
}

export const defaultIdleStreamsOptions = (): IdleStreamsOptions => ({
  streams: envInt('BENCH_IDLE_STREAMS', 10_000),
  sessions: envInt('BENCH_IDLE_SESSIONS', 4),
  holders: envInt('BENCH_IDLE_HOLDERS', 2),
  batch: envInt('BENCH_IDLE_BATCH', 500),
  holdS: envInt('BENCH_IDLE_HOLD_S', 60, 0),
})

const HOLDER = new URL('./idle-holder.ts', import.meta.url)

/** A holder process and the next reply of a given type. */
class Holder {
  private readonly child: ChildProcess
  constructor() {
    this.child = fork(HOLDER, [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
  }

  ask<T extends HolderReply['type']>(
    request: HolderRequest,
    answer: T,
  ): Promise<Extract<HolderReply, { type: T }>> {
    return new Promise((resolve, reject) => {
      const onMessage = (reply: HolderReply) => {
        if (reply.type !== answer) return
        this.child.off('message', onMessage)
        this.child.off('exit', onExit)
        resolve(reply as Extract<HolderReply, { type: T }>)
      }
      const onExit = (code: number | null) => reject(new Error(`holder exited (${code}) before ${answer}`))
      this.child.on('message', onMessage)
      this.child.once('exit', onExit)
      this.child.send(request)
    })
  }

  close(): Promise<void> {
    if (this.child.exitCode !== null || !this.child.connected) return Promise.resolve()
    return new Promise((done) => {
      this.child.once('exit', () => done())
      this.child.send({ type: 'close' } satisfies HolderRequest)
    })
  }
}

/** `GET /livez` round trips, one every 100 ms, until `stop()`. */
function probeLivez(url: string): { stop: () => Promise<number[]> } {
  const samples: number[] = []
  let running = true
  const loop = (async () => {
    while (running) {
      const started = performance.now()
      const response = await fetch(`${url}/livez`, { signal: AbortSignal.timeout(10_000) })
      await response.arrayBuffer()
      samples.push(performance.now() - started)
      await sleep(100)
    }
  })()
  return {
    stop: async () => {
      running = false
      await loop
      return samples
    },
  }
}

interface Memory {
  rssMb: number
  heapMb: number
  fds: number
  sse: number
}

export async function runIdleStreams(
  options: IdleStreamsOptions = defaultIdleStreamsOptions(),
): Promise<BenchResult> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`)
  const began = performance.now()
  const log = (line: string) =>
    console.log(`[idle-streams ${((performance.now() - began) / 1000).toFixed(0)} s] ${line}`)
  const home = await testHome()
  home.model.fallback = () => text(ANSWER)
  const gateway = await gatewayChild(home, await bundledClaudeCli(), {
    level: 'warn',
    logFile: join(home.root, 'idle-streams.log'),
    env: { CCGW_NATIVE_WORKSPACE_ROOTS: home.root },
  })
  const { url } = gateway
  const pid = gateway.child.pid!
  const holders = Array.from({ length: options.holders }, () => new Holder())
  const memory = async (): Promise<Memory> => {
    const metrics = await jsonCall(url, 'GET', '/api/metrics')
    const { memory: used, connections } = metrics as {
      memory: { gateway_heap_used_bytes: number }
      connections: { streams: { sse: number } }
    }
    return {
      rssMb: await rssMb(pid),
      heapMb: used.gateway_heap_used_bytes / 2 ** 20,
      fds: (await readdir(`/proc/${pid}/fd`)).length,
      sse: connections.streams.sse,
    }
  }
  try {
    const limits = await readFile(`/proc/${pid}/limits`, 'utf8')
    const fdLimit = Number(/^Max open files\s+(\d+)/m.exec(limits)?.[1])
    if (fdLimit < options.streams + 200)
      throw new Error(
        `the gateway may open ${fdLimit} files, fewer than ${options.streams} streams need: raise \`ulimit -n\``,
      )
    const sessions: string[] = []
    for (let i = 0; i < options.sessions; i++)
      sessions.push(String((await jsonCall(url, 'POST', '/api/sessions', { title: `idle ${i}` })).id))
    // Interleaved, so every holder has both kinds.
    const paths = Array.from({ length: options.streams }, (_, i) =>
      i % 2 === 0 ? '/api/events' : `/api/sessions/${sessions[((i - 1) / 2) % options.sessions]}/events`,
    )
    log(`gateway pid ${pid}, fd limit ${fdLimit}; ${options.sessions} sessions; idle /livez probes for 10 s`)
    const idleProbe = probeLivez(url)
    await sleep(10_000)
    const idleLivez = await idleProbe.stop()
    const before = await memory()

    const share = Math.ceil(paths.length / holders.length)
    const opened = await Promise.all(
      holders.map((holder, h) =>
        holder.ask(
          { type: 'open', url, paths: paths.slice(h * share, (h + 1) * share), batch: options.batch },
          'opened',
        ),
      ),
    )
    const openedCount = opened.reduce((sum, reply) => sum + reply.opened, 0)
    const rampS = Math.max(...opened.map((reply) => reply.ms)) / 1000
    log(`${openedCount}/${options.streams} streams open in ${rampS.toFixed(1)} s; holding ${options.holdS} s`)
    const atOpen = await memory()
    const holdProbe = probeLivez(url)
    await sleep(options.holdS * 1000)
    const heldLivez = await holdProbe.stop()
    const held = await memory()

    const published = performance.now()
    const turns = await Promise.all(
      sessions.map((id) => jsonCall(url, 'POST', `/api/sessions/${id}/messages`, { content: PROMPT })),
    )
    const turnFailures = turns.filter((turn) => turn.status !== 'success').length
    // Every follower has the turns' events once the last turn.completed reached each of them (or 30 s).
    let reports: { held: Held[]; failures: string[] }[] = []
    const expected = (path: string) => (path === '/api/events' ? options.sessions : 1)
    let short = 0
    for (const deadline = performance.now() + 30_000; performance.now() < deadline; await sleep(250)) {
      reports = await Promise.all(holders.map((holder) => holder.ask({ type: 'report' }, 'report')))
      short = 0
      for (const report of reports)
        for (const state of report.held) if (state.completed < expected(state.path)) short++
      if (short === 0) break
    }
    const deliveredS = (performance.now() - published) / 1000
    const states = reports.flatMap((report) => report.held)
    const dropped = states.filter((state) => state.dropped).length
    const failures = [
      ...opened.flatMap((reply) => reply.failures),
      ...reports.flatMap((report) => report.failures),
    ]
    const afterPublish = await memory()

    await Promise.all(holders.map((holder) => holder.close()))
    await sleep(5000)
    const closed = await memory()
    const perConnectionKb = (mb: number) => ((mb * 1024) / Math.max(openedCount, 1)).toFixed(1)
    const rows: Row[] = [
      { name: 'GET /livez round trip, idle', unit: 'ms', samples: idleLivez, note: spread(idleLivez) },
      {
        name: `GET /livez round trip, ${openedCount} streams held`,
        unit: 'ms',
        samples: heldLivez,
        note: spread(heldLivez),
      },
      {
        name: 'gateway RSS: before / held / after the turns / closed',
        unit: 'MB',
        samples: [before.rssMb, held.rssMb, afterPublish.rssMb, closed.rssMb],
      },
    ]
    const ok = openedCount === options.streams && short === 0 && dropped === 0 && turnFailures === 0
    const result: BenchResult = {
      title: `Idle SSE streams: ${options.streams} on one gateway process, held ${options.holdS} s`,
      rows,
      ratios: [],
      targets: [],
      p99: true,
      notes: [
        `reproduce: npm run build && BENCH_IDLE_STREAMS=${options.streams} BENCH_IDLE_SESSIONS=${options.sessions} BENCH_IDLE_HOLDERS=${options.holders} BENCH_IDLE_BATCH=${options.batch} BENCH_IDLE_HOLD_S=${options.holdS} node --import tsx bench/idle-streams.ts`,
        `split: ${paths.filter((path) => path === '/api/events').length} on /api/events, the rest on ${options.sessions} sessions' /events; ${options.holders} holder processes, batches of ${options.batch}; ramp ${rampS.toFixed(1)} s`,
        `RSS ${before.rssMb.toFixed(0)} MB before, ${atOpen.rssMb.toFixed(0)} MB once open, ${held.rssMb.toFixed(0)} MB after ${options.holdS} s, ${afterPublish.rssMb.toFixed(0)} MB after the turns, ${closed.rssMb.toFixed(0)} MB 5 s after closing: ${perConnectionKb(held.rssMb - before.rssMb)} KB per connection held`,
        `V8 heap used ${before.heapMb.toFixed(1)} MB before, ${held.heapMb.toFixed(1)} MB held (${perConnectionKb(held.heapMb - before.heapMb)} KB per connection, no GC forced), ${closed.heapMb.toFixed(1)} MB after closing`,
        `open fds ${before.fds} before, ${held.fds} held, ${closed.fds} after closing (limit ${fdLimit}); GET /api/metrics SSE streams ${before.sse} / ${held.sse} / ${closed.sse}`,
        `delivery: ${options.sessions} native turns (${turnFailures} failed); every follower had its turn.completed frames ${deliveredS.toFixed(1)} s after the turns began; ${short} short, ${dropped} dropped, ${failures.length} socket errors${failures.length ? ` (${failures.slice(0, 3).join('; ')})` : ''}`,
        ok ? 'verdict: every stream opened, held and received its events' : 'verdict: FAILED',
      ],
      elapsedMs: performance.now() - began,
    }
    if (!ok) {
      console.log(result.notes.join('\n'))
      throw new Error('idle-streams: not every stream opened, stayed open and received its events')
    }
    return result
  } finally {
    await Promise.all(holders.map((holder) => holder.close()))
    await gateway.stop()
    await home.close()
  }
}

await main(import.meta.url, () => runIdleStreams())
