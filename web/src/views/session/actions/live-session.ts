/**
 * A session as its actions see it: the page's copy, kept current by the live stream's `session.state` and
 * `model.changed` events and by the sessions the actions' own answers return (a changed model, a resumed
 * session), so a control never offers what the session's state no longer allows.
 */
import { useState } from 'react'
import type { Session } from '../../../api/types/sessions.js'
import { useLiveEvents } from '../../../live/live.js'
import { sessionAfter } from './model.js'

interface Known {
  /** The version of the page's copy this was derived from: a different one from the page replaces it. */
  from: string
  current: Session
}

/** What tells two copies of a session apart (the page may hand over equal copies as new objects). */
const versionOf = (session: Session) =>
  [session.id, session.updated_at, session.state, session.model, session.agent, session.permission_mode].join(
    '\n',
  )

export function useLiveSession(session: Session): [Session, (next: Session) => void] {
  const version = versionOf(session)
  const [known, setKnown] = useState<Known>({ from: version, current: session })
  if (known.from !== version) setKnown({ from: version, current: session })
  useLiveEvents((events) => {
    setKnown((previous) => {
      const base = previous.from === version ? previous.current : session
      const next = sessionAfter(base, events)
      return next === base ? previous : { from: version, current: next }
    })
  })
  const current = known.from === version ? known.current : session
  return [current, (next) => setKnown({ from: version, current: next })]
}
