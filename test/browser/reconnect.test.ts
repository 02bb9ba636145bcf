/**
 * The tab's one event stream cut while a session streams, in a real browser against a real gateway behind
 * an API key, three ways: the stream's socket destroyed on the gateway's side; the browser offline, the
 * socket destroyed, the network back a second later (the attempts in between fail); the gateway ending its
 * streams as a drain does. Items keep being published through every cut. Each time the header says
 * "Reconnecting…" then "Live", the stream resumes with Last-Event-ID (a header, like the key: neither in a
 * URL), and in the end the page shows every item exactly once, in order, without asking for a history page
 * to fill a gap: the resumed stream alone made up for the cuts. Needs `npm run build` first.
 */
import assert from 'node:assert/strict'
import type { Socket } from 'node:net'
import { describe, test } from 'node:test'
import type { Page, Request } from 'playwright-core'
import { SseWriter } from '../../src/api/sse.js'
import { browserSkip } from '../support/browser.js'
import { withKeyedAdminUi } from '../support/browser-suite.js'

const skip = browserSkip()

const KEY = 'reconnect-test-key-81d4'
/** Between two published items: the stream is busy through every cut. */
const EVERY_MS = 15
const item = (index: number) => `item-${String(index).padStart(4, '0')}`
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Records every text the header's connection status shows, in the page as it changes; answers a wait for
 * the n-th "Reconnecting…" followed by "Live", and the record.
 */
async function recordStatus(page: Page) {
  // Strings, not functions: they run in the page, and this project's TypeScript has no DOM types.
  await page.evaluate(`{
    const status = document.querySelector('.connection[role="status"]')
    const seen = [status.textContent]
    window.statusSeen = seen
    new MutationObserver(() => {
      if (status.textContent !== seen.at(-1)) seen.push(status.textContent)
    }).observe(status, { subtree: true, childList: true, characterData: true })
  }`)
  const seen = () => page.evaluate<string[]>('window.statusSeen')
  return {
    seen,
    /** Polled from here: the page's CSP refuses the eval a string `waitForFunction` needs. */
    async reconnected(times: number) {
      const reconnections = (texts: string[]) =>
        texts.filter((text, index) => text.startsWith('Reconnecting…') && texts[index + 1] === 'Live').length
      for (const deadline = Date.now() + 15_000; reconnections(await seen()) < times; await pause(25))
        assert.ok(Date.now() < deadline, `not reconnected ${times} times: ${JSON.stringify(await seen())}`)
    },
  }
}

describe('admin UI: the live stream cut mid-stream', { skip }, () => {
  const { browser, fixture, createSession } = withKeyedAdminUi(KEY)

  test('reconnects after each cut with Last-Event-ID; every item shows once, in order', async () => {
    const id = await createSession({ title: 'Count' })
    const { bus } = fixture.gateway.context
    const turnId = 'counting-1'
    bus.publish(id, { type: 'turn.started', turnId, content: 'Count, one item a line' })

    // The gateway's side of each /api/events request: the socket a server-side cut destroys.
    const streamSockets: Socket[] = []
    fixture.gateway.app.server.on('request', (request) => {
      if (request.url?.startsWith('/api/events')) streamSockets.push(request.socket)
    })

    const page = await browser.page()
    const errors: string[] = []
    page.on('pageerror', (error) => errors.push(error.message))
    const requests: Request[] = []
    page.on('request', (request) => requests.push(request))
    const streams = () => requests.filter((request) => new URL(request.url()).pathname === '/api/events')

    await page.goto(`${fixture.url}/admin/sessions/${id}`)
    const prompt = page.getByRole('dialog', { name: 'API key needed' })
    await prompt.getByLabel('API key').fill(KEY)
    await prompt.getByRole('button', { name: 'Use this key' }).click()
    await page.getByRole('heading', { name: 'Count' }).waitFor()
    await page.getByText('Count, one item a line').waitFor()
    await page.getByText('Live', { exact: true }).waitFor()
    const status = await recordStatus(page)
    const opened = streams().length
    const loadedAt = requests.length

    // Items published every few milliseconds, whatever the stream's state, until told to stop; `posOf`:
    // each item's position in the gateway's global order (this session is the only one publishing).
    let published = 0
    let publishing = true
    const posOf: number[] = []
    const publisher = (async () => {
      while (publishing) {
        published += 1
        bus.publish(id, { type: 'text.delta', turnId, text: `- ${item(published)}\n`, parentToolUseId: null })
        posOf[published] = bus.lastPos
        await pause(EVERY_MS)
      }
    })()
    const list = page.locator('.tl-assistant[data-streaming] li')
    /** Waits until the page shows what was published so far (the stream flows); answers that item. */
    const caughtUp = async () => {
      const last = published
      await list.filter({ hasText: item(last) }).waitFor({ timeout: 15_000 })
      return last
    }
    const destroyStream = () => {
      const socket = streamSockets.at(-1)
      assert.ok(socket && !socket.destroyed, 'the page has its stream open')
      socket.destroy()
    }
    /**
     * Cuts the flowing stream, waits for "Reconnecting…" then "Live" and the page caught up, and checks
     * that every attempt since resumed from where the page was: past the last item it showed before the
     * cut, not past the last one published before it. `failing`: attempts refused before one succeeds.
     */
    let cuts = 0
    const cutAndResume = async (cut: () => Promise<void>, failing = 0) => {
      const shownBefore = posOf[await caughtUp()]!
      const attemptsBefore = streams().length
      await cut()
      await status.reconnected(++cuts)
      await caughtUp()
      const attempts = streams().slice(attemptsBefore)
      assert.ok(attempts.length > failing, `${attempts.length} attempts`)
      for (const request of attempts) {
        const resumedAt = Number(request.headers()['last-event-id'])
        assert.ok(resumedAt >= shownBefore, `Last-Event-ID ${resumedAt} is before ${shownBefore}`)
        assert.ok(resumedAt <= posOf[published]!, `Last-Event-ID ${resumedAt} is past what was published`)
      }
    }

    try {
      // 1. The gateway's side of the connection dies.
      await cutAndResume(async () => destroyStream())
      // 2. The network goes away: the connection dies, and reconnecting fails until it is back.
      await cutAndResume(async () => {
        await browser.context.setOffline(true)
        destroyStream()
        await pause(1_000)
        await browser.context.setOffline(false)
      }, 1)
      // 3. The gateway ends its streams as a drain does, telling clients to come back.
      await cutAndResume(async () => {
        assert.equal(SseWriter.endAll(fixture.gateway.app.server, 'retry: 1000\n\n'), 1)
      })
    } finally {
      // Also when a check failed: a publisher left running would keep the test's process alive.
      publishing = false
      await publisher
    }
    await caughtUp()
    const shown = (await list.allTextContents()).map((text) => text.trim())
    assert.deepEqual(
      shown,
      Array.from({ length: published }, (_, index) => item(index + 1)),
    )
    const seen = await status.seen()
    assert.equal(seen.at(-1), 'Live', JSON.stringify(seen))

    // The position and the key went in headers, never in a URL.
    for (const request of streams().slice(opened)) {
      assert.equal(request.headers().authorization, `Bearer ${KEY}`)
      assert.equal(new URL(request.url()).search, '', request.url())
      assert.ok(!request.url().includes(KEY), request.url())
    }
    // No history page was needed to fill a gap: the resumed stream had everything.
    const filled = requests
      .slice(loadedAt)
      .filter((request) => new URL(request.url()).searchParams.has('after'))
    assert.deepEqual(
      filled.map((request) => request.url()),
      [],
    )
    assert.deepEqual(errors, [])
    await page.close()
  })
})
