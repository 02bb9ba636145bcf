/** The native error body: `{"error":{"code","message","field"?}}`. */
export interface ErrorBody {
  error: { code: string; message: string; field?: string }
}
