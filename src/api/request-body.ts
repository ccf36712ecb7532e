/**
 * JSON bodies checked against their declaration in query-schemas.ts (plain TypeScript): the field
 * names, the required ones and the size of lists of objects. Every problem is an ApiInputError
 * naming the field (`probes[2].colour: unknown field; accepted: ...`).
 */
import { ApiInputError } from './api-errors.js';
import type { BodySchema } from './query-schemas.js';

export type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function shape(schema: BodySchema): string {
  return `{${schema.map((f) => f.name).join(', ')}}`;
}

/** The body as an object whose fields, and whose lists' objects, are those `schema` declares. */
export function checkBody(body: unknown, schema: BodySchema): JsonObject {
  return checkObject(body, schema, 'body', '');
}

function checkObject(value: unknown, schema: BodySchema, name: string, prefix: string): JsonObject {
  if (!isObject(value)) throw new ApiInputError(name, `must be a JSON object ${shape(schema)}`);
  const accepted = schema.map((f) => f.name);
  for (const k of Object.keys(value))
    if (!accepted.includes(k))
      throw new ApiInputError(`${prefix}${k}`, `unknown field; accepted: ${accepted.join(', ')}`);
  for (const f of schema) {
    const field = `${prefix}${f.name}`;
    const v = value[f.name];
    if (f.fields) {
      const list = v ?? (f.required ? undefined : []);
      const min = Number(f.schema.minItems ?? 0);
      const max = Number(f.schema.maxItems ?? Infinity);
      if (!Array.isArray(list) || list.length < min)
        throw new ApiInputError(field, `must be a ${min > 0 ? 'non-empty ' : ''}list of ${shape(f.fields)}`);
      if (list.length > max) throw new ApiInputError(field, `at most ${max} per request (got ${list.length})`);
      list.forEach((item, i) => checkObject(item, f.fields!, `${field}[${i}]`, `${field}[${i}].`));
    } else if (f.required && v === undefined) throw new ApiInputError(field, 'is required');
  }
  return value;
}
