import { EventEmitter } from 'node:events'
import { type FSWatcher, watch } from 'node:fs'
import { basename, dirname } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import {
  ConfigError,
  envFilePath,
  exposureProblem,
  type LoadedConfig,
  type LoadOptions,
  loadConfig,
} from './load.js'
import { CONFIG_KEYS, type Config, RESTART_REQUIRED_KEYS } from './schema.js'

export interface ConfigChange {
  config: Config
  previous: Config
  /** Dotted keys whose value changed, in schema order. */
  changed: string[]
  /** The subset of `changed` that only takes effect after a restart. */
  restartRequired: string[]
}

export interface ConfigWatcherEvents {
  change: [ConfigChange]
  /** A ConfigError for a rejected reload, or a filesystem error from watching. */
  error: [Error]
}

export interface ConfigWatcherOptions {
  debounceMs?: number
}

export function diffConfig(previous: Config, next: Config): string[] {
  const value = (config: Config, key: string) => {
    const [section, name] = key.split('.') as [keyof Config, string]
    return (config[section] as Record<string, unknown>)[name]
  }
  return CONFIG_KEYS.filter(({ key }) => !isDeepStrictEqual(value(previous, key), value(next, key))).map(
    ({ key }) => key,
  )
}

export class ConfigWatcher extends EventEmitter<ConfigWatcherEvents> {
  readonly #options: LoadOptions
  readonly #debounceMs: number
  /** The address the server bound at start: server.host only changes on restart. */
  readonly #boundHost: string
  #current: LoadedConfig
  #watchers: FSWatcher[] = []
  #timer: NodeJS.Timeout | undefined
  #started = false

  /** `current` must be the configuration the server started with. */
  constructor(options: LoadOptions, current: LoadedConfig, { debounceMs = 100 }: ConfigWatcherOptions = {}) {
    super()
    this.#options = options
    this.#current = current
    this.#boundHost = current.config.server.host
    this.#debounceMs = debounceMs
  }

  get current(): LoadedConfig {
    return this.#current
  }

  start(): this {
    this.#started = true
    this.#watch()
    return this
  }

  stop(): void {
    this.#started = false
    clearTimeout(this.#timer)
    this.#unwatch()
  }

  /** Loads the configuration again; returns false when it was rejected (and 'error' was emitted). */
  reload(): boolean {
    const [base] = this.#current.files
    let next: LoadedConfig
    try {
      // Pin the file found at start: if an editor briefly removes it, that is an error, not "use defaults".
      next = loadConfig(
        base ? { ...this.#options, argv: { ...this.#options.argv, configFile: base } } : this.#options,
      )
      const exposure = exposureProblem(next.config, this.#boundHost)
      if (exposure) throw new ConfigError([{ source: 'reload', key: 'server.apiKeys', problem: exposure }])
    } catch (err) {
      this.emit('error', err as Error)
      return false
    }
    const previous = this.#current
    this.#current = next
    if (this.#started && !isDeepStrictEqual(previous.files, next.files)) this.#watch()
    const changed = diffConfig(previous.config, next.config)
    if (changed.length > 0) {
      const restartRequired = changed.filter((key) => RESTART_REQUIRED_KEYS.includes(key))
      this.emit('change', { config: next.config, previous: previous.config, changed, restartRequired })
    }
    return true
  }

  #watch(): void {
    this.#unwatch()
    const { files } = this.#current
    const envName = (this.#options.env ?? process.env).CCGW_ENV
    // The per-environment file is watched even when absent, so creating it is picked up.
    const watched = files[0] && envName ? [...files, envFilePath(files[0], envName)] : files
    const names = new Map<string, Set<string>>()
    for (const file of watched)
      names.set(dirname(file), (names.get(dirname(file)) ?? new Set()).add(basename(file)))

    // Folders, not files: editors that save by renaming a new file over the old one would end a file watch.
    for (const [dir, wanted] of names) {
      let watcher: FSWatcher
      try {
        watcher = watch(dir, { persistent: false }, (_event, name) => {
          if (name === null || wanted.has(name)) this.#schedule()
        })
      } catch (err) {
        this.emit('error', err as Error)
        continue
      }
      watcher.on('error', (err) => this.emit('error', err))
      this.#watchers.push(watcher)
    }
  }

  #unwatch(): void {
    for (const watcher of this.#watchers) watcher.close()
    this.#watchers = []
  }

  #schedule(): void {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      if (this.#started) this.reload()
    }, this.#debounceMs)
    this.#timer.unref()
  }
}
