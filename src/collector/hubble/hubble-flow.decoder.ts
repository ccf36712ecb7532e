/**
 * GetFlowsResponse bytes -> the object hubble-flow.mapper.ts reads, without protobufjs.
 *
 * @grpc/proto-loader decodes every message into protobufjs objects and then converts them to
 * plain objects (`toObject`): two allocations per nested message, Long objects turned into
 * strings, every field of the Flow whether we read it or not. That was about a fifth of the
 * Hubble `serve` CPU per flow (docs/PERFORMANCE.md). This decoder reads the wire format once,
 * keeps only the fields the mapper reads, and gives them in the shape proto-loader's options
 * give them (HUBBLE_PROTO_OPTIONS: proto field names, enums as their names or as numbers when
 * unknown, wrappers as `{value}`), so the mapper sees the same values and makes the same record.
 * Differences the mapper does not see: Timestamp seconds come as numbers (not strings), and
 * fields and sub-messages the mapper does not read are skipped without being parsed.
 *
 * Anything unusual goes to the full proto-loader decoder instead, so it behaves exactly as
 * before: responses that are not a flow (lost events, node status), a field with an
 * unexpected wire type, varints longer than their type allows (negative int32 values, int64
 * seconds past 2^53), truncated input.
 *
 * One function per message, with named property stores, on purpose: a table-driven decoder
 * (field number -> name and reader) was 20-35 % slower here, its keyed stores being megamorphic.
 */
import type { PackageDefinition, ServiceDefinition } from '@grpc/proto-loader';
import { loadObserverPackage } from './hubble-proto.js';

type Obj = Record<string, unknown>;

/** The fast path gives up; the caller decodes the whole response the usual way. */
class Unusual extends Error {}
const UNUSUAL = new Unusual('unusual encoding');

/** The wire bytes of a response the fast path decoded, for dead letters (the full decode of them). */
export const WIRE_BYTES: unique symbol = Symbol('GetFlowsResponse wire bytes');

/** Enum number -> name, as protobufjs's toObject gives it (the last name of a number wins). */
type EnumNames = Map<number, string>;

interface FlowEnums {
  verdict: EnumNames;
  flowType: EnumNames;
  direction: EnumNames;
  observationPoint: EnumNames;
  dropReason: EnumNames;
  l7Type: EnumNames;
}

function enumNames(pkg: PackageDefinition, name: string): EnumNames {
  const def = pkg[name] as { type?: { value?: Array<{ name: string; number: number }> } } | undefined;
  const values = def?.type?.value;
  if (!values) throw new Error(`enum ${name} missing from the Hubble .proto files`);
  const out: EnumNames = new Map();
  for (const v of values) out.set(v.number, v.name);
  return out;
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** A cursor over one message's bytes. Every read checks the end; past it means `Unusual`. */
class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    pos: number,
    readonly end: number,
  ) {
    this.pos = pos;
  }

  /** A varint of at most 5 bytes (uint32, and int32/enum values that are not negative). */
  uint32(): number {
    const b = this.buf;
    let p = this.pos;
    let c = b[p++];
    let v = c & 0x7f;
    if (c >= 0x80) {
      c = b[p++];
      v |= (c & 0x7f) << 7;
      if (c >= 0x80) {
        c = b[p++];
        v |= (c & 0x7f) << 14;
        if (c >= 0x80) {
          c = b[p++];
          v |= (c & 0x7f) << 21;
          if (c >= 0x80) {
            c = b[p++];
            if (c >= 0x10) throw UNUSUAL; // more than 32 bits
            v |= c << 28;
          }
        }
      }
    }
    if (p > this.end) throw UNUSUAL;
    this.pos = p;
    return v >>> 0;
  }

  /** An int32 or enum value (negative ones take 10 bytes and are left to the full decoder). */
  int32(): number {
    return this.uint32() | 0;
  }

  /** A non-negative varint below 2^53 (Timestamp seconds). */
  uint53(): number {
    const b = this.buf;
    let p = this.pos;
    let v = 0;
    let scale = 1;
    for (;;) {
      if (p >= this.end) throw UNUSUAL;
      const c = b[p++];
      v += (c & 0x7f) * scale;
      if (c < 0x80) break;
      scale *= 128;
      if (scale > 2 ** 49) throw UNUSUAL;
    }
    if (v > Number.MAX_SAFE_INTEGER) throw UNUSUAL;
    this.pos = p;
    return v;
  }

  /** The end of the length-delimited field that starts here (its length read). */
  len(): number {
    const n = this.uint32();
    const end = this.pos + n;
    if (end > this.end) throw UNUSUAL;
    return end;
  }

  string(): string {
    const end = this.len();
    const s = this.buf.toString('utf8', this.pos, end);
    this.pos = end;
    return s;
  }

  /** A string field's value; `wire` is the field's wire type, checked. */
  stringField(wire: number): string {
    if (wire !== WIRE_LEN) throw UNUSUAL;
    return this.string();
  }

  /** A uint32 field's value. */
  uint32Field(wire: number): number {
    if (wire !== WIRE_VARINT) throw UNUSUAL;
    return this.uint32();
  }

  /** An int32 field's value. */
  int32Field(wire: number): number {
    if (wire !== WIRE_VARINT) throw UNUSUAL;
    return this.int32();
  }

  /** An embedded message field: where it ends. */
  messageEnd(wire: number): number {
    if (wire !== WIRE_LEN) throw UNUSUAL;
    return this.len();
  }

  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        while (this.pos < this.end && this.buf[this.pos] >= 0x80) this.pos++;
        this.pos++;
        break;
      case WIRE_FIXED64:
        this.pos += 8;
        break;
      case WIRE_LEN:
        this.pos = this.len();
        break;
      case WIRE_FIXED32:
        this.pos += 4;
        break;
      default:
        throw UNUSUAL; // groups: not in Hubble's API
    }
    if (this.pos > this.end) throw UNUSUAL;
  }
}

/** A message must end where its length said: a field running past it is malformed. */
function ended(r: Reader, end: number, out: Obj): Obj {
  if (r.pos !== end) throw UNUSUAL;
  return out;
}

function expectWire(wire: number, want: number): void {
  if (wire !== want) throw UNUSUAL;
}

/** An enum's name, or its number when this .proto does not know it (as toObject gives it). */
function enumValue(r: Reader, wire: number, names: EnumNames): string | number {
  const n = r.int32Field(wire);
  return names.get(n) ?? n;
}

function decodeTimestamp(r: Reader, end: number): Obj {
  const out: Obj = {};
  while (r.pos < end) {
    const tag = r.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        expectWire(wire, WIRE_VARINT);
        out.seconds = r.uint53();
        break;
      case 2:
        out.nanos = r.int32Field(wire);
        break;
      default:
        r.skip(wire);
    }
  }
  return ended(r, end, out);
}

/** A message whose string fields (by number) are all we read; others skipped. */
function decodeStrings(r: Reader, end: number, names: readonly (string | undefined)[]): Obj {
  const out: Obj = {};
  while (r.pos < end) {
    const tag = r.uint32();
    const wire = tag & 7;
    const name = names[tag >>> 3];
    if (name !== undefined) {
      out[name] = r.stringField(wire);
    } else r.skip(wire);
  }
  return ended(r, end, out);
}

/** A message whose uint32 fields (by number) are all we read; others skipped. */
function decodeUints(r: Reader, end: number, names: readonly (string | undefined)[]): Obj {
  const out: Obj = {};
  while (r.pos < end) {
    const tag = r.uint32();
    const wire = tag & 7;
    const name = names[tag >>> 3];
    if (name !== undefined) {
      out[name] = r.uint32Field(wire);
    } else r.skip(wire);
  }
  return ended(r, end, out);
}

const IP_FIELDS = [undefined, 'source', 'destination', undefined, undefined, 'source_xlated'];
const SERVICE_FIELDS = [undefined, 'name', 'namespace'];
const WORKLOAD_FIELDS = [undefined, 'name', 'kind'];
const DNS_FIELDS = [undefined, 'query'];
const PORT_FIELDS = [undefined, 'source_port', 'destination_port'];
const ICMP_FIELDS = [undefined, 'type', 'code'];
const NONE: readonly undefined[] = [];

function pushTo(o: Obj, key: string, v: unknown): void {
  const list = o[key] as unknown[] | undefined;
  if (list) list.push(v);
  else o[key] = [v];
}

function decodeEndpoint(r: Reader, end: number): Obj {
  const out: Obj = {};
  while (r.pos < end) {
    const tag = r.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 2:
        out.identity = r.uint32Field(wire);
        break;
      case 3:
        out.namespace = r.stringField(wire);
        break;
      case 4:
        pushTo(out, 'labels', r.stringField(wire));
        break;
      case 5:
        out.pod_name = r.stringField(wire);
        break;
      case 6:
        pushTo(out, 'workloads', decodeStrings(r, r.messageEnd(wire), WORKLOAD_FIELDS));
        break;
      case 7:
        out.cluster_name = r.stringField(wire);
        break;
      default:
        r.skip(wire);
    }
  }
  return ended(r, end, out);
}

function decodeLayer4(r: Reader, end: number): Obj {
  const out: Obj = {};
  while (r.pos < end) {
    const tag = r.uint32();
    const wire = tag & 7;
    const field = tag >>> 3;
    if (field < 1 || field > 7) {
      r.skip(wire);
      continue;
    }
    expectWire(wire, WIRE_LEN);
    const e = r.len();
    switch (field) {
      case 1:
        out.TCP = decodeUints(r, e, PORT_FIELDS);
        break;
      case 2:
        out.UDP = decodeUints(r, e, PORT_FIELDS);
        break;
      case 3:
        out.ICMPv4 = decodeUints(r, e, ICMP_FIELDS);
        break;
      case 4:
        out.ICMPv6 = decodeUints(r, e, ICMP_FIELDS);
        break;
      case 5:
        out.SCTP = decodeUints(r, e, PORT_FIELDS);
        break;
      case 6:
        out.VRRP = decodeUints(r, e, NONE); // only its presence is read
        break;
      default:
        out.IGMP = decodeUints(r, e, NONE);
    }
    r.pos = e;
  }
  return ended(r, end, out);
}

function decodeHttp(r: Reader, end: number): Obj {
  const out: Obj = {};
  while (r.pos < end) {
    const tag = r.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        out.code = r.uint32Field(wire);
        break;
      case 2:
        out.method = r.stringField(wire);
        break;
      case 3:
        out.url = r.stringField(wire);
        break;
      default:
        r.skip(wire);
    }
  }
  return ended(r, end, out);
}

function decodeLayer7(r: Reader, end: number, enums: FlowEnums): Obj {
  const out: Obj = {};
  while (r.pos < end) {
    const tag = r.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        out.type = enumValue(r, wire, enums.l7Type);
        break;
      case 100:
        out.dns = decodeStrings(r, r.messageEnd(wire), DNS_FIELDS);
        break;
      case 101:
        out.http = decodeHttp(r, r.messageEnd(wire));
        break;
      case 102:
        out.kafka = decodeStrings(r, r.messageEnd(wire), NONE); // only its presence is read
        break;
      default:
        r.skip(wire);
    }
  }
  return ended(r, end, out);
}

function decodeEventType(r: Reader, end: number): Obj {
  const out: Obj = {};
  while (r.pos < end) {
    const tag = r.uint32();
    const wire = tag & 7;
    const field = tag >>> 3;
    if (field === 1 || field === 2) {
      expectWire(wire, WIRE_VARINT);
      out[field === 1 ? 'type' : 'sub_type'] = r.int32();
    } else r.skip(wire);
  }
  return ended(r, end, out);
}

function decodeBoolValue(r: Reader, end: number): Obj {
  const out: Obj = {};
  while (r.pos < end) {
    const tag = r.uint32();
    const wire = tag & 7;
    if (tag >>> 3 === 1) {
      out.value = r.uint32Field(wire) !== 0;
    } else r.skip(wire);
  }
  return ended(r, end, out);
}

function decodePolicy(r: Reader, end: number): Obj {
  const out: Obj = {};
  while (r.pos < end) {
    const tag = r.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        out.name = r.stringField(wire);
        break;
      case 2:
        out.namespace = r.stringField(wire);
        break;
      case 3:
        pushTo(out, 'labels', r.stringField(wire));
        break;
      case 5:
        out.kind = r.stringField(wire);
        break;
      default:
        r.skip(wire);
    }
  }
  return ended(r, end, out);
}

const POLICY_LISTS: Record<number, string> = {
  21001: 'egress_allowed_by',
  21002: 'ingress_allowed_by',
  21004: 'egress_denied_by',
  21005: 'ingress_denied_by',
};

function decodeFlow(r: Reader, end: number, enums: FlowEnums): Obj {
  const f: Obj = {};
  while (r.pos < end) {
    const tag = r.uint32();
    const wire = tag & 7;
    const field = tag >>> 3;
    switch (field) {
      case 1:
        f.time = decodeTimestamp(r, r.messageEnd(wire));
        break;
      case 2:
        f.verdict = enumValue(r, wire, enums.verdict);
        break;
      case 3:
        f.drop_reason = r.uint32Field(wire);
        break;
      case 5:
        f.IP = decodeStrings(r, r.messageEnd(wire), IP_FIELDS);
        break;
      case 6:
        f.l4 = decodeLayer4(r, r.messageEnd(wire));
        break;
      case 8:
        f.source = decodeEndpoint(r, r.messageEnd(wire));
        break;
      case 9:
        f.destination = decodeEndpoint(r, r.messageEnd(wire));
        break;
      case 10:
        f.Type = enumValue(r, wire, enums.flowType);
        break;
      case 11:
        f.node_name = r.stringField(wire);
        break;
      case 13:
        pushTo(f, 'source_names', r.stringField(wire));
        break;
      case 14:
        pushTo(f, 'destination_names', r.stringField(wire));
        break;
      case 15:
        f.l7 = decodeLayer7(r, r.messageEnd(wire), enums);
        break;
      case 16:
        f.reply = r.uint32Field(wire) !== 0;
        break;
      case 19:
        f.event_type = decodeEventType(r, r.messageEnd(wire));
        break;
      case 20:
        f.source_service = decodeStrings(r, r.messageEnd(wire), SERVICE_FIELDS);
        break;
      case 21:
        f.destination_service = decodeStrings(r, r.messageEnd(wire), SERVICE_FIELDS);
        break;
      case 22:
        f.traffic_direction = enumValue(r, wire, enums.direction);
        break;
      case 23:
        f.policy_match_type = r.uint32Field(wire);
        break;
      case 24:
        f.trace_observation_point = enumValue(r, wire, enums.observationPoint);
        break;
      case 25:
        f.drop_reason_desc = enumValue(r, wire, enums.dropReason);
        break;
      case 26:
        f.is_reply = decodeBoolValue(r, r.messageEnd(wire));
        break;
      case 34:
        f.uuid = r.stringField(wire);
        break;
      case 100000:
        f.Summary = r.stringField(wire);
        break;
      default: {
        const list = POLICY_LISTS[field];
        if (list === undefined) {
          r.skip(wire);
          break;
        }
        pushTo(f, list, decodePolicy(r, r.messageEnd(wire)));
      }
    }
  }
  return ended(r, end, f);
}

/** A response with a flow, or undefined when it is anything else (left to the full decoder). */
function decodeResponse(buf: Buffer, enums: FlowEnums): Obj | undefined {
  const r = new Reader(buf, 0, buf.length);
  const out: Obj = {};
  let flow = false;
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        out.flow = decodeFlow(r, r.messageEnd(wire), enums);
        flow = true;
        break;
      case 2:
      case 3:
        return undefined; // node status, lost events
      case 1000:
        out.node_name = r.stringField(wire);
        break;
      case 1001:
        out.time = decodeTimestamp(r, r.messageEnd(wire));
        break;
      default:
        r.skip(wire);
    }
  }
  if (r.pos !== r.end) throw UNUSUAL;
  return flow ? out : undefined;
}

/**
 * A GetFlows response deserializer: flows the fast way (the result carries its bytes under
 * WIRE_BYTES), everything else and anything unusual through `full`, proto-loader's own.
 */
export function fastGetFlowsDeserializer(
  pkg: PackageDefinition,
  full: (bytes: Buffer) => object,
): (bytes: Buffer) => object {
  const enums: FlowEnums = {
    verdict: enumNames(pkg, 'flow.Verdict'),
    flowType: enumNames(pkg, 'flow.FlowType'),
    direction: enumNames(pkg, 'flow.TrafficDirection'),
    observationPoint: enumNames(pkg, 'flow.TraceObservationPoint'),
    dropReason: enumNames(pkg, 'flow.DropReason'),
    l7Type: enumNames(pkg, 'flow.L7FlowType'),
  };
  return (bytes: Buffer): object => {
    let out: Obj | undefined;
    try {
      out = decodeResponse(bytes, enums);
    } catch (e) {
      if (!(e instanceof Unusual)) throw e;
    }
    if (!out) return full(bytes);
    (out as Obj & { [WIRE_BYTES]?: Buffer })[WIRE_BYTES] = bytes;
    return out;
  };
}

function getFlowsDeserializer(pkg: PackageDefinition): (bytes: Buffer) => object {
  return (pkg['observer.Observer'] as ServiceDefinition).GetFlows.responseDeserialize;
}

let fastPackage: PackageDefinition | undefined;

/** The `observer` package with GetFlows responses decoded by fastGetFlowsDeserializer (the collector's client). */
export function observerPackageWithFastFlows(): PackageDefinition {
  if (fastPackage) return fastPackage;
  const pkg = loadObserverPackage();
  const service = pkg['observer.Observer'] as ServiceDefinition;
  const getFlows = {
    ...service.GetFlows,
    responseDeserialize: fastGetFlowsDeserializer(pkg, getFlowsDeserializer(pkg)),
  };
  const fast: PackageDefinition = { ...pkg, 'observer.Observer': { ...service, GetFlows: getFlows } };
  fastPackage = fast;
  return fast;
}

/**
 * proto-loader's decoding of a response the fast decoder made (every field, as before), or
 * undefined for any other value. For the rare flow the mapper refuses: its error and its dead
 * letter are then exactly what they were.
 */
export function fullyDecoded(msg: unknown): unknown {
  if (typeof msg !== 'object' || msg === null) return undefined;
  const bytes = (msg as { [WIRE_BYTES]?: Buffer })[WIRE_BYTES];
  return bytes ? getFlowsDeserializer(loadObserverPackage())(bytes) : undefined;
}
