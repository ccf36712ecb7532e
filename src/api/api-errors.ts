/**
 * The API's error codes and the domain errors that carry them (plain TypeScript). The exception
 * filter (api-exception.filter.ts) answers each with `{statusCode, error, code, message}`; codes are
 * stable, messages are for people. docs/API.md lists the codes.
 */

export const ERROR_CODES = {
  INVALID_PARAMETER: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  NO_POLICY_INVENTORY: 409,
  PAYLOAD_TOO_LARGE: 413,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error the API answers with its code's status and its message as is. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get status(): number {
    return ERROR_CODES[this.code];
  }
}

/** Bad input: the message starts with the parameter name (`limit: ...`). */
export class ApiInputError extends ApiError {
  constructor(
    readonly param: string,
    problem: string,
  ) {
    super('INVALID_PARAMETER', `${param}: ${problem}`);
    this.name = 'ApiInputError';
  }
}

export class NotFoundError extends ApiError {
  constructor(message: string) {
    super('NOT_FOUND', message);
    this.name = 'NotFoundError';
  }
}

/** How to configure an inventory, shared by the 409 and the /policies note. */
export const CONFIGURE_INVENTORY = 'set POLICY_MANIFESTS to manifest files or folders, or POLICY_KUBERNETES=true';

export class NoPolicyInventoryError extends ApiError {
  constructor(operation: string) {
    super(
      'NO_POLICY_INVENTORY',
      `${operation}: no policy inventory is configured on this server; ${CONFIGURE_INVENTORY}`,
    );
    this.name = 'NoPolicyInventoryError';
  }
}

/** The `error` text of each status, as Nest writes it. */
export const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  500: 'Internal Server Error',
};

/** The code of an HTTP status raised outside the domain (Nest's own 404, body-parser errors). */
export function codeForStatus(status: number): ErrorCode {
  for (const [code, s] of Object.entries(ERROR_CODES)) if (s === status) return code as ErrorCode;
  return status >= 500 ? 'INTERNAL' : 'INVALID_PARAMETER';
}
