import { TURN_TIMEOUT_MS } from './cli-baseline.js'

/**
 * A call to a gateway the benches drive, its body (when there is one) sent as JSON, given up after
 * `timeoutMs`: the response and its text, read in full. What a non-2xx answer means is the caller's.
 */
export async function fetchJson(
  url: string,
  method: string,
  path: string,
  body: unknown,
  timeoutMs: number,
): Promise<{ response: Response; raw: string }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  })
  return { response, raw: await response.text() }
}

/**
 * A JSON call to a gateway the benches drive, given up after `timeoutMs` (a turn's by default); a non-2xx
 * answer throws, naming the call, its status and the start of the error body. An empty body is `{}`.
 */
export async function jsonCall(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = TURN_TIMEOUT_MS,
): Promise<Record<string, unknown>> {
  const { response, raw } = await fetchJson(url, method, path, body, timeoutMs)
  if (!response.ok) throw new Error(`${method} ${path}: status ${response.status}: ${raw.slice(0, 300)}`)
  return raw ? (JSON.parse(raw) as Record<string, unknown>) : {}
}
