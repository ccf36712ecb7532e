/**
 * The evaluator across inventory snapshots (`withInventory`): a snapshot that changes only pods
 * keeps the compiled policies and caches, and its decisions follow the changed pods; a namespace
 * or policy change compiles again. Also the selection index (policies found by namespace and by a
 * required label) and the per-plan decision sharing, against hand-written expectations from the
 * NetworkPolicy and network-policy-api semantics.
 */
import { describe, expect, it } from '@jest/globals';
import type { FlowRecord } from '../../src/flow/flow-record.js';
import { InventoryFlowAttributor } from '../../src/policy/attribution.js';
import { NetworkPolicyEvaluator, type PolicyDecision } from '../../src/policy/network-policy.evaluator.js';
import { InventoryStore, type PolicyInventory } from '../../src/policy/policy-inventory.js';
import type { PolicyRef } from '../../src/policy/policy-model.js';

const ns = (name: string, labels: Record<string, string>): unknown => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, labels },
});
const pod = (namespace: string, name: string, labels: Record<string, string>, ip: string): unknown => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace, labels },
  spec: { containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 80 }] }] },
  status: { podIP: ip },
});
const np = (namespace: string, name: string, spec: unknown): unknown => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace },
  spec,
});

/** web admits app=client of its namespace and app=probe of team=b namespaces on TCP 80; `other` has no egress. */
const WEB_INGRESS = np('shop', 'web-ingress', {
  podSelector: { matchLabels: { app: 'web' } },
  ingress: [
    { from: [{ podSelector: { matchLabels: { app: 'client' } } }], ports: [{ port: 80 }] },
    {
      from: [{ namespaceSelector: { matchLabels: { team: 'b' } }, podSelector: { matchLabels: { app: 'probe' } } }],
      ports: [{ port: 80 }],
    },
  ],
});

function cluster(): InventoryStore {
  const store = new InventoryStore();
  for (const o of [
    ns('shop', { team: 'a' }),
    ns('ops', { team: 'b' }),
    pod('shop', 'web', { app: 'web' }, '10.0.0.1'),
    pod('shop', 'client', { app: 'client' }, '10.0.0.2'),
    pod('shop', 'other', { app: 'other' }, '10.0.0.3'),
    pod('ops', 'probe', { app: 'probe' }, '10.0.1.1'),
    WEB_INGRESS,
    np('shop', 'other-no-egress', { podSelector: { matchLabels: { app: 'other' } }, policyTypes: ['Egress'] }),
  ]) {
    const r = store.upsertRaw(o);
    if (r.status !== 'ok') throw new Error(JSON.stringify(r));
  }
  return store;
}

function endpoint(ev: NetworkPolicyEvaluator, ref: string) {
  const [namespace, name] = ref.split('/');
  const p = ev.inventory.pod(namespace, name);
  if (!p) throw new Error(`no pod ${ref}`);
  return ev.endpointForPod(p);
}

function decide(ev: NetworkPolicyEvaluator, from: string, to: string, port = 80): PolicyDecision {
  const src = from.includes('/') ? endpoint(ev, from) : ev.endpointForIp(from);
  const dst = to.includes('/') ? endpoint(ev, to) : ev.endpointForIp(to);
  return ev.evaluate({ src, dst, port, protocol: 'TCP' });
}

const allowed = (ev: NetworkPolicyEvaluator, from: string, to: string, port = 80): boolean =>
  decide(ev, from, to, port).allowed;
const names = (refs: readonly PolicyRef[]): string[] => refs.map((r) => `${r.namespace ?? ''}/${r.name}`);

function relabel(store: InventoryStore, inv: PolicyInventory, ref: string, labels: Record<string, string>): void {
  const [namespace, name] = ref.split('/');
  const p = inv.pod(namespace, name);
  if (!p) throw new Error(ref);
  store.upsert({ ...p, labels });
}

describe('an evaluator across snapshots that change only pods', () => {
  it.each([
    ['worked out on first use', {}],
    ['precomputed from the pod index', { precomputePods: true }],
  ])('the baseline cluster, decided from the NetworkPolicy semantics (pods %s)', (_, options) => {
    const ev = new NetworkPolicyEvaluator(cluster().snapshot(), options);
    expect(allowed(ev, 'shop/client', 'shop/web')).toBe(true);
    expect(allowed(ev, 'shop/client', 'shop/web', 81)).toBe(false); // only port 80 is admitted
    expect(allowed(ev, 'ops/probe', 'shop/web')).toBe(true); // team=b and app=probe
    expect(allowed(ev, 'shop/other', 'shop/web')).toBe(false); // egress of other is isolated
    expect(decide(ev, 'shop/other', 'shop/web').egress.allowed).toBe(false);
    expect(decide(ev, 'shop/other', 'shop/web').ingress.allowed).toBe(false); // not admitted either
    expect(allowed(ev, 'shop/web', 'shop/client')).toBe(true); // client is not isolated
  });

  it('a label change moves a pod into a selector: its decisions change, the others stay, the compilation is kept', () => {
    const store = cluster();
    const before = store.snapshot();
    const ev = new NetworkPolicyEvaluator(before);
    expect(allowed(ev, 'shop/other', 'shop/web')).toBe(false);
    expect(allowed(ev, 'shop/client', 'shop/web')).toBe(true);
    // other becomes a client: no longer selected by other-no-egress, now admitted by web-ingress.
    relabel(store, before, 'shop/other', { app: 'client' });
    const next = ev.withInventory(store.snapshot());
    expect(next).not.toBe(ev);
    expect(next.sharesCompilation(ev)).toBe(true);
    const d = decide(next, 'shop/other', 'shop/web');
    expect(d.allowed).toBe(true);
    expect(d.egress.isolated).toBe(false);
    expect(names(d.ingress.allowedBy)).toEqual(['shop/web-ingress']);
    expect(allowed(next, 'shop/client', 'shop/web')).toBe(true);
    expect(allowed(next, 'ops/probe', 'shop/web')).toBe(true);
    expect(allowed(next, 'shop/client', 'shop/web', 81)).toBe(false);
    // The old snapshot's evaluator still answers for its own snapshot.
    expect(allowed(ev, 'shop/other', 'shop/web')).toBe(false);
  });

  it('a label change moves a pod out of a selector: it is no longer isolated', () => {
    const store = cluster();
    const before = store.snapshot();
    const ev = new NetworkPolicyEvaluator(before);
    expect(allowed(ev, 'shop/other', 'shop/web')).toBe(false);
    expect(allowed(ev, 'ops/probe', 'shop/web', 443)).toBe(false);
    relabel(store, before, 'shop/web', { app: 'web-v2' });
    const next = ev.withInventory(store.snapshot());
    expect(next.sharesCompilation(ev)).toBe(true);
    const d = decide(next, 'ops/probe', 'shop/web', 443);
    expect(d.allowed).toBe(true);
    expect(d.ingress.isolated).toBe(false);
    expect(d.ingress.isolatedBy).toEqual([]);
    // other's egress is still isolated by other-no-egress.
    expect(allowed(next, 'shop/other', 'shop/web')).toBe(false);
    expect(names(decide(next, 'shop/other', 'shop/web').egress.isolatedBy)).toEqual(['shop/other-no-egress']);
  });

  it('a deleted pod: its address is an external endpoint, which web does not admit', () => {
    const store = cluster();
    const ev = new NetworkPolicyEvaluator(store.snapshot());
    expect(allowed(ev, '10.0.0.2', 'shop/web')).toBe(true); // 10.0.0.2 is shop/client
    expect(store.delete('Pod', 'shop', 'client')).toBe(true);
    const next = ev.withInventory(store.snapshot());
    expect(next.sharesCompilation(ev)).toBe(true);
    expect(next.inventory.pod('shop', 'client')).toBeUndefined();
    const d = decide(next, '10.0.0.2', 'shop/web');
    expect(d.allowed).toBe(false);
    expect(d.egress.applies).toBe(false);
    expect(names(d.ingress.isolatedBy)).toEqual(['shop/web-ingress']);
    expect(allowed(next, 'ops/probe', 'shop/web')).toBe(true);
  });

  it('a new pod is evaluated from its labels at once', () => {
    const store = cluster();
    const ev = new NetworkPolicyEvaluator(store.snapshot());
    expect(allowed(ev, 'shop/client', 'shop/web')).toBe(true);
    store.upsertRaw(pod('shop', 'web-2', { app: 'web' }, '10.0.0.9'));
    const next = ev.withInventory(store.snapshot());
    expect(next.sharesCompilation(ev)).toBe(true);
    expect(allowed(next, 'shop/client', 'shop/web-2')).toBe(true);
    expect(allowed(next, 'shop/other', 'shop/web-2')).toBe(false);
    expect(allowed(next, 'shop/client', 'shop/web-2', 81)).toBe(false);
  });

  it('a namespace label change compiles again and moves the namespace out of a namespaceSelector', () => {
    const store = cluster();
    const ev = new NetworkPolicyEvaluator(store.snapshot());
    expect(allowed(ev, 'ops/probe', 'shop/web')).toBe(true);
    store.upsertRaw(ns('ops', { team: 'c' }));
    const next = ev.withInventory(store.snapshot());
    expect(next.sharesCompilation(ev)).toBe(false);
    expect(allowed(next, 'ops/probe', 'shop/web')).toBe(false);
    expect(allowed(next, 'shop/client', 'shop/web')).toBe(true);
    // And back into it.
    store.upsertRaw(ns('ops', { team: 'b' }));
    expect(allowed(next.withInventory(store.snapshot()), 'ops/probe', 'shop/web')).toBe(true);
  });

  it('a policy change compiles again', () => {
    const store = cluster();
    const ev = new NetworkPolicyEvaluator(store.snapshot());
    expect(allowed(ev, 'shop/client', 'shop/web')).toBe(true);
    store.upsertRaw(
      np('shop', 'web-ingress', {
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }], ports: [{ port: 8080 }] }],
      }),
    );
    const next = ev.withInventory(store.snapshot());
    expect(next.sharesCompilation(ev)).toBe(false);
    expect(allowed(next, 'shop/client', 'shop/web')).toBe(false);
    expect(allowed(next, 'shop/client', 'shop/web', 8080)).toBe(true);
    expect(allowed(next, 'ops/probe', 'shop/web')).toBe(false);
  });

  it('the same snapshot gives the same evaluator', () => {
    const store = cluster();
    const ev = new NetworkPolicyEvaluator(store.snapshot());
    expect(ev.withInventory(store.snapshot())).toBe(ev);
  });

  it('the flow attributor keeps the compilation across pod-only snapshots and follows the change', () => {
    const store = cluster();
    let inv = store.snapshot();
    const att = new InventoryFlowAttributor({ current: () => inv }, { observeEndpoints: false });
    const flow = (id: string): FlowRecord => ({
      id,
      source: 'hubble',
      cluster: 'c',
      time: '2026-01-01T00:00:00Z',
      verdict: 'denied',
      direction: 'ingress',
      src: { kind: 'pod', namespace: 'shop', pod: 'other', ip: '10.0.0.3' },
      dst: { kind: 'pod', namespace: 'shop', pod: 'web', ip: '10.0.0.1' },
      protocol: 'TCP',
      dstPort: 80,
      count: 1,
      policies: [],
    });
    const first = att.attribute(flow('1'));
    expect(first.level).toBe('inferred');
    expect(first.isolatedBy).toEqual(['shop/web-ingress']);
    const ev1 = att.currentEvaluator();
    relabel(store, inv, 'shop/other', { app: 'client' });
    inv = store.snapshot();
    const second = att.attribute(flow('2'));
    expect(att.currentEvaluator().sharesCompilation(ev1)).toBe(true);
    // Now admitted by the loaded policies: the drop is not explained by them.
    expect(second.level).toBe('unknown');
    expect(second.reason).toMatch(/the loaded policies admit TCP\/80/);
  });
});

describe("the flow attributor's endpoint memo", () => {
  /** A denied flow to shop/web on port 80 from a pod whose labels are `labels` (one object, shared). */
  const toWeb = (labels: Record<string, string>, namespace: string, podName: string, ip?: string, protocol = 'TCP') =>
    ({
      id: `${namespace}/${podName}`,
      source: 'hubble',
      cluster: 'c',
      time: '2026-01-01T00:00:00Z',
      verdict: 'denied',
      direction: 'ingress',
      src: { kind: 'pod', namespace, pod: podName, labels, ...(ip !== undefined ? { ip } : {}) },
      dst: { kind: 'pod', namespace: 'shop', pod: 'web', labels: { app: 'web' }, ip: '10.0.0.1' },
      protocol,
      dstPort: 80,
      count: 1,
      policies: [],
    }) satisfies FlowRecord;

  it('tells apart flow endpoints that share one label object but not namespace or pod', () => {
    const att = new InventoryFlowAttributor(cluster().snapshot(), { observeEndpoints: false });
    const labels = { app: 'client' };
    const flow = (namespace: string, podName: string, ip: string): FlowRecord => toWeb(labels, namespace, podName, ip);
    // app=client of shop is admitted by web-ingress; app=client of ops is not (same-namespace rule).
    expect(att.attribute(flow('shop', 'client', '10.0.0.2')).level).toBe('unknown');
    const other = att.attribute(flow('ops', 'client-7', '10.0.1.7'));
    expect(other.level).toBe('inferred');
    expect(other.isolatedBy).toEqual(['shop/web-ingress']);
    expect(att.attribute(flow('shop', 'client', '10.0.0.2')).level).toBe('unknown');
    // A world source by address, twice: the same answer.
    const world: FlowRecord = { ...flow('shop', 'client', '10.0.0.2'), src: { kind: 'world', ip: '203.0.113.9' } };
    expect(att.attribute(world).level).toBe('inferred');
    expect(att.attribute({ ...world, id: 'again' }).level).toBe('inferred');
  });

  it('answers repeats from the last mapping of a label object only when every mapped field is equal', () => {
    const att = new InventoryFlowAttributor(cluster().snapshot(), { observeEndpoints: false });
    const labels = { app: 'client' };
    const flow = (namespace: string, podName: string, protocol: string): FlowRecord =>
      toWeb(labels, namespace, podName, undefined, protocol);
    // The same pod name in two namespaces, alternating on one label object: shop's client is
    // admitted by web-ingress (same namespace), ops' is not.
    for (let i = 0; i < 3; i++) {
      expect(att.attribute(flow('shop', 'client', 'TCP')).level).toBe('unknown');
      const ops = att.attribute(flow('ops', 'client', 'TCP'));
      expect(ops.level).toBe('inferred');
      expect(ops.reason).toMatch(/^no rule of shop\/web-ingress admits TCP\/80 from ops\/app=client /);
    }
    // A protocol in lower case is the same protocol, named in upper case.
    const lower = att.attribute(flow('ops', 'client', 'tcp'));
    expect(lower.level).toBe('inferred');
    expect(lower.reason).toMatch(/admits TCP\/80 from ops\/app=client /);
    expect(att.attribute(flow('ops', 'client', 'udp')).reason).toMatch(/admits UDP\/80 from ops\/app=client /);
    expect(att.attribute(flow('shop', 'client', 'udp')).level).toBe('inferred'); // web admits TCP 80 only
  });
});

describe('selection index and shared decisions', () => {
  it.each([
    ['worked out on first use', {}],
    ['precomputed from the pod index', { precomputePods: true }],
  ])('finds policies by any value of an In requirement, never by a value the pod lacks (pods %s)', (_, options) => {
    const store = new InventoryStore();
    for (const o of [
      ns('x', {}),
      pod('x', 'a', { app: 'a', tier: 'web' }, '10.1.0.1'),
      pod('x', 'b', { app: 'b', tier: 'web' }, '10.1.0.2'),
      pod('x', 'c', { app: 'c' }, '10.1.0.3'),
      pod('x', 'd', { tier: 'db' }, '10.1.0.4'),
      np('x', 'ab', {
        podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['a', 'b'] }] },
        policyTypes: ['Ingress'],
      }),
      np('x', 'not-web', {
        podSelector: { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['web'] }] },
        policyTypes: ['Ingress'],
      }),
      {
        apiVersion: 'policy.networking.k8s.io/v1alpha2',
        kind: 'ClusterNetworkPolicy',
        metadata: { name: 'deny-c' },
        spec: {
          tier: 'Admin',
          priority: 5,
          subject: { pods: { namespaceSelector: {}, podSelector: { matchLabels: { app: 'c' } } } },
          ingress: [{ action: 'Deny', from: [{ namespaces: {} }] }],
        },
      },
    ]) {
      const r = store.upsertRaw(o);
      if (r.status !== 'ok') throw new Error(JSON.stringify(r));
    }
    const ev = new NetworkPolicyEvaluator(store.snapshot(), options);
    const iso = (ref: string): string[] => names(decide(ev, 'x/a', ref).ingress.isolatedBy);
    expect(iso('x/a')).toEqual(['x/ab']);
    expect(iso('x/b')).toEqual(['x/ab']);
    // NotIn web: c has no tier label, d has tier=db.
    expect(iso('x/c')).toEqual(['x/not-web']);
    expect(iso('x/d')).toEqual(['x/not-web']);
    const c = decide(ev, 'x/a', 'x/c');
    expect(c.ingress.basis).toBe('rule');
    expect(c.ingress.tier).toBe('Admin');
    expect(names(c.ingress.deniedBy)).toEqual(['/deny-c']);
    expect(decide(ev, 'x/a', 'x/d').ingress.basis).toBe('isolation');
  });

  it('identities with the same selecting policies share decisions only where the rules say the same', () => {
    const ev = new NetworkPolicyEvaluator(cluster().snapshot());
    // web's ingress plan, probed by peers and ports that each rule answers differently.
    const client80 = decide(ev, 'shop/client', 'shop/web');
    const probe80 = decide(ev, 'ops/probe', 'shop/web');
    const client81 = decide(ev, 'shop/client', 'shop/web', 81);
    const other80 = decide(ev, 'shop/other', 'shop/web');
    expect(client80.ingress.allowedBy.map((r) => r.ruleIndex)).toEqual([0]);
    expect(probe80.ingress.allowedBy.map((r) => r.ruleIndex)).toEqual([1]);
    expect(client81.ingress.allowed).toBe(false);
    expect(client81.ingress.closestRules.map((c) => [c.rule.ruleIndex, c.missing])).toEqual([[0, 'port']]);
    expect(other80.ingress.allowed).toBe(false);
    expect(other80.ingress.closestRules.map((c) => [c.rule.ruleIndex, c.missing])).toEqual([
      [0, 'peer'],
      [1, 'peer'],
    ]);
    // The same outcome for another source identity is the same (shared, frozen) direction decision.
    expect(decide(ev, 'shop/other', 'shop/web', 81).ingress).not.toBe(client81.ingress);
    expect(decide(ev, '10.9.9.9', 'shop/web').ingress).toBe(other80.ingress);
  });
});

describe('endpoints with equal labels or ports read shared objects, but decide by their own', () => {
  /** Two `app: web` pods whose `http` port is 8080 and 9090, one with no known ports, in two namespaces. */
  function sharedCluster(): PolicyInventory {
    const store = new InventoryStore();
    const webPod = (namespace: string, name: string, ip: string, httpPort: number | undefined): unknown => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace, labels: { app: 'web', tier: 'front' } },
      spec: {
        containers: [
          { name: 'c', ...(httpPort !== undefined ? { ports: [{ name: 'http', containerPort: httpPort }] } : {}) },
        ],
      },
      status: { podIP: ip },
    });
    for (const o of [
      ns('shop', { team: 'a' }),
      ns('ops', { team: 'b' }),
      webPod('shop', 'web-a', '10.0.0.1', 8080),
      webPod('shop', 'web-b', '10.0.0.2', 9090),
      webPod('shop', 'web-c', '10.0.0.3', 8080),
      webPod('ops', 'web-d', '10.0.1.1', 9090),
      pod('shop', 'client', { tier: 'front', app: 'web' }, '10.0.0.9'),
      // shop's app=web pods admit anyone on their own `http` port; ops has no policy.
      np('shop', 'web-http', {
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [{ ports: [{ port: 'http' }] }],
      }),
    ]) {
      const r = store.upsertRaw(o);
      if (r.status !== 'ok') throw new Error(JSON.stringify(r));
    }
    return store.snapshot();
  }

  it.each([true, false])('named ports resolve per pod (pods precomputed: %s)', (precomputePods) => {
    const ev = new NetworkPolicyEvaluator(sharedCluster(), { precomputePods });
    expect(allowed(ev, 'shop/client', 'shop/web-a', 8080)).toBe(true);
    expect(allowed(ev, 'shop/client', 'shop/web-a', 9090)).toBe(false);
    expect(allowed(ev, 'shop/client', 'shop/web-b', 9090)).toBe(true);
    expect(allowed(ev, 'shop/client', 'shop/web-b', 8080)).toBe(false);
    expect(allowed(ev, 'shop/client', 'shop/web-c', 8080)).toBe(true);
    expect(allowed(ev, 'shop/client', 'shop/web-c', 9090)).toBe(false);
    // The same labels in another namespace: not selected by shop's policy.
    expect(allowed(ev, 'shop/client', 'ops/web-d', 8080)).toBe(true);
    expect(decide(ev, 'shop/client', 'ops/web-d', 8080).ingress.isolated).toBe(false);
    // The client (labels equal to the web pods', listed in another order) has ports [http: 80].
    expect(allowed(ev, 'shop/web-a', 'shop/client', 80)).toBe(true);
    expect(allowed(ev, 'shop/web-a', 'shop/client', 8080)).toBe(false);
  });

  it('a pod with no known container ports: its named port is unresolved, not taken from a look-alike', () => {
    const store = new InventoryStore();
    for (const o of [
      ns('shop', {}),
      pod('shop', 'client', { app: 'client' }, '10.0.0.9'),
      np('shop', 'web-http', {
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [{ ports: [{ port: 'http' }] }],
      }),
    ])
      store.upsertRaw(o);
    const ev = new NetworkPolicyEvaluator(store.snapshot(), { precomputePods: true });
    const known = { kind: 'pod' as const, namespace: 'shop', labels: { app: 'web' } };
    const withPorts = { ...known, namedPorts: [{ name: 'http', port: 8080, protocol: 'TCP' as const }] };
    const client = endpoint(ev, 'shop/client');
    expect(ev.evaluate({ src: client, dst: withPorts, port: 8080, protocol: 'TCP' }).allowed).toBe(true);
    const unknown = ev.evaluate({ src: client, dst: { ...known }, port: 8080, protocol: 'TCP' });
    expect(unknown.allowed).toBe(false);
    expect(unknown.ingress.notes).toEqual([
      'shop/web-http ingress[0]: named port not resolvable (destination pod ports unknown)',
    ]);
  });
});

describe("a plan's port answers, kept per port and protocol", () => {
  /** shop's app=web pods admit anyone on TCP 80, 8000-8010 and UDP 53, and app=client on their `http` port. */
  function portCluster(): PolicyInventory {
    const store = new InventoryStore();
    const webPod = (name: string, ip: string, httpPort: number): unknown => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'shop', labels: { app: 'web' } },
      spec: { containers: [{ name: 'c', ports: [{ name: 'http', containerPort: httpPort }] }] },
      status: { podIP: ip },
    });
    for (const o of [
      ns('shop', {}),
      webPod('web-a', '10.0.0.1', 9000),
      webPod('web-b', '10.0.0.2', 9001),
      pod('shop', 'client', { app: 'client' }, '10.0.0.8'),
      pod('shop', 'other', { app: 'other' }, '10.0.0.9'),
      np('shop', 'web-ports', {
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [
          { ports: [{ port: 80 }, { port: 8000, endPort: 8010 }] },
          { ports: [{ protocol: 'UDP', port: 53 }] },
          { from: [{ podSelector: { matchLabels: { app: 'client' } } }], ports: [{ port: 'http' }] },
        ],
      }),
    ]) {
      const r = store.upsertRaw(o);
      if (r.status !== 'ok') throw new Error(JSON.stringify(r));
    }
    return store.snapshot();
  }

  it.each([
    ['cached', false],
    ['uncached', true],
  ])('decides every port by the rules, past the ports the memo has room for (%s)', (_, uncached) => {
    const ev = new NetworkPolicyEvaluator(portCluster(), { precomputePods: true });
    const check = (from: string, to: string, port: number | undefined, protocol: string, expected: boolean): void => {
      const probe = { src: endpoint(ev, from), dst: endpoint(ev, to), port, protocol };
      const d = uncached ? ev.evaluateUncached(probe) : ev.evaluate(probe);
      expect([from, to, port, protocol, d.allowed]).toEqual([from, to, port, protocol, expected]);
    };
    for (const to of ['shop/web-a', 'shop/web-b']) {
      check('shop/other', to, 80, 'TCP', true);
      check('shop/other', to, 79, 'TCP', false);
      check('shop/other', to, 8000, 'TCP', true);
      check('shop/other', to, 8010, 'TCP', true);
      check('shop/other', to, 8011, 'TCP', false);
      check('shop/other', to, 53, 'UDP', true);
      check('shop/other', to, 53, 'TCP', false);
      check('shop/other', to, 80, 'UDP', false);
      check('shop/other', to, undefined, 'ICMP', false);
    }
    // The named port is each pod's own, for the client only, whichever pod asked first.
    check('shop/client', 'shop/web-a', 9000, 'TCP', true);
    check('shop/client', 'shop/web-b', 9000, 'TCP', false);
    check('shop/client', 'shop/web-b', 9001, 'TCP', true);
    check('shop/client', 'shop/web-a', 9001, 'TCP', false);
    check('shop/other', 'shop/web-a', 9000, 'TCP', false);
    check('shop/client', 'shop/web-b', 8005, 'TCP', true);
    // 300 more ports on two protocols: far more than the memo keeps; the answers stay the rules'.
    for (let port = 7900; port < 8050; port++) {
      check('shop/other', 'shop/web-a', port, 'TCP', port === 80 || (port >= 8000 && port <= 8010));
      check('shop/other', 'shop/web-b', port, 'UDP', false);
    }
    check('shop/other', 'shop/web-b', 53, 'UDP', true);
    check('shop/client', 'shop/web-b', 9001, 'TCP', true);
    check('shop/client', 'shop/web-a', 9001, 'TCP', false);
    check('shop/client', 'shop/web-a', 9000, 'TCP', true);
  });
});

describe('endpointForPod', () => {
  it('gives a plain object with the pod fields only, whose copies do not share its identity', () => {
    const ev = new NetworkPolicyEvaluator(cluster().snapshot(), { precomputePods: true });
    const web = endpoint(ev, 'shop/web');
    expect(Object.getPrototypeOf(web)).toBe(Object.prototype);
    expect(Object.keys(web)).toEqual([
      'kind',
      'namespace',
      'name',
      'labels',
      'namespaceLabels',
      'namedPorts',
      'hostNetwork',
      'ip',
    ]);
    expect(web).toStrictEqual({
      kind: 'pod',
      namespace: 'shop',
      name: 'web',
      labels: { app: 'web' },
      namespaceLabels: { team: 'a', 'kubernetes.io/metadata.name': 'shop' },
      namedPorts: [{ name: 'http', port: 80, protocol: 'TCP' }],
      hostNetwork: false,
      ip: '10.0.0.1',
    });
    expect(endpoint(ev, 'shop/web')).toBe(web);
    // A copy with other labels is another identity: web's policy no longer selects it.
    const copy = { ...web, labels: { app: 'other' } };
    expect(ev.evaluate({ src: endpoint(ev, 'shop/other'), dst: web, port: 80 }).ingress.isolated).toBe(true);
    expect(ev.evaluate({ src: endpoint(ev, 'shop/client'), dst: copy, port: 80 }).ingress.isolated).toBe(false);
    expect(ev.identityNumber(copy, 'source')).not.toBe(ev.identityNumber(web, 'source'));
  });
});
