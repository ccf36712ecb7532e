import { describe, it, expect } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { validateFlowRecord } from '../../flow/flow-record.validator.js';
import {
  formatTimestamp,
  mapGetFlowsResponse,
  mapHubbleFlow,
  parseTimestamp,
  type HubbleFlowRecord,
} from './hubble-flow.mapper.js';
import { loadObserverPackage } from './hubble-proto.js';
import { protojsonToProtoObject } from './hubble-protojson.js';

const FIXTURE = new URL('../../../test/fixtures/hubble/observe-samples.jsonl', import.meta.url);
const lines = readFileSync(FIXTURE, 'utf8')
  .split('\n')
  .filter((l) => l.trim().length > 0);

function flowAt(i: number): HubbleFlowRecord {
  const r = mapGetFlowsResponse(JSON.parse(lines[i]));
  if (r.kind !== 'flow') throw new Error(`line ${i} is ${r.kind}`);
  return r.record;
}

/** Encode with our .proto and decode as grpc-js would: the gRPC object shape of the same flow. */
function viaGrpc(line: string): unknown {
  const def = loadObserverPackage()['observer.Observer'] as unknown as Record<
    string,
    { responseSerialize: (v: unknown) => Buffer; responseDeserialize: (b: Buffer) => unknown }
  >;
  const json: unknown = JSON.parse(line);
  const isResponse =
    typeof json === 'object' && json !== null && ('flow' in json || 'lost_events' in json || 'node_status' in json);
  const wrapped = isResponse ? json : { flow: json };
  return def.GetFlows.responseDeserialize(def.GetFlows.responseSerialize(protojsonToProtoObject(wrapped)));
}

describe('Hubble flow mapper on the shared samples', () => {
  it('has the 15 shared sample lines', () => {
    expect(lines).toHaveLength(15);
  });

  it('every flow sample passes validateFlowRecord', () => {
    for (let i = 0; i < lines.length; i++) {
      const r = mapGetFlowsResponse(JSON.parse(lines[i]));
      if (r.kind === 'flow') expect(() => validateFlowRecord(JSON.parse(JSON.stringify(r.record)))).not.toThrow();
    }
  });

  it('maps the same flow identically from protojson and from the gRPC object', () => {
    for (let i = 0; i < lines.length; i++) {
      const fromJson = mapGetFlowsResponse(JSON.parse(lines[i]));
      const fromGrpc = mapGetFlowsResponse(viaGrpc(lines[i]));
      expect(JSON.parse(JSON.stringify(fromGrpc))).toEqual(JSON.parse(JSON.stringify(fromJson)));
    }
  });

  it('0: unattributed non-policy drop (ICMPv6 router solicitation, empty endpoints)', () => {
    const r = flowAt(0);
    expect(r).toMatchObject({
      source: 'hubble',
      cluster: 'kind-kind',
      node: 'kind-worker',
      time: '2023-08-21T12:12:13.517394084Z',
      verdict: 'dropped',
      dropReason: 'INVALID_SOURCE_IP',
      direction: 'unknown',
      protocol: 'ICMPv6',
      icmpType: 133,
      icmpCode: 0,
      count: 1,
      policies: [],
    });
    expect(r.src).toMatchObject({ kind: 'unknown', ip: 'fe80::64d8:8aff:fe72:fc14' });
    expect(r.dst).toMatchObject({ kind: 'unknown', ip: 'ff02::2' });
    expect(r.reporter).toBeUndefined();
    expect(r.id).toMatch(/^[0-9a-f]{40}$/); // no uuid: stable hash
    expect(flowAt(0).id).toBe(r.id);
  });

  it('1: default-deny drop between two pods (no event type, pre-1.12 shape)', () => {
    const r = flowAt(1);
    expect(r).toMatchObject({
      cluster: 'kind-kind',
      node: 'kind-worker',
      verdict: 'denied',
      dropReason: 'POLICY_DENIED',
      direction: 'unknown',
      protocol: 'TCP',
      srcPort: 44916,
      dstPort: 80,
      policies: [],
    });
    expect(r.src).toMatchObject({ kind: 'pod', namespace: 'default', pod: 'xwing', ip: '10.244.1.60' });
    expect(r.dst).toMatchObject({
      kind: 'pod',
      namespace: 'default',
      pod: 'deathstar-7848d6c4d5-th9v2',
      ip: '10.244.1.5',
    });
    expect(r.eventType).toBeUndefined();
  });

  it('2: policy-verdict egress default deny to world (1.17+ shape)', () => {
    const r = flowAt(2);
    expect(r).toMatchObject({
      id: 'c2ecde95-7124-4b42-846c-fb0038e78aa8',
      cluster: 'default',
      node: 'kind-worker2',
      time: '2025-07-15T01:30:19.361221854Z',
      verdict: 'denied',
      dropReason: 'POLICY_DENIED',
      direction: 'egress',
      reporter: 'src',
      protocol: 'TCP',
      srcPort: 48748,
      dstPort: 80,
      eventType: 'policy-verdict',
      policyMatch: 'none',
      policies: [],
    });
    expect(r.src).toEqual({
      kind: 'pod',
      namespace: 'cilium-test-5',
      pod: 'client-645b68dcf7-2jmrw',
      workload: { kind: 'Deployment', name: 'client' },
      labels: { kind: 'client', name: 'client' },
      namespaceLabels: { 'app.kubernetes.io/name': 'cilium-cli', 'kubernetes.io/metadata.name': 'cilium-test-5' },
      serviceAccount: 'client',
      ip: '10.244.3.30',
      names: undefined,
      identity: 24009,
      service: undefined,
    });
    expect(r.dst).toMatchObject({
      kind: 'world',
      ip: '1.1.1.1',
      identity: 9,
      entities: ['world-ipv4'],
      names: ['one.one.one.one'],
    });
    expect(r.dst.labels).toBeUndefined();
    expect(r.l7).toBeUndefined();
  });

  it('3: lost_events line is a notice, not a flow', () => {
    expect(mapGetFlowsResponse(JSON.parse(lines[3]))).toEqual({
      kind: 'lost_events',
      source: 'HUBBLE_RING_BUFFER',
      numEventsLost: 1,
      nodeName: 'kubernetes/worker1',
      cpu: undefined,
    });
  });

  it('4: drop event (type 1, sub_type 133) without drop_reason_desc is a policy denial', () => {
    const r = flowAt(4);
    expect(r).toMatchObject({
      cluster: 'default',
      node: 'k8s1',
      time: '1970-01-01T00:20:34.567800Z',
      verdict: 'denied',
      dropReason: 'POLICY_DENIED',
      direction: 'unknown',
      eventType: 'drop',
      isReply: false,
      protocol: 'TCP',
      srcPort: 31793,
      dstPort: 8080,
    });
    expect(r.src).toMatchObject({ kind: 'host', identity: 4, ip: '1.1.1.1' }); // reserved health identity
    expect(r.dst).toMatchObject({ kind: 'pod', identity: 12345, ip: '2.2.2.2' }); // cluster-allocated identity
  });

  it('5: trace to-stack, reply (deprecated `reply` field), pod -> host', () => {
    const r = flowAt(5);
    expect(r).toMatchObject({
      cluster: 'default', // io.cilium.k8s.policy.cluster of the endpoint
      node: 'gke-ilya-otel-demo-1-ilya-otel-demo-1-6114bb84-zr1l',
      verdict: 'allowed',
      direction: 'ingress',
      reporter: 'dst',
      eventType: 'trace',
      isReply: true,
      protocol: 'TCP',
      srcPort: 15020,
      dstPort: 42044,
    });
    expect(r.dropReason).toBeUndefined();
    expect(r.src).toMatchObject({
      kind: 'pod',
      namespace: 'bookinfo',
      pod: 'reviews-v1-545db77b95-s6jb8',
      labels: { app: 'reviews', 'security.istio.io/tlsMode': 'istio', version: 'v1' },
      namespaceLabels: { 'istio-injection': 'enabled', 'kubernetes.io/metadata.name': 'bookinfo' },
      identity: 25339,
    });
    expect(r.dst).toMatchObject({ kind: 'host', identity: 1, entities: ['host'], ip: '10.0.2.1' });
  });

  it('6: trace to-endpoint, host -> pod', () => {
    const r = flowAt(6);
    expect(r).toMatchObject({
      verdict: 'allowed',
      direction: 'ingress',
      eventType: 'trace',
      srcPort: 42044,
      dstPort: 15020,
    });
    expect(r.isReply).toBeUndefined();
    expect(r.src).toMatchObject({ kind: 'host', ip: '10.0.2.1' });
    expect(r.dst).toMatchObject({
      kind: 'pod',
      namespace: 'bookinfo',
      pod: 'reviews-v1-545db77b95-s6jb8',
      labels: { app: 'reviews' },
    });
  });

  it('7: L7 DNS request', () => {
    const r = flowAt(7);
    expect(r).toMatchObject({
      verdict: 'allowed',
      direction: 'egress',
      eventType: 'l7',
      isReply: false,
      protocol: 'TCP',
      srcPort: 59102,
      dstPort: 53,
      l7: {
        type: 'dns',
        flowType: 'request',
        dnsQuery: 'istiod-istio-1611.istio-system.svc.istio-system.svc.cluster.local.',
      },
    });
    expect(r.src).toMatchObject({
      kind: 'pod',
      namespace: 'kube-system',
      pod: 'node-local-dns-88zrp',
      labels: { 'k8s-app': 'node-local-dns' },
    });
    expect(r.dst).toMatchObject({
      kind: 'pod',
      namespace: 'kube-system',
      pod: 'kube-dns-b4f5c58c7-vnx5s',
      labels: { 'k8s-app': 'kube-dns' },
    });
    expect(r.src.labels).toEqual({ 'k8s-app': 'node-local-dns' });
  });

  it('8: L7 DNS response', () => {
    const r = flowAt(8);
    expect(r).toMatchObject({ isReply: true, srcPort: 53, dstPort: 59102, l7: { type: 'dns', flowType: 'response' } });
    expect(r.l7?.summary).toContain('Non-Existent Domain');
  });

  it('9: L7 HTTP request to world', () => {
    const r = flowAt(9);
    expect(r).toMatchObject({
      verdict: 'allowed',
      direction: 'egress',
      dstPort: 9990,
      l7: { type: 'http', flowType: 'request', httpMethod: 'GET', httpUrl: 'http://10.128.0.4:9990/metrics' },
    });
    expect(r.l7?.httpCode).toBeUndefined();
    expect(r.src).toMatchObject({
      kind: 'pod',
      namespace: 'istio-system',
      pod: 'prometheus-6655946b9f-6xcpf',
      labels: { app: 'prometheus', release: 'istio' },
    });
    expect(r.src.namespaceLabels).toMatchObject({
      'addonmanager.kubernetes.io/mode': 'EnsureExists',
      'k8s-app': 'istio',
    });
    expect(r.dst).toMatchObject({ kind: 'world', identity: 2, ip: '10.128.0.4', entities: ['world'] });
  });

  it('10: L7 HTTP 503 response; a pod name wins over the world identity', () => {
    const r = flowAt(10);
    expect(r).toMatchObject({
      isReply: true,
      l7: { type: 'http', flowType: 'response', httpCode: 503, httpMethod: 'GET' },
    });
    expect(r.src).toMatchObject({ kind: 'pod', namespace: 'kube-system', pod: 'node-local-dns-r99x7', identity: 2 });
  });

  it('11: ICMP echo from host to the health endpoint', () => {
    const r = flowAt(11);
    expect(r).toMatchObject({
      cluster: 'default',
      node: 'kind-control-plane',
      protocol: 'ICMPv4',
      icmpType: 8,
      icmpCode: 0,
      direction: 'ingress',
      isReply: false,
    });
    expect(r.srcPort).toBeUndefined();
    expect(r.src).toMatchObject({ kind: 'host', entities: ['host'] });
    expect(r.dst).toMatchObject({ kind: 'host', entities: ['health'], identity: 4 });
  });

  it('12: remote-node -> health over the overlay, no direction', () => {
    const r = flowAt(12);
    expect(r).toMatchObject({ direction: 'unknown', protocol: 'ICMPv4', icmpType: 8 });
    expect(r.reporter).toBeUndefined();
    expect(r.src).toMatchObject({ kind: 'host', entities: ['remote-node'], identity: 6 });
    expect(r.dst).toMatchObject({ kind: 'host', entities: ['health'] });
  });

  it('13: UDP DNS to-proxy; cluster from the endpoint label', () => {
    const r = flowAt(13);
    expect(r).toMatchObject({
      cluster: 'kind-kind',
      node: 'kind-control-plane',
      protocol: 'UDP',
      srcPort: 54314,
      dstPort: 53,
      direction: 'egress',
      eventType: 'trace',
    });
    expect(r.src.labels).toEqual({
      app: 'ratings',
      'sidecar.opentelemetry.io/injected': 'bookinfo.otelcol-bookinfo',
      version: 'v1',
    });
    expect(r.dst).toMatchObject({
      kind: 'pod',
      namespace: 'kube-system',
      pod: 'coredns-558bd4d5db-w2m67',
      labels: { 'k8s-app': 'kube-dns' },
      serviceAccount: 'coredns',
    });
  });

  it('14: TCP pod -> pod via proxy', () => {
    const r = flowAt(14);
    expect(r).toMatchObject({
      cluster: 'kind-kind',
      protocol: 'TCP',
      srcPort: 35128,
      dstPort: 9080,
      verdict: 'allowed',
    });
    expect(r.src).toMatchObject({
      pod: 'productpage-v1-6b746f74dc-9rcxx',
      labels: { app: 'productpage', version: 'v1' },
    });
    expect(r.dst).toMatchObject({ pod: 'reviews-v2-7bf8c9648f-r7bs2', labels: { app: 'reviews', version: 'v2' } });
  });
});

describe('Hubble flow mapper rules', () => {
  const base = {
    time: '2025-01-02T03:04:05.123456789Z',
    uuid: 'u-1',
    IP: { source: '10.0.0.1', destination: '10.0.0.2', ipVersion: 'IPv4' },
    l4: { TCP: { source_port: 1000, destination_port: 443 } },
    node_name: 'prod/node-1',
  };

  it('maps every verdict', () => {
    const v = (verdict: unknown, extra: Record<string, unknown> = {}): string =>
      mapHubbleFlow({ ...base, verdict, ...extra }).verdict;
    expect(v('FORWARDED')).toBe('allowed');
    expect(v('REDIRECTED')).toBe('allowed');
    expect(v('TRANSLATED')).toBe('allowed');
    expect(v('TRACED')).toBe('allowed');
    expect(v('AUDIT')).toBe('audit');
    expect(v('ERROR')).toBe('other');
    expect(v(undefined)).toBe('other');
    expect(v(42)).toBe('other');
    expect(v('DROPPED', { drop_reason_desc: 'POLICY_DENY' })).toBe('denied');
    expect(v('DROPPED', { drop_reason_desc: 'AUTH_REQUIRED' })).toBe('denied');
    expect(v('DROPPED', { drop_reason_desc: 'CT_MAP_INSERTION_FAILED' })).toBe('dropped');
    expect(v('DROPPED')).toBe('dropped');
    expect(v(2, { drop_reason_desc: 181 })).toBe('denied'); // numbers from a decoder
    // L7 (Envoy) denial: no drop reason at all
    expect(v('DROPPED', { Type: 'L7', event_type: { type: 129 }, l7: { type: 'RESPONSE', http: { code: 403 } } })).toBe(
      'denied',
    );
  });

  it('keeps drop reason names, numeric fallbacks and unknown codes', () => {
    expect(mapHubbleFlow({ ...base, verdict: 'DROPPED', drop_reason: 181 }).dropReason).toBe('POLICY_DENY');
    expect(mapHubbleFlow({ ...base, verdict: 'DROPPED', drop_reason_desc: 250 }).dropReason).toBe('DROP_REASON_250');
    expect(mapHubbleFlow({ ...base, verdict: 'DROPPED', drop_reason_desc: 'SOME_FUTURE_REASON' }).dropReason).toBe(
      'SOME_FUTURE_REASON',
    );
    expect(mapHubbleFlow({ ...base, verdict: 'DROPPED', event_type: { type: 1, sub_type: 189 } })).toMatchObject({
      dropReason: 'AUTH_REQUIRED',
      verdict: 'denied',
    });
  });

  it('maps denied_by / allowed_by to policies, kind from Policy.kind or the derived-from label', () => {
    const r = mapHubbleFlow({
      ...base,
      verdict: 'DROPPED',
      drop_reason_desc: 'POLICY_DENY',
      event_type: { type: 5 },
      traffic_direction: 'INGRESS',
      policy_match_type: 2,
      ingress_denied_by: [
        {
          labels: [
            'k8s:io.cilium.k8s.policy.derived-from=CiliumNetworkPolicy',
            'k8s:io.cilium.k8s.policy.name=deny-db',
            'k8s:io.cilium.k8s.policy.namespace=shop',
            'k8s:io.cilium.k8s.policy.uid=1234',
          ],
          revision: '6',
        },
        { name: 'global-deny', kind: 'CiliumClusterwideNetworkPolicy', revision: '2' },
      ],
      egress_allowed_by: [{ name: 'allow-dns', namespace: 'shop', kind: 'NetworkPolicy' }],
    });
    expect(r.policyMatch).toBe('L3-L4');
    expect(r.policies).toEqual([
      { kind: 'CiliumNetworkPolicy', namespace: 'shop', name: 'deny-db', action: 'deny', stage: 'enforced' },
      {
        kind: 'CiliumClusterwideNetworkPolicy',
        namespace: undefined,
        name: 'global-deny',
        action: 'deny',
        stage: 'enforced',
      },
      { kind: 'NetworkPolicy', namespace: 'shop', name: 'allow-dns', action: 'allow', stage: 'enforced' },
    ]);
    expect(() => validateFlowRecord(JSON.parse(JSON.stringify(r)))).not.toThrow();
  });

  it('maps reserved identities to endpoint kinds', () => {
    const kind = (labels: string[], identity?: number, pod?: string): string =>
      mapHubbleFlow({ ...base, source: { labels, identity, pod_name: pod } }).src.kind;
    expect(kind(['reserved:world'])).toBe('world');
    expect(kind(['reserved:world-ipv6'])).toBe('world');
    expect(kind(['reserved:host'])).toBe('host');
    expect(kind(['reserved:remote-node'])).toBe('host');
    expect(kind(['reserved:kube-apiserver', 'reserved:host'])).toBe('host');
    expect(kind(['reserved:kube-apiserver'])).toBe('world');
    expect(kind(['reserved:health'])).toBe('host');
    expect(kind(['reserved:ingress'])).toBe('host');
    expect(kind(['reserved:init'])).toBe('pod');
    expect(kind(['reserved:unmanaged'])).toBe('pod');
    expect(kind(['reserved:unknown'])).toBe('unknown');
    expect(kind([], 16777217)).toBe('world'); // local CIDR identity
    expect(kind([], 300)).toBe('pod');
    expect(kind([], 7)).toBe('world');
    expect(kind(['reserved:world'], 2, 'p')).toBe('pod');
    expect(kind(['cidr:10.0.0.0/8', 'reserved:world'])).toBe('world');
  });

  it('strips source prefixes and keeps k8s: over other sources', () => {
    const r = mapHubbleFlow({
      ...base,
      source: {
        labels: [
          'container:app=from-runtime',
          'k8s:app=web',
          'container:tier=front',
          'unspec:bare',
          'cidr:10.0.0.0/8',
          'fqdn:*.example.com',
        ],
      },
    });
    expect(r.src.labels).toEqual({ app: 'web', tier: 'front', bare: '' });
  });

  it('takes workload, service, names and the translated source', () => {
    const r = mapHubbleFlow({
      ...base,
      IP: { source: '10.0.0.1', source_xlated: '192.168.1.1', destination: '10.0.0.2' },
      source: {
        namespace: 'a',
        pod_name: 'web-1',
        workloads: [
          { name: 'web', kind: 'Deployment' },
          { name: 'x', kind: 'ReplicaSet' },
        ],
      },
      destination_service: { name: 'db', namespace: 'b' },
      source_names: ['web.a.svc'],
    });
    expect(r.src).toMatchObject({
      workload: { kind: 'Deployment', name: 'web' },
      ip: '10.0.0.1',
      ipXlated: '192.168.1.1',
      names: ['web.a.svc'],
    });
    expect(r.dst.service).toEqual({ namespace: 'b', name: 'db' });
  });

  it('cluster: forced option, Relay prefix, endpoint cluster_name, default', () => {
    expect(mapHubbleFlow(base).cluster).toBe('prod');
    expect(mapHubbleFlow(base, { cluster: 'forced' }).cluster).toBe('forced');
    const bare = { ...base, node_name: 'node-1' };
    expect(mapHubbleFlow(bare).cluster).toBe('default');
    expect(mapHubbleFlow(bare, { defaultCluster: 'lab' }).cluster).toBe('lab');
    expect(
      mapHubbleFlow({
        ...bare,
        traffic_direction: 'INGRESS',
        source: { cluster_name: 'a' },
        destination: { cluster_name: 'b' },
      }).cluster,
    ).toBe('b');
    expect(
      mapHubbleFlow({
        ...bare,
        traffic_direction: 'EGRESS',
        source: { cluster_name: 'a' },
        destination: { cluster_name: 'b' },
      }).cluster,
    ).toBe('a');
  });

  it('protocols: UDP, SCTP, ICMP echo reply (type 0 omitted), VRRP, IGMP, none', () => {
    const p = (l4: unknown): HubbleFlowRecord => mapHubbleFlow({ ...base, l4 });
    expect(p({ UDP: { source_port: 5, destination_port: 53 } })).toMatchObject({
      protocol: 'UDP',
      srcPort: 5,
      dstPort: 53,
    });
    expect(p({ SCTP: { source_port: 5, destination_port: 36412 } })).toMatchObject({
      protocol: 'SCTP',
      dstPort: 36412,
    });
    expect(p({ ICMPv4: {} })).toMatchObject({ protocol: 'ICMPv4', icmpType: 0, icmpCode: 0 });
    expect(p({ ICMPv6: { type: 1, code: 4 } })).toMatchObject({ protocol: 'ICMPv6', icmpType: 1, icmpCode: 4 });
    expect(p({ VRRP: { type: 1, vrid: 2 } }).protocol).toBe('VRRP');
    expect(p({ IGMP: { type: 22, group_address: '239.1.1.1' } }).protocol).toBe('IGMP');
    expect(p(undefined).protocol).toBe('unknown');
  });

  it('reads is_reply as a bare bool, a BoolValue wrapper, or an empty wrapper (= false)', () => {
    expect(mapHubbleFlow({ ...base, is_reply: true }).isReply).toBe(true);
    expect(mapHubbleFlow({ ...base, is_reply: { value: true } }).isReply).toBe(true);
    expect(mapHubbleFlow({ ...base, is_reply: {} }).isReply).toBe(false);
    expect(mapHubbleFlow(base).isReply).toBeUndefined();
  });

  it('throws on a flow without a time, and on non-objects', () => {
    expect(() => mapHubbleFlow({ verdict: 'DROPPED' })).toThrow(/no valid time/);
    expect(() => mapHubbleFlow({ ...base, time: 'yesterday' })).toThrow(/no valid time/);
    expect(() => mapHubbleFlow('x')).toThrow(/not an object/);
    expect(() => mapGetFlowsResponse({ hello: 1 })).toThrow(/not a Hubble GetFlowsResponse/);
    expect(() => mapGetFlowsResponse([1])).toThrow(/JSON object/);
  });

  it('accepts a bare flow and takes node/time from the response wrapper', () => {
    const bare = mapGetFlowsResponse({ ...base });
    expect(bare.kind).toBe('flow');
    const wrapped = mapGetFlowsResponse({
      flow: { verdict: 'FORWARDED' },
      node_name: 'c1/n1',
      time: '2025-01-01T00:00:00Z',
    });
    expect(wrapped).toMatchObject({
      kind: 'flow',
      record: { cluster: 'c1', node: 'n1', time: '2025-01-01T00:00:00Z' },
    });
  });

  it('maps node_status notices', () => {
    expect(mapGetFlowsResponse({ node_status: { state_change: 'NODE_UNAVAILABLE', node_names: ['c/n2'] } })).toEqual({
      kind: 'node_status',
      state: 'NODE_UNAVAILABLE',
      nodeNames: ['c/n2'],
      message: undefined,
      nodeName: undefined,
    });
  });

  it('formats and parses timestamps like protojson', () => {
    expect(formatTimestamp(1, 0)).toBe('1970-01-01T00:00:01Z');
    expect(formatTimestamp(1, 500_000_000)).toBe('1970-01-01T00:00:01.500Z');
    expect(formatTimestamp(1234, 567_800_000)).toBe('1970-01-01T00:20:34.567800Z');
    expect(formatTimestamp(1, 5)).toBe('1970-01-01T00:00:01.000000005Z');
    expect(parseTimestamp('2023-08-21T12:12:13.517394084Z')).toEqual({ seconds: 1692619933, nanos: 517394084 });
    expect(parseTimestamp('1970-01-01T00:20:34.5678Z')).toEqual({ seconds: 1234, nanos: 567800000 });
    expect(parseTimestamp('2021-01-01T01:00:00+01:00')).toEqual({ seconds: 1609459200, nanos: 0 });
    expect(parseTimestamp('nope')).toBeUndefined();
  });
});
