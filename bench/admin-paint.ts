/**
 * First paint of the admin UI, part (b) of admin-ui.ts: cold loads (a new browser context each: no cache,
 * no storage; the browser itself already running) of `/admin`, the sessions list, and of a session of
 * 10,000 events, alternating, after one unmeasured load of each (the gateway's own first run). From
 * navigation start, on the page's clock: first contentful paint, and the first row (a session, a timeline
 * row) in the viewport; then, a second later, the page's JS heap after a full GC and its element count.
 */
import type { Browser } from 'playwright-core'
import type { Gateway } from '../src/gateway.js'
import { VIEWPORT } from '../test/support/browser.js'
import { seededTurn } from '../test/support/seeded-turns.js'
import { callJson } from './native.js'
import { type Row, summarize } from './stats.js'

export interface PaintOptions {
  /** Cold loads per page. */
  loads: number
  /** Sessions in the list, the long one included. */
  sessions: number
}

/** 250 seeded turns of 40 events: the 10,000 of test/browser/session.test.ts. */
const SEEDED_TURNS = 250
const SEEDED_DELTAS = 34

/**
 * Installed before the page's own scripts (as a string: tsx would wrap a TypeScript callback's named
 * functions in helpers the page does not have): when, in ms from navigation start, a `selector` element is
 * first in the viewport. Virtual lists place their rows with `style`, hence the attributes watched.
 */
const watchFirstRow = (selector: string) => `(() => {
  const marks = {}
  window.__marks = marks
  const inView = (element) => {
    const box = element.getBoundingClientRect()
    return box.height > 0 && box.bottom > 0 && box.top < innerHeight
  }
  const watch = new MutationObserver(() => {
    const at = performance.now()
    if (![...document.querySelectorAll(${JSON.stringify(selector)})].some(inView)) return
    marks.row = at
    watch.disconnect()
  })
  watch.observe(document, { childList: true, subtree: true, characterData: true, attributeFilter: ['style'] })
})()`

/** What watchFirstRow leaves in the page. */
interface Marked {
  __marks: { row?: number }
}

interface Load {
  paintMs: number
  rowMs: number
  heapMb: number
  /** Elements in the document then: what the virtual lists keep small. */
  elements: number
}

/** One cold load of `url`, timed from navigation start by the page's own clock. */
async function coldLoad(browser: Browser, url: string, selector: string): Promise<Load> {
  const context = await browser.newContext({ viewport: VIEWPORT })
  try {
    const page = await context.newPage()
    await page.addInitScript({ content: watchFirstRow(selector) })
    await page.goto(url)
    // A function, not a string: the admin page's CSP forbids eval, which a string predicate needs.
    await page.waitForFunction(
      () =>
        (globalThis as unknown as Marked).__marks.row !== undefined &&
        performance.getEntriesByName('first-contentful-paint').length > 0,
      undefined,
      { polling: 50 },
    )
    const marks = (await page.evaluate(`({
      row: window.__marks.row,
      paint: performance.getEntriesByName('first-contentful-paint')[0].startTime,
    })`)) as { row: number; paint: number }
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const cdp = await context.newCDPSession(page)
    await cdp.send('HeapProfiler.collectGarbage')
    const heap = await cdp.send('Runtime.getHeapUsage')
    const elements = (await page.evaluate("document.getElementsByTagName('*').length")) as number
    return { paintMs: marks.paint, rowMs: marks.row, heapMb: heap.usedSize / 2 ** 20, elements }
  } finally {
    await context.close()
  }
}

/** Seeds the gateway (the long session, then the other sessions of the list) and loads both pages cold. */
export async function measureFirstPaint(
  gateway: Gateway,
  browser: Browser,
  options: PaintOptions,
): Promise<Row[]> {
  const { url } = gateway
  const { bus } = gateway.context
  const long = String((await callJson(url, 'POST', '/api/sessions', { title: 'A very long session' })).id)
  for (let index = 1; index <= SEEDED_TURNS; index++)
    for (const body of seededTurn(index, SEEDED_DELTAS)) bus.publish(long, body)
  for (let made = 1; made < options.sessions; made++)
    await callJson(url, 'POST', '/api/sessions', { title: `Session ${made}` })
  const pages = [
    {
      name: `/admin (${options.sessions} sessions)`,
      load: () => coldLoad(browser, `${url}/admin`, 'ul[aria-label="Sessions"] > li'),
    },
    {
      // It opens at its end: its first row in view is the last answer.
      name: `session of ${bus.currentSeq(long)} events`,
      load: () => coldLoad(browser, `${url}/admin/sessions/${long}`, '.tl-row'),
    },
  ]
  for (const each of pages) await each.load()
  const loads = pages.map((): Load[] => [])
  for (let run = 0; run < options.loads; run++)
    for (const [index, each] of pages.entries()) loads[index]!.push(await each.load())
  return pages.flatMap(({ name }, index): Row[] => {
    const of = loads[index]!
    return [
      { name: `${name}: first contentful paint`, unit: 'ms', samples: of.map((one) => one.paintMs) },
      { name: `${name}: first row in view`, unit: 'ms', samples: of.map((one) => one.rowMs) },
      {
        name: `${name}: JS heap after GC`,
        unit: 'MB',
        samples: of.map((one) => one.heapMb),
        note: `${summarize(of.map((one) => one.elements)).median} elements in the page`,
      },
    ]
  })
}
