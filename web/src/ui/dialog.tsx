import { type ReactNode, useEffect, useId, useRef } from 'react'
import { Button } from './button.js'

/**
 * A modal on the native <dialog>: focus moves into it and is trapped there, Esc closes it (`onClose`), and
 * focus returns where it was when it closes.
 */
export function Dialog({
  open,
  onClose,
  title,
  children,
  wide = false,
}: {
  open: boolean
  onClose: () => void
  title: string
  children: ReactNode
  /** Room for content (a tool call's input and result), not just a question. */
  wide?: boolean
}) {
  const ref = useRef<HTMLDialogElement>(null)
  // Each dialog's own: two may be open at once (the key prompt over another).
  const titleId = useId()
  useEffect(() => {
    const dialog = ref.current
    if (!dialog) return
    if (open && !dialog.open) dialog.showModal()
    else if (!open && dialog.open) dialog.close()
  }, [open])
  return (
    <dialog
      ref={ref}
      className={wide ? 'dialog dialog-wide' : 'dialog'}
      aria-labelledby={titleId}
      onCancel={(event) => {
        // Esc: closed through the owner's state, so that `open` stays the truth.
        event.preventDefault()
        onClose()
      }}
    >
      <h2 id={titleId}>{title}</h2>
      {children}
    </dialog>
  )
}

/** A dialog's last row: Cancel (`onCancel`), then the buttons that go ahead. */
export function DialogActions({ onCancel, children }: { onCancel: () => void; children: ReactNode }) {
  return (
    <div className="dialog-actions">
      <Button onClick={onCancel}>Cancel</Button>
      {children}
    </div>
  )
}
