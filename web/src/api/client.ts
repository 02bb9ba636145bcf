/**
 * The typed fetch wrapper over the gateway's native API (/api). Every answer that is not 2xx becomes an
 * ApiError with the native error's code and message; a 401 also tells `credentials` (the key prompt opens).
 * Views call `api.get<Session>('/sessions/ID')` and the like; commands go over the same REST routes.
 */
import { credentials } from './credentials.js'
import type { ErrorBody } from './types/errors.js'

export class ApiError extends Error {
  override readonly name = 'ApiError'
  constructor(
    /** The HTTP status; 0 when the gateway could not be reached. */
    readonly status: number,
    /** The native error code (`not_found`, `unauthorized`...), or `network` / `bad_response`. */
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message)
  }
}

export type Query = Record<string, string | number | boolean | undefined | null>

export interface RequestOptions {
  query?: Query
  body?: unknown
  signal?: AbortSignal
  /** Headers of this request only (`Prefer: respond-async`). */
  headers?: Record<string, string>
}

/** A file the gateway sends as an attachment: its bytes and the name its Content-Disposition gives. */
export interface Download {
  blob: Blob
  fileName: string | null
}

export interface ClientOptions {
  /** Where the native API is: `/api` on the page's own origin. */
  base?: string
  fetch?: typeof fetch
  headers?: () => Record<string, string>
  /** A 401, with the headers the refused request carried (its key). */
  onUnauthorized?: (sent: Record<string, string>) => void
}

export type ApiClient = ReturnType<typeof createApiClient>

export function createApiClient({
  base = '/api',
  fetch: fetchImpl = (input, init) => globalThis.fetch(input, init),
  headers = () => ({}),
  onUnauthorized = () => {},
}: ClientOptions = {}) {
  async function send(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const { query, body, signal } = options
    const sent: Record<string, string> = { accept: 'application/json', ...options.headers, ...headers() }
    const init: RequestInit = {
      method,
      headers: sent,
      ...(signal ? { signal } : {}),
    }
    if (body !== undefined) {
      init.body = JSON.stringify(body)
      sent['content-type'] = 'application/json'
    }
    let response: Response
    try {
      response = await fetchImpl(`${base}${path}${queryString(query)}`, init)
    } catch (error) {
      if (signal?.aborted) throw error
      throw new ApiError(0, 'network', 'The gateway cannot be reached: is it running?')
    }
    if (response.status === 401) onUnauthorized(sent)
    if (!response.ok) throw await errorOf(response)
    return response
  }
  async function request<T>(method: string, path: string, options?: RequestOptions) {
    const response = await send(method, path, options)
    if (response.status === 204) return undefined as T
    return (await response.json()) as T
  }
  return {
    get: <T>(path: string, options?: Omit<RequestOptions, 'body'>) => request<T>('GET', path, options),
    post: <T>(path: string, body?: unknown, options?: RequestOptions) =>
      request<T>('POST', path, { ...options, body }),
    put: <T>(path: string, body?: unknown, options?: RequestOptions) =>
      request<T>('PUT', path, { ...options, body }),
    patch: <T>(path: string, body?: unknown, options?: RequestOptions) =>
      request<T>('PATCH', path, { ...options, body }),
    delete: <T>(path: string, options?: RequestOptions) => request<T>('DELETE', path, options),
    /** POSTs `body` and takes the answer as a file (an export), whatever its type. */
    download: (path: string, body?: unknown, options?: RequestOptions) =>
      file('POST', path, { ...options, body }),
    /** GETs a file (the audit trail's export): with the key in a header, which a plain link cannot send. */
    downloadGet: (path: string, options?: Omit<RequestOptions, 'body'>) => file('GET', path, options),
  }
  async function file(method: string, path: string, options?: RequestOptions): Promise<Download> {
    const response = await send(method, path, { ...options, headers: { accept: '*/*' } })
    return {
      blob: await response.blob(),
      fileName: fileNameOf(response.headers.get('content-disposition')),
    }
  }
}

/** `?a=1&b=x` of the defined values, or an empty string. */
export function queryString(query: Query | undefined): string {
  if (!query) return ''
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(query))
    if (value !== undefined && value !== null && value !== '') params.set(name, String(value))
  const text = params.toString()
  return text ? `?${text}` : ''
}

/** The `filename` of a Content-Disposition header (quoted or not), or null. */
function fileNameOf(disposition: string | null): string | null {
  const match = disposition?.match(/filename="([^"]*)"|filename=([^;\s]+)/i)
  return match ? (match[1] ?? match[2] ?? null) : null
}

async function errorOf(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => '')
  try {
    const { error } = JSON.parse(text) as ErrorBody
    if (error && typeof error.code === 'string')
      return new ApiError(response.status, error.code, error.message, error.field)
  } catch {
    // Not the native shape (a proxy's error page): described by its status below.
  }
  return new ApiError(response.status, 'bad_response', `The gateway answered ${response.status}`)
}

/** The page's client: the tab's key on every request, a 401 opens the key prompt. */
export const api = createApiClient({
  headers: credentials.headers,
  onUnauthorized: credentials.refused,
})
