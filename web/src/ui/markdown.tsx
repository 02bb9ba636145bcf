import DOMPurify from 'dompurify'
import { marked } from 'marked'
import { useMemo } from 'react'

/**
 * Markdown as Claude writes it (GitHub flavour), sanitised: model output is untrusted text, so no script,
 * handler or foreign frame survives (and the page's CSP would refuse one anyway). Links open in a new tab.
 */
export function Markdown({ text, className }: { text: string; className?: string }) {
  const html = useMemo(
    () => DOMPurify.sanitize(marked.parse(text, { async: false, gfm: true, breaks: false })),
    [text],
  )
  const classes = className ? `markdown ${className}` : 'markdown'
  // biome-ignore lint/security/noDangerouslySetInnerHtml: sanitised by DOMPurify just above.
  return <div className={classes} dangerouslySetInnerHTML={{ __html: html }} />
}

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A' && node.getAttribute('href')) {
    node.setAttribute('target', '_blank')
    node.setAttribute('rel', 'noopener noreferrer')
  }
})
