/**
 * Alertmanager label matchers: `name="value"`, `name!="value"`, `name=~"regex"`, `name!~"regex"`.
 * Regexes are fully anchored, as in Alertmanager. Routing, silences, expected drops and rule
 * filters all use this one type so there is a single dialect to learn.
 */

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface Matcher {
  name: string;
  op: MatchOp;
  value: string;
}

export type Labels = Record<string, string>;

export class MatcherError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MatcherError';
  }
}

const MATCHER =
  /^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([^\s"']*))\s*$/;

const compiled = new Map<string, RegExp>();

function regexOf(value: string): RegExp {
  let re = compiled.get(value);
  if (!re) {
    re = new RegExp(`^(?:${value})$`);
    compiled.set(value, re);
  }
  return re;
}

/** Parses one matcher in Alertmanager's text form; throws MatcherError saying what is wrong. */
export function parseMatcher(text: string): Matcher {
  const m = MATCHER.exec(text);
  if (!m)
    throw new MatcherError(
      `matcher ${JSON.stringify(text)}: expected name="value", name!="value", name=~"regex" or name!~"regex"`,
    );
  const raw = m[3] ?? m[4] ?? m[5] ?? '';
  const value = raw.replace(/\\(.)/g, '$1');
  const op = m[2] as MatchOp;
  if (op === '=~' || op === '!~') {
    try {
      regexOf(value);
    } catch (e) {
      throw new MatcherError(`matcher ${JSON.stringify(text)}: invalid regex (${(e as Error).message})`);
    }
  }
  return { name: m[1], op, value };
}

/** Accepts a list of matcher strings or of {name, op?, value} objects (the API's JSON form). */
export function parseMatchers(input: unknown, where: string): Matcher[] {
  if (input === undefined || input === null) return [];
  if (!Array.isArray(input))
    throw new MatcherError(`${where}: must be a list of matchers such as ['namespace="payments"']`);
  return input.map((m, i) => {
    if (typeof m === 'string') return parseMatcher(m);
    if (typeof m === 'object' && m !== null) {
      const { name, op, value } = m as Record<string, unknown>;
      const o = op ?? '=';
      if (typeof name !== 'string' || typeof value !== 'string' || !['=', '!=', '=~', '!~'].includes(String(o)))
        throw new MatcherError(`${where}[${i}]: must be {name, op (=, !=, =~, !~), value} or a string`);
      return parseMatcher(`${name}${String(o)}${JSON.stringify(value)}`);
    }
    throw new MatcherError(`${where}[${i}]: must be a matcher string such as namespace="payments"`);
  });
}

/** A missing label matches as the empty string, as in Alertmanager. */
export function matches(m: Matcher, labels: Labels): boolean {
  const v = labels[m.name] ?? '';
  switch (m.op) {
    case '=':
      return v === m.value;
    case '!=':
      return v !== m.value;
    case '=~':
      return regexOf(m.value).test(v);
    case '!~':
      return !regexOf(m.value).test(v);
  }
}

export function matchesAll(ms: readonly Matcher[], labels: Labels): boolean {
  return ms.every((m) => matches(m, labels));
}

export function formatMatcher(m: Matcher): string {
  return `${m.name}${m.op}${JSON.stringify(m.value)}`;
}
