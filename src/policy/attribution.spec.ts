import { describe, expect, it } from '@jest/globals';
import type { FlowRecord } from '../flow/flow-record.js';
import { reportedOnlyAttributor } from '../aggregator/attribution.port.js';
import { attributeFlow, InventoryFlowAttributor } from './attribution.js';
import { parseManifestText } from './manifest.loader.js';
import { NetworkPolicyEvaluator } from './network-policy.evaluator.js';
import { buildInventory, PolicyInventory } from './policy-inventory.js';

const CLUSTER = `
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Namespace, metadata: {name: default}}
- apiVersion: v1
  kind: Pod
  metadata: {name: deathstar-7848d6c4d5-th9v2, namespace: default, labels: {org: empire, class: deathstar}}
  spec: {containers: [{name: c, ports: [{containerPort: 80, name: http}]}]}
  status: {podIP: 10.244.1.5}
- {apiVersion: v1, kind: Pod, metadata: {name: xwing, namespace: default, labels: {org: alliance, class: xwing}}, status: {podIP: 10.244.1.60}}
- {apiVersion: v1, kind: Pod, metadata: {name: tiefighter, namespace: default, labels: {org: empire, class: tiefighter}}, status: {podIP: 10.244.1.61}}
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: rule1, namespace: default}
  spec:
    podSelector: {matchLabels: {org: empire, class: deathstar}}
    ingress:
    - from: [{podSelector: {matchLabels: {org: empire}}}]
      ports: [{port: 80}]
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: egress-lockdown, namespace: default}
  spec:
    podSelector: {matchLabels: {class: tiefighter}}
    policyTypes: [Egress]
    egress: [{to: [{podSelector: {matchLabels: {class: deathstar}}}]}]
`;

function inventory(): PolicyInventory {
  const loaded = parseManifestText(CLUSTER, 'cluster.yaml');
  return buildInventory(loaded.objects);
}

function flow(over: Partial<FlowRecord>): FlowRecord {
  return {
    id: 'f1',
    source: 'hubble',
    cluster: 'kind',
    time: '2023-08-21T12:12:18.510Z',
    verdict: 'denied',
    dropReason: 'POLICY_DENIED',
    direction: 'ingress',
    src: { kind: 'pod', namespace: 'default', pod: 'xwing', ip: '10.244.1.60' },
    dst: { kind: 'pod', namespace: 'default', pod: 'deathstar-7848d6c4d5-th9v2', ip: '10.244.1.5' },
    protocol: 'TCP',
    dstPort: 80,
    count: 1,
    policies: [],
    ...over,
  };
}

describe('attribution', () => {
  it('is reported when the source names a deny policy (Hubble ingress_denied_by)', () => {
    const a = attributeFlow(
      flow({
        policies: [
          { kind: 'CiliumNetworkPolicy', namespace: 'default', name: 'rule1', action: 'deny', stage: 'enforced' },
        ],
      }),
      inventory(),
    );
    expect(a).toMatchObject({
      level: 'reported',
      policies: [{ kind: 'CiliumNetworkPolicy', namespace: 'default', name: 'rule1', action: 'deny' }],
    });
    expect(a.reason).toMatch(/hubble reported CiliumNetworkPolicy default\/rule1 denied this flow/);
  });

  it('is reported from the verdict entry of a Calico enforced trace (end of tier), ignoring pass entries', () => {
    const a = attributeFlow(
      flow({
        source: 'calico',
        policies: [
          {
            kind: 'GlobalNetworkPolicy',
            name: 'guard',
            tier: 'security',
            action: 'pass',
            ruleIndex: 1,
            stage: 'enforced',
          },
          {
            kind: 'NetworkPolicy',
            namespace: 'default',
            name: 'rule1',
            tier: 'default',
            action: 'deny',
            ruleIndex: -1,
            stage: 'enforced',
          },
          {
            kind: 'StagedNetworkPolicy',
            namespace: 'default',
            name: 'trial',
            tier: 'default',
            action: 'deny',
            ruleIndex: 0,
            stage: 'pending',
          },
        ],
      }),
      PolicyInventory.empty(),
    );
    expect(a.level).toBe('reported');
    expect(a.policies).toEqual([
      { kind: 'NetworkPolicy', namespace: 'default', name: 'rule1', tier: 'default', action: 'deny', ruleIndex: -1 },
    ]);
    expect(a.reason).toMatch(/end of tier default \(after default\/rule1\)/);
  });

  it('is inferred for a Cilium POLICY_DENIED drop that names no policy, with labels from the inventory', () => {
    const a = attributeFlow(flow({}), inventory());
    expect(a.level).toBe('inferred');
    expect(a.direction).toBe('ingress');
    expect(a.isolatedBy).toEqual(['default/rule1']);
    expect(a.policies).toEqual([{ kind: 'NetworkPolicy', namespace: 'default', name: 'rule1' }]);
    expect(a.reason).toBe(
      'no rule of default/rule1 admits TCP/80 from default/class=xwing,org=alliance (ingress to default/class=deathstar,org=empire is isolated: denied by default isolation); closest: default/rule1 ingress[0] admits TCP/80 from/to namespace default and pods org=empire only',
    );
    expect(a.closestRules).toEqual([
      {
        policy: 'default/rule1',
        direction: 'ingress',
        ruleIndex: 0,
        detail: 'admits TCP/80 from/to namespace default and pods org=empire only',
      },
    ]);
  });

  it('uses the labels the flow carries (Cilium k8s: labels already stripped, meta labels ignored)', () => {
    const a = attributeFlow(
      flow({
        src: {
          kind: 'pod',
          namespace: 'default',
          pod: 'new-pod',
          labels: {
            org: 'empire',
            class: 'tiefighter',
            'io.kubernetes.pod.namespace': 'default',
            'io.cilium.k8s.policy.cluster': 'kind',
          },
        },
        dstPort: 443,
      }),
      inventory(),
    );
    expect(a.level).toBe('inferred');
    expect(a.reason).toMatch(/closest: default\/rule1 ingress\[0\] admits this peer on TCP\/80 only/);
  });

  it('tries both sides when the direction is unknown and names the egress side', () => {
    const a = attributeFlow(
      flow({
        direction: 'unknown',
        src: { kind: 'pod', namespace: 'default', pod: 'tiefighter' },
        dst: { kind: 'world', ip: '1.1.1.1' },
        dstPort: 443,
      }),
      inventory(),
    );
    expect(a).toMatchObject({ level: 'inferred', direction: 'egress', isolatedBy: ['default/egress-lockdown'] });
    expect(a.reason).toMatch(
      /^no rule of default\/egress-lockdown admits TCP\/443 to 1\.1\.1\.1 \(egress from default\/class=tiefighter,org=empire is isolated: denied by default isolation\)/,
    );
  });

  it('names the tier of an explicit deny (an Admin-tier ClusterNetworkPolicy over the NetworkPolicy that admits)', () => {
    const loaded = parseManifestText(
      `${CLUSTER}---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: no-tiefighters}
spec:
  tier: Admin
  priority: 5
  subject: {namespaces: {}}
  ingress:
  - {action: Deny, from: [{pods: {podSelector: {matchLabels: {class: tiefighter}}}}]}
`,
      'cluster.yaml',
    );
    const a = attributeFlow(
      flow({ src: { kind: 'pod', namespace: 'default', pod: 'tiefighter', ip: '10.244.1.61' } }),
      buildInventory(loaded.objects),
    );
    expect(a.policies).toEqual([
      { kind: 'NetworkPolicy', namespace: 'default', name: 'rule1' },
      {
        kind: 'ClusterNetworkPolicy',
        name: 'no-tiefighters',
        tier: 'Admin',
        action: 'deny',
        ruleIndex: 0,
        direction: 'ingress',
      },
    ]);
    expect(a.reason).toBe(
      'explicit deny in tier Admin: no-tiefighters ingress[0] denies TCP/80 from default/class=tiefighter,org=empire',
    );
  });

  it('is unknown when there is no inventory for the enforcing namespace, and never guesses', () => {
    const a = attributeFlow(
      flow({ dst: { kind: 'pod', namespace: 'payments', pod: 'api-0', labels: { app: 'api' } } }),
      inventory(),
    );
    expect(a).toEqual({ level: 'unknown', policies: [], reason: 'no policy inventory for namespace payments' });
    expect(attributeFlow(flow({}), PolicyInventory.empty())).toMatchObject({
      level: 'unknown',
      reason: expect.stringMatching(/no policy inventory is loaded/),
    });
  });

  it('is unknown (with the isolating policies) when the loaded policies would admit the flow', () => {
    const a = attributeFlow(flow({ src: { kind: 'pod', namespace: 'default', pod: 'tiefighter' } }), inventory());
    expect(a.level).toBe('unknown');
    expect(a.isolatedBy).toEqual(['default/rule1']);
    expect(a.reason).toMatch(/the loaded policies admit TCP\/80/);
  });

  it('is unknown for non-policy drops', () => {
    expect(attributeFlow(flow({ verdict: 'dropped', dropReason: 'INVALID_SOURCE_IP' }), inventory())).toMatchObject({
      level: 'unknown',
      reason: expect.stringMatching(/INVALID_SOURCE_IP/),
    });
  });

  it('is cheap on repeat: same decision and attribution object from the caches; follows new snapshots', () => {
    let inv = inventory();
    const source = { current: () => inv };
    const att = new InventoryFlowAttributor(source);
    const a1 = att.attribute(flow({}));
    const a2 = att.attribute(flow({ id: 'f2' }));
    expect(a2).toBe(a1);
    const ev1 = att.currentEvaluator();
    // The repeat is answered from the attribution memo: the decision was made once.
    expect(ev1.cacheStats().misses).toBe(1);
    inv = buildInventory(inventory().pods.map((p) => p)); // a snapshot without policies (namespace still covered by pods)
    expect(att.currentEvaluator()).not.toBe(ev1);
    expect(att.attribute(flow({})).level).toBe('unknown');
  });

  it('fills in labels from endpoints observed on earlier flows', () => {
    const loaded = parseManifestText(
      CLUSTER.replace(/- \{apiVersion: v1, kind: Pod, metadata: \{name: xwing.*\n/, ''),
      'c.yaml',
    );
    const ev = new NetworkPolicyEvaluator(buildInventory(loaded.objects));
    const att = new InventoryFlowAttributor(ev);
    att.attribute(
      flow({
        verdict: 'allowed',
        src: { kind: 'pod', namespace: 'default', pod: 'xwing', ip: '10.244.1.60', labels: { org: 'empire' } },
      }),
    );
    const a = att.attribute(flow({ src: { kind: 'pod', namespace: 'default', ip: '10.244.1.60' }, dstPort: 81 }));
    expect(a.reason).toMatch(/from default\/org=empire/);
  });
});

describe('attribution of the shared Hubble samples', () => {
  it('infers the policies for both POLICY_DENIED drops with test/policy/fixtures/hubble-samples-cluster.yaml', async () => {
    const { loadInventory } = await import('./policy-inventory.js');
    const path = await import('node:path');
    const inv = await loadInventory([path.resolve(process.cwd(), 'test/policy/fixtures/hubble-samples-cluster.yaml')]);
    const att = new InventoryFlowAttributor(inv);
    // Sample 2: xwing -> deathstar TCP/80, no direction, no labels.
    const a = att.attribute(flow({ direction: 'unknown' }));
    expect(a).toMatchObject({ level: 'inferred', isolatedBy: ['default/rule1'], direction: 'ingress' });
    // Sample 3: cilium-test-5 client -> 1.1.1.1 TCP/80, egress, Cilium labels.
    const b = att.attribute(
      flow({
        direction: 'egress',
        src: {
          kind: 'pod',
          namespace: 'cilium-test-5',
          pod: 'client-645b68dcf7-2jmrw',
          ip: '10.244.3.30',
          labels: {
            'io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name': 'cilium-test-5',
            'io.kubernetes.pod.namespace': 'cilium-test-5',
            kind: 'client',
            name: 'client',
          },
        },
        dst: { kind: 'world', ip: '1.1.1.1', names: ['one.one.one.one'] },
      }),
    );
    expect(b).toMatchObject({
      level: 'inferred',
      isolatedBy: ['cilium-test-5/client-egress-only-dns'],
      direction: 'egress',
    });
    expect(b.policies[0]).toEqual({
      kind: 'CiliumNetworkPolicy',
      namespace: 'cilium-test-5',
      name: 'client-egress-only-dns',
    });
  });
});

describe('attribution memo', () => {
  it('maps one label object right for two attributors and across snapshots, and leaves it as it was', () => {
    const labels = { org: 'alliance', class: 'xwing' };
    const labelled = (port: number): FlowRecord =>
      flow({ dstPort: port, src: { kind: 'pod', namespace: 'default', pod: 'xwing', ip: '10.244.1.60', labels } });
    const self = '(ingress to default/class=deathstar,org=empire is isolated: denied by default isolation)';
    const denied = `no rule of default/rule1 admits TCP/81 from default/class=xwing,org=alliance ${self}`;
    let inv = inventory();
    const first = new InventoryFlowAttributor({ current: () => inv });
    const second = new InventoryFlowAttributor(inventory());
    for (let round = 0; round < 2; round++) {
      expect(first.attribute(labelled(81)).reason).toBe(denied);
      expect(second.attribute(labelled(81)).reason).toBe(denied);
    }
    // A snapshot without the policies: the mapping made for the first snapshot is not reused.
    inv = buildInventory(inventory().pods.map((p) => p));
    expect(first.attribute(labelled(81))).toMatchObject({ level: 'unknown' });
    expect(second.attribute(labelled(81)).reason).toBe(denied);
    expect(labels).toStrictEqual({ org: 'alliance', class: 'xwing' });
    expect(Object.keys(labels)).toEqual(['org', 'class']);
    expect(JSON.stringify({ ...labels })).toBe('{"org":"alliance","class":"xwing"}');
    // Frozen label objects are mapped all the same.
    const frozen = Object.freeze({ org: 'alliance', class: 'xwing' });
    const f = flow({ dstPort: 81, src: { kind: 'pod', namespace: 'default', pod: 'xwing', labels: frozen } });
    expect(second.attribute(f).reason).toBe(denied);
    expect(second.attribute({ ...f, id: 'again' }).reason).toBe(denied);
  });

  it('tells apart flows with the same outcome but not the same reason (the port in it)', () => {
    const attributor = new InventoryFlowAttributor(inventory());
    // xwing → deathstar on 81 and 82: the same outcome for every rule (the same direction
    // decisions), the same identities; only the port in the reason differs.
    const self = '(ingress to default/class=deathstar,org=empire is isolated: denied by default isolation)';
    for (let round = 0; round < 2; round++) {
      expect(attributor.attribute(flow({ dstPort: 81 })).reason).toBe(
        `no rule of default/rule1 admits TCP/81 from default/class=xwing,org=alliance ${self}`,
      );
      expect(attributor.attribute(flow({ dstPort: 82 })).reason).toBe(
        `no rule of default/rule1 admits TCP/82 from default/class=xwing,org=alliance ${self}`,
      );
    }
  });

  it('stays within its cap for many distinct external addresses and answers correctly after eviction', () => {
    const attributor = new InventoryFlowAttributor(inventory(), { attributionCacheSize: 100 });
    const scanner = (i: number): FlowRecord =>
      flow({
        direction: 'egress',
        src: { kind: 'pod', namespace: 'default', pod: 'tiefighter', ip: '10.244.1.61' },
        dst: { kind: 'world', ip: `203.0.${Math.floor(i / 250)}.${(i % 250) + 1}` },
        dstPort: 443,
      });
    for (let i = 0; i < 5_000; i++) {
      const a = attributor.attribute(scanner(i));
      expect(a.level).toBe('inferred');
      expect(a.reason).toContain(`TCP/443 to 203.0.${Math.floor(i / 250)}.${(i % 250) + 1} `);
      expect(attributor.attributionCacheStats().size).toBeLessThanOrEqual(100);
    }
    // The first address was evicted long ago: attributed again, with its own address.
    const again = attributor.attribute(scanner(0));
    expect(again.reason).toBe(
      'no rule of default/egress-lockdown admits TCP/443 to 203.0.0.1 (egress from default/class=tiefighter,org=empire is isolated: denied by default isolation)' +
        '; closest: default/egress-lockdown egress[0] admits any port from/to namespace default and pods class=deathstar only',
    );
    expect(again.isolatedBy).toEqual(['default/egress-lockdown']);
  });
});

describe('reportedOnlyAttributor (no inventory): the same reported rule as the inventory attributor', () => {
  it('reports the pending deny entries of an audit flow, not the enforced ones', () => {
    const f = flow({
      source: 'calico',
      verdict: 'audit',
      policies: [
        { kind: 'CalicoNetworkPolicy', namespace: 'default', name: 'enforced-deny', action: 'deny', stage: 'enforced' },
        { kind: 'CalicoNetworkPolicy', namespace: 'default', name: 'staged-deny', action: 'deny', stage: 'pending' },
      ],
    });
    const a = reportedOnlyAttributor.attribute(f);
    expect(a.level).toBe('reported');
    expect(a.policies).toEqual([
      { kind: 'CalicoNetworkPolicy', namespace: 'default', name: 'staged-deny', action: 'deny' },
    ]);
    expect(a).toEqual(attributeFlow(f, inventory()));
  });

  it('reports an end-of-tier entry (ruleIndex -1) of a denied flow', () => {
    const f = flow({
      source: 'calico',
      policies: [
        {
          kind: 'CalicoNetworkPolicy',
          namespace: 'default',
          name: 'allow-web',
          tier: 'security',
          action: 'pass',
          ruleIndex: -1,
          stage: 'enforced',
        },
      ],
    });
    const a = reportedOnlyAttributor.attribute(f);
    expect(a.level).toBe('reported');
    expect(a.policies).toEqual([
      {
        kind: 'CalicoNetworkPolicy',
        namespace: 'default',
        name: 'allow-web',
        tier: 'security',
        action: 'pass',
        ruleIndex: -1,
      },
    ]);
    expect(a.reason).toBe('calico reported end of tier security (after default/allow-web) denied this flow');
  });

  it('is unknown when the source named nothing', () => {
    expect(reportedOnlyAttributor.attribute(flow({}))).toEqual({
      level: 'unknown',
      policies: [],
      reason: 'the source named no policy and no policy inventory is loaded',
    });
  });
});
