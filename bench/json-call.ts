import { TURN_TIMEOUT_MS } from './cli-baseline.js'

/** A JSON call to a gateway the benches drive; a non-2xx answer throws, naming the call. An empty body is `{}`. */
export async function jsonCall(
  url: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(TURN_TIMEOUT_MS),
  })
  const raw = await response.text()
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${raw.slice(0, 200)}`)
  return raw ? (JSON.parse(raw) as Record<string, unknown>) : {}
}
