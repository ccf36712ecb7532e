/**
 * Bad-input suite for the mappers and the manifest loader: thousands of malformed records (wrong
 * types, missing and huge fields, deep nesting, invalid UTF-8, `__proto__` keys, garbage and
 * mutated protobuf). Each must either map to a valid FlowRecord, be skipped with a reason, or be
 * rejected with an Error that says why (what the collectors dead-letter) — never crash with an
 * internal TypeError/RangeError, never let an invalid record through, never pollute prototypes.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { MethodDefinition, PackageDefinition, ServiceDefinition } from '@grpc/proto-loader';
import * as protoLoader from '@grpc/proto-loader';
import { readFileSync } from 'node:fs';
import { stringify as yamlStringify, parse as yamlParse } from 'yaml';
import { CalicoFlowLogGenerator } from '../../src/synthetic/calico-flow-log.generator.js';
import { CalicoFlowLogMapper, CalicoLineMapper } from '../../src/collector/calico/calico-flow-log.mapper.js';
import { GoldmaneFlowMapper, type GoldmaneFlow } from '../../src/collector/calico/goldmane-flow.mapper.js';
import { GOLDMANE_PROTO_OPTIONS, goldmaneProtoPath } from '../../src/collector/calico/goldmane.collector.js';
import { generateHubbleResponses } from '../../src/synthetic/hubble-flow.generator.js';
import { mapGetFlowsResponse } from '../../src/collector/hubble/hubble-flow.mapper.js';
import { HubbleLineMapper } from '../../src/collector/hubble/hubble-line.mapper.js';
import { loadObserverPackage } from '../../src/collector/hubble/hubble-proto.js';
import { observerPackageWithFastFlows } from '../../src/collector/hubble/hubble-flow.decoder.js';
import { protojsonToProtoObject } from '../../src/collector/hubble/hubble-protojson.js';
import type { FlowRecord } from '../../src/flow/flow-record.js';
import { FlowValidationError, validateFlowRecord } from '../../src/flow/flow-record.validator.js';
import { parseManifestText } from '../../src/policy/manifest.loader.js';
import { flow as goldmaneFlow, denyKey } from '../calico/goldmane-flows.js';
import {
  deepNesting,
  edits,
  FuzzCounter,
  fuzzParams,
  hostileValue,
  mutate,
  mutateTyped,
  typedEdits,
} from './fuzz-support.js';

const counter = new FuzzCounter();
afterAll(() => {
  counter.report('mappers and manifest loader');
  process.stdout.write(`[fuzz] mapper outcomes: ${JSON.stringify(outcomes)}\n`);
});

/**
 * What one bad input came to; anything else fails the property. `invalid`: the mapper let through
 * a record the FlowRecord validator rejects, which the aggregator (and `normalize`) dead-letter
 * with the validator's reason, as here.
 */
type Outcome = 'record' | 'skipped' | 'rejected' | 'invalid';
const outcomes: Record<Outcome, number> = { record: 0, skipped: 0, rejected: 0, invalid: 0 };

/**
 * Runs a mapper on one input as the pipeline does: a rejection must be an ordinary Error with a
 * message, not an internal crash; a record goes through the FlowRecord validator and is either
 * valid (and small) or dead-lettered with the validator's reason.
 */
function judge(run: () => FlowRecord | { skipped: string } | undefined): Outcome {
  const o = outcomeOf(run);
  outcomes[o]++;
  return o;
}

function outcomeOf(run: () => FlowRecord | { skipped: string } | undefined): Outcome {
  counter.tried++;
  let out;
  try {
    out = run();
  } catch (e) {
    if (!(e instanceof Error)) throw new Error(`threw a non-Error: ${String(e)}`, { cause: e });
    if (e instanceof TypeError || e instanceof RangeError || e instanceof SyntaxError)
      throw new Error(`crashed instead of rejecting: ${e.name}: ${e.message}`, { cause: e });
    expect(e.message.length).toBeGreaterThan(0);
    return 'rejected';
  }
  if (out === undefined) return 'skipped';
  if ('skipped' in out && typeof out.skipped === 'string') return 'skipped';
  const record = JSON.parse(JSON.stringify(out)) as unknown;
  try {
    validateFlowRecord(record);
  } catch (e) {
    if (!(e instanceof FlowValidationError) || e.message.length === 0) {
      counter.lost++;
      throw new Error(`the validator crashed on a mapped record: ${String(e)}`, { cause: e });
    }
    return 'invalid';
  }
  expect(JSON.stringify(record).length).toBeLessThan(1 << 20);
  return 'record';
}

function expectNoPollution(): void {
  const probe: Record<string, unknown> = {};
  expect(Object.keys(Object.prototype)).toEqual([]);
  expect(probe.polluted).toBeUndefined();
  expect(probe.x).toBeUndefined();
}

// --- Hubble ------------------------------------------------------------------------------------

const hubbleValid = [
  ...generateHubbleResponses({ seed: 5, count: 400, policyDropShare: 0.3, lostEventsEvery: 50 }),
].filter((r) => r.flow !== undefined);

const hubbleJsonInput = fc.oneof(
  hostileValue,
  hostileValue.map((v) => ({ flow: v })),
  deepNesting.map((v) => ({ flow: { time: '2025-01-01T00:00:00Z', verdict: 'DROPPED', source: v } })),
  fc.tuple(fc.nat({ max: hubbleValid.length - 1 }), edits).map(([i, e]) => mutate(hubbleValid[i], e)),
  fc.tuple(fc.nat({ max: hubbleValid.length - 1 }), edits).map(([i, e]) => ({ flow: mutate(hubbleValid[i].flow, e) })),
);

describe('Hubble mapper (JSON)', () => {
  it('maps, skips or rejects with a reason: never crashes, never emits an invalid record', () => {
    fc.assert(
      fc.property(hubbleJsonInput, (v) => {
        judge(() => {
          const r = mapGetFlowsResponse(v);
          return r.kind === 'flow' ? r.record : { skipped: r.kind };
        });
      }),
      fuzzParams(3000),
    );
    expectNoPollution();
  });

  it('hubble observe lines with invalid UTF-8 and truncation are rejected with a reason', () => {
    const m = new HubbleLineMapper();
    fc.assert(
      fc.property(
        fc.nat({ max: hubbleValid.length - 1 }),
        fc.uint8Array({ minLength: 1, maxLength: 8 }),
        fc.nat(),
        (i, junk, at) => {
          const bytes = Buffer.from(JSON.stringify(hubbleValid[i]));
          const cut = at % bytes.length;
          // splice bytes that are not UTF-8 into the line, as a corrupted dump would have
          const line = Buffer.concat([bytes.subarray(0, cut), Buffer.from([0xff, ...junk]), bytes.subarray(cut)]);
          judge(() => {
            const r = m.map(line.toString('utf8'));
            return r.kind === 'flows' ? r.records[0] : { skipped: r.what };
          });
        },
      ),
      fuzzParams(1000),
    );
    m.flush();
  });
});

// --- Hubble protobuf ---------------------------------------------------------------------------

function method(def: PackageDefinition, service: string, name: string): MethodDefinition<unknown, unknown> {
  return (def[service] as ServiceDefinition)[name] as unknown as MethodDefinition<unknown, unknown>;
}

describe('Hubble mapper (protobuf)', () => {
  const getFlows = method(loadObserverPackage(), 'observer.Observer', 'GetFlows');
  // The collector's client decodes flows itself (hubble-flow.decoder.ts); both must hold.
  const collectorGetFlows = method(observerPackageWithFastFlows(), 'observer.Observer', 'GetFlows');
  const encoded = hubbleValid.slice(0, 100).map((r) => getFlows.responseSerialize(protojsonToProtoObject(r)));

  it('garbage bytes and mutated GetFlowsResponse messages: decoded ones map or are rejected', () => {
    let decoded = 0;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
          fc
            .tuple(
              fc.nat({ max: encoded.length - 1 }),
              fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
              fc.nat(),
            )
            .map(([i, flips, cut]) => {
              const b = Buffer.from(encoded[i]);
              for (const [at, v] of flips) b[at % b.length] = v;
              return cut % 4 === 0 ? b.subarray(0, cut % b.length) : b;
            }),
        ),
        (bytes) => {
          for (const deserializer of [getFlows, collectorGetFlows]) {
            let msg: unknown;
            try {
              msg = deserializer.responseDeserialize(bytes); // gRPC itself rejects what does not decode
            } catch {
              continue;
            }
            decoded++;
            judge(() => {
              const r = mapGetFlowsResponse(msg);
              return r.kind === 'flow' ? r.record : { skipped: r.kind };
            });
          }
        },
      ),
      fuzzParams(3000),
    );
    expect(decoded).toBeGreaterThan(1000);
  });
});

// --- Calico flows.log and Goldmane --------------------------------------------------------------

const calicoValid = new CalicoFlowLogGenerator({ seed: 5, denyShare: 0.3 })
  .lines(300)
  .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('Calico flow-log mapper', () => {
  it('records with wrong types, missing, huge and __proto__ fields map, skip or are rejected', () => {
    const mapper = new CalicoFlowLogMapper({ cluster: 'fuzz' });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.tuple(fc.nat({ max: calicoValid.length - 1 }), edits).map(([i, e]) => mutate(calicoValid[i], e)),
          hostileValue,
        ),
        (v) => {
          judge(() => {
            const r = mapper.mapLine(JSON.stringify(v) ?? 'undefined');
            return r.record ?? { skipped: r.skipped };
          });
        },
      ),
      fuzzParams(3000),
    );
    expectNoPollution();
  });

  it('lines of garbage text and invalid UTF-8 are rejected with a reason', () => {
    const m = new CalicoLineMapper();
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.uint8Array({ maxLength: 200 })), (v) => {
        const line = typeof v === 'string' ? v : Buffer.from(v).toString('utf8');
        judge(() => {
          const r = m.map(line);
          return r.kind === 'flows' ? r.records[0] : { skipped: r.what };
        });
      }),
      fuzzParams(1000),
    );
  });
});

describe('Goldmane mapper', () => {
  const validFlows = Array.from({ length: 40 }, (_, i) => goldmaneFlow(1_700_000_000, i, i % 2 ? denyKey : {}));
  const def = protoLoader.loadSync(goldmaneProtoPath(), GOLDMANE_PROTO_OPTIONS);
  const stream = method(def, 'goldmane.Flows', 'Stream');
  const encoded = validFlows.map((flow, id) => stream.responseSerialize({ id, flow }));

  // Goldmane flows only arrive decoded from protobuf, which fixes every field's type: mutations
  // keep types (wrong types on the wire are the garbage-bytes case below).
  it('Flow messages with hostile strings, numbers, lists and missing fields map, skip or are rejected', () => {
    const mapper = new GoldmaneFlowMapper({ cluster: 'fuzz' });
    fc.assert(
      fc.property(
        fc.tuple(fc.nat({ max: validFlows.length - 1 }), typedEdits).map(([i, e]) => mutateTyped(validFlows[i], e)),
        (v) => {
          judge(() => {
            const r = mapper.map(v as GoldmaneFlow);
            return r.record ?? { skipped: r.skipped };
          });
        },
      ),
      fuzzParams(1500),
    );
    expectNoPollution();
  });

  it('garbage and mutated FlowResult bytes: decoded flows map or are rejected', () => {
    const mapper = new GoldmaneFlowMapper({ cluster: 'fuzz' });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
          fc
            .tuple(
              fc.nat({ max: encoded.length - 1 }),
              fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
            )
            .map(([i, flips]) => {
              const b = Buffer.from(encoded[i]);
              for (const [at, v] of flips) b[at % b.length] = v;
              return b;
            }),
        ),
        (bytes) => {
          let res: { flow?: GoldmaneFlow };
          try {
            res = stream.responseDeserialize(bytes) as { flow?: GoldmaneFlow };
          } catch {
            return;
          }
          if (!res.flow) return; // the collector dead-letters "FlowResult without a flow" itself
          judge(() => {
            const r = mapper.map(res.flow!);
            return r.record ?? { skipped: r.skipped };
          });
        },
      ),
      fuzzParams(2000),
    );
  });
});

// --- Manifest loader ---------------------------------------------------------------------------

const manifestValid = yamlParse(
  readFileSync(new URL('../policy/fixtures/xyz-deny-x.yaml', import.meta.url), 'utf8'),
) as unknown;
const ciliumValid = {
  apiVersion: 'cilium.io/v2',
  kind: 'CiliumNetworkPolicy',
  metadata: { name: 'p', namespace: 'x' },
  spec: {
    endpointSelector: { matchLabels: { app: 'a' } },
    ingress: [
      { fromEndpoints: [{ matchLabels: { app: 'b' } }], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }] }] },
    ],
  },
};

const billionLaughs = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ...Array.from({ length: 9 }, (_, i) => {
    const p = String.fromCharCode(97 + i);
    const n = String.fromCharCode(98 + i);
    return `${n}: &${n} [${Array(9).fill(`*${p}`).join(',')}]`;
  }),
].join('\n');

const yamlHostile = fc.oneof(
  fc.constant(billionLaughs),
  fc.constant(`kind: NetworkPolicy\n${billionLaughs.replace(/^/gm, '  ')}`),
  fc.constantFrom(
    '!!js/function "function(){ return 1 }"',
    'kind: !!js/regexp /x/',
    '--- !<tag:yaml.org,2002:js/undefined> ""',
    'apiVersion: !Ref x\nkind: !!python/object:os.system ls',
    'metadata: !!binary aGVsbG8=\nkind: NetworkPolicy',
    '__proto__: {polluted: true}\nkind: NetworkPolicy\nmetadata: {name: x, __proto__: {x: 1}}',
    '{"__proto__": {"polluted": true}, "kind": "NetworkPolicy", "metadata": {"name": "n"}}',
    'a: 1\na: 2',
    '<<: *undefinedalias',
    `kind: ${'['.repeat(3000)}${']'.repeat(3000)}`,
    `kind: ${'{a: '.repeat(2000)}1${'}'.repeat(2000)}`,
    `kind: NetworkPolicy\nmetadata:\n  name: "${'n'.repeat(200_000)}"`,
    '\ufeff\u0000\ud800kind: NetworkPolicy',
  ),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.tuple(fc.constantFrom(manifestValid, ciliumValid), edits).map(([v, e]) => yamlStringify(mutate(v, e))),
  fc.tuple(fc.constantFrom(manifestValid, ciliumValid), edits).map(([v, e]) => JSON.stringify(mutate(v, e))),
  fc
    .tuple(fc.constantFrom(manifestValid, ciliumValid), hostileValue)
    .map(([v, h]) => yamlStringify({ ...(v as object), spec: h })),
);

describe('manifest loader', () => {
  it('YAML bombs, custom tags, __proto__ keys, deep nesting: loaded, ignored or reported, never thrown', () => {
    fc.assert(
      fc.property(yamlHostile, (text) => {
        counter.tried++;
        const started = process.hrtime.bigint();
        const r = parseManifestText(text, 'fuzz.yaml');
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        expect(ms).toBeLessThan(2000); // an alias bomb is cut off, not expanded
        for (const i of r.issues) expect(i.message.length).toBeGreaterThan(0);
        expect(r.objects.length + r.ignored + r.issues.length).toBeGreaterThanOrEqual(0);
      }),
      fuzzParams(800),
    );
    expectNoPollution();
  });

  it('a billion-laughs document is reported as an error, not expanded', () => {
    const r = parseManifestText(billionLaughs, 'bomb.yaml');
    expect(r.objects).toHaveLength(0);
    expect(r.issues.some((i) => i.severity === 'error')).toBe(true);
  });
});

describe('defects the suite found', () => {
  it('a Goldmane start_time beyond Date range is rejected with a readable reason, not a RangeError', () => {
    const g = { ...goldmaneFlow(1_700_000_000, 1), start_time: Number.MAX_SAFE_INTEGER };
    expect(() => new GoldmaneFlowMapper().map(g)).toThrow('time 9007199254740991 is not a valid epoch second');
  });
});
