import { createHash } from 'node:crypto';
import type { FlowEndpoint, FlowPolicy, FlowRecord, PolicyAction, Reporter } from '../../flow/flow-record.js';
import type { LineMapper, LineResult } from '../collector.js';
import {
  buildEndpoint,
  calicoVerdict,
  isIcmp,
  isoFromSeconds,
  known,
  normalizeProtocol,
  parseLabelsField,
  sameTrace,
} from './calico-common.js';
import {
  isStagedKind,
  parsePolicyTrace,
  PolicyStringCache,
  type PolicyHitEntry,
} from './calico-policy-string.parser.js';

/**
 * Calico Enterprise/Cloud flow logs (felix `flows.log` JSON lines, also as shipped by fluentd with
 * `host`/`@timestamp` and by Linseed with `cluster`) to FlowRecord schema 1. Mapping rules are in
 * docs/CALICO.md; the short version:
 * - reporter `src` = egress, `dst` = ingress; `action: deny` = `denied` (`POLICY_DENY`);
 *   `allow` with a pending (staged) trace ending in deny = `audit` (`PENDING_POLICY_DENY`).
 * - aggregated names stay aggregated (`nameAggr`); a workload is derived only where sound.
 * - a deny record with zero packets is a stale re-emission (felix bug, fixed in 3.32): skipped.
 */

export interface CalicoMapperOptions {
  /** Cluster name for records that carry no `cluster` field (Linseed adds one). */
  cluster?: string;
  /** Shared memo of parsed policy strings. */
  policyCache?: PolicyStringCache;
}

export const DEFAULT_CLUSTER = 'default';

/** Why a record was not turned into a flow (counted by the collectors). */
export const SKIP_STALE_DENY = 'stale-deny-zero-packets';

export type CalicoMapResult = { record: FlowRecord; skipped?: undefined } | { record?: undefined; skipped: string };

export class CalicoRecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CalicoRecordError';
  }
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optString(o: Obj, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string')
    throw new CalicoRecordError(`${key} must be a string, got ${JSON.stringify(v)?.slice(0, 64)}`);
  return v;
}

function optCount(o: Obj, key: string): number {
  const v = o[key];
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw new CalicoRecordError(`${key} must be a non-negative integer, got ${JSON.stringify(v)?.slice(0, 64)}`);
  return v;
}

function optPort(o: Obj, key: string, alias: string): number | undefined {
  let v = o[key];
  if (v === undefined || v === null) v = o[alias];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535)
    throw new CalicoRecordError(`${key} must be a port number, got ${JSON.stringify(v)?.slice(0, 64)}`);
  return v;
}

const MAX_EPOCH_S = 253402300799; // 9999-12-31

function optEpochSeconds(o: Obj, key: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_EPOCH_S)
    throw new CalicoRecordError(`${key} must be epoch seconds, got ${JSON.stringify(v)?.slice(0, 64)}`);
  return v;
}

/** `src`, `dst`, `fwd`, or the combined `"dst, fwd"` form. */
function parseReporter(raw: string | undefined): { reporter?: Reporter; fwd: boolean } {
  if (raw === 'src' || raw === 'dst') return { reporter: raw, fwd: false };
  if (raw === undefined || raw === '') return { fwd: false };
  let reporter: Reporter | undefined;
  let fwd = false;
  for (const part of raw.split(',')) {
    const p = part.trim();
    if (p === 'src' || p === 'dst') reporter = p;
    else if (p === 'fwd') fwd = true;
    else throw new CalicoRecordError(`reporter must be src, dst or fwd, got ${JSON.stringify(raw)}`);
  }
  return { reporter, fwd };
}

function parseAction(raw: string | undefined): PolicyAction | undefined {
  if (raw === 'allow' || raw === 'deny' || raw === 'pass') return raw;
  if (raw === undefined) throw new CalicoRecordError('action is required (allow|deny)');
  const l = raw.toLowerCase();
  if (l === 'allow' || l === 'deny' || l === 'pass') return l;
  return undefined;
}

export interface CalicoPolicies {
  /** Enforced trace, then the pending trace when it differs from the enforced one. */
  policies: FlowPolicy[];
  /** The action of the pending trace's verdict entry (what staged policies would do). */
  pendingAction?: PolicyAction;
  /** The action of the enforced trace's verdict entry. */
  enforcedAction?: PolicyAction;
}

function toPolicies(entries: readonly Readonly<PolicyHitEntry>[], out: FlowPolicy[]): void {
  for (let i = 0; i < entries.length; i++) out.push(entries[i].policy);
}

/**
 * The `policies` object of a flow log to FlowPolicy entries (see docs/CALICO.md "Policies"):
 * - `enforced_policies` sorted by index, stage `enforced`;
 * - `pending_policies` sorted by index, stage `pending`, only when it differs from the enforced
 *   trace (identical traces are the common case and would double every entry);
 * - a forwarded-only record (`reporter: fwd`) without endpoint traces uses `transit_policies`;
 * - legacy records with only `all_policies`: staged kinds are `pending`, the rest `enforced`;
 *   the pending action is the first terminal (allow/deny) hit, as all_policies mixed both.
 */
export function mapCalicoPolicies(field: unknown, fwdOnly: boolean, cache?: PolicyStringCache): CalicoPolicies {
  if (field === null || field === undefined) return { policies: [] };
  if (!isObj(field)) throw new CalicoRecordError('policies must be an object or null');
  let enforced = parsePolicyTrace(field.enforced_policies, 'enforced', cache);
  const pending = parsePolicyTrace(field.pending_policies, 'pending', cache);
  if (fwdOnly && enforced.length === 0) enforced = parsePolicyTrace(field.transit_policies, 'enforced', cache);
  if (enforced.length === 0 && pending.length === 0) {
    const all = parsePolicyTrace(field.all_policies, 'enforced', cache);
    if (all.length === 0) return { policies: [] };
    const policies: FlowPolicy[] = [];
    let pendingAction: PolicyAction | undefined;
    let enforcedAction: PolicyAction | undefined;
    for (const e of all) {
      const staged = isStagedKind(e.policy.kind);
      policies.push(staged ? Object.freeze({ ...e.policy, stage: 'pending' as const }) : e.policy);
      if (pendingAction === undefined && e.policy.action !== 'pass') pendingAction = e.policy.action;
      if (!staged) enforcedAction = e.policy.action;
    }
    return { policies, pendingAction, enforcedAction };
  }
  const policies: FlowPolicy[] = [];
  toPolicies(enforced, policies);
  const pendingPolicies: FlowPolicy[] = [];
  toPolicies(pending, pendingPolicies);
  if (!sameTrace(policies, pendingPolicies)) for (const p of pendingPolicies) policies.push(p);
  return {
    policies,
    pendingAction: pending.length > 0 ? pending[pending.length - 1].policy.action : undefined,
    enforcedAction: enforced.length > 0 ? enforced[enforced.length - 1].policy.action : undefined,
  };
}

/** Stable record id: sha1 of the raw line (or of the record's JSON). */
export function calicoRecordId(raw: string): string {
  return createHash('sha1').update(raw).digest('hex');
}

/** Maps one flow-log record (already parsed JSON). `raw` is the source line, used for the id. */
export class CalicoFlowLogMapper {
  private readonly cluster: string;
  private readonly cache: PolicyStringCache;

  constructor(options: CalicoMapperOptions = {}) {
    this.cluster = options.cluster ?? DEFAULT_CLUSTER;
    this.cache = options.policyCache ?? new PolicyStringCache();
  }

  /** Parses and maps one JSON line. Throws CalicoRecordError (or PolicyStringError) when malformed. */
  mapLine(line: string): CalicoMapResult {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (e) {
      throw new CalicoRecordError(`not JSON: ${(e as Error).message}`);
    }
    if (!isObj(parsed)) throw new CalicoRecordError('a flow-log line must be a JSON object');
    return this.mapRecord(parsed, line);
  }

  mapRecord(r: Obj, raw?: string): CalicoMapResult {
    const action = parseAction(optString(r, 'action'));
    const { reporter, fwd } = parseReporter(optString(r, 'reporter'));
    const packetsIn = optCount(r, 'packets_in');
    const packetsOut = optCount(r, 'packets_out');
    if (action === 'deny' && packetsIn === 0 && packetsOut === 0) {
      // Stale deny flows re-emitted with zero counters after a policy change (felix, < 3.32).
      if (optCount(r, 'transit_packets_in') === 0 && optCount(r, 'transit_packets_out') === 0)
        return { skipped: SKIP_STALE_DENY };
    }

    const start = optEpochSeconds(r, 'start_time');
    const end = optEpochSeconds(r, 'end_time');
    let timeSec = start ?? end;
    if (timeSec === undefined) {
      const ts = r['@timestamp'];
      if (typeof ts === 'number' && Number.isFinite(ts) && ts >= 0) timeSec = Math.floor(ts / 1000);
    }
    if (timeSec === undefined) throw new CalicoRecordError('start_time is required (epoch seconds)');

    const rawProto = r.proto;
    let protocol: string;
    if (typeof rawProto === 'string' && rawProto !== '') protocol = normalizeProtocol(rawProto);
    else if (typeof rawProto === 'number' && Number.isInteger(rawProto)) protocol = normalizeProtocol(String(rawProto));
    else throw new CalicoRecordError('proto is required (tcp, udp, icmp, ... or a protocol number)');

    const pol = mapCalicoPolicies(r.policies, fwd && reporter === undefined, this.cache);
    const { verdict, dropReason } = calicoVerdict(action, pol.pendingAction);

    const src = this.side(r, 'source_', 'source_labels');
    const dst = this.side(r, 'dest_', 'dest_labels');
    const svcName = known(r.dest_service_name);
    if (svcName !== undefined) {
      const svc: NonNullable<FlowEndpoint['service']> = { name: svcName };
      const svcNs = known(r.dest_service_namespace);
      if (svcNs !== undefined) svc.namespace = svcNs;
      const svcPort = r.dest_service_port_num;
      if (typeof svcPort === 'number' && Number.isInteger(svcPort) && svcPort >= 0 && svcPort <= 65535)
        svc.port = svcPort;
      dst.service = svc;
    }
    const domains = r.dest_domains;
    if (Array.isArray(domains) && domains.length > 0) {
      const names: string[] = [];
      for (const d of domains) if (typeof d === 'string' && d !== '') names.push(d);
      if (names.length > 0) dst.names = names.length > 64 ? names.slice(0, 64) : names;
    }

    const cluster = optString(r, 'cluster');
    const rec: FlowRecord = {
      schema: 1,
      id: calicoRecordId(raw ?? JSON.stringify(r)),
      source: 'calico',
      cluster: cluster || this.cluster,
      time: isoFromSeconds(timeSec),
      verdict,
      direction: reporter === 'src' ? 'egress' : reporter === 'dst' ? 'ingress' : 'unknown',
      src,
      dst,
      protocol,
      count: r.num_flows === undefined || r.num_flows === null ? 1 : optCount(r, 'num_flows'),
      packets: packetsIn + packetsOut,
      bytes: optCount(r, 'bytes_in') + optCount(r, 'bytes_out'),
      policies: pol.policies,
    };
    const host = optString(r, 'host');
    if (host) rec.node = host;
    if (end !== undefined && start !== undefined) rec.endTime = isoFromSeconds(end);
    if (dropReason !== undefined) rec.dropReason = dropReason;
    if (reporter !== undefined) rec.reporter = reporter;
    if (!isIcmp(protocol)) {
      const sp = optPort(r, 'source_port', 'source_port_num');
      if (sp !== undefined) rec.srcPort = sp;
      const dp = optPort(r, 'dest_port', 'dest_port_num');
      if (dp !== undefined) rec.dstPort = dp;
    }
    return { record: rec };
  }

  private side(r: Obj, prefix: 'source_' | 'dest_', labelsKey: string): FlowEndpoint {
    const type = optString(r, `${prefix}type`) ?? '';
    const ip = r[`${prefix}ip`];
    return buildEndpoint(
      type,
      known(r[`${prefix}name`]),
      known(r[`${prefix}name_aggr`]),
      known(r[`${prefix}namespace`]),
      typeof ip === 'string' && ip !== '' ? ip : undefined,
      parseLabelsField(r[labelsKey], labelsKey),
    );
  }
}

/**
 * The LineMapper of `flows.log` files: one bare JSON record per line (blank lines skipped).
 * Stateless apart from the policy-string memo, so `flush` returns nothing.
 */
export class CalicoLineMapper implements LineMapper {
  private readonly mapper: CalicoFlowLogMapper;

  constructor(options: CalicoMapperOptions = {}) {
    this.mapper = new CalicoFlowLogMapper(options);
  }

  map(line: string): LineResult {
    if (line.length === 0 || line.trim().length === 0) return { kind: 'skipped', what: 'blank line' };
    const res = this.mapper.mapLine(line);
    if (res.record) return { kind: 'flows', records: [res.record] };
    return { kind: 'skipped', what: res.skipped };
  }

  flush(): FlowRecord[] {
    return [];
  }
}
