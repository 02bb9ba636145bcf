/**
 * What the streaming benchmarks (openai.ts, native.ts) share: reading server-sent events, timing every event
 * the gateway publishes (the gateway runs in the benchmark process, so the client and the bus share one
 * clock), and watching how this process fared meanwhile (event loop delay, time waiting for a CPU).
 */
import { readFileSync } from 'node:fs'
import { type Agent, type ClientRequest, request as httpRequest } from 'node:http'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { EventBus } from '../src/events/bus.js'
import type { GatewayEvent } from '../src/events/types.js'

export interface SseEvent {
  /** The `id:` field (the gateway's sequence number on the native API), null when absent. */
  id: string | null
  /** The `event:` field, null when absent. */
  event: string | null
  data: string
}

/**
 * Server-sent events as the gateway writes them: events separated by a blank line; comments are skipped.
 * One pass over each piece, keeping only the unfinished line: a hundred followers parse every event.
 */
export class SseParser {
  private rest = ''
  private id: string | null = null
  private event: string | null = null
  private data: string[] = []

  /** The events completed by this piece of the stream (those that carry data). */
  push(piece: string): SseEvent[] {
    const text = this.rest + piece
    const out: SseEvent[] = []
    let start = 0
    for (let newline = text.indexOf('\n'); newline >= 0; newline = text.indexOf('\n', start)) {
      const line = text.slice(start, newline)
      start = newline + 1
      if (line === '') {
        const data = this.data.join('\n')
        if (data) out.push({ id: this.id, event: this.event, data })
        this.id = null
        this.event = null
        this.data = []
      } else if (line.startsWith('data: ')) this.data.push(line.slice(6))
      else if (line.startsWith('id: ')) this.id = line.slice(4)
      else if (line.startsWith('event: ')) this.event = line.slice(7)
    }
    this.rest = text.slice(start)
    return out
  }
}

/** Adds the events a piece of a stream completes to what its client followed; throws on an `error` event. */
export function recordPiece(followed: Followed, parser: SseParser, piece: string, at: number): void {
  for (const event of parser.push(piece)) {
    if (event.event === 'error') throw new Error(`stream error: ${event.data}`)
    if (event.id !== null) followed.arrivals.push({ seq: Number(event.id), type: event.event ?? '', at })
  }
}

/** One event of a stream as the client saw it. */
export interface Arrival {
  seq: number
  type: string
  /** performance.now() when the piece of the stream carrying it arrived. */
  at: number
}

/** Events of a session's stream, and when the stream began (its response headers arrived). */
export interface Followed {
  sessionId: string
  openedAt: number
  arrivals: Arrival[]
}

/**
 * A native API request answered by an event stream (a streamed turn, a session's `/events`): resolves once
 * its headers are in, with the request (to cut it) and what it has received so far, which keeps growing
 * until the stream ends (`ended`). An `error` event fails it.
 */
export function openEventStream(
  url: string,
  sessionId: string,
  init: { method: 'GET' | 'POST'; path: string; agent: Agent; body?: unknown },
): Promise<{ request: ClientRequest; followed: Followed; ended: Promise<void> }> {
  return new Promise((opened, fail) => {
    const body = init.body === undefined ? undefined : JSON.stringify(init.body)
    const headers: Record<string, string | number> = { accept: 'text/event-stream' }
    if (body !== undefined) {
      headers['content-type'] = 'application/json'
      headers['content-length'] = Buffer.byteLength(body)
    }
    const request = httpRequest(
      url + init.path,
      { method: init.method, agent: init.agent, headers },
      (response) => {
        const followed: Followed = { sessionId, openedAt: performance.now(), arrivals: [] }
        response.setEncoding('utf8')
        if (response.statusCode !== 200) {
          let error = ''
          response.on('data', (piece: string) => {
            error += piece
          })
          response.on('end', () =>
            fail(new Error(`${init.method} ${init.path}: status ${response.statusCode}: ${error}`)),
          )
          return
        }
        const parser = new SseParser()
        const ended = new Promise<void>((done, broken) => {
          response.on('data', (piece: string) => {
            try {
              recordPiece(followed, parser, piece, performance.now())
            } catch (error) {
              request.destroy(error as Error)
            }
          })
          response.on('end', done)
          response.on('error', broken)
          request.on('error', broken)
        })
        // Followers are cut rather than ended: whoever does not await this must not see it as unhandled.
        ended.catch(() => undefined)
        opened({ request, followed, ended })
      },
    )
    request.on('error', fail)
    request.end(body)
  })
}

/** When the client got a piece of a stream: Date.now() and performance.now(). */
export interface Received {
  wall: number
  at: number
}

export interface BusMark {
  type: GatewayEvent['type']
  /** The event's own `ts` (Date.now() at publish). */
  ts: number
  /** performance.now() as publish() was entered, before the event reached any follower. */
  at: number
  /** How long publish() took: numbering, queueing for the store and the synchronous delivery to followers. */
  publishMs: number
  /** Not from a subagent (no parent tool call). */
  main: boolean
}

/**
 * Every event the bus publishes, by session and sequence number, with the moment it was published. The
 * mark is taken as `publish()` is entered, so delivery to the session's followers (an SSE subscriber writes
 * to its socket right there) counts as gateway time.
 */
export class BusRecorder {
  private readonly sessions = new Map<string, Map<number, BusMark>>()

  constructor(private readonly bus: EventBus) {
    const publish = bus.publish.bind(bus)
    bus.publish = (sessionId, body) => {
      const at = performance.now()
      const event = publish(sessionId, body)
      const main = !('parentToolUseId' in event) || event.parentToolUseId === null
      let marks = this.sessions.get(sessionId)
      if (!marks) {
        marks = new Map()
        this.sessions.set(sessionId, marks)
      }
      marks.set(event.seq, { type: event.type, ts: event.ts, at, publishMs: performance.now() - at, main })
      return event
    }
  }

  mark(sessionId: string, seq: number): BusMark | undefined {
    return this.sessions.get(sessionId)?.get(seq)
  }

  /** Every event of a session, in order. */
  marks(sessionId: string): BusMark[] {
    return [...(this.sessions.get(sessionId)?.values() ?? [])]
  }

  /** A session's main-thread text.delta events, in order. */
  private textDeltas(sessionId: string): BusMark[] {
    return this.marks(sessionId).filter((mark) => mark.type === 'text.delta' && mark.main)
  }

  deltas(sessionId: string): number {
    return this.textDeltas(sessionId).length
  }

  /**
   * Gateway-added latency of each text chunk a session's client received (in order, all its turns): receive
   * time - publish time, by Date.now and by performance.now. Undefined when the counts differ.
   */
  match(sessionId: string, received: Received[]): { wallMs: number[]; preciseMs: number[] } | undefined {
    const events = this.textDeltas(sessionId)
    if (events.length !== received.length) return undefined
    return {
      wallMs: received.map((chunk, i) => chunk.wall - events[i]!.ts),
      preciseMs: received.map((chunk, i) => chunk.at - events[i]!.at),
    }
  }

  close(): void {
    // The instance property shadowed the class's method; removing it restores the original.
    Reflect.deleteProperty(this.bus, 'publish')
  }
}

/** The main thread's time on a CPU and waiting for one (run queue), ms, from /proc/self/schedstat. */
function schedstat(): { runMs: number; waitMs: number } {
  try {
    const [run, wait] = readFileSync('/proc/self/schedstat', 'utf8').trim().split(/\s+/).map(Number)
    return { runMs: (run ?? Number.NaN) / 1e6, waitMs: (wait ?? Number.NaN) / 1e6 }
  } catch {
    return { runMs: Number.NaN, waitMs: Number.NaN }
  }
}

/**
 * Event loop stalls over `thresholdMs`, each with this process's CPU time during it: a stall in which the
 * process used little CPU was spent waiting for a core (other processes ran), not running JavaScript.
 */
class StallWatch {
  readonly stalls: { ms: number; cpuMs: number }[] = []
  private last = performance.now()
  private lastCpu = process.cpuUsage()
  private readonly timer: NodeJS.Timeout

  constructor(private readonly thresholdMs = 20) {
    this.timer = setInterval(() => this.tick(), 1)
  }

  private tick(): void {
    const now = performance.now()
    const cpu = process.cpuUsage()
    const gap = now - this.last
    if (gap > this.thresholdMs)
      this.stalls.push({
        ms: gap,
        cpuMs: (cpu.user - this.lastCpu.user + cpu.system - this.lastCpu.system) / 1000,
      })
    this.last = now
    this.lastCpu = cpu
  }

  stop(): void {
    clearInterval(this.timer)
  }
}

/** How this process fared during a measurement. */
export interface ProcessLoad {
  /** Event loop delay (perf_hooks), ms. */
  loopDelay: { p50: number; p99: number; max: number }
  /** The main thread's time on a CPU and waiting for one, ms. */
  sched: { runMs: number; waitMs: number }
  stalls: { ms: number; cpuMs: number }[]
}

/** Watches this process from construction to `stop()`: event loop delay, CPU time and wait, stalls. */
export class LoadWatch {
  private readonly loop = monitorEventLoopDelay({ resolution: 1 })
  private readonly stallWatch = new StallWatch()
  private readonly schedBefore = schedstat()
  private result: ProcessLoad | null = null

  constructor() {
    this.loop.enable()
  }

  /** What was seen; stops watching (later calls return the same figures). */
  stop(): ProcessLoad {
    if (this.result) return this.result
    const schedAfter = schedstat()
    this.stallWatch.stop()
    this.loop.disable()
    this.result = {
      loopDelay: {
        p50: this.loop.percentile(50) / 1e6,
        p99: this.loop.percentile(99) / 1e6,
        max: this.loop.max / 1e6,
      },
      sched: {
        runMs: schedAfter.runMs - this.schedBefore.runMs,
        waitMs: schedAfter.waitMs - this.schedBefore.waitMs,
      },
      stalls: this.stallWatch.stalls,
    }
    return this.result
  }
}

const fixed = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : '-')

/** A ProcessLoad as one sentence for a benchmark's notes. */
export function describeLoad(load: ProcessLoad): string {
  const waited = load.stalls.filter((stall) => stall.cpuMs < stall.ms / 2)
  const stallMs = (list: { ms: number }[]) => list.reduce((sum, stall) => sum + stall.ms, 0).toFixed(0)
  return `event loop delay p50 ${fixed(load.loopDelay.p50)} / p99 ${fixed(load.loopDelay.p99)} / max ${fixed(load.loopDelay.max)} ms; main thread on a CPU ${(load.sched.runMs / 1000).toFixed(1)} s and waiting in the run queue for one ${(load.sched.waitMs / 1000).toFixed(1)} s (/proc/self/schedstat); ${load.stalls.length} event loop stalls > 20 ms (${stallMs(load.stalls)} ms in all), ${waited.length} of them (${stallMs(waited)} ms) with this process using under half a core: time spent waiting for a CPU the CLI processes had, not running the gateway`
}
