/**
 * The gateway the streaming benchmarks (openai.ts, native.ts) run their concurrent turns on: in this
 * process, so the client and the bus share one clock, against the scripted model of the tests.
 */
import type { Gateway } from '../src/gateway.js'
import { type TestHome, testConfig, testGateway } from '../test/support/harness.js'
import { text } from '../test/support/scripted-anthropic.js'

export interface StreamingOptions {
  /** Text deltas in each answer, `chunkDelayMs` apart. */
  chunks: number
  chunkDelayMs: number
  maxRunners: number
  queueSize: number
}

/**
 * A gateway in this process, for concurrent streamed turns: no spare, a queue that waits as long as the
 * run does, and the scripted model answering every turn with `chunks` text deltas `chunkDelayMs` apart.
 */
export async function streamingGateway(home: TestHome, options: StreamingOptions): Promise<Gateway> {
  scriptAnswers(home, options)
  return testGateway(
    home,
    testConfig(home, {
      pool: {
        warmSpares: 0,
        maxRunners: options.maxRunners,
        queueSize: options.queueSize,
        queueTimeoutMs: 120_000,
        turnTimeoutMs: 60_000,
      },
    }),
  )
}

/** The scripted model answers every turn with `chunks` text deltas `chunkDelayMs` apart. */
export function scriptAnswers(
  home: TestHome,
  options: Pick<StreamingOptions, 'chunks' | 'chunkDelayMs'>,
): void {
  const answer = Array.from({ length: options.chunks }, (_, i) => `w${String(i).padStart(2, '0')} `).join('')
  home.model.fallback = () =>
    text(answer, { chunkSize: answer.length / options.chunks, chunkDelayMs: options.chunkDelayMs })
}
