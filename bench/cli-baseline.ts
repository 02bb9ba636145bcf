/**
 * The baseline every time-to-first-text figure is compared with: the bundled Claude Code CLI spawned once
 * per request, the way gateways that shell out to `claude -p` work, against the same scripted model as the
 * gateway (test/support/scripted-anthropic.ts). Used by ttft.ts and openai.ts.
 */
import { spawn } from 'node:child_process'
import type { TestHome } from '../test/support/harness.js'
import { lastUserText } from '../test/support/scripted-anthropic.js'

export const PROMPT = 'Say hello'
export const FOLLOW_UP = 'And once more'
export const ANSWER = 'Hello from the scripted model'
export const TURN_TIMEOUT_MS = 60_000

let promptCounter = 0
/** Every prompt is unique, so the request that carries it can be found among the model's requests. */
export const unique = (prompt: string) => `${prompt} (#${++promptCounter})`

/** One timed turn: to the first text, and to the moment the model received the request. */
export interface Timing {
  ttftMs: number
  toModelMs: number
}

/** Milliseconds from `wallStart` (Date.now) until the scripted model received the request carrying `prompt`. */
export function toModel(home: TestHome, prompt: string, wallStart: number): number {
  const request = home.model.turns.find((r) => r.receivedAt >= wallStart && lastUserText(r.body) === prompt)
  return request ? request.receivedAt - wallStart : Number.NaN
}

export interface SpawnRun extends Timing {
  sessionId: string
  /** From spawn to the `result` line: when a proxy has the whole answer (a non-streamed reply). */
  answerMs: number
}

/**
 * The baseline of every benchmark: `claude -p … <prompt>` with the gateway's binary and environment, timed
 * from spawn to the first text_delta line; `extraArgs` go before the prompt (a resume, a system prompt).
 */
export async function spawnOnce(
  cliPath: string,
  home: TestHome,
  prompt: string,
  extraArgs: readonly string[] = [],
): Promise<SpawnRun> {
  const args = [
    '-p',
    '--output-format',
    'stream-json',
    '--verbose',
    '--include-partial-messages',
    ...extraArgs,
    prompt,
  ]
  const wallStart = Date.now()
  const started = performance.now()
  const child = spawn(cliPath, args, {
    cwd: home.workspace,
    env: home.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let firstText = 0
  let answered = 0
  let sessionId = ''
  let stderr = ''
  let buffered = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    const now = performance.now()
    buffered += chunk
    for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
      const line = buffered.slice(0, end)
      buffered = buffered.slice(end + 1)
      if (!line.trim()) continue
      const message = JSON.parse(line) as {
        type?: string
        session_id?: string
        event?: { type?: string; delta?: { type?: string } }
      }
      if (!sessionId && message.session_id) sessionId = message.session_id
      if (!answered && message.type === 'result') answered = now
      if (
        !firstText &&
        message.type === 'stream_event' &&
        message.event?.type === 'content_block_delta' &&
        message.event.delta?.type === 'text_delta'
      )
        firstText = now
    }
  })
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-2000)
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), TURN_TIMEOUT_MS)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('exit', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
  )
  clearTimeout(timer)
  if (code !== 0 || !firstText) {
    throw new Error(
      `claude -p failed (code ${code}, signal ${signal}, text seen: ${firstText > 0}): ${stderr}`,
    )
  }
  return {
    ttftMs: firstText - started,
    toModelMs: toModel(home, prompt, wallStart),
    sessionId,
    answerMs: answered ? answered - started : Number.NaN,
  }
}
