import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

/** How often the thread copies the write-ahead log into the database file. */
const CHECKPOINT_EVERY_MS = 1_000

/**
 * The thread's code: its own connection to the database, a passive checkpoint every interval (it never
 * blocks the gateway's reads or writes), closed when told to stop. Given as text, so it needs no build step
 * and no TypeScript loader; only dynamic imports, as an evaluated worker is CommonJS or an ES module
 * depending on the package it runs in. better-sqlite3 is required from the path resolved here.
 */
const THREAD = `
Promise.all([import('node:worker_threads'), import('node:module')]).then(([threads, { createRequire }]) => {
  const { parentPort, workerData } = threads
  const Database = createRequire(workerData.sqlite)(workerData.sqlite)
  const db = new Database(workerData.file)
  const timer = setInterval(() => db.pragma('wal_checkpoint(PASSIVE)'), workerData.everyMs)
  parentPort.on('message', () => {
    clearInterval(timer)
    db.close()
    parentPort.close()
  })
})
`

/**
 * Checkpoints of an SQLite database in WAL mode, run in a worker thread. SQLite checkpoints in the
 * connection that commits once the log passes a size, and a checkpoint syncs the disk: 5 to 30 ms on this
 * machine, over half a second under load, on the event loop every few thousand events. Here they run on
 * their own connection off the event loop; if the thread fails, `onFailure` puts them back on the caller's.
 */
export class Checkpointer {
  private readonly worker: Worker
  private stopped = false

  constructor(file: string, onFailure: (error: Error) => void) {
    const sqlite = createRequire(import.meta.url).resolve('better-sqlite3')
    this.worker = new Worker(THREAD, {
      eval: true,
      workerData: { file, sqlite, everyMs: CHECKPOINT_EVERY_MS },
    })
    this.worker.unref()
    this.worker.once('error', (error) => {
      if (!this.stopped) onFailure(error)
    })
    this.worker.once('exit', (code) => {
      if (!this.stopped) onFailure(new Error(`the checkpoint thread exited with code ${code}`))
    })
  }

  /** Stop checkpointing; the last connection to close checkpoints what is left. */
  stop(): void {
    if (this.stopped) return
    this.stopped = true
    this.worker.postMessage('stop')
  }
}
