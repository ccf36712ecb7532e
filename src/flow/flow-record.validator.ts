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

function str(
  o: Record<string, unknown>,
  key: string,
  path: string,
  required: boolean,
  max: number = MAX_FIELD_LENGTH,
): void {
  const v = o[key];
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

function oneOf(o: Record<string, unknown>, key: string, path: string, set: Set<string>, required: boolean): void {
  const v = o[key];
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

function int(o: Record<string, unknown>, key: string, path: string, min: number, max: number, required = false): void {
  const v = o[key];
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

function time(o: Record<string, unknown>, key: string, required: boolean): void {
  str(o, key, '', required);
  const v = o[key];
  if (typeof v === 'string' && Number.isNaN(parseFlowTime(v)))
    throw new FlowValidationError(key, `must be an RFC 3339 time, got ${JSON.stringify(v.slice(0, 64))}`);
}

function endpoint(v: unknown, path: string): void {
  if (!isObj(v)) throw new FlowValidationError(path.slice(0, -1), 'must be an object');
  oneOf(v, 'kind', path, kinds, true);
  str(v, 'namespace', path, false, MAX_NAME_LENGTH);
  str(v, 'pod', path, false, MAX_NAME_LENGTH);
  str(v, 'nameAggr', path, false, MAX_NAME_LENGTH);
  str(v, 'ip', path, false);
  int(v, 'identity', path, 0, 0xffffffff);
  if (v.workload !== undefined) {
    if (!isObj(v.workload)) throw new FlowValidationError(path + 'workload', 'must be an object');
    str(v.workload, 'kind', path + 'workload.', true, MAX_NAME_LENGTH);
    str(v.workload, 'name', path + 'workload.', true, MAX_NAME_LENGTH);
  }
  if (v.labels !== undefined) {
    if (!isObj(v.labels)) throw new FlowValidationError(path + 'labels', 'must be an object of strings');
    let n = 0;
    for (const k in v.labels) {
      if (++n > MAX_LABELS) throw new FlowValidationError(path + 'labels', `has more than ${MAX_LABELS} labels`);
      if (k.length > MAX_FIELD_LENGTH || k.indexOf('\u0000') !== -1)
        throw new FlowValidationError(path + 'labels', 'has an over-long key or one with a NUL character');
      const lv = v.labels[k];
      if (typeof lv !== 'string' || lv.length > MAX_FIELD_LENGTH || lv.indexOf('\u0000') !== -1)
        throw new FlowValidationError(`${path}labels.${k.slice(0, 64)}`, 'must be a string without NUL');
    }
  }
  if (v.names !== undefined) {
    if (!Array.isArray(v.names) || v.names.length > MAX_NAMES)
      throw new FlowValidationError(path + 'names', `must be an array of at most ${MAX_NAMES} strings`);
    for (const n of v.names)
      if (typeof n !== 'string' || n.length > MAX_FIELD_LENGTH)
        throw new FlowValidationError(path + 'names', 'must hold strings');
  }
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
  str(v, 'id', '', true, MAX_NAME_LENGTH);
  oneOf(v, 'source', '', sources, true);
  str(v, 'cluster', '', true, MAX_NAME_LENGTH);
  str(v, 'node', '', false, MAX_NAME_LENGTH);
  time(v, 'time', true);
  time(v, 'endTime', false);
  oneOf(v, 'verdict', '', verdicts, true);
  str(v, 'dropReason', '', false);
  oneOf(v, 'direction', '', directions, true);
  oneOf(v, 'reporter', '', reporters, false);
  endpoint(v.src, 'src.');
  endpoint(v.dst, 'dst.');
  str(v, 'protocol', '', true);
  int(v, 'srcPort', '', 0, 65535);
  int(v, 'dstPort', '', 0, 65535);
  int(v, 'icmpType', '', 0, 255);
  int(v, 'icmpCode', '', 0, 255);
  int(v, 'count', '', 0, Number.MAX_SAFE_INTEGER, true);
  int(v, 'packets', '', 0, Number.MAX_SAFE_INTEGER);
  int(v, 'bytes', '', 0, Number.MAX_SAFE_INTEGER);
  const policies = v.policies;
  if (!Array.isArray(policies)) throw new FlowValidationError('policies', 'must be an array');
  if (policies.length > MAX_POLICIES)
    throw new FlowValidationError('policies', `has more than ${MAX_POLICIES} entries`);
  for (let i = 0; i < policies.length; i++) {
    const p: unknown = policies[i];
    const path = `policies[${i}].`;
    if (!isObj(p)) throw new FlowValidationError(`policies[${i}]`, 'must be an object');
    str(p, 'kind', path, true, MAX_NAME_LENGTH);
    str(p, 'namespace', path, false, MAX_NAME_LENGTH);
    str(p, 'name', path, true, MAX_NAME_LENGTH);
    str(p, 'tier', path, false, MAX_NAME_LENGTH);
    oneOf(p, 'action', path, actions, true);
    oneOf(p, 'stage', path, stages, true);
    int(p, 'ruleIndex', path, -1, 1_000_000);
  }
  return v as unknown as FlowRecord;
}
