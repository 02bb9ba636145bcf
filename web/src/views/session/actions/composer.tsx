/**
 * Where a person writes to Claude: Enter sends, Shift+Enter starts a new line, `/` lists the session's
 * slash commands and runs one. A message is sent without waiting for its answer (`Prefer: respond-async`):
 * the answer streams into the timeline from the live stream, and a message sent while a turn runs waits
 * behind it on the gateway. Disabled, saying why, when the session cannot take messages.
 */
import { type KeyboardEvent, useId, useRef, useState } from 'react'
import { api } from '../../../api/client.js'
import type { Command, CommandResult } from '../../../api/types/commands.js'
import type { Session, TurnStarted } from '../../../api/types/sessions.js'
import { Button } from '../../../ui/button.js'
import { ActionError, useAction } from './action.js'
import { useLiveSession } from './live-session.js'
import { composerKey, matchingCommands, moveSelection, parseSlash, sendBlocked, slashQuery } from './model.js'
import { MENU_ID, optionId, SlashMenu, useCommands } from './slash-menu.js'

/** Commands the menu lists at most; it scrolls, and typing narrows it. */
const MENU_SIZE = 50

export function Composer({ session }: { session: Session }) {
  const [current] = useLiveSession(session)
  const blocked = sendBlocked(current.state)
  const base = `/sessions/${encodeURIComponent(session.id)}`
  const field = useRef<HTMLTextAreaElement>(null)
  const hintId = useId()
  const [text, setText] = useState('')
  const [menu, setMenu] = useState({ selected: 0, dismissed: false })
  const [output, setOutput] = useState<CommandResult | null>(null)

  const query = slashQuery(text)
  const commands = useCommands(session.id, query !== null)
  const options = query !== null && commands.list ? matchingCommands(commands.list, query, MENU_SIZE) : []
  const menuOpen = options.length > 0 && !menu.dismissed
  const selected = Math.min(menu.selected, Math.max(options.length - 1, 0))

  const message = useAction((content: string) =>
    api.post<TurnStarted>(`${base}/messages`, { content }, { headers: { prefer: 'respond-async' } }),
  )
  const command = useAction(async (name: string, args: string) => {
    setOutput(null)
    const result = await api.post<CommandResult>(
      `${base}/commands/${encodeURIComponent(name)}`,
      args ? { args } : {},
    )
    setOutput(result)
    return result
  })

  const edit = (next: string) => {
    setText(next)
    setMenu({ selected: 0, dismissed: false })
  }
  const pick = (picked: Command) => {
    edit(`/${picked.name} `)
    field.current?.focus()
  }
  const submit = async () => {
    const content = text.trim()
    if (!content || blocked) return
    setText('')
    const slash = parseSlash(content)
    const done = slash ? await command.run(slash.name, slash.args) : await message.run(content)
    // Not sent: the text comes back to be fixed, unless something new was typed meanwhile.
    if (done === undefined) setText((now) => now || content)
  }
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    const { key, shiftKey, ctrlKey, metaKey, altKey } = event
    const isComposing = event.nativeEvent.isComposing
    const action = composerKey({ key, shiftKey, ctrlKey, metaKey, altKey, isComposing }, menuOpen)
    if (!action) return
    event.preventDefault()
    if (action === 'send') void submit()
    else if (action === 'menu-next' || action === 'menu-previous')
      setMenu({
        selected: moveSelection(selected, action === 'menu-next' ? 1 : -1, options.length),
        dismissed: false,
      })
    else if (action === 'menu-pick') {
      const chosen = options[selected]
      if (chosen) pick(chosen)
    } else setMenu({ selected, dismissed: true })
  }

  return (
    <div className="composer" data-blocked={blocked ? 'true' : undefined}>
      {menuOpen && <SlashMenu options={options} selected={selected} onPick={pick} />}
      {query !== null && commands.error && <p className="composer-note muted">Commands: {commands.error}</p>}
      <div className="composer-row">
        <textarea
          ref={field}
          className="composer-input"
          aria-label="Message to Claude"
          aria-describedby={hintId}
          aria-autocomplete="list"
          aria-controls={menuOpen ? MENU_ID : undefined}
          aria-activedescendant={menuOpen ? optionId(selected) : undefined}
          placeholder={blocked ?? 'Message Claude, or / for commands'}
          disabled={blocked !== null}
          rows={2}
          value={text}
          onChange={(event) => edit(event.target.value)}
          onKeyDown={onKeyDown}
          onBlur={() => setMenu({ selected, dismissed: true })}
          onFocus={() => setMenu({ selected, dismissed: false })}
        />
        <Button
          variant="primary"
          disabled={blocked !== null || text.trim() === ''}
          onClick={() => void submit()}
        >
          {parseSlash(text) ? 'Run' : 'Send'}
        </Button>
      </div>
      <p id={hintId} className="composer-note muted">
        {blocked ??
          (message.pending
            ? current.state === 'running'
              ? 'Sent: it waits for the running turn…'
              : 'Sending…'
            : command.pending
              ? 'Running the command…'
              : 'Enter to send · Shift+Enter for a new line · / for commands')}
      </p>
      <ActionError error={message.error} onDismiss={message.clear} />
      <ActionError error={command.error} onDismiss={command.clear} />
      {output && <CommandOutput result={output} onClose={() => setOutput(null)} />}
    </div>
  )
}

/** What a slash command printed (a command Claude Code ran also shows in the timeline as its turn). */
function CommandOutput({ result, onClose }: { result: CommandResult; onClose: () => void }) {
  const failed = result.status === 'error' || result.status === 'interrupted'
  return (
    <section className="command-output" aria-label={`Output of /${result.command}`}>
      <header className="command-output-head">
        <span className="mono">/{result.command}</span>
        {failed && <span className="muted">{result.error?.message ?? result.status}</span>}
        <button type="button" className="action-error-close" aria-label="Close the output" onClick={onClose}>
          ×
        </button>
      </header>
      <pre className="command-output-text">{result.output || '(no output)'}</pre>
    </section>
  )
}
