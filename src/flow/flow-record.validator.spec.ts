import { describe, expect, it } from '@jest/globals';
import { FlowValidationError, validateFlowRecord } from './flow-record.validator.js';

/** A record with every optional field set, valid under schema 1. */
function full(): Record<string, unknown> {
  return {
    schema: 1,
    id: 'f-1',
    source: 'hubble',
    cluster: 'prod',
    node: 'prod/node-1',
    time: '2025-03-01T10:00:05.123456789Z',
    endTime: '2025-03-01T10:00:10Z',
    verdict: 'denied',
    dropReason: 'POLICY_DENIED',
    direction: 'ingress',
    reporter: 'dst',
    src: {
      kind: 'pod',
      namespace: 'shop',
      pod: 'web-7d9f-abcde',
      workload: { kind: 'Deployment', name: 'web' },
      labels: { app: 'web', 'app.kubernetes.io/part-of': 'shop' },
      ip: '10.0.0.1',
      names: ['web.shop.svc'],
      identity: 4242,
    },
    dst: { kind: 'world', ip: '203.0.113.7' },
    protocol: 'TCP',
    srcPort: 40000,
    dstPort: 5432,
    count: 1,
    packets: 3,
    bytes: 180,
    policies: [
      { kind: 'NetworkPolicy', namespace: 'db', name: 'pg', action: 'deny', stage: 'enforced', ruleIndex: -1 },
      { kind: 'GlobalNetworkPolicy', name: 'g', tier: 'security', action: 'pass', stage: 'pending' },
    ],
  };
}

/** The error message validateFlowRecord gives for `v`, or 'valid'. */
function verdictOf(v: unknown): string {
  try {
    validateFlowRecord(v);
    return 'valid';
  } catch (e) {
    expect(e).toBeInstanceOf(FlowValidationError);
    return (e as Error).message;
  }
}

/** `full()` with `change` applied to it. */
function withChange(change: (r: Record<string, unknown>) => void): Record<string, unknown> {
  const r = full();
  change(r);
  return r;
}

const src = (r: Record<string, unknown>) => r.src as Record<string, unknown>;
const policy = (r: Record<string, unknown>, i: number) => (r.policies as Array<Record<string, unknown>>)[i];

describe('validateFlowRecord', () => {
  it('returns a valid record as it is, with or without its optional fields', () => {
    const r = full();
    expect(validateFlowRecord(r)).toBe(r);
    const minimal = {
      id: 'x',
      source: 'calico',
      cluster: 'c',
      time: '2025-03-01T10:00:00Z',
      verdict: 'allowed',
      direction: 'unknown',
      src: { kind: 'unknown' },
      dst: { kind: 'host' },
      protocol: 'UDP',
      count: 0,
      policies: [],
    };
    expect(validateFlowRecord(minimal)).toBe(minimal);
    // null stands for absent in optional fields.
    expect(verdictOf(withChange((r) => Object.assign(r, { node: null, srcPort: null, endTime: null })))).toBe('valid');
  });

  it.each<[string, (r: Record<string, unknown>) => void, string]>([
    ['a missing required string', (r) => delete r.id, 'id: is required'],
    ['a required string that is null', (r) => (r.cluster = null), 'cluster: is required'],
    ['a required string that is empty', (r) => (r.protocol = ''), 'protocol: must not be empty'],
    ['a string of another type', (r) => (r.node = 7), 'node: must be a string, got number'],
    ['a name over 253 characters', (r) => (r.cluster = 'c'.repeat(254)), 'cluster: is longer than 253 characters'],
    [
      'a text over 4096 characters',
      (r) => (r.dropReason = 'r'.repeat(4097)),
      'dropReason: is longer than 4096 characters',
    ],
    ['a NUL character', (r) => (r.dropReason = 'a\u0000b'), 'dropReason: contains a NUL character'],
    [
      'an unknown verdict',
      (r) => (r.verdict = 'maybe'),
      'verdict: must be one of allowed|denied|dropped|audit|other, got "maybe"',
    ],
    ['an unknown source', (r) => (r.source = 'ebpf'), 'source: must be one of hubble|calico, got "ebpf"'],
    ['a missing direction', (r) => delete r.direction, 'direction: is required'],
    ['an unknown reporter', (r) => (r.reporter = 'both'), 'reporter: must be one of src|dst, got "both"'],
    [
      'an enum of another type',
      (r) => (r.verdict = 1),
      'verdict: must be one of allowed|denied|dropped|audit|other, got 1',
    ],
    ['a time that is not RFC 3339', (r) => (r.time = 'yesterday'), 'time: must be an RFC 3339 time, got "yesterday"'],
    [
      'an end time that is not RFC 3339',
      (r) => (r.endTime = '10:00'),
      'endTime: must be an RFC 3339 time, got "10:00"',
    ],
    ['a port out of range', (r) => (r.dstPort = 65536), 'dstPort: must be an integer in [0, 65535], got 65536'],
    ['a port that is not an integer', (r) => (r.srcPort = 1.5), 'srcPort: must be an integer in [0, 65535], got 1.5'],
    ['a port given as text', (r) => (r.srcPort = '80'), 'srcPort: must be an integer in [0, 65535], got "80"'],
    ['an ICMP type out of range', (r) => (r.icmpType = 256), 'icmpType: must be an integer in [0, 255], got 256'],
    ['a negative ICMP code', (r) => (r.icmpCode = -1), 'icmpCode: must be an integer in [0, 255], got -1'],
    ['a missing count', (r) => delete r.count, 'count: is required'],
    ['a negative count', (r) => (r.count = -1), 'count: must be an integer in [0, 9007199254740991], got -1'],
    [
      'bytes out of range',
      (r) => (r.bytes = 2 ** 53),
      'bytes: must be an integer in [0, 9007199254740991], got 9007199254740992',
    ],
    ['an unsupported schema', (r) => (r.schema = 2), 'schema: unsupported schema 2; this build reads schema 1'],
  ])('refuses %s', (_what, change, message) => {
    expect(verdictOf(withChange(change))).toBe(message);
  });

  it.each<[string, (r: Record<string, unknown>) => void, string]>([
    ['an endpoint that is not an object', (r) => (r.dst = 'world'), 'dst: must be an object'],
    ['an endpoint that is an array', (r) => (r.src = []), 'src: must be an object'],
    ['an endpoint without a kind', (r) => delete src(r).kind, 'src.kind: is required'],
    [
      'an unknown endpoint kind',
      (r) => (src(r).kind = 'vm'),
      'src.kind: must be one of pod|host|world|service|network|unknown, got "vm"',
    ],
    [
      'a namespace over 253 characters',
      (r) => (src(r).namespace = 'n'.repeat(254)),
      'src.namespace: is longer than 253 characters',
    ],
    ['a pod name with a NUL', (r) => (src(r).pod = 'p\u0000'), 'src.pod: contains a NUL character'],
    ['an aggregated name of another type', (r) => (src(r).nameAggr = 3), 'src.nameAggr: must be a string, got number'],
    ['an address of another type', (r) => (src(r).ip = 10), 'src.ip: must be a string, got number'],
    [
      'an identity out of range',
      (r) => (src(r).identity = 2 ** 32),
      'src.identity: must be an integer in [0, 4294967295], got 4294967296',
    ],
    ['a workload that is not an object', (r) => (src(r).workload = 'web'), 'src.workload: must be an object'],
    ['a workload without a name', (r) => (src(r).workload = { kind: 'Deployment' }), 'src.workload.name: is required'],
    [
      'a workload with an empty kind',
      (r) => (src(r).workload = { kind: '', name: 'web' }),
      'src.workload.kind: must not be empty',
    ],
    ['labels that are not an object', (r) => (src(r).labels = ['app=web']), 'src.labels: must be an object of strings'],
    [
      'a label value that is not a string',
      (r) => (src(r).labels = { app: 1 }),
      'src.labels.app: must be a string without NUL',
    ],
    [
      'a label value with a NUL',
      (r) => (src(r).labels = { app: 'w\u0000' }),
      'src.labels.app: must be a string without NUL',
    ],
    [
      'a label key with a NUL',
      (r) => (src(r).labels = { 'a\u0000': 'w' }),
      'src.labels: has an over-long key or one with a NUL character',
    ],
    [
      'an over-long label key',
      (r) => (src(r).labels = { ['k'.repeat(4097)]: 'w' }),
      'src.labels: has an over-long key or one with a NUL character',
    ],
    [
      'more than 256 labels',
      (r) => (src(r).labels = Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`k${i}`, 'v']))),
      'src.labels: has more than 256 labels',
    ],
    ['names that are not an array', (r) => (src(r).names = 'web'), 'src.names: must be an array of at most 64 strings'],
    [
      'more than 64 names',
      (r) => (src(r).names = Array.from({ length: 65 }, () => 'n')),
      'src.names: must be an array of at most 64 strings',
    ],
    ['a name that is not a string', (r) => (src(r).names = [1]), 'src.names: must hold strings'],
  ])('refuses %s', (_what, change, message) => {
    expect(verdictOf(withChange(change))).toBe(message);
  });

  it('accepts 256 labels and 64 names, the most there may be', () => {
    const labels = Object.fromEntries(Array.from({ length: 256 }, (_, i) => [`k${i}`, 'v']));
    const names = Array.from({ length: 64 }, () => 'n');
    expect(verdictOf(withChange((r) => Object.assign(src(r), { labels, names })))).toBe('valid');
  });

  it.each<[string, (r: Record<string, unknown>) => void, string]>([
    ['policies that are not an array', (r) => (r.policies = {}), 'policies: must be an array'],
    ['missing policies', (r) => delete r.policies, 'policies: must be an array'],
    [
      'more than 64 policies',
      (r) => (r.policies = Array.from({ length: 65 }, () => policy(full(), 0))),
      'policies: has more than 64 entries',
    ],
    [
      'a policy that is not an object',
      (r) => (r.policies = [policy(r, 0), 'deny-all']),
      'policies[1]: must be an object',
    ],
    ['a policy without a name', (r) => delete policy(r, 1).name, 'policies[1].name: is required'],
    ['a policy without a kind', (r) => delete policy(r, 0).kind, 'policies[0].kind: is required'],
    ['a policy tier of another type', (r) => (policy(r, 1).tier = 5), 'policies[1].tier: must be a string, got number'],
    [
      'an unknown policy action',
      (r) => (policy(r, 0).action = 'log'),
      'policies[0].action: must be one of allow|deny|pass, got "log"',
    ],
    [
      'an unknown policy stage',
      (r) => (policy(r, 1).stage = 'draft'),
      'policies[1].stage: must be one of enforced|pending, got "draft"',
    ],
    [
      'a rule index below -1',
      (r) => (policy(r, 0).ruleIndex = -2),
      'policies[0].ruleIndex: must be an integer in [-1, 1000000], got -2',
    ],
  ])('refuses %s', (_what, change, message) => {
    expect(verdictOf(withChange(change))).toBe(message);
  });

  it('names the field of the error', () => {
    try {
      validateFlowRecord(withChange((r) => (src(r).pod = 'p'.repeat(300))));
      throw new Error('accepted');
    } catch (e) {
      expect((e as FlowValidationError).field).toBe('src.pod');
    }
    expect(verdictOf(null)).toBe('record: must be a JSON object');
    expect(verdictOf([full()])).toBe('record: must be a JSON object');
  });
});
