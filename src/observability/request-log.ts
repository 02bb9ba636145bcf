import { type FastifyReply, type FastifyRequest, LogController } from 'fastify'

/** One log line per request, when its response is done: id, method, route, status and duration. */
export class RequestLogController extends LogController {
  override incomingRequest(): void {}

  // The request line already says 404 with route "unmatched".
  override routeNotFound(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const line = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status: reply.statusCode,
      durationMs: Math.round(reply.elapsedTime * 100) / 100,
      ...(error ? { err: error } : {}),
    }
    if (reply.statusCode >= 500) request.log.error(line, 'request')
    else request.log.info(line, 'request')
  }
}
