/** OpenAPI decorators shared by the API controllers. */
import { applyDecorators } from '@nestjs/common';
import { ApiBadRequestResponse, ApiForbiddenResponse, ApiQuery, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { ErrorDto } from './api.dto.js';
import type { QuerySchema } from './query-schemas.js';

export function ApiErrors(): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiBadRequestResponse({
      type: ErrorDto,
      description: 'Bad input (code INVALID_PARAMETER): the message names the parameter and the expected form',
    }),
    ApiUnauthorizedResponse({ type: ErrorDto, description: 'Missing or invalid bearer token (code UNAUTHORIZED)' }),
    ApiForbiddenResponse({
      type: ErrorDto,
      description: 'The token lacks the scope this operation needs (code FORBIDDEN)',
    }),
  );
}

/** Documents the query parameters of a schema: the same declarations the request parsers accept. */
export function QueryParams(schema: QuerySchema): MethodDecorator {
  return applyDecorators(
    ...schema.map((p) =>
      ApiQuery({
        name: p.name,
        required: false,
        type: p.type === 'integer' ? Number : String,
        ...(p.enum ? { enum: [...p.enum] } : {}),
        description: p.description,
      }),
    ),
  );
}
