/**
 * The symlink race of issue 11: a folder inside a workspace swapped, over and over, for a symlink leading out
 * of it, while the gateway opens paths through it. The swapping runs in a worker thread with synchronous
 * renames, in parallel with the gateway's own file system calls, so that the window between a path check
 * and its use is hit as often as a real attacker would hit it.
 */
import { readdirSync, symlinkSync } from 'node:fs'
import { join, relative } from 'node:path'
import { Worker } from 'node:worker_threads'

const SWAPPER = `
const { renameSync } = require('node:fs')
const { workerData } = require('node:worker_threads')
const { folder, folderStash, link, stop } = workerData
const flag = new Int32Array(stop)
let swaps = 0
while (Atomics.load(flag, 0) === 0) {
  try {
    // The folder steps aside and the symlink takes its name, then the other way round.
    renameSync(folder, folderStash)
    renameSync(link, folder)
    renameSync(folder, link)
    renameSync(folderStash, folder)
    swaps++
  } catch {}
}
Atomics.store(flag, 1, swaps)
`

export interface SymlinkRace {
  /** Stops swapping, leaves `folder` a real folder again, and tells how many swaps were made. */
  stop(): Promise<number>
}

/**
 * Starts swapping `folder` (an existing folder) for a symlink to `target`, until `stop`. The symlink waits
 * beside the folder as `<folder>.link`, the folder as `<folder>.stash` while the link has its name.
 */
export function raceFolderWithSymlink(folder: string, target: string): SymlinkRace {
  const link = `${folder}.link`
  symlinkSync(target, link)
  const stop = new SharedArrayBuffer(8)
  const worker = new Worker(SWAPPER, {
    eval: true,
    workerData: { folder, folderStash: `${folder}.stash`, link, stop },
  })
  const exited = new Promise<void>((resolve, reject) => {
    worker.once('exit', () => resolve())
    worker.once('error', reject)
  })
  return {
    async stop() {
      const flag = new Int32Array(stop)
      Atomics.store(flag, 0, 1)
      await exited
      return Atomics.load(flag, 1)
    },
  }
}

/** Every file and folder below `dir`, relative to it, sorted. */
export function treeOf(dir: string): string[] {
  const found: string[] = []
  const visit = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name)
      found.push(relative(dir, path))
      if (entry.isDirectory()) visit(path)
    }
  }
  visit(dir)
  return found.sort()
}

/**
 * What the calls of a race answered: `settle` runs one call and keeps any answer that carries `marker` (the
 * outside files' content) as a leak, and any failure that is not an `Expected` refusal as unexpected.
 */
export function raceOutcomes(Expected: abstract new (...args: never[]) => Error, marker = 'OUTSIDE') {
  const leaks: string[] = []
  const unexpected: string[] = []
  const settle = async (what: string, call: () => Promise<unknown>): Promise<void> => {
    try {
      const result = JSON.stringify(await call())
      if (result.includes(marker)) leaks.push(`${what}: ${result.slice(0, 200)}`)
    } catch (error) {
      if (!(error instanceof Expected)) unexpected.push(`${what}: ${String(error)}`)
    }
  }
  return { leaks, unexpected, settle }
}
