/**
 * People: who a key belongs to (directory.ts), what their role lets them do (principal.ts). Opened once by
 * the gateway beside the store, and reconfigured on reload.
 */
import type { Logger } from 'pino'
import type { Config } from '../config/index.js'
import type { EventBus } from '../events/bus.js'
import type { Store } from '../store/types.js'
import { AuditTrail } from './audit.js'
import { UserDirectory } from './directory.js'
import { openQuotas, type QuotaBook, type QuotaRuntime } from './quotas.js'
import { StreamWatch } from './stream-watch.js'

export interface Users {
  directory: UserDirectory
  /** Who did what and when (audit.ts): requests that change things, tool runs, reloads. */
  audit: AuditTrail
  /** Open streams by the key that opened them: a revoked key's end (stream-watch.ts). */
  streams: StreamWatch
  /** Each user's quotas and usage (quotas.ts, usage.ts): checked before turns and new sessions. */
  quotas: QuotaBook
  /** A reloaded configuration. */
  reconfigure(config: Config): void
  /** Stops background work (timers, pending writes); the store closes after. */
  close(): Promise<void>
}

export function openUsers(
  config: Config,
  store: Store,
  log: Logger,
  bus?: Pick<EventBus, 'subscribeAll'>,
  runtime?: QuotaRuntime,
): Users {
  const directory = new UserDirectory(config, store.access, log)
  const streams = new StreamWatch(store.access, directory, log, config.users.keyCacheMs)
  const audit = new AuditTrail(config, store.access, log.child({ part: 'audit' }))
  if (bus)
    audit.watch({
      subscribeAll: (listener) => bus.subscribeAll(listener),
      getSession: (id) => store.getSession(id),
    })
  const quotas = openQuotas(config, store, directory, log.child({ part: 'quotas' }), bus, runtime)
  return {
    directory,
    audit,
    quotas: quotas.quotas,
    streams,
    reconfigure(next) {
      directory.reconfigure(next)
      streams.reconfigure(next.users.keyCacheMs)
      audit.reconfigure(next)
      quotas.quotas.reconfigure(next)
    },
    async close() {
      streams.close()
      await audit.close()
      await quotas.close()
    },
  }
}
