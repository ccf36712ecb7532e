/** OpenAPI decorators shared by the API controllers. */
import { applyDecorators } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiForbiddenResponse,
  ApiQuery,
  ApiUnauthorizedResponse,
  type SchemaObject,
} from '@nestjs/swagger';
import { ErrorDto } from './api.dto.js';
import type { BodySchema, OpenApiSchema, QuerySchema } from './query-schemas.js';

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

/** The OpenAPI schema of a JSON body declaration: objects take no other fields. */
export function bodyOpenApiSchema(schema: BodySchema): OpenApiSchema {
  const required = schema.filter((f) => f.required).map((f) => f.name);
  return {
    type: 'object',
    ...(required.length > 0 ? { required } : {}),
    additionalProperties: false,
    properties: Object.fromEntries(
      schema.map((f) => [
        f.name,
        { ...f.schema, description: f.description, ...(f.fields ? { items: bodyOpenApiSchema(f.fields) } : {}) },
      ]),
    ),
  };
}

/** Documents a JSON body: the same declaration the body checker (request-body.ts) enforces. */
export function JsonBody(schema: BodySchema): MethodDecorator {
  return ApiBody({ schema: bodyOpenApiSchema(schema) as SchemaObject });
}
