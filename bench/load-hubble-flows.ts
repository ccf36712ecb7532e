/**
 * The flows of `npm run load -- --source hubble-relay`, and their protobuf encoding made cheap.
 *
 * Encoding each GetFlowsResponse with protobufjs (fromObject, then encode) cost the fake Relay
 * about as much CPU per flow as the collector spends decoding and mapping it, so on a loaded
 * machine the Relay was the limit. A flow here differs from flow `seq % edges` only in its
 * time and uuid: the rest of its Flow is encoded once per template, and the time and uuid
 * fields are appended by hand (protobuf fields may come in any order). Probe flows (one per
 * tick) are encoded whole. test/bench/load-hubble-flows.spec.ts decodes both ways and compares.
 */
import type { MethodDefinition } from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/proto-loader';
import { loadObserverPackage } from '../src/collector/hubble/hubble-proto.js';
import { protojsonToProtoObject } from '../src/collector/hubble/hubble-protojson.js';

/** Whether flow `seq` of a load is one of its flood's denies: of every 1,000 in a row, the first `share` × 1,000. */
export function isFloodDeny(seq: number, share: number): boolean {
  return seq % 1000 < share * 1000;
}

/** The edges a load spreads its flows over unless told otherwise (a template per edge and verdict). */
export const TEMPLATES = 100;

/**
 * One Hubble flow (protojson GetFlowsResponse): a forwarded trace, or a policy-verdict deny (a
 * probe, or `deny`: the load's flood of denies). Flow `seq` is on edge `seq % edges`: from one of
 * 50 source workloads to destination `e % 20` (100 edges, the default) or `e / 50` (any other
 * count, so that each edge number is an edge of its own).
 */
export function hubbleFlow(
  seq: number,
  time: string,
  probe?: string,
  deny = false,
  edges = TEMPLATES,
): Record<string, unknown> {
  const e = seq % edges;
  const s = e % 50;
  const d = edges === TEMPLATES ? e % 20 : Math.floor(e / 50);
  const src = probe ?? `load-${s}`;
  const dst = `svc-${d}`;
  const endpoint = (pod: string, workload: string, id: number) => ({
    ID: id,
    identity: 10000 + id,
    cluster_name: 'load',
    namespace: 'load',
    labels: [`k8s:app=${workload}`, 'k8s:io.kubernetes.pod.namespace=load'],
    pod_name: pod,
    workloads: [{ name: workload, kind: 'Deployment' }],
  });
  const flow: Record<string, unknown> = {
    time,
    // Cilium 1.12 and later give every flow a uuid; without one the collector hashes the flow for an id.
    uuid: `00000000-0000-4000-8000-${seq.toString(16).padStart(12, '0')}`,
    IP: { source: `10.1.0.${s}`, destination: `10.2.${Math.floor(d / 250)}.${d % 250}`, ipVersion: 'IPv4' },
    l4: { TCP: { source_port: 30000 + (e % TEMPLATES), destination_port: 8080, flags: { SYN: true } } },
    // A probe is its own workload, so no other deny shares its roll-up row and
    // DROP_EVENTS_PER_EDGE_MINUTE never leaves its event out.
    source: endpoint(src, probe ?? `load-${s}`, 100 + s),
    destination: endpoint(dst, dst, 200 + d),
    Type: 'L3_L4',
    node_name: 'load/node-0',
    traffic_direction: 'INGRESS',
    is_reply: false,
  };
  if (probe || deny)
    Object.assign(flow, {
      verdict: 'DROPPED',
      drop_reason: 133,
      drop_reason_desc: 'POLICY_DENIED',
      event_type: { type: 5 },
    });
  else Object.assign(flow, { verdict: 'FORWARDED', event_type: { type: 4 }, trace_observation_point: 'TO_ENDPOINT' });
  return { flow, node_name: 'load/node-0', time };
}

/** The uuid of flow `seq`. */
function uuidOf(seq: number): string {
  return `00000000-0000-4000-8000-${seq.toString(16).padStart(12, '0')}`;
}

/** RFC 3339 with nanoseconds, as protojson writes a Timestamp. */
export function rfc3339(seconds: number, nanos: number): string {
  return `${new Date(seconds * 1000).toISOString().slice(0, -5)}.${String(nanos).padStart(9, '0')}Z`;
}

function varint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

/** A length-delimited field: tag bytes, length, body. */
function lenField(out: number[], tag: number[], body: number[] | Buffer): void {
  out.push(...tag);
  varint(out, body.length);
  for (const b of body) out.push(b);
}

/** google.protobuf.Timestamp: seconds = 1, nanos = 2 (both varints; 0 is left out). */
function timestamp(seconds: number, nanos: number): number[] {
  const out: number[] = [];
  if (seconds) {
    out.push(0x08);
    varint(out, seconds);
  }
  if (nanos) {
    out.push(0x10);
    varint(out, nanos);
  }
  return out;
}

/** Skips a tag byte and a varint length: the body of a leading length-delimited field. */
function bodyOfFirstField(b: Buffer): Buffer {
  let i = 1;
  while (b[i] & 0x80) i++;
  return b.subarray(i + 1);
}

// Field tags ((number << 3) | 2, as varints): GetFlowsResponse.flow = 1, Flow.time = 1,
// Flow.uuid = 34, GetFlowsResponse.time = 1001 (observer.proto, flow.proto).
const RESPONSE_FLOW = [0x0a];
const FLOW_TIME = [0x0a];
const FLOW_UUID = [0x92, 0x02];
const RESPONSE_TIME = [0xca, 0x3e];

export class HubbleFlowEncoder {
  private readonly serialize: (v: unknown) => Buffer;
  private readonly templates = new Map<number, Buffer>();
  /** GetFlowsResponse.node_name, the same for every flow. */
  private readonly nodeName: Buffer;

  /** `edges`: how many edges the flows spread over (a template per edge and verdict). */
  constructor(private readonly edges = TEMPLATES) {
    const service = loadObserverPackage()['observer.Observer'] as ServiceDefinition;
    this.serialize = (service.GetFlows as MethodDefinition<unknown, unknown>).responseSerialize;
    this.nodeName = this.serialize({ node_name: 'load/node-0' });
  }

  /** The GetFlowsResponse of flow `seq` at that time, encoded the slow way (probes; the test). */
  encodeWhole(seq: number, seconds: number, nanos: number, probe?: string, deny = false): Buffer {
    return this.serialize(protojsonToProtoObject(hubbleFlow(seq, rfc3339(seconds, nanos), probe, deny, this.edges)));
  }

  /** The same bytes' meaning as encodeWhole without a probe, from a template. */
  encode(seq: number, seconds: number, nanos: number, deny = false): Buffer {
    const key = (seq % this.edges) + (deny ? this.edges : 0);
    let template = this.templates.get(key);
    if (!template) {
      const { flow } = hubbleFlow(seq % this.edges, rfc3339(seconds, nanos), undefined, deny, this.edges) as {
        flow: Record<string, unknown>;
      };
      delete flow.time;
      delete flow.uuid;
      template = Buffer.from(bodyOfFirstField(this.serialize(protojsonToProtoObject({ flow }))));
      this.templates.set(key, template);
    }
    const ts = timestamp(seconds, nanos);
    const own: number[] = [];
    lenField(own, FLOW_TIME, ts);
    lenField(own, FLOW_UUID, Buffer.from(uuidOf(seq)));
    const head: number[] = [...RESPONSE_FLOW];
    varint(head, template.length + own.length);
    const tail: number[] = [];
    lenField(tail, RESPONSE_TIME, ts);
    return Buffer.concat([Buffer.from(head), template, Buffer.from(own), this.nodeName, Buffer.from(tail)]);
  }
}
