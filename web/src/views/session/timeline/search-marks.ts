/**
 * The search's matches marked in the text on screen, with the CSS Custom Highlight API: ranges over the
 * rendered text, styled by `::highlight(timeline-search)`, so the DOM React and the highlighter built is
 * never touched. Browsers without the API still get the matching rows outlined (data-match).
 */

const NAME = 'timeline-search'

/** Marks every occurrence of `query` (case-insensitive) in `root`'s matching rows; clears with ''. */
export function markMatches(root: HTMLElement, query: string): void {
  if (typeof CSS === 'undefined' || !('highlights' in CSS)) return
  const needle = query.trim().toLowerCase()
  if (!needle) {
    CSS.highlights.delete(NAME)
    return
  }
  const ranges: Range[] = []
  for (const row of root.querySelectorAll('[data-match]')) {
    const walker = document.createTreeWalker(row, NodeFilter.SHOW_TEXT)
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent?.toLowerCase() ?? ''
      for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) {
        const range = new Range()
        range.setStart(node, at)
        range.setEnd(node, at + needle.length)
        ranges.push(range)
      }
    }
  }
  CSS.highlights.set(NAME, new Highlight(...ranges))
}
