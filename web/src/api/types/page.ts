/** A page of a paged list (`limit`/`offset` query, `total` over all pages). */
export interface Page<T> {
  items: T[]
  total: number
  limit: number
  offset: number
}
