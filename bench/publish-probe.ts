/**
 * Loaded into a gateway run in its own process from source (`node --import tsx --import
 * ./bench/publish-probe.ts src/cli.ts`, with an IPC channel): records, for every event of the sessions it is
 * asked to watch, when the bus's publish() was entered, how long it took, and when the event had been
 * written to every follower's socket (the first setImmediate after it: Node hands a response's writes to
 * the kernel at the end of the tick). It patches the same `EventBus` module the gateway imports.
 *
 * IPC: `{ type: 'watch', sessionId }` starts recording that session's events, `{ type: 'load' }` starts
 * watching the process's load (both answered with `watching`); `{ type: 'marks', sessionId }` answers with
 * what was recorded, times on this process's `performance.now()` clock with its `performance.timeOrigin` to
 * move them onto the asker's.
 */
import { EventBus } from '../src/events/bus.js'
import type { GatewayEvent } from '../src/events/types.js'
import { LoadWatch, type ProcessLoad } from './streaming.js'

export interface ProbeMark {
  seq: number
  type: GatewayEvent['type']
  /** performance.now() as publish() was entered. */
  at: number
  publishMs: number
  /** publish() entered → written to every follower; -1 if the process answered before it was. */
  writtenMs: number
}

export type ProbeRequest =
  | { type: 'watch'; sessionId: string }
  | { type: 'load' }
  | { type: 'marks'; sessionId: string }

export type ProbeAnswer =
  | { type: 'watching' }
  | { type: 'marks'; timeOrigin: number; marks: ProbeMark[]; load: ProcessLoad | null }

const watched = new Map<string, ProbeMark[]>()
let load: LoadWatch | null = null

const publish = EventBus.prototype.publish
EventBus.prototype.publish = function probedPublish(this: EventBus, sessionId, body) {
  const marks = watched.get(sessionId)
  if (!marks) return publish.call(this, sessionId, body)
  const at = performance.now()
  const event = publish.call(this, sessionId, body)
  const mark: ProbeMark = {
    seq: event.seq,
    type: event.type,
    at,
    publishMs: performance.now() - at,
    writtenMs: -1,
  }
  marks.push(mark)
  setImmediate(() => {
    mark.writtenMs = performance.now() - at
  })
  return event
}

const answer = (message: ProbeAnswer) => process.send?.(message)

process.on('message', (request: ProbeRequest) => {
  if (request.type === 'watch') {
    watched.set(request.sessionId, [])
    answer({ type: 'watching' })
  } else if (request.type === 'load') {
    load = new LoadWatch()
    answer({ type: 'watching' })
  } else if (request.type === 'marks') {
    answer({
      type: 'marks',
      timeOrigin: performance.timeOrigin,
      marks: watched.get(request.sessionId) ?? [],
      load: load?.stop() ?? null,
    })
  }
})
