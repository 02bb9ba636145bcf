import type { ReactNode } from 'react'

/** Why a form or dialog could not do its work, announced as it appears; nothing while there is no failure. */
export function FormError({ children }: { children: ReactNode }) {
  if (!children) return null
  return (
    <p className="form-error" role="alert">
      {children}
    </p>
  )
}
