import type { CSSProperties, ReactNode } from 'react'

export type Tone = 'neutral' | 'accent' | 'success' | 'warning' | 'danger'

/** The tone as the `--tone` that badges, pills and dots colour themselves with (ui.css): its colour variable. */
export const toneStyle = (tone: Tone) => ({ '--tone': `var(--${tone})` }) as CSSProperties

/** A small label; the tone carries meaning, the text says it (colour is never the only signal). */
export function Badge({ tone = 'neutral', children }: { tone?: Tone; children: ReactNode }) {
  return (
    <span className="badge" style={toneStyle(tone)}>
      {children}
    </span>
  )
}
