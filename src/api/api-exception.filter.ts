import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import type { Logger } from '../common/logger.js';
import { PolicyTestInputError } from '../policy/policy-test.js';
import { ApiError, ERROR_CODES, STATUS_TEXT, codeForStatus, type ErrorCode } from './api-errors.js';

/** The body of every API error. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  code: ErrorCode;
  message: string;
}

function errorBody(code: ErrorCode, message: string, status: number = ERROR_CODES[code]): ErrorBody {
  return { statusCode: status, error: STATUS_TEXT[status] ?? 'Error', code, message };
}

/** body-parser errors carry a status and a `type` such as entity.parse.failed. */
function bodyParserError(e: unknown): ErrorBody | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const { type, status } = e as { type?: unknown; status?: unknown };
  if (typeof type !== 'string' || typeof status !== 'number' || status < 400 || status >= 500) return undefined;
  if (type === 'entity.parse.failed') return errorBody('INVALID_PARAMETER', 'body: is not valid JSON');
  if (type === 'entity.too.large') return errorBody('PAYLOAD_TOO_LARGE', 'body: larger than the 1 MB limit');
  return errorBody('INVALID_PARAMETER', `body: ${type}`, status);
}

/**
 * Nest's own HttpExceptions (an unknown route's 404): the standard body gains a code. Other
 * bodies (the /readyz 503 with its checks) are not API errors and pass unchanged.
 */
function httpExceptionBody(e: HttpException): object {
  const status = e.getStatus();
  const body = e.getResponse();
  if (typeof body === 'string') return errorBody(codeForStatus(status), body, status);
  const m = (body as { message?: unknown }).message;
  if (typeof (body as { statusCode?: unknown }).statusCode === 'number' && (typeof m === 'string' || Array.isArray(m)))
    return errorBody(codeForStatus(status), Array.isArray(m) ? m.join('; ') : m, status);
  return body;
}

/**
 * The global exception filter: domain errors (ApiError and its kinds, PolicyTestInputError) keep
 * their code and message; body-parser and Nest HTTP errors get the code of their status; anything
 * else is logged with the error and answered `500 INTERNAL` without internals.
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  constructor(private readonly log: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const [status, body] = this.answer(exception, host);
    if (!res.headersSent) res.status(status).json(body);
  }

  private answer(exception: unknown, host: ArgumentsHost): [number, object] {
    const known = this.known(exception);
    if (known) return [known.statusCode, known];
    if (exception instanceof HttpException) {
      const parse = bodyParserError(exception.cause);
      return parse ? [parse.statusCode, parse] : [exception.getStatus(), httpExceptionBody(exception)];
    }
    const req = host.switchToHttp().getRequest<{ method?: string; path?: string }>();
    this.log.error('request failed', {
      method: req.method,
      path: req.path,
      error: exception instanceof Error ? (exception.stack ?? exception.message) : String(exception),
    });
    return [500, errorBody('INTERNAL', 'internal error')];
  }

  private known(exception: unknown): ErrorBody | undefined {
    if (exception instanceof ApiError) return errorBody(exception.code, exception.message);
    if (exception instanceof PolicyTestInputError) return errorBody('INVALID_PARAMETER', exception.message);
    return bodyParserError(exception);
  }
}
