import type Database from 'better-sqlite3'

/** The values a list's filters and paging bind: `@limit`, `@offset` and each filter's own. */
export type ListParams = Record<string, string | number>

/**
 * A filtered, paged list of one SQLite table: a page of its rows and how many match in all. A filter is
 * built from a fixed set of clauses (the values are bound), so there are few of them: each one's two
 * statements are prepared once.
 */
export class FilteredList<Row> {
  private readonly statements = new Map<
    string,
    { rows: Database.Statement<ListParams, Row>; count: Database.Statement<ListParams, { n: number }> }
  >()

  /** `select`, `order`: the columns of a row and the page's order (`ORDER BY ...` without the keywords). */
  constructor(
    private readonly db: Database.Database,
    private readonly table: string,
    private readonly select: string,
    private readonly order: string,
  ) {}

  /** The rows matching every clause of `where` (all rows without one), a page of them as `params` says. */
  page(where: readonly string[], params: ListParams): { rows: Row[]; total: number } {
    const { rows, count } = this.prepared(where.length > 0 ? `WHERE ${where.join(' AND ')}` : '')
    return { rows: rows.all(params), total: count.get(params)!.n }
  }

  private prepared(filter: string) {
    let statements = this.statements.get(filter)
    if (!statements) {
      statements = {
        rows: this.db.prepare<ListParams, Row>(
          `SELECT ${this.select} FROM ${this.table} ${filter} ORDER BY ${this.order} LIMIT @limit OFFSET @offset`,
        ),
        count: this.db.prepare<ListParams, { n: number }>(
          `SELECT count(*) AS n FROM ${this.table} ${filter}`,
        ),
      }
      this.statements.set(filter, statements)
    }
    return statements
  }
}
