/**
 * The slash commands of a session as the composer offers them while `/name` is typed: fetched when a slash
 * is typed, then filtered as the name grows (model.ts `matchingCommands`).
 */
import { useEffect, useRef, useState } from 'react'
import { api } from '../../../api/client.js'
import type { Command, CommandList } from '../../../api/types/commands.js'
import { messageOf } from './action.js'

export interface Commands {
  list: Command[] | null
  error: string | null
}

/**
 * The session's commands, fetched when `wanted` turns true: once, or again each time until Claude Code has
 * reported its own (a session's first process reports them).
 */
export function useCommands(sessionId: string, wanted: boolean): Commands {
  const [commands, setCommands] = useState<(Commands & { for: string; complete: boolean }) | null>(null)
  const mine = commands?.for === sessionId ? commands : null
  const complete = mine?.complete === true
  useEffect(() => {
    if (!wanted || complete) return
    let current = true
    api.get<CommandList>(`/sessions/${encodeURIComponent(sessionId)}/commands`).then(
      ({ commands: list, builtins_reported }) =>
        current && setCommands({ list, error: null, for: sessionId, complete: builtins_reported }),
      (failure: unknown) =>
        current && setCommands({ list: [], error: messageOf(failure), for: sessionId, complete: false }),
    )
    return () => {
      current = false
    }
  }, [sessionId, wanted, complete])
  return mine ?? { list: null, error: null }
}

export const MENU_ID = 'composer-commands'
export const optionId = (index: number) => `${MENU_ID}-${index}`

/** The matching commands; a click (or Enter/Tab in the composer) picks one, the arrows move. */
export function SlashMenu({
  options,
  selected,
  onPick,
}: {
  options: readonly Command[]
  selected: number
  onPick: (command: Command) => void
}) {
  const list = useRef<HTMLDivElement>(null)
  // The highlighted command stays in view as the arrows move through a long list.
  useEffect(() => {
    list.current?.querySelector(`#${optionId(selected)}`)?.scrollIntoView({ block: 'nearest' })
  }, [selected])
  return (
    <div ref={list} className="slash-menu" id={MENU_ID} role="listbox" aria-label="Slash commands">
      {options.map((command, index) => (
        <div
          key={command.name}
          id={optionId(index)}
          role="option"
          tabIndex={-1}
          aria-selected={index === selected}
          className="slash-option"
          // Before the textarea's blur: the pick keeps the focus where the typing is.
          onMouseDown={(event) => {
            event.preventDefault()
            onPick(command)
          }}
        >
          <span className="mono slash-name">
            /{command.name}
            {command.argument_hint && <span className="muted"> {command.argument_hint}</span>}
          </span>
          <span className="slash-description muted truncate">{command.description}</span>
        </div>
      ))}
    </div>
  )
}
