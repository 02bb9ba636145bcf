/**
 * Deleting a session, confirmed first: closing it (its process stops; it stays in the sessions list as
 * closed, and can still be forked through the API) or, ticked, erasing its record and history for good.
 * Either way the page goes back to the sessions: the API answers a closed session's own routes with 404.
 */
import { useState } from 'react'
import { api } from '../../../api/client.js'
import type { Session } from '../../../api/types/sessions.js'
import { navigate } from '../../../router.js'
import { Button } from '../../../ui/button.js'
import { Dialog, DialogActions } from '../../../ui/dialog.js'
import { ActionError, useAction } from './action.js'
import { sessionLabel } from './model.js'

export function DeleteButton({ session }: { session: Session }) {
  const [open, setOpen] = useState(false)
  const [purge, setPurge] = useState(false)
  const closed = session.state === 'closed'
  // A closed session can only be erased.
  const erase = closed || purge
  const remove = useAction(async () => {
    await api.delete(`/sessions/${encodeURIComponent(session.id)}`, { query: { purge: erase } })
    setOpen(false)
    navigate('/sessions')
    return true
  })
  return (
    <>
      <Button
        variant="danger"
        onClick={() => {
          remove.clear()
          setOpen(true)
        }}
      >
        Delete…
      </Button>
      <Dialog open={open} onClose={() => setOpen(false)} title={`Delete ${sessionLabel(session)}?`}>
        <p className="muted">
          {closed
            ? 'The session is closed already. Erasing it removes its record and history from the gateway.'
            : 'Its Claude Code process stops (a running turn ends as interrupted) and the session is closed: it stays in the sessions list as closed, and takes no more messages.'}
        </p>
        <label className="check">
          <input
            type="checkbox"
            checked={erase}
            disabled={closed}
            onChange={(event) => setPurge(event.target.checked)}
          />
          Also erase its record and history (cannot be undone)
        </label>
        <ActionError error={remove.error} />
        <DialogActions onCancel={() => setOpen(false)}>
          <Button variant="danger" disabled={remove.pending} onClick={() => void remove.run()}>
            {erase ? 'Erase session' : 'Close session'}
          </Button>
        </DialogActions>
      </Dialog>
    </>
  )
}
