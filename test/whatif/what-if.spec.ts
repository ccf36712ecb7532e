/**
 * What-if over hand-built observed edges on the x/y/z model (pods a, b, c in namespaces x, y, z
 * labelled ns=<name>, pod=<name>). Expected verdicts follow NetworkPolicy semantics by hand.
 */
import { describe, expect, it } from '@jest/globals';
import { parseManifestText } from '../../src/policy/manifest.loader.js';
import type { InventoryObject } from '../../src/policy/policy-model.js';
import type { EdgeEndpoint, ObservedEdge } from '../../src/suggest/observed-edge.js';
import { formatWhatIfTable, whatIf, WhatIfInputError } from '../../src/whatif/index.js';
import { xyzInventory } from '../policy/xyz.js';

const NP = 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy';
const WINDOW = { from: '2025-01-01T00:00:00.000Z', to: '2025-01-02T00:00:00.000Z' };

function objects(yaml: string): InventoryObject[] {
  const loaded = parseManifestText(yaml, 'proposal.yaml');
  expect(loaded.issues.filter((i) => i.severity === 'error')).toEqual([]);
  return loaded.objects;
}

const pod = (ref: string): EdgeEndpoint => {
  const [namespace, name] = ref.split('/');
  return { kind: 'pod', namespace, workload: name, labels: { pod: name }, ips: [] };
};
const world = (ip: string): EdgeEndpoint => ({ kind: 'world', labels: {}, ips: [ip] });

function edge(
  src: EdgeEndpoint,
  dst: EdgeEndpoint,
  dstPort: number,
  count: number,
  verdict: ObservedEdge['verdict'] = 'allowed',
  lastSeen = '2025-01-01T12:00:00.000Z',
): ObservedEdge {
  return { src, dst, dstPort, protocol: 'TCP', verdict, count, firstSeen: '2025-01-01T01:00:00.000Z', lastSeen };
}

const DEFAULT_DENY_X = `${NP}\nmetadata: {name: default-deny, namespace: x}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n`;
const ALLOW_X_FROM_Y = `${NP}\nmetadata: {name: allow-y, namespace: x}\nspec:\n  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}]}]\n`;

describe('what-if', () => {
  it('default-deny on x: edges into x from z break, edges from x and into other namespaces do not', () => {
    const edges = [
      edge(pod('z/a'), pod('x/b'), 80, 5),
      edge(pod('z/c'), pod('x/a'), 81, 40),
      edge(pod('x/a'), pod('y/b'), 80, 100),
      edge(pod('y/a'), pod('z/b'), 80, 7),
    ];
    const r = whatIf(xyzInventory(), { add: objects(DEFAULT_DENY_X), remove: [] }, edges, { window: WINDOW });
    expect(r.window).toEqual(WINDOW);
    expect(r.summary).toEqual({ edges: 4, newlyDenied: 2, newlyAllowed: 0, unchanged: 2, uncertain: 0 });
    expect(r.proposal).toEqual({ added: ['NetworkPolicy x/default-deny'], replaced: [], removed: [] });
    // Changed first, by count.
    expect(
      r.items.map((i) => [
        `${i.src.namespace}/${i.src.workload}>${i.dst.namespace}/${i.dst.workload}`,
        i.before,
        i.after,
      ]),
    ).toEqual([
      ['z/c>x/a', 'allowed', 'denied'],
      ['z/a>x/b', 'allowed', 'denied'],
      ['x/a>y/b', 'allowed', 'allowed'],
      ['y/a>z/b', 'allowed', 'allowed'],
    ]);
    expect(r.items[0]).toEqual({
      src: { kind: 'pod', namespace: 'z', workload: 'c' },
      dst: { kind: 'pod', namespace: 'x', workload: 'a' },
      dstPort: 81,
      protocol: 'TCP',
      count: 40,
      lastSeen: '2025-01-01T12:00:00.000Z',
      observed: 'allowed',
      before: 'allowed',
      after: 'denied',
      deniedBy: ['x/default-deny'],
      allowedBy: [],
      reason: 'ingress to x/a denied by default isolation: isolated by x/default-deny, no rule admits',
    });
  });

  it('an allow added next to the default-deny keeps the edges it admits', () => {
    const edges = [edge(pod('y/a'), pod('x/b'), 80, 5), edge(pod('z/a'), pod('x/b'), 80, 5)];
    const r = whatIf(xyzInventory(), { add: objects(`${DEFAULT_DENY_X}---\n${ALLOW_X_FROM_Y}`), remove: [] }, edges, {
      window: WINDOW,
    });
    expect(r.summary).toEqual({ edges: 2, newlyDenied: 1, newlyAllowed: 0, unchanged: 1, uncertain: 0 });
    const kept = r.items.find((i) => i.src.namespace === 'y');
    expect(kept).toMatchObject({ before: 'allowed', after: 'allowed', allowedBy: ['x/allow-y'], deniedBy: [] });
  });

  it('an edge observed denied that the proposal admits is newly allowed (removing the policy)', () => {
    const current = xyzInventory(DEFAULT_DENY_X);
    const edges = [
      edge(pod('z/a'), pod('x/b'), 80, 9, 'denied'),
      // The inventory allows this, but it was observed denied: denied before.
      edge(pod('y/a'), pod('z/b'), 80, 2, 'denied'),
    ];
    const r = whatIf(current, { add: [], remove: ['x/default-deny'] }, edges, { window: WINDOW });
    expect(r.summary).toEqual({ edges: 2, newlyDenied: 0, newlyAllowed: 2, unchanged: 0, uncertain: 0 });
    expect(r.proposal.removed).toEqual(['NetworkPolicy x/default-deny']);
    expect(r.items.map((i) => [i.before, i.after, i.count])).toEqual([
      ['denied', 'allowed', 9],
      ['denied', 'allowed', 2],
    ]);
  });

  it('the same edge seen allowed then denied is one edge with the latest observation and the summed count', () => {
    const edges = [
      edge(pod('y/a'), pod('x/b'), 80, 3, 'allowed', '2025-01-01T02:00:00.000Z'),
      edge(pod('y/a'), pod('x/b'), 80, 4, 'denied', '2025-01-01T05:00:00.000Z'),
    ];
    const r = whatIf(xyzInventory(), { add: [], remove: [] }, edges, { window: WINDOW });
    expect(r.items).toHaveLength(1);
    expect(r.items[0]).toMatchObject({ count: 7, observed: 'denied', before: 'denied', after: 'allowed' });
  });

  it('a replacement of the same kind, namespace and name narrows what it admits', () => {
    const current = xyzInventory(`${DEFAULT_DENY_X}---\n${ALLOW_X_FROM_Y}`);
    const narrower = `${NP}\nmetadata: {name: allow-y, namespace: x}\nspec:\n  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchLabels: {pod: a}}}]}]\n`;
    const edges = [edge(pod('y/a'), pod('x/c'), 80, 1), edge(pod('y/b'), pod('x/c'), 80, 1)];
    const r = whatIf(current, { add: objects(narrower), remove: [] }, edges, { window: WINDOW });
    expect(r.proposal).toEqual({ added: [], replaced: ['NetworkPolicy x/allow-y'], removed: [] });
    expect(r.items.map((i) => [i.src.workload, i.before, i.after])).toEqual([
      ['b', 'allowed', 'denied'],
      ['a', 'allowed', 'allowed'],
    ]);
  });

  it('is uncertain, with the reason, for an endpoint whose labels are unknown and for unmodelled rules', () => {
    const lockdown = `apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: fqdn, namespace: x}\nspec:\n  endpointSelector: {matchLabels: {pod: a}}\n  egress:\n  - toFQDNs: [{matchName: api.example.com}]\n`;
    const unlabelled: EdgeEndpoint = { kind: 'pod', namespace: 'y', workload: 'mystery', labels: {}, ips: [] };
    const edges = [edge(pod('x/a'), world('93.184.216.34'), 443, 10), edge(unlabelled, pod('x/b'), 80, 4)];
    const r = whatIf(xyzInventory(), { add: objects(lockdown), remove: [] }, edges, { window: WINDOW });
    expect(r.summary).toEqual({ edges: 2, newlyDenied: 0, newlyAllowed: 0, unchanged: 0, uncertain: 2 });
    expect(r.items[0]).toMatchObject({
      dst: { kind: 'world', ip: '93.184.216.34' },
      before: 'allowed',
      after: 'uncertain',
      reason: expect.stringMatching(/^cannot decide: x\/fqdn egress\[0\]: toFQDNs not modelled/) as unknown as string,
    });
    expect(r.items[1]).toMatchObject({
      before: 'uncertain',
      after: 'uncertain',
      reason: 'cannot decide: the labels of y/mystery are unknown',
    });
  });

  it('--staged: the cluster staged policies are the proposal', () => {
    const staged = `apiVersion: projectcalico.org/v3\nkind: StagedGlobalNetworkPolicy\nmetadata: {name: deny-b}\nspec:\n  order: 1\n  selector: "pod == 'b'"\n  types: [Ingress]\n  ingress: [{action: Deny}]\n`;
    const current = xyzInventory(staged);
    const edges = [edge(pod('y/a'), pod('x/b'), 80, 2), edge(pod('y/a'), pod('x/c'), 80, 2)];
    const r = whatIf(current, { add: current.staged, remove: [] }, edges, { window: WINDOW });
    expect(r.proposal.added).toEqual(['GlobalNetworkPolicy deny-b']);
    expect(r.items.map((i) => [i.dst.workload, i.before, i.after, i.deniedBy])).toEqual([
      ['b', 'allowed', 'denied', ['deny-b']],
      ['c', 'allowed', 'allowed', []],
    ]);
    expect(r.items[0].reason).toBe('ingress to x/b denied explicitly by GlobalNetworkPolicy deny-b (tier default)');
  });

  it('--namespace keeps edges with either end in it', () => {
    const edges = [edge(pod('y/a'), pod('x/b'), 80, 1), edge(pod('y/a'), pod('z/b'), 80, 1)];
    const r = whatIf(xyzInventory(), { add: [], remove: [] }, edges, { window: WINDOW, namespace: 'z' });
    expect(r.items.map((i) => i.dst.namespace)).toEqual(['z']);
  });

  it('refuses a removal that names no policy, and a proposed Pod', () => {
    expect(() => whatIf(xyzInventory(), { add: [], remove: ['x/nope'] }, [], { window: WINDOW })).toThrow(
      new WhatIfInputError('remove x/nope: no policy of that namespace and name'),
    );
    const podYaml = 'apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\n';
    expect(() => whatIf(xyzInventory(), { add: objects(podYaml), remove: [] }, [], { window: WINDOW })).toThrow(
      WhatIfInputError,
    );
  });

  it('table lists the changed edges for a person', () => {
    const r = whatIf(
      xyzInventory(),
      { add: objects(DEFAULT_DENY_X), remove: [] },
      [edge(pod('z/a'), pod('x/b'), 80, 5)],
      {
        window: WINDOW,
      },
    );
    expect(formatWhatIfTable(r)).toBe(
      'What-if from 2025-01-01T00:00:00.000Z to 2025-01-02T00:00:00.000Z: 1 edge(s) observed; 1 newly denied, 0 newly allowed, 0 unchanged, 0 uncertain\n' +
        'Proposal: + NetworkPolicy x/default-deny\n' +
        '\n' +
        'CHANGE        SOURCE  DESTINATION  PORT    COUNT  LAST SEEN                 WHY\n' +
        'newly denied  z/a     x/b          TCP/80  5      2025-01-01T12:00:00.000Z  ingress to x/b denied by default isolation: isolated by x/default-deny, no rule admits\n',
    );
  });
});
