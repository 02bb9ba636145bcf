/**
 * Loopback is not a security boundary on its own: a page whose name was rebound to 127.0.0.1 (foreign
 * Host), a page of another site (foreign Origin, Sec-Fetch-Site: cross-site) and its WebSockets are
 * refused, while API clients go on as before. Also: the Bearer scheme in any case, and reloads that would
 * open the gateway.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { join } from 'node:path'
import { before, describe, test } from 'node:test'
import WebSocket from 'ws'
import type { Config } from '../../src/config/index.js'
import type { Gateway } from '../../src/gateway.js'
import { gatewayWithLog } from '../support/gateway-log.js'
import { withGateway, withHome } from '../support/harness.js'
import { openaiClient } from '../support/openai.js'

type Json = Record<string, unknown>

interface Answer {
  status: number
  body: Json
}

/** A request to the gateway on 127.0.0.1 with headers as a browser (or an attacker) would send them. */
function send(
  gateway: Gateway,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: unknown,
): Promise<Answer> {
  const { hostname, port } = new URL(gateway.url)
  const payload = body === undefined ? undefined : JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        host: hostname,
        port,
        method,
        path,
        headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...headers },
      },
      (response) => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString()
          resolve({ status: response.statusCode ?? 0, body: text ? (JSON.parse(text) as Json) : {} })
        })
      },
    )
    outgoing.on('error', reject)
    outgoing.end(payload)
  })
}

const nativeCode = (answer: Answer) => (answer.body.error as Json | undefined)?.code

/**
 * What a WebSocket upgrade got: `open`, or the status the server refused it with and its body. A refused
 * upgrade's connection must be closed by the server (else it stays half-open for good).
 */
async function upgrade(url: string, options: WebSocket.ClientOptions): Promise<'open' | Answer> {
  const socket = new WebSocket(url, options)
  socket.on('error', () => {})
  try {
    return await Promise.race([
      once(socket, 'open').then(() => 'open' as const),
      once(socket, 'unexpected-response').then(async ([, response]) => {
        const incoming = response as IncomingMessage
        const closed = once(incoming.socket, 'close', { signal: AbortSignal.timeout(5_000) })
        const chunks: Buffer[] = []
        for await (const chunk of incoming) chunks.push(chunk as Buffer)
        await closed.catch(() => assert.fail('the server left the refused connection open'))
        return {
          status: incoming.statusCode ?? 0,
          body: JSON.parse(Buffer.concat(chunks).toString()) as Json,
        }
      }),
    ])
  } finally {
    socket.terminate()
  }
}

describe('DNS rebinding and cross-site pages, without API keys', () => {
  const g = withGateway({ pool: { warmSpares: 0 } })
  let port: string
  let id: string
  before(async () => {
    port = new URL(g.url).port
    const created = await send(g.gateway, 'POST', '/api/sessions', {}, { workspace: g.home.workspace })
    assert.equal(created.status, 201)
    id = created.body.id as string
  })

  const sessionCount = async () => (await send(g.gateway, 'GET', '/api/sessions')).body.total as number

  test('a rebound name (foreign Host) can neither create sessions nor run bash', async () => {
    const before = await sessionCount()
    const rebound = { host: `evil.example:${port}` }
    const created = await send(g.gateway, 'POST', '/api/sessions', rebound, {})
    assert.equal(created.status, 403)
    assert.equal(nativeCode(created), 'host_not_allowed')
    assert.match(String((created.body.error as Json).message), /server\.allowedHosts/)
    assert.equal(await sessionCount(), before, 'no session was created')

    const marker = join(g.home.workspace, 'pwned')
    const bash = await send(g.gateway, 'POST', `/api/sessions/${id}/tools/bash`, rebound, {
      command: `touch ${marker}`,
    })
    assert.equal(bash.status, 403)
    assert.equal(nativeCode(bash), 'host_not_allowed')
    assert.equal(existsSync(marker), false, 'the command did not run')

    // Reads too: a rebound page must not read sessions, history or events.
    const read = await send(g.gateway, 'GET', `/api/sessions/${id}`, { host: 'evil.example' })
    assert.equal(read.status, 403)
    const trailingDot = await send(g.gateway, 'GET', '/api/sessions', { host: `evil.example.:${port}` })
    assert.equal(trailingDot.status, 403)
  })

  test('under /v1 the refusal is in OpenAI shape', async () => {
    const models = await send(g.gateway, 'GET', '/v1/models', { host: `evil.example:${port}` })
    assert.equal(models.status, 403)
    assert.deepEqual(Object.keys(models.body.error as Json).sort(), ['code', 'message', 'param', 'type'])
    assert.equal((models.body.error as Json).code, 'host_not_allowed')
    assert.equal((models.body.error as Json).type, 'invalid_request_error')
    const chat = await send(
      g.gateway,
      'POST',
      '/v1/chat/completions',
      { host: 'evil.example' },
      { model: 'claude-code', messages: [{ role: 'user', content: 'hi' }] },
    )
    assert.equal(chat.status, 403)
    assert.equal((chat.body.error as Json).code, 'host_not_allowed')
  })

  test('a page of another site (foreign Origin, Sec-Fetch-Site: cross-site) is refused', async () => {
    const before = await sessionCount()
    const foreign = await send(g.gateway, 'POST', '/api/sessions', { origin: 'http://evil.example' }, {})
    assert.equal(foreign.status, 403)
    assert.equal(nativeCode(foreign), 'origin_not_allowed')
    const listing = await send(g.gateway, 'GET', '/api/sessions', { origin: 'http://evil.example' })
    assert.equal(listing.status, 403)
    const sandboxed = await send(g.gateway, 'GET', '/api/sessions', { origin: 'null' })
    assert.equal(sandboxed.status, 403)
    // Another machine of the network is another site too.
    const lan = await send(g.gateway, 'POST', '/api/sessions', { origin: 'http://192.168.1.50' }, {})
    assert.equal(lan.status, 403)

    // A form POST (no Origin checked by the page's author) still says where it comes from.
    const crossSite = await send(g.gateway, 'POST', '/api/sessions', { 'sec-fetch-site': 'cross-site' }, {})
    assert.equal(crossSite.status, 403)
    assert.equal(nativeCode(crossSite), 'origin_not_allowed')
    assert.match(String((crossSite.body.error as Json).message), /Sec-Fetch-Site/)
    const chat = await send(g.gateway, 'POST', '/v1/chat/completions', { 'sec-fetch-site': 'cross-site' }, {})
    assert.equal(chat.status, 403)
    assert.equal((chat.body.error as Json).code, 'origin_not_allowed')
    assert.equal(await sessionCount(), before, 'no session was created')

    // Pages of this machine are local: a UI on another port of localhost may drive the gateway.
    const local = await send(
      g.gateway,
      'POST',
      '/api/sessions',
      { origin: 'http://localhost:3000', 'sec-fetch-site': 'same-site' },
      {},
    )
    assert.equal(local.status, 201)
    const same = await send(g.gateway, 'GET', '/api/sessions', {
      origin: `http://127.0.0.1:${port}`,
      'sec-fetch-site': 'same-origin',
    })
    assert.equal(same.status, 200)
  })

  test('WebSocket upgrades: a foreign Origin or Host is refused before the upgrade', async () => {
    const url = `${g.url.replace('http', 'ws')}/api/sessions/${id}/stream`
    const foreign = await upgrade(url, { origin: 'http://evil.example' })
    assert.notEqual(foreign, 'open')
    assert.equal((foreign as Answer).status, 403)
    assert.equal(nativeCode(foreign as Answer), 'origin_not_allowed')

    const rebound = await upgrade(url, { headers: { host: `evil.example:${port}` } })
    assert.equal((rebound as Answer).status, 403)
    assert.equal(nativeCode(rebound as Answer), 'host_not_allowed')

    const crossSite = await upgrade(url, {
      origin: 'http://localhost:3000',
      headers: { 'sec-fetch-site': 'cross-site' },
    })
    assert.equal((crossSite as Answer).status, 403)

    assert.equal(await upgrade(url, {}), 'open')
    assert.equal(await upgrade(url, { origin: `http://127.0.0.1:${port}` }), 'open')
    assert.equal(await upgrade(url, { headers: { host: `localhost:${port}` } }), 'open')
  })

  test('API clients go on as before: the SDK, and Host naming the listen address', async () => {
    const models = await openaiClient(g.gateway).models.list()
    assert.ok(models.data.length > 0)
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `LOCALHOST:${port}`,
      '[::1]',
      `[::1]:${port}`,
    ]) {
      const answer = await send(g.gateway, 'GET', '/v1/models', { host })
      assert.equal(answer.status, 200, host)
    }
    // An SSH tunnel's port, and an address of the machine (a Host that is an address cannot be rebound).
    assert.equal((await send(g.gateway, 'GET', '/api/sessions', { host: 'localhost:2222' })).status, 200)
    assert.equal((await send(g.gateway, 'GET', '/api/sessions', { host: '10.1.2.3:8080' })).status, 200)
  })

  test('server.allowedHosts and allowedOrigins apply on reload', async () => {
    const host = { host: `gateway.example:${port}` }
    const page = { origin: 'https://ui.example', 'sec-fetch-site': 'cross-site' }
    assert.equal((await send(g.gateway, 'GET', '/api/sessions', host)).status, 403)
    assert.equal((await send(g.gateway, 'POST', '/api/sessions', page, {})).status, 403)

    const previous = g.gateway.context.config
    const config = structuredClone(previous) as Config
    config.server.allowedHosts = ['gateway.example']
    config.server.allowedOrigins = ['https://ui.example']
    assert.equal(
      g.gateway.reconfigure({
        config,
        previous,
        changed: ['server.allowedHosts', 'server.allowedOrigins'],
        restartRequired: [],
      }),
      true,
    )
    try {
      assert.equal((await send(g.gateway, 'GET', '/api/sessions', host)).status, 200)
      assert.equal((await send(g.gateway, 'POST', '/api/sessions', page, {})).status, 201)
      assert.equal((await send(g.gateway, 'GET', '/api/sessions', { host: 'evil.example' })).status, 403)
    } finally {
      g.gateway.reconfigure({ config: previous, previous: config, changed: [], restartRequired: [] })
    }
    assert.equal((await send(g.gateway, 'GET', '/api/sessions', host)).status, 403)
  })
})

describe('with API keys', () => {
  const g = withGateway({ pool: { warmSpares: 0 }, server: { apiKeys: ['sk-gw-1'] } })

  test('the Bearer scheme is case-insensitive', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      const authorization = `${scheme} sk-gw-1`
      assert.equal((await send(g.gateway, 'GET', '/v1/models', { authorization })).status, 200, scheme)
      assert.equal((await send(g.gateway, 'GET', '/api/sessions', { authorization })).status, 200, scheme)
    }
    assert.equal((await send(g.gateway, 'GET', '/v1/models', { authorization: 'bearer wrong' })).status, 401)
    assert.equal(
      (await send(g.gateway, 'GET', '/api/sessions', { authorization: 'bearersk-gw-1' })).status,
      401,
    )
  })

  test('the keys are the boundary: any Host passes; a cross-site page still cannot change state', async () => {
    const authorization = 'Bearer sk-gw-1'
    const named = await send(g.gateway, 'GET', '/api/sessions', { authorization, host: 'gateway.example' })
    assert.equal(named.status, 200)
    const crossSite = await send(
      g.gateway,
      'POST',
      '/api/sessions',
      { authorization, 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
      {},
    )
    assert.equal(crossSite.status, 403)
    assert.equal(nativeCode(crossSite), 'origin_not_allowed')
  })
  test('a WebSocket upgrade refused for its key is answered and its connection closed', async () => {
    const created = await send(g.gateway, 'POST', '/api/sessions', { 'x-api-key': 'sk-gw-1' }, {})
    const url = `${g.url.replace('http', 'ws')}/api/sessions/${created.body.id}/stream`
    const refused = await upgrade(url, {})
    assert.equal((refused as Answer).status, 401)
    assert.equal(nativeCode(refused as Answer), 'unauthorized')
    assert.equal(await upgrade(url, { headers: { authorization: 'bearer sk-gw-1' } }), 'open')
  })
})

describe('reloads that would open the gateway', () => {
  const h = withHome()

  test('an open configuration logs the warning; one refused at start is refused and not applied', async () => {
    const { gateway, lines } = await gatewayWithLog<Json>(h.home, {
      pool: { warmSpares: 0 },
      server: { host: '0.0.0.0', apiKeys: ['k'] },
      // The reloaded configurations keep it: reconfigure applies log.level.
      log: { level: 'info' },
    })
    const warning = (line: Json) => String(line.msg).startsWith('LISTENING ON A NON-LOOPBACK ADDRESS')
    const settle = () => new Promise((resolve) => setImmediate(resolve))
    try {
      await settle()
      assert.equal(lines.filter(warning).length, 0, 'keys: no warning at start')

      // No keys, on purpose: applied, and as loud as at start.
      const keyed = gateway.context.config
      const open = structuredClone(keyed) as Config
      open.server.apiKeys = []
      open.server.allowUnauthenticatedRemote = true
      const change = { changed: ['server.apiKeys'], restartRequired: [] }
      assert.equal(gateway.reconfigure({ config: open, previous: keyed, ...change }), true)
      await settle()
      assert.equal(lines.filter(warning).length, 1)
      assert.equal(gateway.context.config, open)

      // No keys by mistake: refused, the running configuration stays.
      const mistaken = structuredClone(open) as Config
      mistaken.server.allowUnauthenticatedRemote = false
      // A host moved to loopback in the same file does not help: server.host applies on restart only.
      mistaken.server.host = '127.0.0.1'
      assert.equal(gateway.reconfigure({ config: mistaken, previous: open, ...change }), false)
      await settle()
      assert.equal(gateway.context.config, open)
      const refused = lines.find((line) => String(line.msg).startsWith('configuration reload refused'))
      assert.ok(refused, 'the refusal is logged')
      assert.equal(refused.level, 50)
      assert.match(String(refused.msg), /0\.0\.0\.0 is not a loopback address/)
    } finally {
      await gateway.close()
    }
  })
})
