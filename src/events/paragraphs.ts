import type { ContentBlock } from './types.js'

/**
 * A turn's main-thread text as one answer: text that comes after a finished text block (a later assistant
 * message, after Claude used a tool) starts a new paragraph. Both API families join text this way.
 */
export class Paragraphs {
  private blockEnded = false
  private started = false

  /** The delta as it belongs in the answer (with a paragraph break in front when one is due). */
  next(delta: string): string {
    const out = this.blockEnded && this.started ? `\n\n${delta}` : delta
    this.blockEnded = false
    if (delta) this.started = true
    return out
  }

  /** A complete assistant message arrived: if it held text, that text block is finished. */
  message(content: readonly ContentBlock[]): void {
    if (content.some((block) => block.type === 'text')) this.blockEnded = true
  }
}
