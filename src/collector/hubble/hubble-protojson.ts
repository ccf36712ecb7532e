/**
 * protojson (as `hubble observe -o json` prints it) -> the object shape @grpc/proto-loader
 * serializes: Timestamps as {seconds, nanos}, wrapper types as {value}. Used to replay captured
 * JSON over gRPC (the fake Relay in tests, load generators). Not on the ingest hot path.
 */
import { parseTimestamp } from './hubble-flow.mapper.js';

const TIMESTAMP_KEYS = new Set(['time', 'first', 'last', 'since', 'until']);
const WRAPPER_KEYS = new Set(['is_reply', 'cpu', 'num_connected_nodes', 'num_unavailable_nodes']);

export function protojsonToProtoObject(v: unknown, key = ''): unknown {
  if (Array.isArray(v)) return v.map((x) => protojsonToProtoObject(x));
  if (typeof v === 'string' && TIMESTAMP_KEYS.has(key)) {
    const t = parseTimestamp(v);
    if (!t) throw new Error(`${key}: not an RFC 3339 time: ${v.slice(0, 64)}`);
    return { seconds: String(t.seconds), nanos: t.nanos };
  }
  if ((typeof v === 'boolean' || typeof v === 'number') && WRAPPER_KEYS.has(key)) return { value: v };
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = protojsonToProtoObject(x, k);
    return out;
  }
  return v;
}
