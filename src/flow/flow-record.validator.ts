import {
  DIRECTIONS,
  ENDPOINT_KINDS,
  FLOW_SOURCES,
  POLICY_ACTIONS,
  POLICY_STAGES,
  REPORTERS,
  VERDICTS,
  type FlowRecord,
} from './flow-record.js';
import { parseFlowTime } from './flow-time.js';

/** Longest string accepted in any FlowRecord field: bigger ones are bad input, not data. */
export const MAX_FIELD_LENGTH = 4096;
/**
 * Names, ids and namespaces are indexed in PostgreSQL, whose btree entries cannot exceed about
 * 2.7 kB: a longer value would fail its whole batch on every retry and stall the pipeline. No
 * Kubernetes name is longer than 253 characters (DNS subdomain), so anything longer is bad input.
 */
export const MAX_NAME_LENGTH = 253;
const MAX_LABELS = 256;
const MAX_NAMES = 64;
const MAX_POLICIES = 64;

const verdicts = new Set<string>(VERDICTS);
const directions = new Set<string>(DIRECTIONS);
const sources = new Set<string>(FLOW_SOURCES);
const reporters = new Set<string>(REPORTERS);
const kinds = new Set<string>(ENDPOINT_KINDS);
const actions = new Set<string>(POLICY_ACTIONS);
const stages = new Set<string>(POLICY_STAGES);

export class FlowValidationError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'FlowValidationError';
  }
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// The checks take the field's value, read at the call site, and the field's path in two parts
// joined only for an error: each call site then reads one property of one shape, which V8 keeps
// fast, where a key passed in made every read a generic lookup (this runs once per flow).

function str(v: unknown, path: string, key: string, required: boolean, max: number = MAX_FIELD_LENGTH): void {
  if (v === undefined || v === null) {
    if (required) throw new FlowValidationError(path + key, 'is required');
    return;
  }
  if (typeof v !== 'string') throw new FlowValidationError(path + key, `must be a string, got ${typeof v}`);
  if (required && v.length === 0) throw new FlowValidationError(path + key, 'must not be empty');
  if (v.length > max) throw new FlowValidationError(path + key, `is longer than ${max} characters`);
  // PostgreSQL text cannot hold NUL; refuse it here rather than fail a whole batch later.
  if (v.indexOf('\u0000') !== -1) throw new FlowValidationError(path + key, 'contains a NUL character');
}

function oneOf(v: unknown, path: string, key: string, set: Set<string>, required: boolean): void {
  if (v === undefined || v === null) {
    if (required) throw new FlowValidationError(path + key, 'is required');
    return;
  }
  if (typeof v !== 'string' || !set.has(v))
    throw new FlowValidationError(
      path + key,
      `must be one of ${[...set].join('|')}, got ${JSON.stringify(v)?.slice(0, 64)}`,
    );
}

function int(v: unknown, path: string, key: string, min: number, max: number, required = false): void {
  if (v === undefined || v === null) {
    if (required) throw new FlowValidationError(path + key, 'is required');
    return;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new FlowValidationError(
      path + key,
      `must be an integer in [${min}, ${max}], got ${JSON.stringify(v)?.slice(0, 64)}`,
    );
}

function time(v: unknown, key: string, required: boolean): void {
  str(v, '', key, required);
  if (typeof v === 'string' && Number.isNaN(parseFlowTime(v)))
    throw new FlowValidationError(key, `must be an RFC 3339 time, got ${JSON.stringify(v.slice(0, 64))}`);
}

function labels(v: Record<string, unknown>, path: string): void {
  let n = 0;
  for (const k in v) {
    if (++n > MAX_LABELS) throw new FlowValidationError(path + 'labels', `has more than ${MAX_LABELS} labels`);
    if (k.length > MAX_FIELD_LENGTH || k.indexOf('\u0000') !== -1)
      throw new FlowValidationError(path + 'labels', 'has an over-long key or one with a NUL character');
    const lv = v[k];
    if (typeof lv !== 'string' || lv.length > MAX_FIELD_LENGTH || lv.indexOf('\u0000') !== -1)
      throw new FlowValidationError(`${path}labels.${k.slice(0, 64)}`, 'must be a string without NUL');
  }
}

function endpoint(v: unknown, path: string): void {
  if (!isObj(v)) throw new FlowValidationError(path.slice(0, -1), 'must be an object');
  oneOf(v.kind, path, 'kind', kinds, true);
  str(v.namespace, path, 'namespace', false, MAX_NAME_LENGTH);
  str(v.pod, path, 'pod', false, MAX_NAME_LENGTH);
  str(v.nameAggr, path, 'nameAggr', false, MAX_NAME_LENGTH);
  str(v.ip, path, 'ip', false);
  int(v.identity, path, 'identity', 0, 0xffffffff);
  const w = v.workload;
  if (w !== undefined) {
    if (!isObj(w)) throw new FlowValidationError(path + 'workload', 'must be an object');
    str(w.kind, path, 'workload.kind', true, MAX_NAME_LENGTH);
    str(w.name, path, 'workload.name', true, MAX_NAME_LENGTH);
  }
  const l = v.labels;
  if (l !== undefined) {
    if (!isObj(l)) throw new FlowValidationError(path + 'labels', 'must be an object of strings');
    labels(l, path);
  }
  const names = v.names;
  if (names !== undefined) {
    if (!Array.isArray(names) || names.length > MAX_NAMES)
      throw new FlowValidationError(path + 'names', `must be an array of at most ${MAX_NAMES} strings`);
    for (const n of names)
      if (typeof n !== 'string' || n.length > MAX_FIELD_LENGTH)
        throw new FlowValidationError(path + 'names', 'must hold strings');
  }
}

/** `policies[i].` for every index there may be, made once rather than once per flow. */
const POLICY_PATHS = Array.from({ length: MAX_POLICIES }, (_, i) => `policies[${i}].`);

function policy(p: unknown, i: number): void {
  if (!isObj(p)) throw new FlowValidationError(`policies[${i}]`, 'must be an object');
  const path = POLICY_PATHS[i];
  str(p.kind, path, 'kind', true, MAX_NAME_LENGTH);
  str(p.namespace, path, 'namespace', false, MAX_NAME_LENGTH);
  str(p.name, path, 'name', true, MAX_NAME_LENGTH);
  str(p.tier, path, 'tier', false, MAX_NAME_LENGTH);
  oneOf(p.action, path, 'action', actions, true);
  oneOf(p.stage, path, 'stage', stages, true);
  int(p.ruleIndex, path, 'ruleIndex', -1, 1_000_000);
}

/**
 * Checks a value received from outside (bus, file) against FlowRecord schema 1.
 * Throws FlowValidationError naming the first bad field; returns the value typed on success.
 * Hand-written rather than schema-library based: it runs once per flow in the aggregator.
 */
export function validateFlowRecord(v: unknown): FlowRecord {
  if (!isObj(v)) throw new FlowValidationError('record', 'must be a JSON object');
  if (v.schema !== undefined && v.schema !== 1)
    throw new FlowValidationError(
      'schema',
      `unsupported schema ${JSON.stringify(v.schema)}; this build reads schema 1`,
    );
  str(v.id, '', 'id', true, MAX_NAME_LENGTH);
  oneOf(v.source, '', 'source', sources, true);
  str(v.cluster, '', 'cluster', true, MAX_NAME_LENGTH);
  str(v.node, '', 'node', false, MAX_NAME_LENGTH);
  time(v.time, 'time', true);
  time(v.endTime, 'endTime', false);
  oneOf(v.verdict, '', 'verdict', verdicts, true);
  str(v.dropReason, '', 'dropReason', false);
  oneOf(v.direction, '', 'direction', directions, true);
  oneOf(v.reporter, '', 'reporter', reporters, false);
  endpoint(v.src, 'src.');
  endpoint(v.dst, 'dst.');
  str(v.protocol, '', 'protocol', true);
  int(v.srcPort, '', 'srcPort', 0, 65535);
  int(v.dstPort, '', 'dstPort', 0, 65535);
  int(v.icmpType, '', 'icmpType', 0, 255);
  int(v.icmpCode, '', 'icmpCode', 0, 255);
  int(v.count, '', 'count', 0, Number.MAX_SAFE_INTEGER, true);
  int(v.packets, '', 'packets', 0, Number.MAX_SAFE_INTEGER);
  int(v.bytes, '', 'bytes', 0, Number.MAX_SAFE_INTEGER);
  const policies = v.policies;
  if (!Array.isArray(policies)) throw new FlowValidationError('policies', 'must be an array');
  if (policies.length > MAX_POLICIES)
    throw new FlowValidationError('policies', `has more than ${MAX_POLICIES} entries`);
  for (let i = 0; i < policies.length; i++) policy(policies[i], i);
  return v as unknown as FlowRecord;
}
