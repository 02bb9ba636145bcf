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

/** A list filter typed in: `label` names it for screen readers, `placeholder` shows what it takes. */
export function FilterInput({
  label,
  placeholder,
  value,
  onChange,
  className,
}: {
  label: string
  placeholder: string
  value: string
  onChange: (value: string) => void
  className?: string
}) {
  return (
    <input
      aria-label={label}
      placeholder={placeholder}
      className={className}
      value={value}
      onChange={(event) => onChange(event.target.value)}
    />
  )
}

/** A list filter: one of `options`, or '' for all of them (`all` names that choice). */
export function FilterSelect<T extends string>({
  label,
  all,
  options,
  value,
  onChange,
}: {
  label: string
  all: string
  options: readonly T[]
  value: T | ''
  onChange: (value: T | '') => void
}) {
  return (
    <select aria-label={label} value={value} onChange={(event) => onChange(event.target.value as T | '')}>
      <option value="">{all}</option>
      {options.map((option) => (
        <option key={option} value={option}>
          {option}
        </option>
      ))}
    </select>
  )
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
