/** One tool call in full: who made it, when, the permission decision, its input and its result. */
import type { ToolCall } from '../../api/types/tools.js'
import { Link } from '../../router.js'
import { Badge } from '../../ui/badge.js'
import { Button } from '../../ui/button.js'
import { Dialog } from '../../ui/dialog.js'
import { Fact } from '../../ui/fact.js'
import { formatDuration } from '../../ui/format.js'
import { callStatusTone } from '../../ui/status-pill.js'
import { resultText } from './calls-model.js'

export function CallDetails({ call, onClose }: { call: ToolCall; onClose: () => void }) {
  const { permission, result } = call
  return (
    <Dialog open onClose={onClose} title={`${call.name} · ${call.id}`} wide>
      <dl className="facts">
        <Fact name="Status">
          <Badge tone={callStatusTone(call.status)}>{call.status}</Badge>
        </Fact>
        <Fact name="Session">
          <Link to={`/sessions/${encodeURIComponent(call.session_id)}`} className="mono">
            {call.session_id}
          </Link>
        </Fact>
        <Fact name="Made by">{`${call.caller}${call.agent ? ` (${call.agent})` : ''}`}</Fact>
        <Fact name="Turn">
          <span className="mono">{call.turn_id}</span>
        </Fact>
        {call.parent_tool_use_id && (
          <Fact name="Inside">
            <span className="mono">{call.parent_tool_use_id}</span>
          </Fact>
        )}
        <Fact name="Started">{new Date(call.started_at).toLocaleString()}</Fact>
        <Fact name="Duration">
          {call.duration_ms === null ? 'still running' : formatDuration(call.duration_ms)}
        </Fact>
        {permission && (
          <Fact name="Permission">
            {permission.behavior === null
              ? `waiting${permission.reason ? `: ${permission.reason}` : ''}`
              : `${permission.behavior === 'allow' ? 'allowed' : 'denied'} by ${permission.by}` +
                (permission.message ? `: ${permission.message}` : '')}
          </Fact>
        )}
      </dl>
      <h3>Input</h3>
      <pre className="code-block">{JSON.stringify(call.input, null, 2)}</pre>
      {call.requested_input !== undefined && (
        <>
          <h3>Claude asked for</h3>
          <pre className="code-block">{JSON.stringify(call.requested_input, null, 2)}</pre>
        </>
      )}
      <h3>Result</h3>
      {result ? (
        <pre className={result.is_error ? 'code-block code-error' : 'code-block'}>
          {resultText(result.content) || '(empty)'}
        </pre>
      ) : (
        <p className="muted">None yet.</p>
      )}
      <div className="dialog-actions">
        <Button onClick={onClose}>Close</Button>
      </div>
    </Dialog>
  )
}
