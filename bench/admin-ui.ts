/**
 * The admin UI (`/admin`, issue 14) in headless Chromium (/usr/bin/chromium, driven by playwright-core as
 * the browser tests drive it), against a gateway in this process, the real Claude Code CLI and the scripted
 * model of the tests. Needs the built UI: `npm run build && node --import tsx bench/admin-ui.ts`.
 *
 * (a) Event published → visible in the page. The page is open on a session whose turns the scripted model
 *     answers with `deltas` text deltas `deltaDelayMs` apart, each one word no other event holds
 *     (`t001w017`), while a second session streams turns back to back (load: its events reach the page's
 *     one stream too). A MutationObserver in the page notes when each word first appears in the timeline's
 *     DOM (React's commit), then the start of the next animation frame (the frame that paints it).
 *     Publish time: `performance.now()` as the bus's publish() is entered (BusRecorder). Clocks: one
 *     machine, but two processes, each putting its monotonic `performance.now()` on the Unix epoch through
 *     its own `performance.timeOrigin` (taken from the wall clock when it started); what is left between
 *     the two is measured (the page's clock read between two of this process's, the closest of 20 reads)
 *     and taken off the page's times. Baseline, the same events in the same run: a bare client in this
 *     process (node's fetch on `GET /api/events`), publish → the piece of the stream holding the event
 *     received: what the page adds is the difference. Target: p95 < 100 ms to the next frame.
 * (b) First paint (admin-paint.ts), `loads` cold loads of each page (a new browser context each): `/admin`
 *     (the sessions list, `sessions` sessions) and a session of 10,000 events (seeded on the bus as
 *     test/browser/session.test.ts seeds it). From navigation start: first contentful paint and the first
 *     row in the viewport; the page's JS heap after a full GC.
 * (c) Bundle sizes, from dist/admin-sizes.json (scripts/compress-admin.ts): the shell against its 200 KB
 *     gzip budget, and the largest lazy chunks.
 *
 * Env: BENCH_ADMIN_TURNS (10 measured turns), BENCH_ADMIN_LOADS (10 cold loads per page),
 * BENCH_ADMIN_SESSIONS (1000 sessions in the list).
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'
import { ADMIN_ROOT } from '../src/api/admin.js'
import type { Gateway } from '../src/gateway.js'
import { CHROMIUM, CHROMIUM_ARGS, VIEWPORT } from '../test/support/browser.js'
import { type TestHome, testConfig, testGateway, testHome } from '../test/support/harness.js'
import { lastUserText, text } from '../test/support/scripted-anthropic.js'
import { measureFirstPaint } from './admin-paint.js'
import { callJson } from './native.js'
import { type BenchResult, envInt, main, type Ratio, type Row, spread } from './stats.js'
import { BusRecorder, SseParser } from './streaming.js'

export interface AdminUiOptions {
  /** Measured turns in (a), and each answer's text deltas, `deltaDelayMs` apart. */
  turns: number
  deltas: number
  deltaDelayMs: number
  /** Cold loads per page in (b). */
  loads: number
  /** Sessions in the list of (b). */
  sessions: number
}

export const defaultAdminUiOptions = (): AdminUiOptions => ({
  turns: envInt('BENCH_ADMIN_TURNS', 10),
  deltas: 40,
  deltaDelayMs: 25,
  loads: envInt('BENCH_ADMIN_LOADS', 10),
  sessions: envInt('BENCH_ADMIN_SESSIONS', 1000),
})

const TARGET_P95_MS = 100
/** One measured word: `t<turn>w<delta>`, fixed width so that a delta of the scripted model is one word. */
const word = (turn: number, delta: number) =>
  `t${String(turn).padStart(3, '0')}w${String(delta).padStart(3, '0')} `
const WORDS = /t\d{3}w\d{3}/g
const epochNow = () => performance.timeOrigin + performance.now()

/**
 * Scripts run in the page are strings: tsx would wrap the named functions of a TypeScript callback in
 * helpers the page does not have. This one notes, on every DOM change, the measured words new in the
 * timeline (`dom`, epoch ms), and for those the start of the next animation frame (`frame`): the frame
 * whose paint shows them, which follows its callbacks by the time style, layout and paint take.
 */
const WATCH_WORDS = `(() => {
  const dom = new Map()
  const frame = new Map()
  window.__words = { dom, frame }
  new MutationObserver(() => {
    const at = performance.timeOrigin + performance.now()
    const timeline = document.querySelector('[data-timeline]') ?? document.body
    const fresh = (timeline.textContent.match(${WORDS}) ?? []).filter((word) => !dom.has(word))
    if (fresh.length === 0) return
    for (const word of fresh) dom.set(word, at)
    requestAnimationFrame(() => {
      const painted = performance.timeOrigin + performance.now()
      for (const word of fresh) frame.set(word, painted)
    })
  }).observe(document.body, { childList: true, subtree: true, characterData: true })
})()`

/** What WATCH_WORDS leaves in the page. */
interface Watched {
  __words: { dom: Map<string, number>; frame: Map<string, number> }
}

/** page clock − this process's clock (epoch ms), and how far off it may be: half the closest read's round trip. */
async function clockOffset(page: Page): Promise<{ offsetMs: number; withinMs: number }> {
  let best = { offsetMs: 0, withinMs: Number.POSITIVE_INFINITY }
  for (let read = 0; read < 20; read++) {
    const before = epochNow()
    const inPage = (await page.evaluate('performance.timeOrigin + performance.now()')) as number
    const after = epochNow()
    if ((after - before) / 2 < best.withinMs)
      best = { offsetMs: inPage - (before + after) / 2, withinMs: (after - before) / 2 }
  }
  return best
}

/**
 * A bare SSE client of `GET /api/events` in this process: performance.now() when the piece of the stream
 * holding each event arrived, by `sessionId:seq`. Stops with `stop()`.
 */
async function bareClient(url: string) {
  const controller = new AbortController()
  const received = new Map<string, number>()
  const response = await fetch(`${url}/api/events`, {
    headers: { accept: 'text/event-stream' },
    signal: controller.signal,
  })
  if (response.status !== 200 || !response.body) throw new Error(`GET /api/events: ${response.status}`)
  const parser = new SseParser()
  const reading = (async () => {
    for await (const piece of response.body!.pipeThrough(new TextDecoderStream())) {
      const at = performance.now()
      for (const event of parser.push(piece)) {
        if (event.event !== 'text.delta') continue
        const { sessionId, seq } = JSON.parse(event.data) as { sessionId: string; seq: number }
        received.set(`${sessionId}:${seq}`, at)
      }
    }
  })().catch((error: unknown) => {
    if (!controller.signal.aborted) throw error
  })
  return {
    received,
    stop: async () => {
      controller.abort()
      await reading
    },
  }
}

/**
 * (a): the measured session's turns, one after the other, while the load session streams its own; then
 * each measured text delta's publish → in the page's DOM, and publish → at the bare client.
 */
async function measureLatency(
  gateway: Gateway,
  home: TestHome,
  browser: Browser,
  options: AdminUiOptions,
): Promise<{ rows: Row[]; notes: string[] }> {
  const { url } = gateway
  const bus = gateway.context.bus
  const recorder = new BusRecorder(bus)
  const deltas: { sessionId: string; seq: number; text: string }[] = []
  const listening = bus.subscribeAll((event) => {
    if (event.type === 'text.delta')
      deltas.push({ sessionId: event.sessionId, seq: event.seq, text: event.text })
  })
  const measured = Array.from({ length: options.deltas }, (_, delta) => delta)
  const loadAnswer = Array.from({ length: 200 }, (_, i) => `l${String(i).padStart(3, '0')} `).join('')
  home.model.fallback = (request) => {
    const turn = /measure (\d+)/.exec(lastUserText(request.body))?.[1]
    if (turn === undefined) return text(loadAnswer, { chunkSize: 5, chunkDelayMs: 5 })
    const answer = measured.map((delta) => word(Number(turn), delta)).join('')
    return text(answer, { chunkSize: word(0, 0).length, chunkDelayMs: options.deltaDelayMs })
  }
  const session = String((await callJson(url, 'POST', '/api/sessions', { title: 'Measured' })).id)
  const loaded = String((await callJson(url, 'POST', '/api/sessions', { title: 'Load' })).id)
  const send = (id: string, content: string) =>
    callJson(url, 'POST', `/api/sessions/${id}/messages`, { content })
  // Both processes started and the gateway's code run once before anything is timed.
  await Promise.all([send(session, 'warm up'), send(loaded, 'warm up')])

  const context = await browser.newContext({ viewport: VIEWPORT })
  const page = await context.newPage()
  await page.goto(`${url}/admin/sessions/${session}`)
  await page.getByText('l199').first().waitFor()
  await page.getByText('Live', { exact: true }).waitFor()
  await page.evaluate(WATCH_WORDS)
  const bare = await bareClient(url)

  let loading = true
  const load = (async () => {
    let turns = 0
    while (loading) {
      await send(loaded, `load ${++turns}`)
    }
    return turns
  })()
  for (let turn = 1; turn <= options.turns; turn++) {
    const answer = await send(session, `measure ${turn}`)
    if (answer.status !== 'success') throw new Error(`measured turn ${turn}: ${JSON.stringify(answer)}`)
  }
  const lastWord = word(options.turns, options.deltas - 1).trim()
  await page.waitForFunction((last) => (globalThis as unknown as Watched).__words.frame.has(last), lastWord, {
    polling: 50,
  })
  loading = false
  const loadTurns = await load
  const clock = await clockOffset(page)
  const [dom, frame] = (
    (await page.evaluate('[[...window.__words.dom], [...window.__words.frame]]')) as [string, number][][]
  ).map((entries) => new Map(entries)) as [Map<string, number>, Map<string, number>]
  await bare.stop()
  listening.close()
  await context.close()

  const inDom: number[] = []
  const inFrame: number[] = []
  const atClient: number[] = []
  let unmatched = 0
  for (const { sessionId, seq, text: delta } of deltas) {
    const words = delta.match(WORDS)
    const mark = recorder.mark(sessionId, seq)
    if (sessionId !== session || !words || !mark) continue // the load's and the warm-up's
    // A delta is shown when its last word is; on the page's clock brought onto this one.
    const shown = (times: Map<string, number>) =>
      Math.max(...words.map((each) => times.get(each) ?? Number.NaN)) - clock.offsetMs
    const received = bare.received.get(`${session}:${seq}`)
    const published = performance.timeOrigin + mark.at
    if (Number.isNaN(shown(frame)) || received === undefined) {
      unmatched++
      continue
    }
    inDom.push(shown(dom) - published)
    inFrame.push(shown(frame) - published)
    atClient.push(received - mark.at)
  }
  if (inFrame.length < options.turns * options.deltas * 0.9)
    throw new Error(`only ${inFrame.length} measured deltas matched (${unmatched} not seen)`)
  return {
    rows: [
      { name: 'event → page DOM', unit: 'ms', samples: inDom, note: spread(inDom) },
      { name: 'event → next frame', unit: 'ms', samples: inFrame, note: spread(inFrame) },
      { name: 'event → bare SSE client', unit: 'ms', samples: atClient, note: spread(atClient) },
    ],
    notes: [
      `(a) ${options.turns} turns of ${options.deltas} text deltas ${options.deltaDelayMs} ms apart, while the other session streamed ${loadTurns} turns of 200 deltas 5 ms apart; ${unmatched} deltas not matched`,
      `(a) page clock − gateway clock: ${clock.offsetMs.toFixed(2)} ms ± ${clock.withinMs.toFixed(2)} ms (taken off the page's times)`,
    ],
  }
}

interface Sizes {
  shell: { bytes: number; gzip: number; brotli: number }
  budgetGzip: number
  files: { file: string; bytes: number; gzip: number; brotli: number; shell: boolean }[]
}

/** (c): what scripts/compress-admin.ts recorded at the last build. */
function bundleNotes(): string[] {
  const sizes = JSON.parse(readFileSync(join(ADMIN_ROOT, '..', 'admin-sizes.json'), 'utf8')) as Sizes
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`
  const { shell, budgetGzip } = sizes
  const lazy = sizes.files
    .filter((file) => !file.shell && file.file.endsWith('.js'))
    .sort((a, b) => b.gzip - a.gzip)
    .slice(0, 5)
    .map((file) => `${file.file.replace(/^assets\//, '').replace(/-[\w-]{8}\.js$/, '')} ${kb(file.gzip)}`)
  return [
    `(c) shell (index.html and what it loads): ${kb(shell.bytes)} raw, ${kb(shell.gzip)} gzip, ${kb(shell.brotli)} brotli; budget ${kb(budgetGzip)} gzip: ${shell.gzip <= budgetGzip ? 'met' : 'NOT met'} (${Math.round((100 * shell.gzip) / budgetGzip)}%)`,
    `(c) largest lazy chunks, gzip: ${lazy.join(', ')}`,
  ]
}

export async function runAdminUi(options: AdminUiOptions = defaultAdminUiOptions()): Promise<BenchResult> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (apt-get install -y chromium)`)
  if (!existsSync(join(ADMIN_ROOT, 'index.html')))
    throw new Error('the admin UI is not built: run `npm run build` first')
  const began = performance.now()
  const home = await testHome()
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS })
  try {
    const gateway = await testGateway(home, testConfig(home, { pool: { warmSpares: 0, maxRunners: 4 } }))
    try {
      const latency = await measureLatency(gateway, home, browser, options)
      const paint = await measureFirstPaint(gateway, browser, options)
      const ratio = (percentile?: number): Ratio => ({
        name: 'page / bare SSE client',
        numerator: 'event → next frame',
        denominator: 'event → bare SSE client',
        percentile,
      })
      return {
        title: 'Admin UI: event to page, first paint, bundle',
        rows: [...latency.rows, ...paint],
        ratios: [ratio(), ratio(95)],
        targets: [{ row: 'event → next frame', atMost: TARGET_P95_MS, percentile: 95 }],
        notes: [
          ...latency.notes,
          `(b) ${options.loads} cold loads per page (new context each, after one unmeasured), ${VIEWPORT.width}x${VIEWPORT.height}; ms from navigation start`,
          ...bundleNotes(),
        ],
        elapsedMs: performance.now() - began,
        p99: true,
      }
    } finally {
      await gateway.close()
    }
  } finally {
    await browser.close()
    await home.close()
  }
}

await main(import.meta.url, () => runAdminUi())
