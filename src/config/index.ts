export {
  type CliArgs,
  ConfigError,
  type ConfigIssue,
  exposureProblem,
  isLoopbackHost,
  type LoadedConfig,
  type LoadOptions,
  loadConfig,
} from './load.js'
export { CONFIG_KEYS, type Config, ConfigSchema, RESTART_REQUIRED_KEYS } from './schema.js'
export {
  type ConfigChange,
  ConfigWatcher,
  type ConfigWatcherEvents,
  type ConfigWatcherOptions,
  diffConfig,
} from './watch.js'
