/**
 * Over-permission counted per class of equivalent pods: hand-checked figures on small clusters,
 * the cap (a lower bound, marked approximate), and a generated 10,000-pod cluster.
 */
import { describe, expect, it } from '@jest/globals';
import type { FlowRecord } from '../flow/flow-record.js';
import {
  buildInventory,
  NetworkPolicyEvaluator,
  normalizeObject,
  parseManifestText,
  type InventoryObject,
  type PolicyInventory,
} from '../policy/index.js';
import { edgesFromFlows } from './observed-edge.js';
import { overPermission } from './over-permission.js';
import { suggest } from './suggest.js';
import type { SuggestedPolicy } from './suggestion-model.js';

function inventoryOf(yaml: string): PolicyInventory {
  const loaded = parseManifestText(yaml, 'cluster.yaml');
  expect(loaded.issues.filter((i) => i.severity === 'error')).toEqual([]);
  return buildInventory(loaded.objects);
}

const pod = (ns: string, name: string, labels: Record<string, string>, ip: string): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns, labels },
  spec: { containers: [{ name: 'c' }] },
  status: { podIP: ip },
});

function inventoryFromObjects(raw: ReadonlyArray<Record<string, unknown>>): PolicyInventory {
  const objects: InventoryObject[] = [];
  for (const r of raw) {
    const res = normalizeObject(r);
    if (res.status !== 'ok') throw new Error(`fixture: ${JSON.stringify(res)}`);
    objects.push(res.object);
  }
  return buildInventory(objects);
}

describe('overPermission (per class of equivalent pods)', () => {
  // x/g-1..3 (one class) and x/h-1 under an ingress default deny; the suggestion admits g from g on TCP/7000.
  const cluster = `
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Namespace, metadata: {name: x}}
- {apiVersion: v1, kind: Pod, metadata: {name: g-1, namespace: x, labels: {app: g}}, status: {podIP: 10.0.0.1}}
- {apiVersion: v1, kind: Pod, metadata: {name: g-2, namespace: x, labels: {app: g}}, status: {podIP: 10.0.0.2}}
- {apiVersion: v1, kind: Pod, metadata: {name: g-3, namespace: x, labels: {app: g}}, status: {podIP: 10.0.0.3}}
- {apiVersion: v1, kind: Pod, metadata: {name: h-1, namespace: x, labels: {app: h}}, status: {podIP: 10.0.0.4}}
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: deny-ingress, namespace: x}
  spec: {podSelector: {}, policyTypes: [Ingress]}
`;
  const allowG = `
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-g, namespace: x}
spec:
  podSelector: {matchLabels: {app: g}}
  ingress: [{from: [{podSelector: {matchLabels: {app: g}}}], ports: [{port: 7000}]}]
`;
  const suggested: SuggestedPolicy = {
    namespace: 'x',
    name: 'allow-g',
    subject: 'g',
    selector: { app: 'g' },
    types: ['Ingress'],
    ingress: [
      {
        peer: { kind: 'pod', namespace: 'x', name: 'g', selector: { app: 'g' } },
        ports: [{ protocol: 'TCP', port: 7000 }],
        covers: [],
      },
    ],
    egress: [],
  };
  const inv = inventoryOf(cluster);
  const before = () => new NetworkPolicyEvaluator(inv);
  const after = () => new NetworkPolicyEvaluator(inventoryOf(cluster + allowG));
  // Only g-1 -> g-2 was observed.
  const claimed = new Map([['x/g-1>x/g-2', new Set(['TCP/7000'])]]);

  it('counts the pairs within a class without a pod and itself, less the observed pairs', () => {
    // g -> g: 3 x 3 - 3 (a pod with itself) = 6, less g-1 -> g-2 (observed) = 5; h is not admitted.
    expect(overPermission(inv, before(), after(), [suggested], claimed, { maxExamples: 10 })).toEqual({
      podPairs: 5,
      examples: [
        'x/g-1 -> x/g-3 TCP/7000',
        'x/g-2 -> x/g-1 TCP/7000',
        'x/g-2 -> x/g-3 TCP/7000',
        'x/g-3 -> x/g-1 TCP/7000',
        'x/g-3 -> x/g-2 TCP/7000',
      ],
    });
    expect(overPermission(inv, before(), after(), [suggested], new Map(), { maxExamples: 2 })).toEqual({
      podPairs: 6,
      examples: ['x/g-1 -> x/g-2 TCP/7000', 'x/g-1 -> x/g-3 TCP/7000'],
    });
  });

  // The same suggestion admitting g from every pod of x (peer selector {}): h -> g is open too.
  const fromAll: SuggestedPolicy = {
    ...suggested,
    ingress: [{ ...suggested.ingress[0], peer: { kind: 'pod', namespace: 'x', name: 'all', selector: {} } }],
  };
  const afterFromAll = () =>
    new NetworkPolicyEvaluator(
      inventoryOf(cluster + allowG.replace('podSelector: {matchLabels: {app: g}}}]', 'podSelector: {}}]')),
    );

  it('probes only the class pairs a rule can open, and stops at the cap (a lower bound, marked approximate)', () => {
    // g -> g: 5 as above; h -> g: 1 x 3 = 3.
    expect(overPermission(inv, before(), afterFromAll(), [fromAll], claimed, { maxExamples: 0 })).toEqual({
      podPairs: 8,
      examples: [],
    });
    // Class pairs in order: g -> g (5 pairs), then h -> g, past the cap.
    expect(
      overPermission(inv, before(), afterFromAll(), [fromAll], claimed, { maxExamples: 1, maxClassPairs: 1 }),
    ).toEqual({ podPairs: 5, examples: ['x/g-1 -> x/g-3 TCP/7000'], approximate: true });
  });
});

let seq = 0;
/** An allowed flow from pod `src` to pod `dst` as Hubble reports it. */
function allowedFlow(
  src: { ns: string; pod: string; app: string; ip: string },
  dst: { ns: string; pod: string; labels: Record<string, string>; workload: string; ip: string },
  protocol: 'TCP' | 'UDP',
  dstPort: number,
): FlowRecord {
  seq++;
  return {
    id: `f${seq}`,
    source: 'hubble',
    cluster: 'c',
    time: '2026-01-01T00:00:00Z',
    verdict: 'allowed',
    direction: 'egress',
    src: {
      kind: 'pod',
      namespace: src.ns,
      pod: src.pod,
      labels: { app: src.app },
      ip: src.ip,
      workload: { kind: 'Deployment', name: src.app },
    },
    dst: {
      kind: 'pod',
      namespace: dst.ns,
      pod: dst.pod,
      labels: dst.labels,
      ip: dst.ip,
      workload: { kind: 'Deployment', name: dst.workload },
    },
    protocol,
    srcPort: 40000 + seq,
    dstPort,
    count: 1,
    policies: [],
    isReply: false,
  };
}

/**
 * Namespace `shop` with `apps` Deployments of `replicas` pods each, and kube-system/coredns-1.
 * `ownLabel`: each pod also carries its StatefulSet pod-name label, so no two pods are alike.
 */
function shop(apps: number, replicas: number, ownLabel = false): PolicyInventory {
  const raw: Array<Record<string, unknown>> = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system' } },
  ];
  for (let a = 0; a < apps; a++)
    for (let r = 0; r < replicas; r++) {
      const name = `app-${a}-${r}`;
      const labels: Record<string, string> = { app: `app-${a}` };
      if (ownLabel) labels['statefulset.kubernetes.io/pod-name'] = name;
      raw.push(pod('shop', name, labels, `10.${1 + (a >> 8)}.${a & 255}.${r + 1}`));
    }
  raw.push(pod('kube-system', 'coredns-1', { 'k8s-app': 'kube-dns' }, '10.200.0.1'));
  return inventoryFromObjects(raw);
}

/** app-0 -> app-1 TCP/8080 and app-0 -> coredns UDP/53: all that was seen. */
function shopFlows(): FlowRecord[] {
  const app0 = { ns: 'shop', pod: 'app-0-0', app: 'app-0', ip: '10.1.0.1' };
  return [
    allowedFlow(
      app0,
      { ns: 'shop', pod: 'app-1-0', labels: { app: 'app-1' }, workload: 'app-1', ip: '10.1.1.1' },
      'TCP',
      8080,
    ),
    allowedFlow(
      app0,
      { ns: 'kube-system', pod: 'coredns-1', labels: { 'k8s-app': 'kube-dns' }, workload: 'coredns', ip: '10.200.0.1' },
      'UDP',
      53,
    ),
  ];
}

describe('suggest: over-permission of a baseline', () => {
  it('small cluster: every shop pod may now reach coredns on TCP/53, which no flow asked for', () => {
    const inv = shop(3, 2);
    const { edges } = edgesFromFlows(shopFlows(), inv);
    const r = suggest(inv, edges, { mode: 'baseline', format: 'k8s', namespace: 'shop' });
    expect(r.items).toHaveLength(1);
    // 6 shop pods -> coredns-1: the DNS rule is namespace-wide and only UDP/53 was observed (from app-0).
    // app-0 -> app-1 on TCP/8080: all 2 x 2 replica pairs observed.
    expect(r.items[0].verification.overPermission).toEqual({
      podPairs: 6,
      examples: [
        'shop/app-0-0 -> kube-system/coredns-1 TCP/53',
        'shop/app-0-1 -> kube-system/coredns-1 TCP/53',
        'shop/app-1-0 -> kube-system/coredns-1 TCP/53',
        'shop/app-1-1 -> kube-system/coredns-1 TCP/53',
        'shop/app-2-0 -> kube-system/coredns-1 TCP/53',
      ],
    });
  });

  it.each([
    ['100 Deployments of 100 pods', false],
    ['10,000 pods each with its own label (no two alike)', true],
  ])('a generated 10,000-pod namespace, %s: returns, with the exact figure', (_, ownLabel) => {
    const inv = shop(100, 100, ownLabel);
    expect(inv.pods).toHaveLength(10_001);
    const { edges } = edgesFromFlows(shopFlows(), inv);
    const r = suggest(inv, edges, { mode: 'baseline', format: 'k8s', namespace: 'shop' });
    const v = r.items[0].verification;
    expect(v.claimed).toBe(2);
    expect(v.admitted).toBe(2);
    // As above: each of the 10,000 shop pods -> coredns-1 on TCP/53 (app-0 -> app-1 is all observed:
    // the pod-name label is per pod, so neither the edge nor the selector carries it).
    expect(v.overPermission.podPairs).toBe(10_000);
    expect(v.overPermission.approximate).toBeUndefined();
  });
});
