/**
 * Child process of idle-streams.ts: holds its share of the idle SSE connections, in a process of its own so
 * that reading them takes nothing from the gateway's event loop nor the parent's /livez probes.
 *
 * Each connection is a bare socket with the request written by hand (`Connection: close`, no agent, no
 * keep-alive pool): per connection it keeps only a byte count, how many `turn.completed` frames it saw and
 * whether it closed or failed before it was told to close. Driven over IPC:
 * `open` (paths, batch size) → `opened`; `report` → `report` (one entry per connection); `close` → exit.
 */
import { connect, type Socket } from 'node:net'
import { ResponseHead } from './response-head.js'

export type HolderRequest =
  | { type: 'open'; url: string; paths: string[]; batch: number }
  | { type: 'report' }
  | { type: 'close' }

export interface Held {
  path: string
  bytes: number
  completed: number
  /** Closed by the gateway, or failed, before `close`. */
  dropped: boolean
}

export type HolderReply =
  | { type: 'opened'; opened: number; failures: string[]; ms: number }
  | { type: 'report'; held: Held[]; failures: string[] }

const MARK = 'event: turn.completed\n'

const sockets: Socket[] = []
const held: Held[] = []
const failures: string[] = []
let closing = false
const send = (reply: HolderReply) => process.send!(reply)

/** One stream: resolves once its 200 headers are in; after that only counts what it receives. */
function hold(base: URL, path: string): Promise<void> {
  return new Promise((opened, fail) => {
    const state: Held = { path, bytes: 0, completed: 0, dropped: false }
    const socket = connect(Number(base.port), base.hostname)
    const head = new ResponseHead(`GET ${path}`)
    // The end of the previous chunk: a frame's name may be split across two chunks.
    let carry = ''
    socket.on('error', (error) => {
      if (!head.complete) fail(error)
      else if (!closing) {
        state.dropped = true
        failures.push(`${path}: ${error.message}`)
      }
    })
    socket.on('close', () => {
      if (head.complete && !closing) state.dropped = true
    })
    socket.on('connect', () =>
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${base.host}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n`,
      ),
    )
    socket.on('data', (chunk: Buffer) => {
      state.bytes += chunk.length
      const opening = !head.complete
      const piece = head.read(chunk.toString('latin1'))
      if (piece === null) return
      if (piece instanceof Error) {
        socket.destroy()
        fail(piece)
        return
      }
      if (opening) {
        sockets.push(socket)
        held.push(state)
        opened()
      }
      const text = carry + piece
      for (let at = text.indexOf(MARK); at >= 0; at = text.indexOf(MARK, at + MARK.length)) state.completed++
      carry = text.slice(-(MARK.length - 1))
    })
  })
}

process.on('message', async (request: HolderRequest) => {
  if (request.type === 'open') {
    const base = new URL(request.url)
    const started = performance.now()
    let opened = 0
    for (let i = 0; i < request.paths.length; i += request.batch) {
      const results = await Promise.allSettled(
        request.paths.slice(i, i + request.batch).map((path) => hold(base, path)),
      )
      for (const result of results) {
        if (result.status === 'fulfilled') opened++
        else failures.push(String(result.reason?.message ?? result.reason))
      }
    }
    send({ type: 'opened', opened, failures: failures.slice(0, 5), ms: performance.now() - started })
  } else if (request.type === 'report') {
    send({ type: 'report', held, failures: failures.slice(0, 5) })
  } else {
    closing = true
    for (const socket of sockets) socket.destroy()
    process.disconnect()
  }
})
