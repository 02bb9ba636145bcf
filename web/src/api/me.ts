/**
 * Who is signed in: `GET /api/me` for the tab's key, asked again whenever the key changes (signed in,
 * signed out, another person's key). The shell shows it; views ask `isStaff` and `canChange` what to offer.
 * The gateway decides what is allowed either way: these only keep out of sight what would be refused.
 */
import { useSyncExternalStore } from 'react'
import { ApiError, api } from './client.js'
import { credentials } from './credentials.js'
import type { Me } from './types/users.js'

/** A gateway without users' routes (an older one): whoever passed its key check is its operator. */
const OPERATOR: Me = Object.freeze({ user: null, role: 'admin' })

let current: Me | undefined
/** The key `current` was asked for; undefined: not asked yet. */
let askedFor: string | null | undefined
let generation = 0
const listeners = new Set<() => void>()

function set(me: Me | undefined): void {
  current = me
  for (const listener of listeners) listener()
}

async function ask(): Promise<void> {
  const { key } = credentials.get()
  askedFor = key
  // Answers for an earlier key are dropped: only the last question counts.
  const asked = ++generation
  set(undefined)
  try {
    const me = await api.get<Me>('/me')
    if (asked === generation) set(me)
  } catch (error) {
    if (asked !== generation) return
    if (error instanceof ApiError && error.status === 404 && error.code !== 'network') set(OPERATOR)
    // A 401 opens the key prompt (the client told `credentials`); a network failure is retried with the key.
  }
}

credentials.subscribe(() => {
  const { key, required } = credentials.get()
  if (required) {
    askedFor = key
    generation++
    set(undefined)
  } else if (key !== askedFor) void ask()
})

export const signedIn = {
  get: (): Me | undefined => current,
  subscribe(listener: () => void): () => void {
    listeners.add(listener)
    if (askedFor === undefined) void ask()
    return () => listeners.delete(listener)
  },
  /** Asks again (a failed first answer, a role changed by an admin). */
  reload: () => void ask(),
}

/** The signed-in principal; undefined while asked, or with no valid key. */
export function useMe(): Me | undefined {
  return useSyncExternalStore(signedIn.subscribe, signedIn.get)
}

/** Admins and viewers: they see every user's sessions, the users, the audit trail, the metrics. */
export const isStaff = (me: Me | undefined): boolean => me?.role === 'admin' || me?.role === 'viewer'

/**
 * Whether to offer what changes things (create, delete, send). Viewers may not; until /api/me answers,
 * everything is offered as before users existed, and the gateway refuses what is not theirs.
 */
export const canChange = (me: Me | undefined): boolean => me?.role !== 'viewer'

/** Whether the signed-in person may offer changes: the hook views use. */
export const useCanChange = (): boolean => canChange(useMe())
