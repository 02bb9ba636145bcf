/**
 * Metrics against a real gateway, the real CLI and the scripted model: a turn shows in Prometheus' /metrics
 * and in the dashboard's /api/metrics (the same observations), the gateway's share of a turn's request is
 * what Claude's API did not take, an open event stream is counted, /metrics
 * wants the key when keys are set, and `metrics.port` serves it on a listener of its own.
 */
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { describe, test } from 'node:test'
import WebSocket from 'ws'
import { testConfig, testGateway, testHome, withGateway, withOwnGateway } from '../support/harness.js'
import { expectError, type Json, nativeClient } from '../support/native-client.js'
import { postChatCompletion } from '../support/openai.js'
import { freePort } from '../support/ports.js'
import { text } from '../support/scripted-anthropic.js'
import { waitUntil } from '../support/wait.js'
import { WEATHER_FUNCTION } from '../support/weather-function.js'

/** The value of the first exposition line starting with `prefix` (name and labels), or undefined. */
function sampleOf(exposition: string, prefix: string): number | undefined {
  const line = exposition.split('\n').find((l) => l.startsWith(prefix))
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1))
}

describe('metrics', () => {
  const g = withGateway({ pool: { warmSpares: 0 } })
  const { call } = nativeClient(() => g.gateway)

  test('a turn shows in /metrics and in /api/metrics; open streams are counted', async () => {
    const created = await call('POST', '/api/sessions', {})
    assert.equal(created.status, 201, created.raw)
    const id = created.body.id as string
    g.home.model.script(text('Counted.'))
    const answer = await call('POST', `/api/sessions/${id}/messages`, { content: 'Hello' })
    assert.equal(answer.body.status, 'success', answer.raw)

    const scraped = await fetch(`${g.url}/metrics`)
    assert.equal(scraped.status, 200)
    assert.match(scraped.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
    const exposition = await scraped.text()
    assert.equal(sampleOf(exposition, 'gen_ai_server_request_duration_seconds_count{'), 1, exposition)
    assert.ok(sampleOf(exposition, 'gen_ai_server_time_to_first_token_seconds_count{') === 1)
    assert.ok(sampleOf(exposition, 'gen_ai_client_token_usage_sum{gen_ai_token_type="input"')! > 0)
    assert.ok(sampleOf(exposition, 'gen_ai_client_token_usage_sum{gen_ai_token_type="output"')! > 0)
    assert.equal(sampleOf(exposition, 'gateway_turns_total{status="success"}'), 1)
    // The session's process, and a spare a new conversation may have asked for.
    assert.ok(sampleOf(exposition, 'gateway_cli_starts_total')! >= 1)
    assert.equal(sampleOf(exposition, 'gateway_sessions{state="idle"}'), 1)
    assert.equal(sampleOf(exposition, 'gateway_runners{state="idle"}'), 1)
    // The route's pattern is the label, never the session's id.
    assert.ok(
      sampleOf(
        exposition,
        'gateway_http_request_duration_seconds_count{route="/api/sessions/:id/messages",method="POST",status_class="2xx",api="native"}',
      ) === 1,
      exposition,
    )
    assert.ok(!exposition.includes(id), 'no session id in /metrics')
    assert.ok(sampleOf(exposition, 'process_resident_memory_bytes')! > 0)
    assert.ok(sampleOf(exposition, 'gateway_cli_resident_memory_bytes')! > 0)

    const stream = new AbortController()
    const events = await fetch(`${g.url}/api/sessions/${id}/events`, { signal: stream.signal })
    assert.equal(events.status, 200)
    const socket = new WebSocket(`${g.url.replace('http', 'ws')}/api/sessions/${id}/stream`)
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject))
    try {
      const figures = (await call('GET', '/api/metrics')).body
      const turns = figures.turns as { latency_ms: Json; first_token_ms: Json; per_minute: number }
      assert.ok((turns.latency_ms.p50 as number) > 0, JSON.stringify(figures))
      assert.ok((turns.first_token_ms.p99 as number) > 0)
      assert.ok(turns.per_minute > 0)
      assert.equal((figures.requests as { latency_ms: Json }).latency_ms.p50 !== null, true)
      assert.deepEqual((figures.connections as Json).streams, { sse: 1, websocket: 1 })
      assert.equal((figures.sessions as Json).idle, 1)
      assert.equal((figures.runners as Json).idle, 1)
      assert.ok((figures.tokens as Json).output as number)
      assert.ok(((figures.memory as Json).cli_bytes as number) > 0)
    } finally {
      stream.abort()
      socket.close()
    }
    await waitUntil(async () => {
      const { streams } = (await call('GET', '/api/metrics')).body.connections as { streams: Json }
      return streams.sse === 0 && streams.websocket === 0
    })
    const ended = await (await fetch(`${g.url}/metrics`)).text()
    assert.equal(sampleOf(ended, 'gateway_streams_total{kind="sse",api="native"}'), 1)
    assert.equal(sampleOf(ended, 'gateway_streams_total{kind="websocket",api="native"}'), 1)

    // One sample a second: the turn is in the history too.
    await waitUntil(async () => {
      const { samples } = (await call('GET', '/api/metrics/history?seconds=60')).body as { samples: Json[] }
      return samples.some((sample) => (sample.turns as { latency_ms: Json }).latency_ms.p50 !== null)
    })
    expectError(await call('GET', '/api/metrics/history?seconds=0'), 400, 'validation_error')
  })
})

describe('gateway-added time', () => {
  const g = withGateway({ pool: { warmSpares: 0 } })
  const { call } = nativeClient(() => g.gateway)

  test("a turn's request less its API time, by API family and streamed or not", async () => {
    // The model answers each call this late: the CLI counts the wait in its API time, so the gateway's
    // share of a request is at most its duration less this.
    const API_DELAY_MS = 300
    g.home.model.script(
      text('Timed.', { delayMs: API_DELAY_MS }),
      text('Streamed.', { delayMs: API_DELAY_MS }),
    )
    const created = await call('POST', '/api/sessions', {})
    assert.equal(created.status, 201, created.raw)
    let started = performance.now()
    const answer = await call('POST', `/api/sessions/${created.body.id}/messages`, { content: 'Hello' })
    const nativeMs = performance.now() - started
    assert.equal(answer.body.status, 'success', answer.raw)

    started = performance.now()
    const streamed = await postChatCompletion(g.gateway, {
      model: 'claude-code',
      stream: true,
      messages: [{ role: 'user', content: 'Hi' }],
    })
    assert.equal(streamed.status, 200)
    assert.match(await streamed.text(), /data: \[DONE\]/)
    const openaiMs = performance.now() - started

    const cases = [
      { labels: 'api="native",streamed="false"', requestMs: nativeMs },
      { labels: 'api="openai",streamed="true"', requestMs: openaiMs },
    ]
    // Observed when the server closes the response, a moment after the client has read all of it.
    const exposition = await waitUntil(async () => {
      const text = await (await fetch(`${g.url}/metrics`)).text()
      return cases.every(({ labels }) => sampleOf(text, `gateway_added_time_seconds_count{${labels}}`) === 1)
        ? text
        : undefined
    })
    for (const { labels, requestMs } of cases) {
      const addedMs = sampleOf(exposition, `gateway_added_time_seconds_sum{${labels}}`)! * 1000
      assert.ok(addedMs > 0, `${labels}: ${addedMs} ms added`)
      assert.ok(addedMs < requestMs - API_DELAY_MS, `${labels}: ${addedMs} ms of a ${requestMs} ms request`)
    }
    // The streamed completion, ended by the gateway, is a stream, not a plain response.
    assert.equal(sampleOf(exposition, 'gateway_streams_total{kind="sse",api="openai"}'), 1, exposition)
    assert.equal(
      sampleOf(exposition, 'gateway_http_request_duration_seconds_count{route="/v1/chat/completions"'),
      undefined,
    )
  })

  test('a request that continues a turn with client function results is not observed: the turn ran before it', async () => {
    g.home.model.script(
      { blocks: [{ type: 'tool_use', name: 'mcp__client__get_weather', input: { city: 'Paris' } }] },
      text('Sunny.'),
      text('Plain.'),
    )
    const messages: Json[] = [{ role: 'user', content: 'Weather in Paris?' }]
    const calling = (await (
      await postChatCompletion(g.gateway, { model: 'claude-code', messages, tools: [WEATHER_FUNCTION] })
    ).json()) as { choices: { finish_reason: string; message: { tool_calls: { id: string }[] } }[] }
    const [choice] = calling.choices
    assert.equal(choice?.finish_reason, 'tool_calls')
    messages.push(choice!.message, {
      role: 'tool',
      tool_call_id: choice!.message.tool_calls[0]!.id,
      content: 'sun',
    })
    const continued = await postChatCompletion(g.gateway, {
      model: 'claude-code',
      messages,
      tools: [WEATHER_FUNCTION],
    })
    assert.match(await continued.text(), /Sunny\./)
    // A whole turn afterwards: once its sample is in, the continuation's would be too.
    const plain = await postChatCompletion(g.gateway, {
      model: 'claude-code',
      messages: [{ role: 'user', content: 'Hi' }],
    })
    assert.match(await plain.text(), /Plain\./)
    const count = await waitUntil(async () => {
      const text = await (await fetch(`${g.url}/metrics`)).text()
      return sampleOf(text, 'gateway_added_time_seconds_count{api="openai",streamed="false"}')
    })
    assert.equal(count, 1)
  })
})

test('with API keys, /metrics and /api/metrics want one', async () => {
  await withOwnGateway({ server: { apiKeys: ['metrics-key'] } }, async (gateway) => {
    const { call } = nativeClient(() => gateway)
    expectError(await call('GET', '/metrics'), 401, 'unauthorized')
    expectError(await call('GET', '/api/metrics'), 401, 'unauthorized')
    const keyed = await call('GET', '/metrics', undefined, { authorization: 'Bearer metrics-key' })
    assert.equal(keyed.status, 200)
    assert.match(keyed.raw, /^# HELP /m)
  })
})

test('metrics.token opens /metrics only, and is required once set, with or without API keys', async () => {
  await withOwnGateway(
    { server: { apiKeys: ['api-key'] }, metrics: { token: 'scrape-token' } },
    async (gateway) => {
      const { call } = nativeClient(() => gateway)
      const scraper = { authorization: 'Bearer scrape-token' }
      assert.equal((await call('GET', '/metrics', undefined, scraper)).status, 200)
      assert.equal(
        (await call('GET', '/metrics', undefined, { authorization: 'Bearer api-key' })).status,
        200,
      )
      expectError(await call('GET', '/api/metrics', undefined, scraper), 401, 'unauthorized')
    },
  )
  await withOwnGateway({ metrics: { token: 'scrape-token' } }, async (gateway) => {
    const { call } = nativeClient(() => gateway)
    expectError(await call('GET', '/metrics'), 401, 'unauthorized')
    assert.equal((await call('GET', '/api/metrics')).status, 200)
    const scraped = await call('GET', '/metrics', undefined, { authorization: 'Bearer scrape-token' })
    assert.equal(scraped.status, 200)
  })
})

test('metrics.port serves /metrics on a listener of its own; the main port then does not', async () => {
  const port = await freePort()
  await withOwnGateway({ metrics: { port } }, async (gateway) => {
    const own = await fetch(`http://127.0.0.1:${port}/metrics`)
    assert.equal(own.status, 200)
    assert.match(await own.text(), /gateway_runners\{state="busy"\} 0/)
    assert.equal((await fetch(`http://127.0.0.1:${port}/api/metrics`)).status, 404)
    assert.equal((await fetch(`${gateway.url}/metrics`)).status, 404)
    assert.equal((await fetch(`${gateway.url}/api/metrics`)).status, 200)
  })
  // Closed with the gateway.
  await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`))
})

test('a metrics.port in use stops the start', async () => {
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  const { port } = taken.address() as { port: number }
  const home = await testHome()
  try {
    const config = testConfig(home, { metrics: { port } })
    await assert.rejects(testGateway(home, config), /EADDRINUSE/)
  } finally {
    await home.close()
    await new Promise((resolve) => taken.close(resolve))
  }
})

test('metrics.enabled false: no /metrics; the dashboard figures stay', async () => {
  await withOwnGateway({ metrics: { enabled: false } }, async (gateway) => {
    assert.equal((await fetch(`${gateway.url}/metrics`)).status, 404)
    assert.equal((await fetch(`${gateway.url}/api/metrics`)).status, 200)
  })
})
