/**
 * The session's history as a file (POST /export): JSON, Markdown or self-contained HTML, saved under the
 * name the gateway gives it.
 */
import { useRef } from 'react'
import { api } from '../../../api/client.js'
import { saveFile } from '../../../ui/save-file.js'
import { ActionError, useAction } from './action.js'

const FORMATS = [
  { format: 'markdown', label: 'Markdown' },
  { format: 'html', label: 'HTML' },
  { format: 'json', label: 'JSON' },
] as const

export function ExportMenu({ sessionId }: { sessionId: string }) {
  const menu = useRef<HTMLDetailsElement>(null)
  const download = useAction(async (format: string) => {
    const { blob, fileName } = await api.download(`/sessions/${encodeURIComponent(sessionId)}/export`, {
      format,
    })
    saveFile(blob, fileName ?? `session-${sessionId}.${format}`)
    if (menu.current) menu.current.open = false
    return true
  })
  return (
    <div className="control-group">
      <details className="menu" ref={menu}>
        <summary className="btn">{download.pending ? 'Exporting…' : 'Export'}</summary>
        <div className="menu-items">
          {FORMATS.map(({ format, label }) => (
            <button
              key={format}
              type="button"
              className="menu-item"
              disabled={download.pending}
              onClick={() => void download.run(format)}
            >
              {label}
            </button>
          ))}
        </div>
      </details>
      <ActionError error={download.error} onDismiss={download.clear} />
    </div>
  )
}
