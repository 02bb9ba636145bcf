/**
 * Code and prose as the timeline shows them: a code block highlighted once its grammar is loaded (plain
 * until then, never blank), long blocks capped with "show all", and Markdown whose fenced code blocks are
 * highlighted in place.
 */
import { useLayoutEffect, useRef, useState } from 'react'
import { highlightNow, languageOf, loadLanguage, useHighlighted } from '../../../ui/highlight.js'
import { Markdown } from '../../../ui/markdown.js'

/** Lines a block shows before "show all": a 2,000-line Write stays one screen until asked. */
const CAP_LINES = 24

export function CodeBlock({
  code,
  language,
  label,
  tone,
  wrap = false,
}: {
  code: string
  /** A fence's language or a file path. */
  language?: string | null | undefined
  label?: string
  tone?: 'added' | 'removed'
  /** Long lines wrap (tool output), rather than scroll (code). */
  wrap?: boolean
}) {
  const [all, setAll] = useState(false)
  const lines = code.split('\n')
  const capped = !all && lines.length > CAP_LINES + 4
  const shown = capped ? lines.slice(0, CAP_LINES).join('\n') : code
  const html = useHighlighted(shown, language)
  return (
    <figure className={`tl-code${tone ? ` tl-code-${tone}` : ''}${wrap ? ' tl-code-wrap' : ''}`}>
      {label && <figcaption className="tl-code-label mono truncate">{label}</figcaption>}
      {html ? (
        // biome-ignore lint/security/noDangerouslySetInnerHtml: shiki's output, every text escaped.
        <div className="tl-code-html" dangerouslySetInnerHTML={{ __html: html }} />
      ) : (
        <pre>
          <code>{shown}</code>
        </pre>
      )}
      {capped && (
        <button type="button" className="tl-code-more" onClick={() => setAll(true)}>
          Show all {lines.length} lines
        </button>
      )}
    </figure>
  )
}

/**
 * Markdown (user and assistant text) with its fenced code highlighted: each `<pre><code class="language-x">`
 * is replaced by shiki's block once the grammar is there, before the browser paints when it already is.
 */
export function RichText({ text }: { text: string }) {
  const ref = useRef<HTMLDivElement>(null)
  const [loads, setLoads] = useState(0)
  // biome-ignore lint/correctness/useExhaustiveDependencies: new text or a grammar arrived (`loads`).
  useLayoutEffect(() => {
    const root = ref.current
    if (!root) return
    let current = true
    for (const code of root.querySelectorAll<HTMLElement>('pre > code[class*="language-"]')) {
      const language = languageOf(/language-(\S+)/.exec(code.className)?.[1])
      if (!language) continue
      const html = highlightNow(code.textContent ?? '', language)
      if (html === undefined) {
        loadLanguage(language).then(
          () => current && setLoads((count) => count + 1),
          () => {},
        )
        continue
      }
      const template = document.createElement('template')
      template.innerHTML = html
      const block = template.content.firstElementChild
      if (block) code.parentElement!.replaceWith(block)
    }
    return () => {
      current = false
    }
  }, [text, loads])
  return (
    <div ref={ref}>
      <Markdown text={text} />
    </div>
  )
}
