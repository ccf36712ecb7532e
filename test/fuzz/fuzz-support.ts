/**
 * Shared pieces of the bad-input suite (docs/RELIABILITY.md): fixed seeds so every run tries the
 * same inputs (FUZZ_SEED overrides; fast-check prints the seed and path of any failure), and
 * generators of hostile values.
 */
import fc from 'fast-check';
import { Writable } from 'node:stream';

export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20250601);

/** Runs scale with FUZZ_RUNS_SCALE (default 1) for longer local campaigns. */
export function fuzzParams(numRuns: number): fc.Parameters<unknown> {
  const scale = Number(process.env.FUZZ_RUNS_SCALE ?? 1);
  return { seed: FUZZ_SEED, numRuns: Math.max(1, Math.round(numRuns * scale)), endOnFailure: true };
}

/** Tallies of what the suite tried, printed at the end of each file for docs/RELIABILITY.md. */
export class FuzzCounter {
  tried = 0;
  lost = 0;
  report(name: string): void {
    process.stdout.write(`[fuzz] ${name}: ${this.tried} bad inputs tried, ${this.lost} lost (seed ${FUZZ_SEED})\n`);
  }
}

/** A sink that drops everything (normalize output we only count). */
export function nullWritable(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() });
}

const hugeString = fc.constantFrom(5_000, 70_000, 300_000).map((n) => 'x'.repeat(n));

/** Deeply nested arrays/objects (stack-hungry parsers and recursive mappers). */
export const deepNesting = fc
  .tuple(fc.integer({ min: 50, max: 5_000 }), fc.boolean())
  .map(
    ([depth, arrays]) =>
      JSON.parse(
        arrays ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
      ) as unknown,
  );

/** Leaf values of the wrong type for any field. */
export const wrongLeaf: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.constantFrom(Number.MAX_SAFE_INTEGER + 2, -1, 1e308, -0, 65536, 2 ** 53),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('__proto__', 'constructor', 'NaN', '', ' ', '\u0000', '\ud800', '1e999', '-1'),
  hugeString,
  fc.constant([]),
  fc.constant({}),
);

/** Any JSON-ish value, including `__proto__`/`constructor` keys and huge strings. */
export const hostileValue: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    wrongLeaf,
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'prototype')),
      tie('v'),
      {
        maxKeys: 4,
      },
    ),
  ),
})).v;

/**
 * Mutates a valid object: at random paths, replaces values with hostile ones, deletes fields, or
 * adds `__proto__` keys (as JSON.parse would: own properties, not prototypes).
 */
export function mutate(base: unknown, edits: Array<{ pick: number; op: number; value: unknown }>): unknown {
  const root = JSON.parse(JSON.stringify(base)) as unknown;
  for (const e of edits) {
    const paths: Array<[Record<string, unknown> | unknown[], string]> = [];
    const walk = (v: unknown, depth: number) => {
      if (depth > 8 || typeof v !== 'object' || v === null) return;
      for (const k of Object.keys(v)) {
        paths.push([v as Record<string, unknown>, k]);
        walk((v as Record<string, unknown>)[k], depth + 1);
      }
    };
    walk(root, 0);
    if (paths.length === 0) break;
    const [obj, key] = paths[e.pick % paths.length];
    const o = obj as Record<string, unknown>;
    if (e.op % 3 === 0) delete o[key];
    else if (e.op % 3 === 1) o[key] = e.value;
    else
      Object.defineProperty(o, '__proto__', { value: e.value, enumerable: true, configurable: true, writable: true });
  }
  return root;
}

export const edits = fc.array(fc.record({ pick: fc.nat(), op: fc.nat(), value: hostileValue }), {
  minLength: 1,
  maxLength: 5,
});

const hostileString = fc.oneof(
  fc.constantFrom('', '-', '*', ' ', '\u0000', '__proto__', 'constructor', '\ud800', '9'.repeat(30)),
  fc.string({ unit: 'binary', maxLength: 30 }),
  hugeString,
);
const hostileNumber = fc.oneof(
  fc.constantFrom(-1, 0, 65536, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, 1e300, -1e300),
  fc.integer(),
);

/**
 * Type-preserving mutation, for messages a protobuf decoder produced (it never yields a wrong
 * type): strings become hostile strings, numbers hostile numbers, arrays shrink or repeat, fields
 * disappear.
 */
export function mutateTyped(base: unknown, picks: Array<{ pick: number; op: number; s: string; n: number }>): unknown {
  const root = JSON.parse(JSON.stringify(base)) as unknown;
  for (const e of picks) {
    const paths: Array<[Record<string, unknown>, string]> = [];
    const walk = (v: unknown) => {
      if (typeof v !== 'object' || v === null) return;
      for (const k of Object.keys(v)) {
        paths.push([v as Record<string, unknown>, k]);
        walk((v as Record<string, unknown>)[k]);
      }
    };
    walk(root);
    if (paths.length === 0) break;
    const [o, key] = paths[e.pick % paths.length];
    const v = o[key];
    if (e.op % 4 === 0) {
      if (Array.isArray(o))
        o.splice(Number(key), 1); // a decoder never yields holes
      else delete o[key];
    } else if (typeof v === 'string') o[key] = e.s;
    else if (typeof v === 'number') o[key] = e.n;
    else if (Array.isArray(v) && v.length > 0)
      o[key] = e.op % 2 ? [] : Array.from({ length: 200 }, () => v[0] as unknown);
  }
  return root;
}

export const typedEdits = fc.array(fc.record({ pick: fc.nat(), op: fc.nat(), s: hostileString, n: hostileNumber }), {
  minLength: 1,
  maxLength: 6,
});
