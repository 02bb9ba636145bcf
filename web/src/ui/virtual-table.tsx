/**
 * A list view's table whose rows are virtualised (sessions, tool calls): rows of one height, only those in
 * view (and `overscan` around them) in the page, so that thousands stay fast. The view keeps its rows and
 * pages; useVirtualRows says which to render and where, VirtualTable lays them under the table's head.
 */
import { useVirtualizer, type VirtualItem } from '@tanstack/react-virtual'
import { type ReactNode, type RefObject, useRef } from 'react'
import { TableHead } from './list-view.js'

export interface VirtualRows {
  /** The table's scrolling body. */
  scroller: RefObject<HTMLDivElement | null>
  /** The rows to render: `index` in the view's rows, `start` the offset to place the row at. */
  visible: VirtualItem[]
  /** The index of the last row in view (0 when none is): where a view loads its next page from. */
  lastVisible: number
  /** The height of every row together. */
  height: number
}

export function useVirtualRows(count: number, rowHeight: number, overscan: number): VirtualRows {
  const scroller = useRef<HTMLDivElement>(null)
  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scroller.current,
    estimateSize: () => rowHeight,
    overscan,
  })
  const visible = virtualizer.getVirtualItems()
  return { scroller, visible, lastVisible: visible.at(-1)?.index ?? 0, height: virtualizer.getTotalSize() }
}

/** The table: its head on the rows' grid (`grid`), then the rendered rows (`children`) as a list named `label`. */
export function VirtualTable({
  rows,
  columns,
  grid,
  label,
  children,
}: {
  rows: VirtualRows
  columns: readonly [name: string, className?: string][]
  grid: string
  label: string
  children: ReactNode
}) {
  return (
    <div className="table">
      <TableHead columns={columns} grid={grid} />
      <div className="table-body" ref={rows.scroller}>
        <ul aria-label={label} style={{ height: rows.height }}>
          {children}
        </ul>
      </div>
    </div>
  )
}
