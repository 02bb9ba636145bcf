/**
 * The agent editor's form: name and scope (new agents only), description, model, tools and prompt. The
 * other settings an agent file can hold are kept as they are, and edited in the raw file.
 */
import { useId, useState } from 'react'
import type { AgentScope } from '../../api/types/agents.js'
import { Field } from '../../ui/field.js'
import { AGENT_SETTINGS, type AgentDraft, type FieldErrors, nameList } from './agent-file.js'

/** Claude Code's built-in tools, offered as boxes to tick; any other name (MCP tools) goes in the text. */
const COMMON_TOOLS = [
  'Read',
  'Write',
  'Edit',
  'Glob',
  'Grep',
  'Bash',
  'WebFetch',
  'WebSearch',
  'Task',
  'TodoWrite',
  'NotebookEdit',
]
const MODELS = ['inherit', 'sonnet', 'opus', 'haiku']
/** The settings this form edits; the rest are listed as kept. */
const FORM_SETTINGS = new Set(['model', 'tools'])
/** Errors this form shows beside their field. */
export const FORM_FIELDS = new Set(['name', 'scope', 'workspace', 'description', 'model', 'tools', 'prompt'])

export interface NewAgentPlace {
  scope: AgentScope
  workspace: string
}

export function AgentForm({
  draft,
  onChange,
  errors,
  place,
  onPlace,
}: {
  draft: AgentDraft
  onChange: (draft: AgentDraft) => void
  errors: FieldErrors
  /** Where a new agent goes; absent when editing one. */
  place?: NewAgentPlace
  onPlace?: (place: NewAgentPlace) => void
}) {
  const id = useId()
  const set = (change: Partial<AgentDraft>) => onChange({ ...draft, ...change })
  const setSetting = (key: 'model' | 'tools', value: unknown) => {
    const settings = { ...draft.settings }
    if (value === undefined) delete settings[key]
    else settings[key] = value
    onChange({ ...draft, settings })
  }
  const kept = AGENT_SETTINGS.filter((key) => !FORM_SETTINGS.has(key) && draft.settings[key] !== undefined)

  return (
    <div className="agent-form">
      {place && onPlace && (
        <>
          <Field
            id={`${id}-name`}
            label="Name"
            error={errors.name}
            hint="Lower-case letters, digits and dashes."
          >
            <input
              id={`${id}-name`}
              value={draft.name}
              autoComplete="off"
              spellCheck={false}
              onChange={(event) => set({ name: event.target.value })}
            />
          </Field>
          <fieldset className="field">
            <legend>Scope</legend>
            <div className="choice-row">
              {(['user', 'project'] as const).map((scope) => (
                <label key={scope}>
                  <input
                    type="radio"
                    name={`${id}-scope`}
                    checked={place.scope === scope}
                    onChange={() => onPlace({ ...place, scope })}
                  />
                  {scope === 'user' ? 'User (every workspace)' : 'Project (one workspace)'}
                </label>
              ))}
            </div>
            {errors.scope && <p className="field-error">{errors.scope}</p>}
          </fieldset>
          {place.scope === 'project' && (
            <Field id={`${id}-workspace`} label="Workspace" error={errors.workspace}>
              <input
                id={`${id}-workspace`}
                value={place.workspace}
                placeholder="/path/to/the/project"
                spellCheck={false}
                onChange={(event) => onPlace({ ...place, workspace: event.target.value })}
              />
            </Field>
          )}
        </>
      )}
      <Field
        id={`${id}-description`}
        label="Description"
        error={errors.description}
        hint="When Claude should hand this agent a task."
      >
        <textarea
          id={`${id}-description`}
          rows={2}
          value={draft.description}
          onChange={(event) => set({ description: event.target.value })}
        />
      </Field>
      <Field id={`${id}-model`} label="Model" error={errors.model} hint="Empty: the session's model.">
        <input
          id={`${id}-model`}
          list={`${id}-models`}
          value={typeof draft.settings.model === 'string' ? draft.settings.model : ''}
          spellCheck={false}
          onChange={(event) => setSetting('model', event.target.value.trim() || undefined)}
        />
        <datalist id={`${id}-models`}>
          {MODELS.map((model) => (
            <option key={model} value={model} />
          ))}
        </datalist>
      </Field>
      <ToolsField
        tools={draft.settings.tools === undefined ? undefined : nameList(draft.settings.tools)}
        onChange={(tools) => setSetting('tools', tools)}
        error={errors.tools}
      />
      <Field id={`${id}-prompt`} label="System prompt" error={errors.prompt}>
        <textarea
          id={`${id}-prompt`}
          className="mono"
          rows={12}
          value={draft.prompt}
          onChange={(event) => set({ prompt: event.target.value })}
        />
      </Field>
      {kept.length > 0 && (
        <p className="muted">
          Also set in the file, kept as they are: {kept.join(', ')}. Change them in the File tab.
        </p>
      )}
    </div>
  )
}

/** Every tool (the setting unset), or only the ticked ones and those named in the text. */
function ToolsField({
  tools,
  onChange,
  error,
}: {
  tools: string[] | undefined
  onChange: (tools: string[] | undefined) => void
  error: string | undefined
}) {
  const id = useId()
  const [otherText, setOtherText] = useState(() =>
    (tools ?? []).filter((tool) => !COMMON_TOOLS.includes(tool)).join(', '),
  )
  const common = (tools ?? []).filter((tool) => COMMON_TOOLS.includes(tool))
  const update = (ticked: string[], text: string) =>
    onChange([...COMMON_TOOLS.filter((tool) => ticked.includes(tool)), ...nameList(text)])

  return (
    <fieldset className="field" data-invalid={error ? true : undefined}>
      <legend>Tools</legend>
      <div className="choice-row">
        <label>
          <input
            type="radio"
            name={`${id}-all`}
            checked={tools === undefined}
            onChange={() => onChange(undefined)}
          />
          All tools of the session
        </label>
        <label>
          <input
            type="radio"
            name={`${id}-all`}
            checked={tools !== undefined}
            onChange={() => update(common, otherText)}
          />
          Only these
        </label>
      </div>
      {tools !== undefined && (
        <>
          <div className="tool-boxes">
            {COMMON_TOOLS.map((tool) => (
              <label key={tool}>
                <input
                  type="checkbox"
                  checked={common.includes(tool)}
                  onChange={(event) =>
                    update(
                      event.target.checked ? [...common, tool] : common.filter((each) => each !== tool),
                      otherText,
                    )
                  }
                />
                {tool}
              </label>
            ))}
          </div>
          <label className="field-hint" htmlFor={`${id}-other`}>
            Other tools, comma-separated (MCP tools: <code>mcp__server__tool</code>)
          </label>
          <input
            id={`${id}-other`}
            value={otherText}
            spellCheck={false}
            onChange={(event) => {
              setOtherText(event.target.value)
              update(common, event.target.value)
            }}
          />
        </>
      )}
      {error && <p className="field-error">{error}</p>}
    </fieldset>
  )
}
