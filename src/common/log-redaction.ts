/**
 * Secret redaction for log lines, by field name at any depth: a secret nested in a configuration
 * object (`kafka.sasl.password`) or a request (`headers.authorization`) is as secret as a
 * top-level one, and path lists with one-level wildcards miss the deeper ones.
 */

export const REDACTED = '[redacted]';

/** Names (lower case, without `-` and `_`) whose values are never logged. */
const SECRET_NAMES = new Set(['authorization', 'cookie', 'setcookie', 'url', 'databaseurl', 'webhookurl', 'passwd']);

/** Suffixes that make a name secret: `password`, `saslPassword`, `apiToken`, `clientSecret`, ... */
const SECRET_SUFFIXES = ['password', 'token', 'secret', 'apikey', 'privatekey', 'credentials'];

/** Beyond this depth values are dropped rather than walked (a log field is never that deep). */
const MAX_DEPTH = 32;

export function isSecretName(name: string): boolean {
  const n = name.toLowerCase().replace(/[-_]/g, '');
  return SECRET_NAMES.has(n) || SECRET_SUFFIXES.some((s) => n.endsWith(s));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function walk(v: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (Array.isArray(v)) {
    if (seen.has(v)) return '[Circular]';
    if (depth >= MAX_DEPTH) return REDACTED;
    seen.add(v);
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const r = walk(v[i], depth + 1, seen);
      if (r !== v[i]) (out ??= v.slice())[i] = r;
    }
    seen.delete(v);
    return out ?? v;
  }
  if (!isPlainObject(v)) return v;
  if (seen.has(v)) return '[Circular]';
  if (depth >= MAX_DEPTH) return REDACTED;
  seen.add(v);
  let out: Record<string, unknown> | undefined;
  for (const k of Object.keys(v)) {
    const r = isSecretName(k) ? REDACTED : walk(v[k], depth + 1, seen);
    if (r !== v[k]) (out ??= { ...v })[k] = r;
  }
  seen.delete(v);
  return out ?? v;
}

/** `fields` with every secret-named value replaced, at any depth; the input is never modified. */
export function redactSecrets(fields: Record<string, unknown>): Record<string, unknown> {
  return walk(fields, 0, new WeakSet()) as Record<string, unknown>;
}
