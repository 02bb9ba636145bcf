import type { Worker } from 'node:worker_threads'
import { startModuleWorker } from '../util/module-worker.js'
import type { CheckpointWorkerData } from './checkpoint-worker.js'

/** How often the thread copies the write-ahead log into the database file. */
const CHECKPOINT_EVERY_MS = 1_000

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
    this.worker = startModuleWorker('checkpoint-worker', import.meta.url, {
      workerData: { file, everyMs: CHECKPOINT_EVERY_MS } satisfies CheckpointWorkerData,
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
