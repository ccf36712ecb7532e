import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import type { FlowPolicy, FlowRecord } from '../../flow/flow-record.js';
import { validateFlowRecord } from '../../flow/flow-record.validator.js';
import { calicoVerdict, deriveWorkload } from './calico-common.js';
import {
  CalicoFlowLogMapper,
  CalicoLineMapper,
  CalicoRecordError,
  calicoRecordId,
  mapCalicoPolicies,
  SKIP_STALE_DENY,
} from './calico-flow-log.mapper.js';
import { parsePolicyStrings, parsePolicyTrace, verdictEntry } from './calico-policy-string.parser.js';
import { mapGoldmanePolicyHits, type GoldmanePolicyHit } from './goldmane-flow.mapper.js';

interface Sample {
  sample_id: string;
  record: Record<string, unknown>;
}

const samples = new Map<string, Sample>();
for (const line of readFileSync(
  new URL('../../../test/fixtures/calico/flowlog-samples.jsonl', import.meta.url),
  'utf8',
).split('\n')) {
  if (!line.trim()) continue;
  const s = JSON.parse(line) as Sample;
  samples.set(s.sample_id, s);
}

function rec(id: string): Record<string, unknown> {
  const s = samples.get(id);
  if (!s) throw new Error(`no sample ${id}`);
  return s.record;
}

const mapper = new CalicoFlowLogMapper();

/** Maps a sample through the line path (JSON text), validates it, returns the record. */
function mapSample(id: string): FlowRecord {
  const line = JSON.stringify(rec(id));
  const res = mapper.mapLine(line);
  if (!res.record) throw new Error(`sample ${id} skipped: ${res.skipped}`);
  validateFlowRecord(JSON.parse(JSON.stringify(res.record)));
  expect(res.record.id).toBe(calicoRecordId(line));
  return res.record;
}

const pol = (p: Partial<FlowPolicy>): FlowPolicy => ({ stage: 'enforced', ...p }) as FlowPolicy;

describe('CalicoFlowLogMapper: shared samples', () => {
  it('S01: dst-reported allow, CronJob source, Deployment dest, one policy (pending identical)', () => {
    const r = mapSample('S01');
    expect(r).toMatchObject({
      source: 'calico',
      cluster: 'default',
      node: 'asincu-bz-z2z1-kadm-infra-0',
      time: '2023-02-03T23:58:08.000Z',
      endTime: '2023-02-04T00:03:21.000Z',
      verdict: 'allowed',
      direction: 'ingress',
      reporter: 'dst',
      protocol: 'UDP',
      dstPort: 53,
      count: 54,
      packets: 120,
      bytes: 20330,
    });
    expect(r.srcPort).toBeUndefined();
    expect(r.dropReason).toBeUndefined();
    expect(r.src).toEqual({
      kind: 'pod',
      namespace: 'tigera-elasticsearch',
      nameAggr: 'elastic-curator-27924480-*',
      workload: { kind: 'CronJob', name: 'elastic-curator' },
      labels: {
        'job-name': 'elastic-curator-27924480',
        'k8s-app': 'elastic-curator',
        'controller-uid': 'eb9af69a-7bb6-4618-baed-5a50097ee6c1',
      },
    });
    expect(r.dst).toMatchObject({
      kind: 'pod',
      namespace: 'kube-system',
      nameAggr: 'coredns-565d847f94-*',
      workload: { kind: 'Deployment', name: 'coredns' },
      labels: { 'pod-template-hash': '565d847f94', 'k8s-app': 'kube-dns' },
    });
    expect(r.dst.pod).toBeUndefined();
    expect(r.dst.ip).toBeUndefined();
    expect(r.dst.service).toBeUndefined();
    expect(r.policies).toEqual([
      pol({
        kind: 'CalicoNetworkPolicy',
        namespace: 'kube-system',
        name: 'cluster-dns',
        tier: 'calico-system',
        action: 'allow',
        ruleIndex: 0,
      }),
    ]);
  });

  it('S02: StatefulSet dest from its labels', () => {
    const r = mapSample('S02');
    expect(r).toMatchObject({
      verdict: 'allowed',
      direction: 'ingress',
      protocol: 'TCP',
      dstPort: 9200,
      count: 2,
      packets: 69,
      bytes: 6132,
    });
    expect(r.src.workload).toEqual({ kind: 'Deployment', name: 'tigera-linseed' });
    expect(r.dst.workload).toEqual({ kind: 'StatefulSet', name: 'tigera-secure-es-7f5dee596fef130f' });
    expect(r.policies).toEqual([
      pol({
        kind: 'CalicoNetworkPolicy',
        namespace: 'tigera-elasticsearch',
        name: 'elasticsearch-access',
        tier: 'calico-system',
        action: 'allow',
        ruleIndex: 2,
      }),
    ]);
  });

  it('S03: src-reported egress, DaemonSet source, Kubernetes Service', () => {
    const r = mapSample('S03');
    expect(r).toMatchObject({
      verdict: 'allowed',
      direction: 'egress',
      reporter: 'src',
      protocol: 'UDP',
      dstPort: 53,
      count: 36,
    });
    expect(r.src.workload).toEqual({ kind: 'DaemonSet', name: 'compliance-benchmarker' });
    expect(r.dst.service).toEqual({ namespace: 'kube-system', name: 'kube-dns', port: 53 });
    expect(r.policies).toEqual([
      pol({
        kind: 'CalicoNetworkPolicy',
        namespace: 'tigera-compliance',
        name: 'compliance-access',
        tier: 'calico-system',
        action: 'allow',
        ruleIndex: 1,
      }),
    ]);
  });

  it('S04: DaemonSet to Deployment behind a Service', () => {
    const r = mapSample('S04');
    expect(r).toMatchObject({ verdict: 'allowed', direction: 'egress', dstPort: 5554, packets: 63, bytes: 84751 });
    expect(r.src.workload).toEqual({ kind: 'DaemonSet', name: 'fluentd-node' });
    expect(r.dst.workload).toEqual({ kind: 'Deployment', name: 'tigera-secure-es-gateway' });
    expect(r.dst.service).toEqual({
      namespace: 'tigera-elasticsearch',
      name: 'tigera-secure-es-gateway-http',
      port: 9200,
    });
    expect(r.policies).toEqual([
      pol({
        kind: 'CalicoNetworkPolicy',
        namespace: 'tigera-fluentd',
        name: 'allow-fluentd-node',
        tier: 'calico-system',
        action: 'allow',
        ruleIndex: 3,
      }),
    ]);
  });

  it.each(['S05', 'S06'])('%s: pass then Profile allow', (id) => {
    const r = mapSample(id);
    expect(r.verdict).toBe('allowed');
    expect(r.direction).toBe('ingress');
    expect(r.policies).toEqual([
      pol({
        kind: 'CalicoNetworkPolicy',
        namespace: 'kube-system',
        name: 'cluster-dns',
        tier: 'calico-system',
        action: 'pass',
        ruleIndex: 1,
      }),
      pol({ kind: 'Profile', name: 'kns.kube-system', action: 'allow', ruleIndex: 0 }),
    ]);
  });

  it('S05: a private network source is kind network, aggregated as pvt, no labels', () => {
    const r = mapSample('S05');
    expect(r.src).toEqual({ kind: 'network', nameAggr: 'pvt' });
    expect(r.count).toBe(72);
  });

  it('S06: Deployment source', () => {
    expect(mapSample('S06').src.workload).toEqual({ kind: 'Deployment', name: 'es-calico-kube-controllers' });
  });

  it('S07: felix line of the 4-field era, all_policies only, no host', () => {
    const r = mapSample('S07');
    expect(r).toMatchObject({
      verdict: 'allowed',
      direction: 'ingress',
      time: '2019-12-31T23:24:17.000Z',
      count: 41,
      packets: 74,
    });
    expect(r.node).toBeUndefined();
    expect(r.src.workload).toEqual({ kind: 'Deployment', name: 'intrusion-detection-controller' });
    expect(r.policies).toEqual([pol({ kind: 'Profile', name: 'kns.kube-system', action: 'allow' })]);
  });

  it('S08: index 1 alone, egress', () => {
    const r = mapSample('S08');
    expect(r).toMatchObject({ verdict: 'allowed', direction: 'egress' });
    expect(r.src.workload).toEqual({ kind: 'DaemonSet', name: 'compliance-benchmarker' });
    expect(r.policies).toEqual([pol({ kind: 'Profile', name: 'kns.tigera-compliance', action: 'allow' })]);
  });

  it('S09: 4-field strings in enforced/pending', () => {
    const r = mapSample('S09');
    expect(r).toMatchObject({
      verdict: 'allowed',
      direction: 'egress',
      node: 'suraiya-bz-wz7r-kadm-ms',
      time: '2021-03-08T18:25:04.000Z',
      dstPort: 9200,
    });
    expect(r.src.workload).toEqual({ kind: 'Deployment', name: 'calico-kube-controllers' });
    expect(r.policies).toEqual([pol({ kind: 'Profile', name: 'kns.calico-system', action: 'allow' })]);
  });

  it('S10', () => {
    const r = mapSample('S10');
    expect(r).toMatchObject({
      verdict: 'allowed',
      direction: 'egress',
      time: '2021-11-25T08:13:28.000Z',
      count: 6,
      packets: 138,
      bytes: 24583,
    });
    expect(r.src.workload).toEqual({ kind: 'Deployment', name: 'tigera-manager' });
    expect(r.policies).toEqual([
      pol({
        kind: 'CalicoNetworkPolicy',
        namespace: 'tigera-manager',
        name: 'manager-access',
        tier: 'calico-system',
        action: 'allow',
        ruleIndex: 0,
      }),
    ]);
  });

  it('S12: no aggregation (pod names, IPs, ports); pending staged deny makes it audit', () => {
    const r = mapSample('S12');
    expect(r).toMatchObject({
      verdict: 'audit',
      dropReason: 'PENDING_POLICY_DENY',
      direction: 'ingress',
      srcPort: 42106,
      dstPort: 80,
      protocol: 'TCP',
      node: 'bz-n8kf-kadm-node-1',
    });
    expect(r.src).toMatchObject({
      kind: 'pod',
      pod: 'access-6b687c8dcb-zn5s2',
      nameAggr: 'access-6b687c8dcb-*',
      namespace: 'policy-demo',
      ip: '192.168.47.9',
      workload: { kind: 'Deployment', name: 'access' },
      labels: { app: 'access', 'pod-template-hash': '6b687c8dcb' },
    });
    expect(r.dst).toMatchObject({
      pod: 'nginx-86c57db685-h6792',
      ip: '192.168.138.79',
      workload: { kind: 'Deployment', name: 'nginx' },
    });
    expect(r.policies).toEqual([
      pol({
        kind: 'CalicoNetworkPolicy',
        namespace: 'ns1',
        name: 'policy1',
        tier: 'tier1',
        action: 'pass',
        ruleIndex: 3,
      }),
      pol({
        kind: 'CalicoNetworkPolicy',
        namespace: 'policy-demo',
        name: 'access-nginx',
        tier: 'default',
        action: 'allow',
        ruleIndex: 2,
      }),
      pol({
        kind: 'CalicoNetworkPolicy',
        namespace: 'ns1',
        name: 'policy1',
        tier: 'tier1',
        action: 'pass',
        ruleIndex: 3,
        stage: 'pending',
      }),
      pol({
        kind: 'StagedNetworkPolicy',
        namespace: 'ns2',
        name: 'tier1.policy1',
        tier: 'tier2',
        action: 'deny',
        ruleIndex: 1,
        stage: 'pending',
      }),
    ]);
  });

  it('S13: partial docs record without times is rejected clearly; with times, "dst, fwd" is dst', () => {
    expect(() => mapper.mapLine(JSON.stringify(rec('S13')))).toThrow('start_time is required');
    const r = mapper.mapRecord({ ...rec('S13'), start_time: 1700000000, end_time: 1700000300 }).record!;
    validateFlowRecord(r);
    expect(r).toMatchObject({
      verdict: 'allowed',
      reporter: 'dst',
      direction: 'ingress',
      dstPort: 22,
      count: 1,
      packets: 18,
      node: 'my-host',
    });
    expect(r.src).toEqual({
      kind: 'unknown',
      namespace: 'client-pods-namespace',
      nameAggr: 'client-pods-*',
      ip: '10.0.0.1',
    });
    expect(r.policies).toEqual([
      pol({ kind: 'Profile', name: 'kns.maintenance-server', action: 'allow', ruleIndex: 0 }),
    ]);
  });

  it('S14: forwarded-only record uses transit_policies; pub is world', () => {
    const r = mapper.mapRecord({ ...rec('S14'), start_time: 1700000000, end_time: 1700000300 }).record!;
    validateFlowRecord(r);
    expect(r).toMatchObject({ verdict: 'allowed', direction: 'unknown', dstPort: 30080 });
    expect(r.reporter).toBeUndefined();
    expect(r.src).toEqual({ kind: 'world', nameAggr: 'pub', ip: '34.0.113.100' });
    expect(r.dst).toEqual({ kind: 'world', nameAggr: 'pub', ip: '66.11.155.1' });
    expect(r.policies).toEqual([
      pol({ kind: 'GlobalNetworkPolicy', name: 'allow-external-http', tier: 'default', action: 'allow', ruleIndex: 0 }),
    ]);
  });

  it('S15: legacy all_policies out of order: staged hits are pending, the flow is allowed by the profile', () => {
    const p = mapCalicoPolicies(rec('S15').policies, false);
    expect(p.policies).toEqual([
      pol({
        kind: 'GlobalNetworkPolicy',
        name: 'security-default-pass',
        tier: 'security',
        action: 'pass',
        ruleIndex: 0,
      }),
      pol({
        kind: 'StagedNetworkPolicy',
        namespace: 'stars',
        name: 'stars-kcxyk',
        tier: 'namespace-isolation',
        action: 'allow',
        ruleIndex: 2,
        stage: 'pending',
      }),
      pol({
        kind: 'StagedGlobalNetworkPolicy',
        name: 'default-deny',
        tier: 'default',
        action: 'deny',
        ruleIndex: -1,
        stage: 'pending',
      }),
      pol({ kind: 'Profile', name: 'kns.stars', action: 'allow', ruleIndex: 0 }),
    ]);
    expect(p.enforcedAction).toBe('allow');
    expect(p.pendingAction).toBe('allow');
    expect(calicoVerdict('allow', p.pendingAction).verdict).toBe('allowed');
  });

  it('S17: explicit deny by rule 0 of GNP security.tenant-histershop', () => {
    const r = rec('S17') as { action: 'deny'; policies_strings: string[] };
    const ps = parsePolicyStrings(r.policies_strings, 'enforced');
    expect(ps).toEqual([
      pol({ kind: 'GlobalNetworkPolicy', name: 'tenant-histershop', tier: 'security', action: 'deny', ruleIndex: 0 }),
    ]);
    expect(calicoVerdict(r.action, undefined)).toEqual({ verdict: 'denied', dropReason: 'POLICY_DENY' });
  });

  it('S18: profile-allowed flow with a staged recommendation hit', () => {
    const trace = parsePolicyTrace((rec('S18') as { policies_strings: string[] }).policies_strings, 'pending');
    expect(trace.map((e) => e.policy)).toEqual([
      pol({
        kind: 'StagedNetworkPolicy',
        namespace: 'curl-ns',
        name: 'curl-ns-vfzgh',
        tier: 'namespace-isolation',
        action: 'allow',
        ruleIndex: 3,
        stage: 'pending',
      }),
      pol({ kind: 'Profile', name: 'kns.curl-ns', action: 'allow', ruleIndex: 0, stage: 'pending' }),
    ]);
    expect(verdictEntry(trace)?.policy.kind).toBe('Profile');
  });

  it('S19: whisker policies: enforced Profile allow, pending EndOfTier deny named by its trigger -> audit', () => {
    const p = rec('S19').policies as { enforced: GoldmanePolicyHit[]; pending: GoldmanePolicyHit[] };
    const enforced = mapGoldmanePolicyHits(p.enforced, 'enforced');
    const pending = mapGoldmanePolicyHits(p.pending, 'pending');
    expect(enforced.policies).toEqual([
      pol({ kind: 'Profile', name: 'kns.local-path-storage', action: 'allow', ruleIndex: 0 }),
    ]);
    expect(pending.policies).toEqual([
      pol({
        kind: 'GlobalNetworkPolicy',
        name: 'default-global-deny-network-policy',
        tier: 'default',
        action: 'deny',
        ruleIndex: -1,
        stage: 'pending',
      }),
    ]);
    expect(calicoVerdict(enforced.verdictAction, pending.verdictAction)).toEqual({
      verdict: 'audit',
      dropReason: 'PENDING_POLICY_DENY',
    });
  });

  it('S20: a felix syslog line is not a flows.log record', () => {
    const line = (rec('S20') as { raw_line: string }).raw_line;
    expect(() => new CalicoLineMapper().map(line)).toThrow(CalicoRecordError);
    expect(() => new CalicoLineMapper().map(line)).toThrow(/not JSON/);
  });

  it('S22: explicit-kind strings; allowed flow whose staged end-of-tier would deny -> audit', () => {
    const r = rec('S22') as {
      action: 'allow';
      reporter: 'src';
      enforced_policies: string[];
      pending_policies: string[];
    };
    const p = mapCalicoPolicies(
      { enforced_policies: r.enforced_policies, pending_policies: r.pending_policies },
      false,
    );
    expect(p.policies).toEqual([
      pol({
        kind: 'CalicoNetworkPolicy',
        namespace: 'default',
        name: 'np1-1',
        tier: 'tier1',
        action: 'pass',
        ruleIndex: 0,
      }),
      pol({ kind: 'Profile', name: 'kns.default', action: 'allow', ruleIndex: 0 }),
      pol({
        kind: 'CalicoNetworkPolicy',
        namespace: 'default',
        name: 'np1-1',
        tier: 'tier1',
        action: 'pass',
        ruleIndex: 0,
        stage: 'pending',
      }),
      pol({
        kind: 'StagedNetworkPolicy',
        namespace: 'default',
        name: 'np2-1',
        tier: 'tier2',
        action: 'deny',
        ruleIndex: -1,
        stage: 'pending',
      }),
    ]);
    expect(calicoVerdict(r.action, p.pendingAction).verdict).toBe('audit');
    // the same through a whole record
    const full = mapper.mapRecord({
      start_time: 1700000000,
      end_time: 1700000015,
      source_type: 'wep',
      source_name: '-',
      source_name_aggr: 'client-*',
      source_namespace: 'default',
      dest_type: 'wep',
      dest_name_aggr: 'server-*',
      dest_namespace: 'default',
      dest_port: 8080,
      proto: 'tcp',
      action: r.action,
      reporter: r.reporter,
      policies: { enforced_policies: r.enforced_policies, pending_policies: r.pending_policies },
      packets_in: 1,
      packets_out: 1,
      num_flows: 1,
    }).record!;
    validateFlowRecord(full);
    expect(full).toMatchObject({ verdict: 'audit', direction: 'egress', reporter: 'src' });
  });

  it('every full sample record maps to a valid FlowRecord', () => {
    for (const id of ['S01', 'S02', 'S03', 'S04', 'S05', 'S06', 'S07', 'S08', 'S09', 'S10', 'S12']) {
      expect(() => mapSample(id)).not.toThrow();
    }
  });
});

describe('CalicoFlowLogMapper: rules', () => {
  const base = {
    start_time: 1700000000,
    end_time: 1700000300,
    source_ip: null,
    source_name: '-',
    source_name_aggr: 'multitool',
    source_namespace: 'default',
    source_port: null,
    source_type: 'wep',
    source_labels: null,
    dest_ip: null,
    dest_name: '-',
    dest_name_aggr: 'checkoutservice-69c8ff664b-*',
    dest_namespace: 'hipstershop',
    dest_port: 5050,
    dest_type: 'wep',
    dest_labels: null,
    proto: 'tcp',
    action: 'deny',
    reporter: 'dst',
    policies: {
      enforced_policies: [
        '1|app-hipstershop|hipstershop/app-hipstershop.checkoutservice|deny|-1',
        '0|security|security.tenant-histershop|pass|0',
      ],
      pending_policies: [
        '0|security|security.tenant-histershop|pass|0',
        '1|app-hipstershop|hipstershop/app-hipstershop.checkoutservice|deny|-1',
      ],
    },
    bytes_in: 300,
    bytes_out: 0,
    packets_in: 5,
    packets_out: 0,
    num_flows: 1,
    host: 'node-1',
  };

  it('a dst-reported deny is an ingress denied flow attributed by the end-of-tier entry', () => {
    const r = mapper.mapRecord(base).record!;
    validateFlowRecord(r);
    expect(r).toMatchObject({
      verdict: 'denied',
      dropReason: 'POLICY_DENY',
      direction: 'ingress',
      packets: 5,
      bytes: 300,
    });
    expect(r.src).toEqual({ kind: 'pod', namespace: 'default', pod: 'multitool', nameAggr: 'multitool' });
    expect(r.dst.workload).toEqual({ kind: 'Deployment', name: 'checkoutservice' });
    expect(r.policies.map((p) => `${p.stage}:${p.name}:${p.action}:${p.ruleIndex}`)).toEqual([
      'enforced:tenant-histershop:pass:0',
      'enforced:checkoutservice:deny:-1',
    ]);
  });

  it('skips zero-packet deny repeats (stale felix flows)', () => {
    expect(mapper.mapRecord({ ...base, packets_in: 0, packets_out: 0, bytes_in: 0 })).toEqual({
      skipped: SKIP_STALE_DENY,
    });
    expect(new CalicoLineMapper().map(JSON.stringify({ ...base, packets_in: 0 }))).toEqual({
      kind: 'skipped',
      what: SKIP_STALE_DENY,
    });
    // an idle allowed connection is real data
    expect(mapper.mapRecord({ ...base, action: 'allow', packets_in: 0 }).record).toBeDefined();
  });

  it('protocols, ICMP without ports, cluster from Linseed, configured default cluster', () => {
    const m = new CalicoFlowLogMapper({ cluster: 'prod-eu' });
    expect(m.mapRecord({ ...base, proto: 'icmp6', dest_port: null }).record!).toMatchObject({
      protocol: 'ICMPv6',
      cluster: 'prod-eu',
    });
    expect(m.mapRecord({ ...base, proto: 'icmp', dest_port: 0 }).record!.dstPort).toBeUndefined();
    expect(m.mapRecord({ ...base, proto: 'sctp' }).record!.protocol).toBe('SCTP');
    expect(m.mapRecord({ ...base, proto: '17' }).record!.protocol).toBe('UDP');
    expect(m.mapRecord({ ...base, proto: '103' }).record!.protocol).toBe('103');
    expect(m.mapRecord({ ...base, cluster: 'linseed-cluster' }).record!.cluster).toBe('linseed-cluster');
  });

  it('host endpoints, network sets', () => {
    const r = mapper.mapRecord({
      ...base,
      source_type: 'hep',
      source_name_aggr: 'node-1-eth0',
      source_namespace: '-',
      dest_type: 'ns',
      dest_name_aggr: 'allowed-egress',
      dest_namespace: 'shop',
    }).record!;
    expect(r.src).toEqual({
      kind: 'host',
      nameAggr: 'node-1-eth0',
      workload: { kind: 'HostEndpoint', name: 'node-1-eth0' },
    });
    expect(r.dst).toMatchObject({
      kind: 'network',
      namespace: 'shop',
      workload: { kind: 'NetworkSet', name: 'allowed-egress' },
    });
  });

  it('the same line always gets the same id; different lines differ', () => {
    const line = JSON.stringify(base);
    expect(mapper.mapLine(line).record!.id).toBe(mapper.mapLine(line).record!.id);
    expect(mapper.mapLine(JSON.stringify({ ...base, num_flows: 2 })).record!.id).not.toBe(
      mapper.mapLine(line).record!.id,
    );
  });

  const malformed: Array<[string, string, RegExp]> = [
    ['not JSON', '{"action":', /not JSON/],
    ['array', '[1,2]', /must be a JSON object/],
    ['no action', JSON.stringify({ ...base, action: undefined }), /action is required/],
    ['bad reporter', JSON.stringify({ ...base, reporter: 'sideways' }), /reporter must be src, dst or fwd/],
    [
      'bad policy',
      JSON.stringify({ ...base, policies: { enforced_policies: ['0|x'] } }),
      /bad Calico policy string "0\|x"/,
    ],
    ['bad time', JSON.stringify({ ...base, start_time: 'yesterday' }), /start_time must be epoch seconds/],
    ['no time', JSON.stringify({ ...base, start_time: undefined, end_time: undefined }), /start_time is required/],
    ['bad port', JSON.stringify({ ...base, dest_port: 70000 }), /dest_port must be a port number/],
    ['bad counter', JSON.stringify({ ...base, packets_in: -1 }), /packets_in must be a non-negative integer/],
    ['bad labels', JSON.stringify({ ...base, source_labels: 'app=x' }), /source_labels must be/],
    ['no proto', JSON.stringify({ ...base, proto: undefined }), /proto is required/],
  ];
  it.each(malformed)('rejects %s with a clear message', (_name, line, re) => {
    expect(() => new CalicoLineMapper().map(line)).toThrow(re);
  });

  it('blank lines are skipped', () => {
    expect(new CalicoLineMapper().map('   ')).toEqual({ kind: 'skipped', what: 'blank line' });
  });
});

describe('deriveWorkload', () => {
  it('derives only where sound', () => {
    expect(deriveWorkload('coredns-565d847f94-*', undefined)).toEqual({ kind: 'Deployment', name: 'coredns' });
    expect(deriveWorkload('fluentd-node-*', undefined)).toBeUndefined();
    expect(deriveWorkload('multitool', undefined)).toBeUndefined();
    expect(deriveWorkload('backup-28000000-*', { 'job-name': 'backup-28000000' })).toEqual({
      kind: 'CronJob',
      name: 'backup',
    });
    expect(deriveWorkload('migrate-*', { 'job-name': 'migrate' })).toEqual({ kind: 'Job', name: 'migrate' });
    expect(deriveWorkload('web-*', { app: 'web' })).toBeUndefined();
  });
});
