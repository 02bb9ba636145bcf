/** A gateway whose log the test reads: the suites that check what the gateway itself writes (request lines, warnings). */
import type { Logger } from 'pino'
import { type Gateway, startGateway } from '../../src/gateway.js'
import { createLogger } from '../../src/observability/logger.js'
import { parsedLines } from './captured-log.js'
import { type ConfigOverrides, type TestHome, testConfig } from './harness.js'

/**
 * A gateway started on `home` with `overrides`, logging through the gateway's own logger (its serializers,
 * JSON lines at info) into `lines`, each parsed as it is written. `log` is that logger, for a test that changes
 * its level while the gateway runs. The caller closes the gateway.
 */
export async function gatewayWithLog<Line = Record<string, unknown>>(
  home: TestHome,
  overrides: ConfigOverrides = {},
): Promise<{ gateway: Gateway; lines: Line[]; log: Logger }> {
  const lines: Line[] = []
  const log = createLogger({ level: 'info', pretty: 'never', destination: parsedLines(lines) })
  const gateway = await startGateway({ config: testConfig(home, overrides), log, env: home.env })
  return { gateway, lines, log }
}
