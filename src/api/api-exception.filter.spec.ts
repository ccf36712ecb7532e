import { describe, expect, it } from '@jest/globals';
import { HttpException, type ArgumentsHost } from '@nestjs/common';
import type { Logger } from '../common/logger.js';
import { ApiError, ERROR_CODES } from './api-errors.js';
import { ApiExceptionFilter } from './api-exception.filter.js';

interface Answer {
  status?: number;
  body?: unknown;
}

function host(answer: Answer): ArgumentsHost {
  const res = {
    headersSent: false,
    status(s: number) {
      answer.status = s;
      return res;
    },
    json(b: unknown) {
      answer.body = b;
      return res;
    },
  };
  return {
    switchToHttp: () => ({ getResponse: () => res, getRequest: () => ({ method: 'GET', path: '/x' }) }),
  } as unknown as ArgumentsHost;
}

function run(exception: unknown, errors: string[] = []): Answer {
  const log = { error: (msg: string) => errors.push(msg) } as unknown as Logger;
  const a: Answer = {};
  new ApiExceptionFilter(log).catch(exception, host(a));
  return a;
}

describe('ApiExceptionFilter', () => {
  it('answers each domain error with its status, the status text and its code', () => {
    expect(run(new ApiError('FORBIDDEN', 'authorization: needs admin'))).toEqual({
      status: 403,
      body: { statusCode: 403, error: 'Forbidden', code: 'FORBIDDEN', message: 'authorization: needs admin' },
    });
    expect(ERROR_CODES).toEqual({
      INVALID_PARAMETER: 400,
      UNAUTHORIZED: 401,
      FORBIDDEN: 403,
      NOT_FOUND: 404,
      NO_POLICY_INVENTORY: 409,
      PAYLOAD_TOO_LARGE: 413,
      INTERNAL: 500,
    });
  });

  it('maps a too-large body to 413 PAYLOAD_TOO_LARGE', () => {
    const tooLarge = Object.assign(new Error('request entity too large'), { type: 'entity.too.large', status: 413 });
    expect(run(tooLarge)).toEqual({
      status: 413,
      body: {
        statusCode: 413,
        error: 'Payload Too Large',
        code: 'PAYLOAD_TOO_LARGE',
        message: 'body: larger than the 1 MB limit',
      },
    });
  });

  it('answers anything unexpected with 500 INTERNAL, no internals, and logs it', () => {
    const errors: string[] = [];
    expect(run(new Error('connection refused at 10.0.0.1'), errors)).toEqual({
      status: 500,
      body: { statusCode: 500, error: 'Internal Server Error', code: 'INTERNAL', message: 'internal error' },
    });
    expect(errors).toEqual(['request failed']);
  });

  it('leaves bodies that are not errors of the API (the /readyz 503) unchanged', () => {
    const body = { status: 'unavailable', checks: { database: 'down' } };
    expect(run(new HttpException(body, 503))).toEqual({ status: 503, body });
  });
});
