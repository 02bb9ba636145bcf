import type { ReactNode } from 'react'

/** A form's field: its label (of the control `children`, whose id is `id`), the control, then its error or else its hint. */
export function Field({
  id,
  label,
  hint,
  error,
  children,
}: {
  id: string
  label: string
  hint?: string
  error: string | undefined
  children: ReactNode
}) {
  return (
    <div className="field" data-invalid={error ? true : undefined}>
      <label htmlFor={id}>{label}</label>
      {children}
      {error ? <p className="field-error">{error}</p> : hint && <p className="field-hint">{hint}</p>}
    </div>
  )
}
