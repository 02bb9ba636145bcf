/**
 * What the list views (sessions, tool calls, agents, tools, users) are made of: their load, their search
 * and filters, and their table's head.
 */
import { type KeyboardEvent, useCallback, useEffect, useState, useSyncExternalStore } from 'react'
import { api } from '../api/client.js'
import { credentials } from '../api/credentials.js'

/**
 * Runs `load` (a stable callback) when the component mounts, and again with each new API key: the first
 * answer may have been a 401 that the key prompt answered.
 */
export function useLoad(load: () => Promise<void>): void {
  const { key } = useSyncExternalStore(credentials.subscribe, credentials.get)
  // biome-ignore lint/correctness/useExhaustiveDependencies: `key` is the reason to load again.
  useEffect(() => {
    void load()
  }, [load, key])
}

/**
 * The answer to `GET path`, loaded as useLoad loads and again by `load`. `error`: the last load failed (the
 * answer before stays); the next answer clears it.
 */
export function useFetched<T>(path: string): {
  value: T | undefined
  error: unknown
  load: () => Promise<void>
} {
  const [value, setValue] = useState<T>()
  const [error, setError] = useState<unknown>()
  const load = useCallback(async () => {
    try {
      setValue(await api.get<T>(path))
      setError(undefined)
    } catch (failure) {
      setError(failure)
    }
  }, [path])
  useLoad(load)
  return { value, error, load }
}

/** The view's search box: the one `/` focuses (shortcuts.ts), as its placeholder says. */
export function SearchBox({
  label,
  placeholder,
  value,
  onChange,
  onKeyDown,
}: {
  label: string
  placeholder: string
  value: string
  onChange: (value: string) => void
  onKeyDown?: (event: KeyboardEvent<HTMLInputElement>) => void
}) {
  return (
    <input
      type="search"
      data-search
      aria-label={label}
      placeholder={`${placeholder}  ( / )`}
      value={value}
      onChange={(event) => onChange(event.target.value)}
      onKeyDown={onKeyDown}
    />
  )
}

/**
 * One filter of a list's toolbar, over the field `name` of the list's filters: typed in (`placeholder`
 * shows what it takes), or chosen among `options` (`all` names the choice of every one).
 */
export type FilterField<F> = {
  [K in keyof F & string]:
    | { name: K; label: string; placeholder: string; className?: string }
    | { name: K; label: string; all: string; options: readonly F[K][] }
}[keyof F & string]

/**
 * A toolbar's filters, in the order of `fields`, each showing its value in `values` and reporting a change
 * as `{ [name]: value }`: to `onChoose` for a chosen one when given (a list may apply those at once and typed
 * ones once typing pauses), else to `onChange`. A chosen filter's '' is all of its options.
 */
export function FilterFields<F extends Record<keyof F, string>>({
  fields,
  values,
  onChange,
  onChoose = onChange,
}: {
  fields: readonly FilterField<F>[]
  values: F
  onChange: (change: Partial<F>) => void
  onChoose?: (change: Partial<F>) => void
}) {
  return fields.map((field) => {
    const report = (value: string) =>
      ('options' in field ? onChoose : onChange)({ [field.name]: value } as Partial<F>)
    return 'options' in field ? (
      <select
        key={field.name}
        aria-label={field.label}
        value={values[field.name]}
        onChange={(event) => report(event.target.value)}
      >
        <option value="">{field.all}</option>
        {field.options.map((option) => (
          <option key={option} value={option}>
            {option}
          </option>
        ))}
      </select>
    ) : (
      <input
        key={field.name}
        aria-label={field.label}
        placeholder={field.placeholder}
        className={field.className}
        value={values[field.name]}
        onChange={(event) => report(event.target.value)}
      />
    )
  })
}

/** A table's column headings, on the rows' own grid (`grid`, a class) so that they line up; hidden from screen readers, which read each row's cells. */
export function TableHead({
  columns,
  grid,
}: {
  columns: readonly [name: string, className?: string][]
  grid: string
}) {
  return (
    <div className={`table-head ${grid}`} aria-hidden="true">
      {columns.map(([name, className]) => (
        <span key={name} className={className}>
          {name}
        </span>
      ))}
    </div>
  )
}
