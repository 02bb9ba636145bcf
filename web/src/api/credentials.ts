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
  /** The key was forgotten on purpose (sign out), not refused. */
  signedOut?: boolean
}

/** What is used of sessionStorage, spelled out so that node:test (no DOM types) compiles this module too. */
interface KeyStorage {
  getItem(name: string): string | null
  setItem(name: string, value: string): void
  removeItem(name: string): void
}

/** sessionStorage when there is one (a page), nothing otherwise (node:test). */
const storage = (globalThis as { sessionStorage?: KeyStorage }).sessionStorage

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
  /**
   * A 401 to a request that carried `sent` (its headers): the key is wrong; it is forgotten and the user asked
   * for another. A 401 to a request sent with an earlier key (the page's first requests, still on their way
   * when the user typed a key) says nothing about the key now in use, and is ignored.
   */
  refused(sent?: Record<string, string>): void {
    if (sent && sent.authorization !== credentials.headers().authorization) return
    storage?.removeItem(STORAGE_KEY)
    if (!state.required || state.key !== null)
      update({ key: null, required: true, signedOut: state.signedOut })
  },
  /** Forgets the key on purpose: the prompt asks for one (another person's, or the same again). */
  signOut(): void {
    storage?.removeItem(STORAGE_KEY)
    update({ key: null, required: true, signedOut: true })
  },
  subscribe(listener: Listener): () => void {
    listeners.add(listener)
    return () => listeners.delete(listener)
  },
}
