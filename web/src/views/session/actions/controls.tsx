/**
 * What a person does to a session from its page, besides writing to it: interrupt the running turn, pause
 * and resume, change model, agent and permission mode, export, delete. Each control shows only when the
 * session's state allows it, and its failure beside it in the gateway's words.
 */
import { api } from '../../../api/client.js'
import type { Session } from '../../../api/types/sessions.js'
import { Button } from '../../../ui/button.js'
import { ActionError, useAction } from './action.js'
import { DeleteButton } from './delete-dialog.js'
import { ExportMenu } from './export-menu.js'
import { useLiveSession } from './live-session.js'
import { controlsOf } from './model.js'
import { SettingsFields } from './settings.js'

export function SessionControls({
  session,
  onChange,
}: {
  session: Session
  /** The session as an action's answer returned it (new settings, resumed): the page may show it. */
  onChange?: (session: Session) => void
}) {
  const [current, setCurrent] = useLiveSession(session)
  const base = `/sessions/${encodeURIComponent(session.id)}`
  const changed = (next: Session) => {
    setCurrent(next)
    onChange?.(next)
  }
  const interrupt = useAction(() => api.post<{ interrupted: boolean }>(`${base}/interrupt`))
  const pause = useAction(async () => {
    changed(await api.post<Session>(`${base}/pause`))
    return true
  })
  const resume = useAction(async () => {
    changed(await api.post<Session>(`${base}/resume`))
    return true
  })
  const allowed = controlsOf(current.state)
  return (
    <div className="session-controls" role="toolbar" aria-label="Session actions">
      {allowed.interrupt && (
        <Button variant="primary" disabled={interrupt.pending} onClick={() => void interrupt.run()}>
          {interrupt.pending ? 'Interrupting…' : 'Interrupt'}
        </Button>
      )}
      {allowed.pause && (
        <Button
          disabled={pause.pending}
          onClick={() => void pause.run()}
          title="Stop its process until resumed"
        >
          Pause
        </Button>
      )}
      {allowed.resume && (
        <Button variant="primary" disabled={resume.pending} onClick={() => void resume.run()}>
          {resume.pending ? 'Resuming…' : 'Resume'}
        </Button>
      )}
      <SettingsFields session={current} disabled={!allowed.settings} onChange={changed} />
      <ExportMenu sessionId={session.id} />
      <DeleteButton session={current} />
      <ActionError
        error={interrupt.error ?? pause.error ?? resume.error}
        onDismiss={() => {
          interrupt.clear()
          pause.clear()
          resume.clear()
        }}
      />
    </div>
  )
}
