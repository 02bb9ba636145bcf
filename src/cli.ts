#!/usr/bin/env node
/**
 * `claude-code-gateway [--port N] [--host H] [--config FILE]`: load the configuration, start the gateway,
 * reload on SIGHUP or file change, drain and stop on SIGINT/SIGTERM (a second one hurries the drain).
 */
import { parseArgs } from 'node:util'
import { ConfigError, ConfigWatcher, loadConfig } from './config/index.js'
import { effectiveConfigYaml } from './effective-config.js'
import { startGateway } from './gateway.js'
import { createLogger } from './observability/logger.js'
import { logProcessWarnings } from './observability/warning-log.js'
import { VERSION } from './version.js'

const USAGE = `Usage: claude-code-gateway [options]

Options:
  --port N        port to listen on (default 8080, env CCGW_PORT)
  --host H        address to bind (default 127.0.0.1, env CCGW_HOST)
  --config FILE   YAML or JSON configuration file (env CCGW_CONFIG)
  --print-config  print the effective configuration as YAML (secrets masked) and exit
  -h, --help      show this help
  -v, --version   print the version

Every configuration key also has a CCGW_* environment variable: see docs/configuration.md.`

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      config: { type: 'string' },
      'print-config': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
    strict: true,
  })
  if (values.help) {
    console.log(USAGE)
    return
  }
  if (values.version) {
    console.log(VERSION)
    return
  }

  const argv = { configFile: values.config, port: values.port, host: values.host }
  const loaded = loadConfig({ argv })
  if (values['print-config']) {
    process.stdout.write(effectiveConfigYaml(loaded.config, loaded.files))
    return
  }
  const log = createLogger(loaded.config.log)
  logProcessWarnings(log)
  if (loaded.files.length > 0) log.info({ files: loaded.files }, 'configuration loaded')
  const gateway = await startGateway({ config: loaded.config, log })

  const watcher = new ConfigWatcher({ argv }, loaded)
  watcher.on('change', (change) => gateway.reconfigure(change))
  watcher.on('error', (error) =>
    log.error({ err: error.message }, 'configuration reload rejected; the running configuration stays'),
  )
  watcher.start()
  process.on('SIGHUP', () => watcher.reload())

  // The first signal drains (src/lifecycle/drain.ts), the second cuts the wait for running turns short,
  // a third exits at once.
  let signals = 0
  const stop = (signal: string) => {
    signals++
    if (signals === 2) {
      log.warn({ signal }, 'second signal: running turns are interrupted now')
      gateway.hurry()
      return
    }
    if (signals > 2) {
      log.warn({ signal }, 'third signal: exiting now')
      process.exit(1)
    }
    log.info({ signal }, 'signal received: draining')
    watcher.stop()
    gateway.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) console.error(error.message)
  else if (error instanceof Error && 'code' in error && error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    console.error(`${error.message}\n\n${USAGE}`)
  } else console.error(`claude-code-gateway: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(1)
})
