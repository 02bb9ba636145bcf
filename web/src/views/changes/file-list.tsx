/**
 * The files a session changed, as a tree or a flat list (remembered), filtered by path and status; picking
 * one shows its changes and compares it. Arrow keys move between the entries.
 */
import { type KeyboardEvent, useMemo, useState } from 'react'
import type { ChangedFile, ChangeKind } from '../../api/types/changes.js'
import { Badge, type Tone } from '../../ui/badge.js'
import { type FileFilter, filterFiles, NO_FILTER, relativeTo, treeRows } from './model.js'
import { fileListLayout } from './preference.js'

export const STATUS_TONES: Record<ChangeKind, Tone> = {
  created: 'success',
  modified: 'accent',
  deleted: 'danger',
}

export function FileList({
  files,
  base,
  selected,
  onSelect,
}: {
  files: readonly ChangedFile[]
  base: string
  selected: string | undefined
  onSelect: (path: string | undefined) => void
}) {
  const layout = fileListLayout.use()
  const [filter, setFilter] = useState<FileFilter>(NO_FILTER)
  const [closed, setClosed] = useState<ReadonlySet<string>>(new Set())
  const shown = useMemo(() => filterFiles(files, filter), [files, filter])
  const rows = useMemo(() => treeRows(shown, base, closed), [shown, base, closed])
  const toggle = (folder: string) =>
    setClosed((previous) => {
      const next = new Set(previous)
      if (!next.delete(folder)) next.add(folder)
      return next
    })

  return (
    <aside className="changes-files" aria-label="Changed files">
      <div className="changes-files-tools">
        <input
          type="search"
          aria-label="Filter files"
          placeholder="Filter files"
          value={filter.text}
          onChange={(event) => setFilter({ ...filter, text: event.target.value })}
        />
        <div className="changes-files-row">
          <select
            aria-label="Status"
            value={filter.status}
            onChange={(event) => setFilter({ ...filter, status: event.target.value as FileFilter['status'] })}
          >
            <option value="">All statuses</option>
            <option value="created">Created</option>
            <option value="modified">Modified</option>
            <option value="deleted">Deleted</option>
          </select>
          {/* biome-ignore lint/a11y/useSemanticElements: two toggle buttons as one segmented control. */}
          <div className="segmented" role="group" aria-label="File list layout">
            {(['tree', 'flat'] as const).map((each) => (
              <button
                key={each}
                type="button"
                aria-pressed={layout === each}
                onClick={() => fileListLayout.set(each)}
              >
                {each === 'tree' ? 'Tree' : 'Flat'}
              </button>
            ))}
          </div>
        </div>
      </div>
      <ul className="changes-file-list" onKeyDown={moveFocus}>
        <li>
          <button
            type="button"
            className="changes-file"
            data-file-row
            aria-current={selected === undefined ? 'true' : undefined}
            onClick={() => onSelect(undefined)}
          >
            <span className="changes-file-name">All files</span>
            <span className="muted">{files.length}</span>
          </button>
        </li>
        {layout === 'flat'
          ? shown.map((file) => (
              <li key={file.path}>
                <FileButton
                  file={file}
                  name={relativeTo(file.path, base)}
                  depth={0}
                  selected={selected === file.path}
                  onSelect={onSelect}
                />
              </li>
            ))
          : rows.map((row) =>
              row.type === 'folder' ? (
                <li key={row.path}>
                  <button
                    type="button"
                    className="changes-folder"
                    data-file-row
                    aria-expanded={row.open}
                    style={{ paddingLeft: indent(row.depth) }}
                    onClick={() => toggle(row.path)}
                  >
                    <span aria-hidden="true">{row.open ? '▾' : '▸'}</span> {row.name}/
                  </button>
                </li>
              ) : (
                <li key={row.file.path}>
                  <FileButton
                    file={row.file}
                    name={row.name}
                    depth={row.depth}
                    selected={selected === row.file.path}
                    onSelect={onSelect}
                  />
                </li>
              ),
            )}
      </ul>
      {shown.length === 0 && <p className="changes-files-empty muted">No file matches the filter.</p>}
    </aside>
  )
}

function FileButton({
  file,
  name,
  depth,
  selected,
  onSelect,
}: {
  file: ChangedFile
  name: string
  depth: number
  selected: boolean
  onSelect: (path: string) => void
}) {
  return (
    <button
      type="button"
      className="changes-file"
      data-file-row
      data-path={file.path}
      title={file.path}
      aria-current={selected ? 'true' : undefined}
      style={{ paddingLeft: indent(depth) }}
      onClick={() => onSelect(file.path)}
    >
      <span className="changes-file-name truncate">{name}</span>
      <span className="changes-counts mono">
        <span className="added">+{file.added}</span> <span className="removed">−{file.removed}</span>
      </span>
      <Badge tone={STATUS_TONES[file.status]}>{file.status}</Badge>
    </button>
  )
}

const indent = (depth: number) => `${10 + depth * 14}px`

/** ↑ and ↓ move between the list's entries. */
function moveFocus(event: KeyboardEvent<HTMLUListElement>) {
  if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return
  const entries = [...event.currentTarget.querySelectorAll<HTMLElement>('[data-file-row]')]
  const index = entries.indexOf(document.activeElement as HTMLElement)
  const next = entries[index + (event.key === 'ArrowDown' ? 1 : -1)]
  if (next) {
    event.preventDefault()
    next.focus()
  }
}
