import { describe, expect, it } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import type { FlowRecord, Verdict } from '../flow/flow-record.js';
import { NetworkPolicyEvaluator, parseManifestText, buildInventory, type PolicyInventory } from '../policy/index.js';
import { schemaErrors } from '../../test/suggest/policy-schemas.js';
import { xyzInventory } from '../../test/policy/xyz.js';
import { edgesFromFlows } from './observed-edge.js';
import { suggest, type SuggestionResult } from './suggest.js';
import type { SuggestFormat, SuggestMode } from './suggestion-model.js';

/** Default deny in both directions for x, y and z. */
const DENY_ALL = ['x', 'y', 'z']
  .map(
    (ns) => `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: deny-all, namespace: ${ns} }
spec: { podSelector: {}, policyTypes: [Ingress, Egress] }
`,
  )
  .join('');

/** A second replica of x/a: same workload label, its own pod-template-hash. */
const REPLICA = `
apiVersion: v1
kind: Pod
metadata: { name: a-2, namespace: x, labels: { pod: a, pod-template-hash: 5f7d9 } }
spec:
  containers:
    - name: c
      image: agnhost
      ports:
        - { containerPort: 80, protocol: TCP }
        - { containerPort: 80, protocol: UDP }
        - { containerPort: 81, protocol: TCP }
        - { containerPort: 81, protocol: UDP }
        - { containerPort: 82, protocol: TCP }
status: { podIP: 10.0.1.4, podIPs: [{ ip: 10.0.1.4 }] }
`;

const IPS: Record<string, string> = {
  'x/a': '10.0.1.1',
  'x/b': '10.0.1.2',
  'x/c': '10.0.1.3',
  'y/a': '10.0.2.1',
  'y/b': '10.0.2.2',
  'y/c': '10.0.2.3',
  'z/a': '10.0.3.1',
  'z/b': '10.0.3.2',
  'z/c': '10.0.3.3',
};
const ALL_PODS = [...Object.keys(IPS), 'x/a-2'];
const PORTS = ['TCP/80', 'TCP/81', 'UDP/80', 'UDP/81', 'TCP/82'];

let seq = 0;
/** A flow as Hubble reports it for pod `from` to pod `to` (labels as the flow carries them). */
function flow(from: string, to: string, port: string, verdict: Verdict, extra: Partial<FlowRecord> = {}): FlowRecord {
  const [protocol, dstPort] = port.split('/');
  const end = (ref: string) => {
    const [namespace, pod] = ref.split('/');
    return {
      kind: 'pod' as const,
      namespace,
      pod,
      labels: { pod: pod.replace(/-2$/, '') },
      ip: IPS[ref],
      workload: { kind: 'Deployment', name: pod.replace(/-2$/, '') },
    };
  };
  return {
    id: `f${seq++}`,
    source: 'hubble',
    cluster: 'c',
    time: `2026-01-01T00:00:${String(seq % 60).padStart(2, '0')}Z`,
    verdict,
    direction: 'egress',
    src: end(from),
    dst: end(to),
    protocol,
    srcPort: 40000 + seq,
    dstPort: Number(dstPort),
    count: 1,
    policies: [],
    isReply: false,
    ...extra,
  };
}

function applied(inv: PolicyInventory, result: SuggestionResult): NetworkPolicyEvaluator {
  const loaded = parseManifestText(result.items.map((i) => i.yaml).join(''), 'suggested.yaml');
  expect(loaded.issues.filter((i) => i.severity === 'error')).toEqual([]);
  return new NetworkPolicyEvaluator(
    buildInventory([...inv.namespaces.values(), ...inv.pods, ...inv.policies, ...loaded.objects]),
  );
}

/** Every allowed `from>to port` among all pods (self pairs excluded), optionally only pairs touching `ns`. */
function allowedTuples(ev: NetworkPolicyEvaluator, ns?: string): string[] {
  const out: string[] = [];
  for (const from of ALL_PODS)
    for (const to of ALL_PODS) {
      if (from === to) continue;
      if (ns && !from.startsWith(`${ns}/`) && !to.startsWith(`${ns}/`)) continue;
      const pod = (r: string) => ev.endpointForPod(ev.inventory.pod(r.split('/')[0], r.split('/')[1])!);
      for (const p of PORTS) {
        const [protocol, port] = p.split('/');
        if (ev.evaluate({ src: pod(from), dst: pod(to), port: Number(port), protocol }).allowed)
          out.push(`${from}>${to} ${p}`);
      }
    }
  return out.sort();
}

function run(inv: PolicyInventory, flows: FlowRecord[], mode: SuggestMode, format: SuggestFormat, namespace?: string) {
  const { edges } = edgesFromFlows(flows, inv);
  return suggest(inv, edges, { mode, format, namespace });
}

describe('suggest fix on the x/y/z model under default deny', () => {
  const inv = xyzInventory(DENY_ALL, REPLICA);
  const denied = [
    flow('x/a', 'y/b', 'TCP/80', 'denied'),
    flow('x/a', 'y/b', 'TCP/80', 'denied'),
    flow('x/a', 'y/b', 'UDP/81', 'denied'),
    flow('z/c', 'x/a', 'TCP/81', 'denied'),
    flow('y/b', 'y/c', 'TCP/80', 'audit'),
    // Reply packets of x/a>y/b: no rule for them.
    flow('y/b', 'x/a', 'TCP/45000', 'denied', { isReply: true }),
  ];

  it('admits exactly the observed workload tuples, for every replica, and no other pod pair', () => {
    const result = run(inv, denied, 'fix', 'k8s');
    expect(allowedTuples(applied(inv, result))).toEqual(
      [
        'x/a>y/b TCP/80',
        'x/a-2>y/b TCP/80',
        'x/a>y/b UDP/81',
        'x/a-2>y/b UDP/81',
        'z/c>x/a TCP/81',
        'z/c>x/a-2 TCP/81',
        'y/b>y/c TCP/80',
      ].sort(),
    );
    expect(result.items.map((i) => i.namespace)).toEqual(['x', 'y', 'z']);
    for (const i of result.items) {
      expect(i.verification.admitted).toBe(i.verification.claimed);
      expect(i.verification.overPermission).toEqual({ podPairs: 0, examples: [] });
    }
    expect(result.combined).toEqual({ claimed: 4, admitted: 4 });
  });

  it('selects by the workload label, never pod-template-hash, and merges ports per peer', () => {
    const result = run(inv, denied, 'fix', 'k8s');
    const y = result.items.find((i) => i.namespace === 'y')!.yaml;
    expect(y).not.toContain('pod-template-hash');
    const docs = parseAllDocuments(y).map(
      (d) => d.toJS() as { metadata: { name: string }; spec: Record<string, unknown> },
    );
    const b = docs.find((d) => d.metadata.name === 'dropscope-allow-b')!;
    expect(b.spec.ingress).toEqual([
      {
        from: [
          {
            podSelector: { matchLabels: { pod: 'a' } },
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'x' } },
          },
        ],
        ports: [
          { protocol: 'TCP', port: 80 },
          { protocol: 'UDP', port: 81 },
        ],
      },
    ]);
  });

  it('skips flows an existing policy already admits', () => {
    const allowXaToYb = `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: ok, namespace: y }
spec:
  podSelector: { matchLabels: { pod: b } }
  ingress: [{ from: [{ namespaceSelector: {} }] }]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: ok, namespace: x }
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{}]
`;
    const inv2 = xyzInventory(DENY_ALL + allowXaToYb, REPLICA);
    const result = run(inv2, [flow('x/a', 'y/b', 'TCP/80', 'denied')], 'fix', 'k8s');
    expect(result.items).toEqual([]);
    expect(result.coverage.alreadyAdmitted).toBe(1);
  });

  it.each(['cilium', 'calico'] as const)('%s: the suggestions admit the same tuples', (format) => {
    const result = run(inv, denied, 'fix', format);
    expect(allowedTuples(applied(inv, result))).toEqual(
      [
        'x/a>y/b TCP/80',
        'x/a-2>y/b TCP/80',
        'x/a>y/b UDP/81',
        'x/a-2>y/b UDP/81',
        'z/c>x/a TCP/81',
        'z/c>x/a-2 TCP/81',
        'y/b>y/c TCP/80',
      ].sort(),
    );
  });
});

describe('suggest baseline on the x/y/z model', () => {
  const inv = xyzInventory('', REPLICA);
  const allowed = [
    flow('x/a', 'y/b', 'TCP/80', 'allowed'),
    flow('y/b', 'z/c', 'UDP/81', 'allowed'),
    flow('y/c', 'y/a', 'TCP/82', 'allowed'),
    flow('z/a', 'x/b', 'TCP/80', 'allowed'),
  ];

  it.each(['k8s', 'cilium', 'calico'] as const)(
    '%s: every observed flow of y stays allowed and nothing else touching y is',
    (format) => {
      const result = run(inv, allowed, 'baseline', format, 'y');
      expect(result.items).toHaveLength(1);
      expect(allowedTuples(applied(inv, result), 'y')).toEqual(
        ['x/a>y/b TCP/80', 'x/a-2>y/b TCP/80', 'y/b>z/c UDP/81', 'y/c>y/a TCP/82'].sort(),
      );
      const v = result.items[0].verification;
      expect([v.claimed, v.admitted]).toEqual([3, 3]);
      expect(v.overPermission.podPairs).toBe(0);
    },
  );

  it('refuses a namespace that already has policies, and one the cluster does not know', () => {
    const withPolicy = xyzInventory(DENY_ALL);
    expect(() => run(withPolicy, allowed, 'baseline', 'k8s', 'y')).toThrow(/namespace y already has policies/);
    expect(() => run(inv, allowed, 'baseline', 'k8s', 'nope')).toThrow(
      /namespace nope is not in the cluster manifests/,
    );
  });
});

describe('peers outside the pod network', () => {
  const inv = xyzInventory(DENY_ALL);
  const host = { kind: 'host' as const, ip: '192.168.0.11', entities: ['remote-node'] };
  const world = (ip: string) => ({ kind: 'world' as const, ip, names: ['api.example.com.'] });
  const flows = [
    { ...flow('x/a', 'x/b', 'TCP/80', 'denied'), src: host },
    ...['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4'].map((ip) => ({
      ...flow('x/a', 'x/b', 'TCP/443', 'denied'),
      dst: world(ip),
    })),
    { ...flow('x/a', 'x/b', 'TCP/443', 'denied'), dst: { kind: 'world' as const, ip: '198.51.100.7' } },
  ];

  it.each(['k8s', 'cilium', 'calico'] as const)('%s: host peers and external CIDRs without failing', (format) => {
    const result = run(inv, flows, 'fix', format);
    const yaml = result.items[0].yaml;
    if (format === 'cilium') {
      expect(yaml).toContain('remote-node');
      expect(yaml).toContain('matchName: api.example.com');
      expect(yaml).toContain('198.51.100.7/32');
    } else {
      expect(yaml).toContain('192.168.0.11/32');
      // Four addresses of one /24 behind one name: the /24, with the name as a comment.
      expect(yaml).toMatch(/# api\.example\.com\n[^#]*203\.0\.113\.0\/24/);
      expect(yaml).toContain('198.51.100.7/32');
    }
  });
});

describe('YAML of every dialect validates against the resource schema', () => {
  const inv = xyzInventory(DENY_ALL, REPLICA);
  const flows = [
    flow('x/a', 'y/b', 'TCP/80', 'denied'),
    flow('z/c', 'x/a', 'UDP/81', 'denied'),
    {
      ...flow('x/a', 'x/b', 'TCP/443', 'denied'),
      dst: { kind: 'world' as const, ip: '203.0.113.9', names: ['a.example'] },
    },
    { ...flow('x/a', 'x/b', 'TCP/80', 'denied'), src: { kind: 'host' as const, ip: '192.168.0.11' } },
  ];
  it.each(['k8s', 'cilium', 'calico'] as const)('%s', (format) => {
    const fix = run(inv, flows, 'fix', format);
    const base = run(xyzInventory('', REPLICA), [flow('x/a', 'y/b', 'TCP/80', 'allowed')], 'baseline', format, 'y');
    const docs = [...fix.items, ...base.items].flatMap((i) => parseAllDocuments(i.yaml));
    expect(docs.length).toBeGreaterThan(3);
    for (const d of docs) {
      expect(d.errors).toEqual([]);
      expect(schemaErrors(d.toJS())).toEqual([]);
    }
  });

  it('the validator rejects what the schemas reject', () => {
    expect(
      schemaErrors({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'a' },
        spec: { podSelector: {}, ingress: [{ from: [{ podSelector: {}, bogus: 1 }] }] },
      }),
    ).toEqual(['networking.k8s.io/v1/NetworkPolicy.spec.ingress[0].from[0].bogus: unknown field']);
    expect(
      schemaErrors({
        apiVersion: 'cilium.io/v2',
        kind: 'CiliumNetworkPolicy',
        metadata: { name: 'a' },
        spec: { egress: [{ toPorts: [{ ports: [{ port: 80 }] }] }] },
      }),
    ).toEqual(['cilium.io/v2/CiliumNetworkPolicy.spec.egress[0].toPorts[0].ports[0].port: want string']);
    expect(
      schemaErrors({
        apiVersion: 'projectcalico.org/v3',
        kind: 'NetworkPolicy',
        metadata: { name: 'A' },
        spec: { ingress: [{ protocol: 'TCP' }] },
      }),
    ).toEqual([
      'projectcalico.org/v3/NetworkPolicy.spec.ingress[0].action: required',
      'projectcalico.org/v3/NetworkPolicy.metadata.name: not a DNS-1123 subdomain: "A"',
    ]);
  });
});
