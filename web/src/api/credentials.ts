/**
 * The API key of this tab: kept in sessionStorage (gone when the tab closes, never shared with other tabs),
 * sent as `Authorization: Bearer` by the API client and the live stream, never put in a URL or logged.
 * `required` turns true when the gateway answers 401: the app then shows the key prompt.
 */
const STORAGE_KEY = 'ccgw.apiKey'

type Listener = () => void

export interface CredentialsState {
  key: string | null
  /** The gateway refused the request for want of a (valid) key. */
  required: boolean
}

/** sessionStorage when there is one (a page), nothing otherwise (node:test). */
const storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | undefined = globalThis.sessionStorage

let state: CredentialsState = { key: storage?.getItem(STORAGE_KEY) ?? null, required: false }
const listeners = new Set<Listener>()

function update(next: CredentialsState): void {
  state = next
  for (const listener of listeners) listener()
}

export const credentials = {
  get: (): CredentialsState => state,
  /** Headers carrying the key, for every request to the gateway. */
  headers(): Record<string, string> {
    return state.key ? { authorization: `Bearer ${state.key}` } : {}
  },
  set(key: string): void {
    storage?.setItem(STORAGE_KEY, key)
    update({ key, required: false })
  },
  /** A 401: the key (if any) is wrong; it is forgotten and the user asked for another. */
  refused(): void {
    storage?.removeItem(STORAGE_KEY)
    if (!state.required || state.key !== null) update({ key: null, required: true })
  },
  subscribe(listener: Listener): () => void {
    listeners.add(listener)
    return () => listeners.delete(listener)
  },
}
