import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import type { ServiceDefinition } from '@grpc/proto-loader';
import { generateHubbleResponses } from '../../synthetic/hubble-flow.generator.js';
import { fastGetFlowsDeserializer, fullyDecoded, observerPackageWithFastFlows } from './hubble-flow.decoder.js';
import { mapGetFlowsResponse } from './hubble-flow.mapper.js';
import { loadObserverPackage } from './hubble-proto.js';
import { protojsonToProtoObject } from './hubble-protojson.js';

const SHARED_SAMPLES = new URL('../../../../shared/fixtures/hubble/observe-samples.jsonl', import.meta.url);
const lines = readFileSync(SHARED_SAMPLES, 'utf8')
  .split('\n')
  .filter((l) => l.trim().length > 0);

const getFlows = (loadObserverPackage()['observer.Observer'] as ServiceDefinition).GetFlows;
const encode = (response: unknown): Buffer => getFlows.responseSerialize(protojsonToProtoObject(response) as object);
const full = (bytes: Buffer): object => getFlows.responseDeserialize(bytes) as object;
const fast = (observerPackageWithFastFlows()['observer.Observer'] as ServiceDefinition).GetFlows.responseDeserialize;

/** A mapped response as plain JSON (undefined fields gone), for comparing by value. */
function mapped(response: unknown): unknown {
  return JSON.parse(JSON.stringify(mapGetFlowsResponse(response)));
}

/** A response as `hubble observe` prints it: a sample line may be a bare Flow. */
function asResponse(line: string): Record<string, unknown> {
  const json = JSON.parse(line) as Record<string, unknown>;
  return 'flow' in json || 'lost_events' in json || 'node_status' in json ? json : { flow: json };
}

describe('fast GetFlows decoder', () => {
  it('a flow read over gRPC and the same flow from `hubble observe -o json` make the same record', () => {
    // Sample 2: a policy-verdict deny, pod -> world, with labels, a workload and destination names.
    const line = lines[2];
    const fromJson = mapGetFlowsResponse(JSON.parse(line));
    const fromGrpc = mapGetFlowsResponse(fast(encode(asResponse(line))));
    expect(fromGrpc).toEqual(fromJson);
    // Written out from the sample line and the mapping rules of docs/HUBBLE.md.
    expect(fromGrpc).toMatchObject({
      kind: 'flow',
      timeMs: Date.parse('2025-07-15T01:30:19.361Z'),
      record: {
        schema: 1,
        id: 'c2ecde95-7124-4b42-846c-fb0038e78aa8',
        source: 'hubble',
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
        count: 1,
        policies: [],
        eventType: 'policy-verdict',
        policyMatch: 'none',
        src: {
          kind: 'pod',
          namespace: 'cilium-test-5',
          pod: 'client-645b68dcf7-2jmrw',
          workload: { kind: 'Deployment', name: 'client' },
          labels: { kind: 'client', name: 'client' },
          namespaceLabels: { 'app.kubernetes.io/name': 'cilium-cli', 'kubernetes.io/metadata.name': 'cilium-test-5' },
          serviceAccount: 'client',
          ip: '10.244.3.30',
          identity: 24009,
        },
        dst: { kind: 'world', entities: ['world-ipv4'], ip: '1.1.1.1', names: ['one.one.one.one'], identity: 9 },
      },
    });
    if (fromGrpc.kind !== 'flow') throw new Error('not a flow');
    expect(fromGrpc.record.isReply).toBeUndefined();
    expect(fromGrpc.record.l7).toBeUndefined();
  });

  it('maps every shared sample line as the JSON line maps', () => {
    expect(lines).toHaveLength(15);
    for (const line of lines) {
      const bytes = encode(asResponse(line));
      expect(mapped(fast(bytes))).toEqual(mapped(JSON.parse(line)));
      expect(mapped(fast(bytes))).toEqual(mapped(full(bytes)));
    }
  });

  it('maps generated flows of every kind as proto-loader’s decoding does', () => {
    let n = 0;
    for (const response of generateHubbleResponses({ seed: 11, count: 1000 })) {
      const bytes = encode(response);
      expect(mapped(fast(bytes))).toEqual(mapped(full(bytes)));
      n++;
    }
    expect(n).toBe(1000);
  });

  it('maps arbitrary field combinations as proto-loader’s decoding does', () => {
    const str = fc.oneof(fc.constantFrom('', 'a', 'k8s:app=x', 'reserved:world', 'ns/name'), fc.string());
    const port = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }));
    const endpoint = fc.record(
      {
        ID: fc.nat(),
        identity: fc.oneof(fc.constantFrom(0, 2, 255, 256, 16_777_217), fc.nat()),
        namespace: str,
        pod_name: str,
        cluster_name: str,
        labels: fc.array(str, { maxLength: 4 }),
        workloads: fc.array(fc.record({ name: str, kind: str }, { requiredKeys: [] }), { maxLength: 2 }),
      },
      { requiredKeys: [] },
    );
    const policy = fc.record(
      { name: str, namespace: str, kind: str, labels: fc.array(str, { maxLength: 3 }), revision: fc.nat() },
      { requiredKeys: [] },
    );
    const l4 = fc.oneof(
      fc.record({ TCP: fc.record({ source_port: port, destination_port: port, flags: fc.constant({ SYN: true }) }) }),
      fc.record({ UDP: fc.record({ source_port: port, destination_port: port }, { requiredKeys: [] }) }),
      fc.record({ SCTP: fc.record({ source_port: port, destination_port: port }, { requiredKeys: [] }) }),
      fc.record({ ICMPv4: fc.record({ type: fc.nat(255), code: fc.nat(255) }, { requiredKeys: [] }) }),
      fc.record({ ICMPv6: fc.record({ type: fc.nat(255), code: fc.nat(255) }, { requiredKeys: [] }) }),
      fc.constant({ VRRP: { type: 1, vrid: 2 } }),
      fc.constant({ IGMP: { type: 17, group_address: '224.0.0.1' } }),
      fc.constant({}),
    );
    const l7 = fc.record(
      {
        type: fc.constantFrom('REQUEST', 'RESPONSE', 'SAMPLE', 'UNKNOWN_L7_TYPE'),
        latency_ns: fc.nat(),
        dns: fc.record({ query: str, ips: fc.array(str, { maxLength: 2 }) }, { requiredKeys: [] }),
        http: fc.record({ code: fc.nat(599), method: str, url: str, protocol: str }, { requiredKeys: [] }),
      },
      { requiredKeys: [] },
    );
    const time = fc
      .record({ s: fc.integer({ min: 0, max: 4_102_444_800 }), n: fc.nat(999_999_999) })
      .map(({ s, n }) => new Date(s * 1000).toISOString().slice(0, 19) + '.' + String(n).padStart(9, '0') + 'Z');
    const flow = fc.record(
      {
        time,
        uuid: str,
        verdict: fc.constantFrom('FORWARDED', 'DROPPED', 'AUDIT', 'ERROR', 'TRACED', 'VERDICT_UNKNOWN'),
        drop_reason: fc.constantFrom(0, 133, 181, 999),
        drop_reason_desc: fc.constantFrom(
          'POLICY_DENIED',
          'POLICY_DENY',
          'STALE_OR_UNROUTABLE_IP',
          'DROP_REASON_UNKNOWN',
        ),
        ethernet: fc.constant({ source: 'aa:bb', destination: 'cc:dd' }),
        IP: fc.record(
          { source: str, destination: str, source_xlated: str, ipVersion: fc.constant('IPv4') },
          {
            requiredKeys: [],
          },
        ),
        l4,
        source: endpoint,
        destination: endpoint,
        Type: fc.constantFrom('L3_L4', 'L7', 'SOCK'),
        node_name: str,
        node_labels: fc.array(str, { maxLength: 2 }),
        source_names: fc.array(str, { maxLength: 3 }),
        destination_names: fc.array(str, { maxLength: 3 }),
        l7,
        reply: fc.boolean(),
        event_type: fc.record(
          { type: fc.constantFrom(1, 4, 5, 129, 200), sub_type: fc.nat(200) },
          { requiredKeys: [] },
        ),
        source_service: fc.record({ name: str, namespace: str }, { requiredKeys: [] }),
        destination_service: fc.record({ name: str, namespace: str }, { requiredKeys: [] }),
        traffic_direction: fc.constantFrom('INGRESS', 'EGRESS', 'TRAFFIC_DIRECTION_UNKNOWN'),
        policy_match_type: fc.nat(9),
        trace_observation_point: fc.constantFrom('TO_ENDPOINT', 'FROM_NETWORK', 'UNKNOWN_POINT'),
        is_reply: fc.boolean(),
        Summary: str,
        egress_allowed_by: fc.array(policy, { maxLength: 2 }),
        ingress_allowed_by: fc.array(policy, { maxLength: 2 }),
        egress_denied_by: fc.array(policy, { maxLength: 2 }),
        ingress_denied_by: fc.array(policy, { maxLength: 2 }),
        socket_cookie: fc.nat(),
      },
      { requiredKeys: ['time'] },
    );
    const response = fc.record({ flow, node_name: str, time }, { requiredKeys: ['flow'] });
    fc.assert(
      fc.property(response, (r) => {
        const bytes = encode(r);
        expect(mapped(fast(bytes))).toEqual(mapped(full(bytes)));
      }),
      { numRuns: 500 },
    );
  });

  it('leaves lost events and node status to proto-loader', () => {
    for (const response of [
      { lost_events: { source: 'HUBBLE_RING_BUFFER', num_events_lost: '7', cpu: { value: 1 } }, node_name: 'c/n1' },
      { node_status: { state_change: 'NODE_UNAVAILABLE', node_names: ['c/n2'], message: 'gone' } },
    ]) {
      const bytes = encode(response);
      expect(fast(bytes)).toEqual(full(bytes));
    }
  });

  it('leaves unusual encodings to proto-loader: negative int32, truncated input, a wrong wire type', () => {
    const deserialize = fastGetFlowsDeserializer(loadObserverPackage(), full);
    // event_type.type = -1 is a 10-byte varint.
    const negative = encode({ flow: { time: '2024-01-01T00:00:00Z', event_type: { type: -1 } } });
    expect(deserialize(negative)).toEqual(full(negative));
    expect(mapped(deserialize(negative))).toMatchObject({ record: { eventType: 'type--1' } });
    // Cut inside the flow: proto-loader's decoder throws, and so does ours.
    const whole = encode({ flow: { time: '2024-01-01T00:00:00Z', uuid: 'abc' } });
    const cut = whole.subarray(0, whole.length - 2);
    expect(() => full(cut)).toThrow();
    expect(() => deserialize(cut)).toThrow();
    // Flow.uuid (34) sent as a varint: not what the .proto says; proto-loader decides what it means.
    const wrong = Buffer.from([0x0a, 0x03, 0x90, 0x02, 0x05]);
    let fromFull: unknown;
    let fromFast: unknown;
    try {
      fromFull = full(wrong);
    } catch (e) {
      fromFull = e instanceof Error ? e.message : e;
    }
    try {
      fromFast = deserialize(wrong);
    } catch (e) {
      fromFast = e instanceof Error ? e.message : e;
    }
    expect(fromFast).toEqual(fromFull);
  });

  it('skips fields it does not read, known and unknown, and keeps the bytes for a full decoding', () => {
    const known = encode({
      flow: { time: '2024-01-01T00:00:00Z', uuid: 'u-1', tunnel: { protocol: 'VXLAN', vni: 5 }, socket_cookie: '9' },
    });
    // An unknown field 999 (length-delimited, 2 bytes) appended to the response.
    const withUnknown = Buffer.concat([known, Buffer.from([0xba, 0x3e, 0x02, 0x41, 0x42])]);
    const decoded = fast(withUnknown);
    expect(JSON.parse(JSON.stringify(decoded))).toEqual({
      flow: { time: { seconds: 1_704_067_200, nanos: 0 }, uuid: 'u-1' },
    });
    expect(fullyDecoded(decoded)).toEqual(full(withUnknown));
    expect(fullyDecoded({ flow: {} })).toBeUndefined();
  });
});
