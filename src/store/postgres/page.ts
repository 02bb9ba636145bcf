import type { Queryable } from './pool.js'

/** A filtered list: its statements' name, and its SQL with the filter's parameters numbered from $1. */
export interface ListQuery {
  name: string
  columns: string
  /** The table and the WHERE clause. */
  from: string
  order: string
  values: readonly unknown[]
}

/**
 * A page of a list with the number of rows the filter selects. The total comes with the page (a window
 * counted before the page is cut, in the same statement); an empty page carries none, so it is counted on
 * its own when the page may lie past the end.
 */
export async function readPage<R>(
  db: Queryable,
  list: ListQuery,
  page: { limit: number; offset: number },
): Promise<{ rows: R[]; total: number }> {
  const { name, columns, from, order, values } = list
  const n = values.length
  const { rows } = await db.query<R & { total_rows: number }>({
    name: `${name} page`,
    text: `SELECT ${columns}, count(*) OVER () AS total_rows FROM ${from} ORDER BY ${order} LIMIT $${n + 1} OFFSET $${n + 2}`,
    values: [...values, page.limit < 0 ? null : page.limit, page.offset],
  })
  if (rows[0]) return { rows, total: rows[0].total_rows }
  if (page.offset === 0 && page.limit !== 0) return { rows, total: 0 }
  const { rows: count } = await db.query<{ n: number }>({
    name: `${name} count`,
    text: `SELECT count(*) AS n FROM ${from}`,
    values: [...values],
  })
  return { rows, total: count[0]!.n }
}
