import { Catch, HttpException, HttpStatus, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import type { Logger } from '../common/logger.js';
import { PolicyTestInputError } from '../policy/policy-test.js';
import { ApiInputError } from './query-params.js';

interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

function badRequest(message: string): ErrorBody {
  return { statusCode: 400, error: 'Bad Request', message };
}

/** body-parser errors carry a status and a `type` such as entity.parse.failed. */
function bodyParserError(e: unknown): ErrorBody | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const { type, status } = e as { type?: unknown; status?: unknown };
  if (typeof type !== 'string' || typeof status !== 'number' || status < 400 || status >= 500) return undefined;
  if (type === 'entity.parse.failed') return badRequest('body: is not valid JSON');
  if (type === 'entity.too.large')
    return { statusCode: 413, error: 'Payload Too Large', message: 'body: larger than the 1 MB limit' };
  return { statusCode: status, error: 'Bad Request', message: `body: ${type}` };
}

/**
 * The global exception filter: HttpExceptions keep their status and body; bad input from the
 * domain (ApiInputError, PolicyTestInputError) becomes 400 naming the parameter; anything else is
 * logged with the error and answered `500 {message: 'internal error'}` without internals.
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  constructor(private readonly log: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (exception instanceof HttpException) {
      const parse = bodyParserError(exception.cause);
      if (parse) {
        res.status(parse.statusCode).json(parse);
        return;
      }
      const body = exception.getResponse();
      res
        .status(exception.getStatus())
        .json(typeof body === 'string' ? { statusCode: exception.getStatus(), message: body } : body);
      return;
    }
    if (exception instanceof ApiInputError || exception instanceof PolicyTestInputError) {
      res.status(400).json(badRequest(exception.message));
      return;
    }
    const bp = bodyParserError(exception);
    if (bp) {
      res.status(bp.statusCode).json(bp);
      return;
    }
    const req = host.switchToHttp().getRequest<{ method?: string; path?: string }>();
    this.log.error('request failed', {
      method: req.method,
      path: req.path,
      error: exception instanceof Error ? (exception.stack ?? exception.message) : String(exception),
    });
    if (!res.headersSent)
      res
        .status(HttpStatus.INTERNAL_SERVER_ERROR)
        .json({ statusCode: 500, error: 'Internal Server Error', message: 'internal error' });
  }
}
