/**
 * A permission request waiting for an answer: which tool, why Claude Code asks, with what input, and
 * Allow once / Always allow / Deny. It goes away when the request's `permission.resolved` arrives, whoever
 * answered (this tab, another client, a timeout, an interrupt).
 */
import { useState } from 'react'
import { api } from '../../../api/client.js'
import type { PermissionRequest, ToolPermissions } from '../../../api/types/permissions.js'
import type { Session } from '../../../api/types/sessions.js'
import { Button } from '../../../ui/button.js'
import { RelativeTime } from '../../../ui/relative-time.js'
import { ActionError, useAction } from './action.js'
import { alwaysAllowed, inputText } from './model.js'
import { usePendingPermissions } from './pending.js'

type Choice = 'once' | 'always' | 'deny'

const CHOSEN: Record<Choice, string> = { once: 'Allowed', always: 'Allowed always', deny: 'Denied' }

export function PermissionPrompt({
  session,
  request,
}: {
  session: Pick<Session, 'id'>
  request: PermissionRequest
}) {
  const base = `/sessions/${encodeURIComponent(session.id)}`
  const [chosen, setChosen] = useState<Choice | null>(null)
  const answer = useAction(async (choice: Choice) => {
    if (choice === 'always') {
      // "Always" is a session allow rule (from the next turn on), then this call is allowed as well.
      const rules = await api.get<ToolPermissions>(`${base}/tool-permissions`)
      await api.put(`${base}/tool-permissions`, {
        allowed_tools: alwaysAllowed(rules.allowed_tools, request.tool_name),
      })
    }
    await api.post(`${base}/permissions/${encodeURIComponent(request.request_id)}`, {
      behavior: choice === 'deny' ? 'deny' : 'allow',
    })
    setChosen(choice)
  })
  const titleId = `permission-${request.request_id}`
  return (
    <section className="permission-prompt" aria-labelledby={titleId} data-request-id={request.request_id}>
      <header className="permission-head">
        <h3 id={titleId}>
          Claude wants to use <span className="mono">{request.tool_name}</span>
        </h3>
        <span className="muted">
          asked <RelativeTime time={request.requested_at} />
          {request.expires_at && (
            <>
              {' · denied unanswered at '}
              <time dateTime={request.expires_at}>{new Date(request.expires_at).toLocaleTimeString()}</time>
            </>
          )}
        </span>
      </header>
      {request.reason && <p className="permission-reason">{request.reason}</p>}
      <pre className="permission-input">{inputText(request.input)}</pre>
      <div className="permission-actions">
        {chosen ? (
          <span role="status" className="muted">
            {CHOSEN[chosen]}, waiting for Claude Code…
          </span>
        ) : (
          <>
            <Button variant="primary" disabled={answer.pending} onClick={() => void answer.run('once')}>
              Allow once
            </Button>
            <Button
              disabled={answer.pending}
              title={`Allow ${request.tool_name} from now on in this session (an allow rule)`}
              onClick={() => void answer.run('always')}
            >
              Always allow
            </Button>
            <Button variant="danger" disabled={answer.pending} onClick={() => void answer.run('deny')}>
              Deny
            </Button>
          </>
        )}
      </div>
      <ActionError error={answer.error} onDismiss={answer.clear} />
    </section>
  )
}

/** Every request of the session waiting for an answer, oldest first; nothing when none waits. */
export function PendingPermissions({ session }: { session: Pick<Session, 'id'> }) {
  const { requests } = usePendingPermissions(session.id)
  if (requests.length === 0) return null
  return (
    <section className="permission-prompts" aria-label="Permission requests">
      {requests.map((request) => (
        <PermissionPrompt key={request.request_id} session={session} request={request} />
      ))}
    </section>
  )
}
