/** Clients of the gateway's OpenAI-compatible API, as the integration tests use them. */
import OpenAI from 'openai'
import type { Gateway } from '../../src/gateway.js'

/** The official SDK pointed at the gateway, with no retries: every failure shows. */
export const openaiClient = (gateway: Gateway): OpenAI =>
  new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 })

/** POST /v1/chat/completions without the SDK, to read the raw answer; a string body is sent as is. */
export const postChatCompletion = (
  gateway: Gateway,
  body: unknown,
  signal?: AbortSignal,
): Promise<Response> =>
  fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal,
  })
