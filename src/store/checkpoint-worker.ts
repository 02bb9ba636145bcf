/**
 * The thread of checkpointer.ts: its own connection to the database, a passive checkpoint every interval (it
 * never blocks the gateway's reads or writes), closed when told to stop.
 */
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'

export interface CheckpointWorkerData {
  file: string
  everyMs: number
}

const { file, everyMs } = workerData as CheckpointWorkerData
const db = new Database(file)
const timer = setInterval(() => db.pragma('wal_checkpoint(PASSIVE)'), everyMs)
parentPort?.once('message', () => {
  clearInterval(timer)
  db.close()
  parentPort?.close()
})
