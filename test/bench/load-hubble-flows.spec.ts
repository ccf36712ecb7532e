/**
 * The load generator's cheap Hubble encoding (a template per flow shape, time and uuid appended
 * by hand) decodes to the same GetFlowsResponse as the whole flow encoded by protobufjs.
 */
import { describe, expect, it } from '@jest/globals';
import type { MethodDefinition } from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/proto-loader';
import { HubbleFlowEncoder, rfc3339 } from '../../bench/load-hubble-flows.js';
import { loadObserverPackage } from '../../src/collector/hubble/hubble-proto.js';

type Json = Record<string, unknown>;
const service = loadObserverPackage()['observer.Observer'] as ServiceDefinition;
const decode = (service.GetFlows as MethodDefinition<unknown, Json>).responseDeserialize;

describe('HubbleFlowEncoder', () => {
  const encoder = new HubbleFlowEncoder();

  it.each([0, 1, 99, 100, 255, 12_345, 2 ** 40 + 7])('flow %d decodes the same both ways', (seq) => {
    // 2026-11-29T12:00:00.123000045Z
    const seconds = 1_795_953_600;
    const nanos = 123_000_045;
    const fast = decode(encoder.encode(seq, seconds, nanos));
    const whole = decode(encoder.encodeWhole(seq, seconds, nanos));
    expect(fast).toEqual(whole);
  });

  it.each([0, 99, 100, 12_345])('deny %d (the flood of --deny-share) decodes the same both ways', (seq) => {
    const seconds = 1_795_953_600;
    const nanos = 7;
    const fast = decode(encoder.encode(seq, seconds, nanos, true));
    expect(fast).toEqual(decode(encoder.encodeWhole(seq, seconds, nanos, undefined, true)));
    expect((fast.flow as Json).verdict).toBe('DROPPED');
    // The forwarded template of the same flow is another one.
    expect(decode(encoder.encode(seq, seconds, nanos)).flow as Json).toMatchObject({ verdict: 'FORWARDED' });
  });

  it('stamps the time and the uuid of each flow', () => {
    const m = decode(encoder.encode(255, 1_795_953_600, 123_000_045));
    const flow = m.flow as Json;
    expect(flow.time).toEqual({ seconds: '1795953600', nanos: 123_000_045 });
    expect(m.time).toEqual({ seconds: '1795953600', nanos: 123_000_045 });
    expect(flow.uuid).toBe('00000000-0000-4000-8000-0000000000ff');
    expect(m.node_name).toBe('load/node-0');
    expect(flow.verdict).toBe('FORWARDED');
    expect((flow.source as Json).pod_name).toBe('load-5');
    expect((flow.destination as Json).pod_name).toBe('svc-15');
  });

  it.each([0, 777, 120_777, 239_999])('over 120,000 edges (--edges), flow %d decodes the same both ways', (seq) => {
    const dense = new HubbleFlowEncoder(120_000);
    const fast = decode(dense.encode(seq, 1_795_953_600, 9));
    expect(fast).toEqual(decode(dense.encodeWhole(seq, 1_795_953_600, 9)));
  });

  it('over 120,000 edges, edge e goes from load-(e % 50) to svc-(e / 50)', () => {
    const dense = new HubbleFlowEncoder(120_000);
    const ends = (seq: number) => {
      const flow = decode(dense.encode(seq, 1_795_953_600, 9)).flow as Json;
      return [(flow.source as Json).pod_name, (flow.destination as Json).pod_name, (flow.IP as Json).destination];
    };
    expect(ends(777)).toEqual(['load-27', 'svc-15', '10.2.0.15']);
    expect(ends(120_777)).toEqual(['load-27', 'svc-15', '10.2.0.15']); // the same edge, a minute later say
    expect(ends(119_999)).toEqual(['load-49', 'svc-2399', '10.2.9.149']);
  });

  it('writes RFC 3339 with nanoseconds', () => {
    expect(rfc3339(1_795_953_600, 123_000_045)).toBe('2026-11-29T12:00:00.123000045Z');
    expect(rfc3339(1_795_953_600, 0)).toBe('2026-11-29T12:00:00.000000000Z');
  });
});
