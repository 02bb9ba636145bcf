import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker, type WorkerOptions } from 'node:worker_threads'

/**
 * Start a worker thread on a module of this package, given relative to the caller (`import.meta.url`) and
 * without its extension: `.js` once built, `.ts` when running from the sources under tsx, whose loader
 * workers do not inherit, so the worker registers it before loading its entry.
 */
export function startModuleWorker(name: string, caller: string, options: WorkerOptions): Worker {
  const ext = extname(fileURLToPath(caller))
  const entry = new URL(`./${name}${ext}`, caller)
  if (ext !== '.ts') return new Worker(entry, options)
  const tsx = import.meta.resolve('tsx/esm/api')
  const boot = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry.href)}) })`
  return new Worker(boot, { ...options, eval: true })
}
