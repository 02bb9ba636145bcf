/**
 * "Fork from here" on a message of the timeline: a new session with the conversation up to that point
 * (POST …/fork `at_message`), then its page. `at` is the message or turn id when the timeline knows it;
 * otherwise the history item at `seq` says where the fork ends.
 */
import { api } from '../../../api/client.js'
import type { HistoryPage } from '../../../api/types/history.js'
import type { Session } from '../../../api/types/sessions.js'
import { navigate } from '../../../router.js'
import { Button } from '../../../ui/button.js'
import { ActionError, useAction } from './action.js'
import { forkPoint } from './model.js'

export function ForkButton({ session, seq, at }: { session: Pick<Session, 'id'>; seq: number; at?: string }) {
  const base = `/sessions/${encodeURIComponent(session.id)}`
  const fork = useAction(async () => {
    const point = at ?? (await pointAt(base, seq))
    const created = await api.post<Session>(`${base}/fork`, { at_message: point })
    navigate(`/sessions/${encodeURIComponent(created.id)}`)
    return created
  })
  return (
    <span className="fork">
      <Button
        variant="ghost"
        className="fork-button"
        disabled={fork.pending}
        aria-label="Fork from here"
        title="A new session with the conversation up to here"
        onClick={() => void fork.run()}
      >
        {fork.pending ? 'Forking…' : 'Fork'}
      </Button>
      <ActionError error={fork.error} onDismiss={fork.clear} />
    </span>
  )
}

/** The fork point of the first history item at or after `seq` (a streamed text's message comes after it). */
async function pointAt(base: string, seq: number): Promise<string> {
  const page = await api.get<HistoryPage>(`${base}/history`, { query: { after: seq - 1, limit: 1 } })
  const item = page.items[0]
  const point = item ? forkPoint(item) : null
  if (!point) throw new Error('Nothing of a turn is at this point of the conversation to fork from.')
  return point
}
