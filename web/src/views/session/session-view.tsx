/**
 * One session (`/sessions/:id`): its header, the conversation as it streams (timeline/), and the actions
 * that steer it (actions/): the controls, a fork button on each message, the permission prompts waiting for
 * an answer and the composer.
 */
import { useCallback, useMemo, useSyncExternalStore } from 'react'
import { credentials } from '../../api/credentials.js'
import { useCanChange } from '../../api/me.js'
import {
  Composer,
  ForkButton,
  PendingPermissions,
  PendingPermissionsBadge,
  SessionControls,
} from './actions/index.js'
import { SessionHeader, useSessionRecord } from './session-header.js'
import { SessionMissing } from './session-missing.js'
import type { EntryOf } from './timeline/entry.js'
import { Timeline } from './timeline/timeline.js'
import { useTimeline } from './timeline/use-timeline.js'
import './session.css'
import './actions/actions.css'

export default function SessionView({ params }: { params: Record<string, string> }) {
  // Another session (a fork just made) starts from nothing: no row, toggle or search of this one stays.
  return <SessionPage key={params.id} id={params.id!} />
}

function SessionPage({ id }: { id: string }) {
  // Again with a new key: the first answers may have been 401s.
  const { key } = useSyncExternalStore(credentials.subscribe, credentials.get)
  const record = useSessionRecord(id, key)
  const timeline = useTimeline(id, key)
  const { session, error, deleted } = record
  // A viewer reads the session; nothing that steers it is offered.
  const editable = useCanChange()

  // Stable, so that the timeline's memoised rows do not re-render for it.
  const forkable = useMemo(() => ({ id }), [id])
  const messageActions = useCallback(
    (entry: EntryOf<'user'> | EntryOf<'text'>) =>
      !editable || (entry.kind === 'text' && entry.synthetic) ? null : (
        <ForkButton
          session={forkable}
          seq={entry.seq}
          {...(entry.kind === 'text' && entry.messageId ? { at: entry.messageId } : {})}
        />
      ),
    [forkable, editable],
  )

  if (deleted || !session)
    return (
      <SessionMissing
        id={id}
        deleted={deleted}
        deletedNote="Another client deleted it while it was open here."
        error={error}
        onRetry={record.reload}
      />
    )

  return (
    <section className="view session-view" aria-labelledby="session-title">
      <SessionHeader
        session={session}
        tab="conversation"
        status={<PendingPermissionsBadge sessionId={id} running={session.state === 'running'} />}
        controls={editable ? <SessionControls session={session} onChange={record.replace} /> : undefined}
      />
      <Timeline sessionId={id} timeline={timeline} messageActions={messageActions} />
      {editable && <PendingPermissions session={session} />}
      {editable && <Composer session={session} />}
    </section>
  )
}
