/**
 * The session settings a person changes while watching: model, main agent and permission mode. Each
 * applies on its own (the gateway takes it from the session's next turn) and answers the session as it
 * now is; a refusal shows beside the field.
 */
import { useEffect, useId, useState } from 'react'
import { api } from '../../../api/client.js'
import type { AgentListItem } from '../../../api/types/agents.js'
import { PERMISSION_MODES } from '../../../api/types/permissions.js'
import type { Session } from '../../../api/types/sessions.js'
import { ActionError, useAction } from './action.js'

/** Claude Code's model aliases; any full model id may be typed too. */
const MODEL_ALIASES = ['sonnet', 'opus', 'haiku']

export function SettingsFields({
  session,
  disabled,
  onChange,
}: {
  session: Session
  disabled: boolean
  onChange: (session: Session) => void
}) {
  const base = `/sessions/${encodeURIComponent(session.id)}`
  const change = useAction(async (body: Record<string, unknown>) => {
    onChange(await api.put<Session>(`${base}/context`, body))
    return true
  })
  const changeAgent = useAction(async (agent: string | null) => {
    onChange(await api.put<Session>(`${base}/agent`, { agent }))
    return true
  })
  const busy = disabled || change.pending || changeAgent.pending
  return (
    <div className="settings-fields">
      <ModelField model={session.model} disabled={busy} onApply={(model) => void change.run({ model })} />
      <AgentField session={session} disabled={busy} onApply={(agent) => void changeAgent.run(agent)} />
      <SettingSelect
        label="Mode"
        ariaLabel="Permission mode"
        value={session.permission_mode}
        options={PERMISSION_MODES}
        disabled={busy}
        onChange={(mode) => void change.run({ permission_mode: mode })}
      />
      <ActionError
        error={change.error ?? changeAgent.error}
        onDismiss={() => {
          change.clear()
          changeAgent.clear()
        }}
      />
    </div>
  )
}

/** A model alias or id: applied on Enter or when the field is left changed; empty is the default model. */
function ModelField({
  model,
  disabled,
  onApply,
}: {
  model: string | null
  disabled: boolean
  onApply: (model: string | null) => void
}) {
  const listId = useId()
  const [draft, setDraft] = useState(model ?? '')
  useEffect(() => setDraft(model ?? ''), [model])
  const apply = () => {
    const next = draft.trim() || null
    if (next !== model) onApply(next)
  }
  return (
    <label className="control-field">
      <span>Model</span>
      <input
        aria-label="Model"
        className="control-input model-input"
        list={listId}
        placeholder="default"
        value={draft}
        disabled={disabled}
        onChange={(event) => setDraft(event.target.value)}
        onBlur={apply}
        onKeyDown={(event) => {
          if (event.key === 'Enter') apply()
          else if (event.key === 'Escape') setDraft(model ?? '')
        }}
      />
      <datalist id={listId}>
        {MODEL_ALIASES.map((alias) => (
          <option key={alias} value={alias} />
        ))}
      </datalist>
    </label>
  )
}

/** The agents Claude Code would find for the session's workspace, and none. */
function AgentField({
  session,
  disabled,
  onApply,
}: {
  session: Session
  disabled: boolean
  onApply: (agent: string | null) => void
}) {
  const [agents, setAgents] = useState<string[] | null>(null)
  useEffect(() => {
    let current = true
    api.get<{ agents: AgentListItem[] }>('/agents', { query: { workspace: session.workspace } }).then(
      ({ agents: list }) =>
        current &&
        setAgents(list.filter((agent) => agent.loaded && !agent.overridden).map((agent) => agent.name)),
      // Without the list, the current agent (and none) can still be chosen.
      () => current && setAgents([]),
    )
    return () => {
      current = false
    }
  }, [session.workspace])
  const names = [...new Set([...(session.agent ? [session.agent] : []), ...(agents ?? [])])].sort()
  return (
    <SettingSelect
      label="Agent"
      ariaLabel="Agent"
      value={session.agent ?? ''}
      options={names}
      none="none"
      disabled={disabled}
      onChange={(agent) => onApply(agent || null)}
    />
  )
}

/**
 * A setting picked from a list, labelled `label` on screen and `ariaLabel` for screen readers; `none` names
 * the choice of no value ('').
 */
function SettingSelect({
  label,
  ariaLabel,
  value,
  options,
  none,
  disabled,
  onChange,
}: {
  label: string
  ariaLabel: string
  value: string
  options: readonly string[]
  none?: string
  disabled: boolean
  onChange: (value: string) => void
}) {
  return (
    <label className="control-field">
      <span>{label}</span>
      <select
        aria-label={ariaLabel}
        className="control-input"
        value={value}
        disabled={disabled}
        onChange={(event) => onChange(event.target.value)}
      >
        {none !== undefined && <option value="">{none}</option>}
        {options.map((option) => (
          <option key={option} value={option}>
            {option}
          </option>
        ))}
      </select>
    </label>
  )
}
