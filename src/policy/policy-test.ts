/**
 * The engine behind `dropscope policy-test` and `POST /api/v1/policy-test`: probes
 * (from, to, port, protocol) evaluated against a cluster's manifests, printed as JSON lines in
 * input order, and a reachability matrix of all pods for one port/protocol.
 */
import { promises as fs } from 'node:fs';
import { isIp } from './cidr.js';
import { formatManifestIssue, loadManifestPaths } from './manifest.loader.js';
import { NetworkPolicyEvaluator, type DirectionDecision, type PolicyEndpoint } from './network-policy.evaluator.js';
import { buildInventory, type PolicyInventory } from './policy-inventory.js';
import { POLICY_PROTOCOLS, policyRefString, type PolicyProtocol, type PolicyRef } from './policy-model.js';

/** Bad input; `field` names it (`port`, `probes[2].from`, `line 3: to`). */
export class PolicyTestInputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'PolicyTestInputError';
  }
}

export type ProbeEndpointRef = { type: 'pod'; namespace: string; name: string } | { type: 'ip'; ip: string };

export interface ParsedProbe {
  from: string;
  to: string;
  port: number;
  protocol: PolicyProtocol;
  src: ProbeEndpointRef;
  dst: ProbeEndpointRef;
}

export interface ProbeDirectionResult {
  allowed: boolean;
  isolatedBy: string[];
  allowedBy: string[];
  /** Explicit deny rules / Calico end of tier, when any. */
  deniedBy?: string[];
}

export interface ProbeResult {
  from: string;
  to: string;
  port: number;
  protocol: PolicyProtocol;
  allowed: boolean;
  egress: ProbeDirectionResult;
  ingress: ProbeDirectionResult;
}

function parseEndpointRef(value: unknown, field: string): ProbeEndpointRef {
  if (typeof value !== 'string' || value.trim() === '')
    throw new PolicyTestInputError(field, 'must be NAMESPACE/POD or an IP address');
  const v = value.trim();
  if (isIp(v)) return { type: 'ip', ip: v };
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(v);
  if (!m) throw new PolicyTestInputError(field, `${JSON.stringify(v)} is neither NAMESPACE/POD nor an IP address`);
  return { type: 'pod', namespace: m[1], name: m[3] };
}

/** Validate one probe. `port` accepts a number or numeric string; protocol defaults to TCP. */
export function parseProbe(
  from: unknown,
  to: unknown,
  port: unknown,
  protocol?: unknown,
  fieldPrefix = '',
): ParsedProbe {
  const src = parseEndpointRef(from, `${fieldPrefix}from`);
  const dst = parseEndpointRef(to, `${fieldPrefix}to`);
  const n = typeof port === 'string' && /^\d+$/.test(port.trim()) ? Number(port) : port;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) {
    throw new PolicyTestInputError(`${fieldPrefix}port`, `must be an integer 1-65535 (got ${JSON.stringify(port)})`);
  }
  let proto: PolicyProtocol = 'TCP';
  if (protocol !== undefined && protocol !== null && protocol !== '') {
    const p = typeof protocol === 'string' ? protocol.toUpperCase() : '';
    if (!(POLICY_PROTOCOLS as readonly string[]).includes(p)) {
      throw new PolicyTestInputError(
        `${fieldPrefix}protocol`,
        `must be TCP, UDP or SCTP (got ${JSON.stringify(protocol)})`,
      );
    }
    proto = p as PolicyProtocol;
  }
  return { from: String(from).trim(), to: String(to).trim(), port: n, protocol: proto, src, dst };
}

function resolve(ev: NetworkPolicyEvaluator, r: ProbeEndpointRef, field: string): PolicyEndpoint {
  if (r.type === 'ip') return ev.endpointForIp(r.ip);
  const pod = ev.inventory.pod(r.namespace, r.name);
  if (!pod) throw new PolicyTestInputError(field, `pod ${r.namespace}/${r.name} is not in the cluster manifests`);
  return ev.endpointForPod(pod);
}

function refs(list: readonly PolicyRef[]): string[] {
  return [...new Set(list.map(policyRefString))];
}

function directionResult(d: DirectionDecision): ProbeDirectionResult {
  const out: ProbeDirectionResult = {
    allowed: d.allowed,
    isolatedBy: refs(d.isolatedBy),
    allowedBy: refs(d.allowedBy),
  };
  if (d.deniedBy.length > 0) out.deniedBy = refs(d.deniedBy);
  return out;
}

function evaluatorOf(source: PolicyInventory | NetworkPolicyEvaluator): NetworkPolicyEvaluator {
  return source instanceof NetworkPolicyEvaluator ? source : new NetworkPolicyEvaluator(source);
}

/** Evaluate probes in input order. Unknown pods throw PolicyTestInputError naming `probes[i]`. */
export function runProbes(
  source: PolicyInventory | NetworkPolicyEvaluator,
  probes: readonly ParsedProbe[],
): ProbeResult[] {
  const ev = evaluatorOf(source);
  return probes.map((p, i) => runOne(ev, p, probes.length > 1 ? `probes[${i}].` : ''));
}

function runOne(ev: NetworkPolicyEvaluator, p: ParsedProbe, fieldPrefix: string): ProbeResult {
  const src = resolve(ev, p.src, `${fieldPrefix}from`);
  const dst = resolve(ev, p.dst, `${fieldPrefix}to`);
  const d = ev.evaluate({ src, dst, port: p.port, protocol: p.protocol });
  return {
    from: p.from,
    to: p.to,
    port: p.port,
    protocol: p.protocol,
    allowed: d.allowed,
    egress: directionResult(d.egress),
    ingress: directionResult(d.ingress),
  };
}

export interface MatrixOptions {
  /** Only these namespaces (default: all). */
  namespaces?: readonly string[];
  /** Use numbered columns when names would make the table wider than this (default 160). */
  maxWidth?: number;
}

/** A reachability table of all pods for one port/protocol: `.` allowed, `X` denied, `-` self. */
export function renderMatrix(
  source: PolicyInventory | NetworkPolicyEvaluator,
  port: number,
  protocol: string,
  options: MatrixOptions = {},
): string {
  const ev = evaluatorOf(source);
  const proto = protocol.toUpperCase();
  const pods = ev.inventory.pods
    .filter((p) => !options.namespaces || options.namespaces.includes(p.namespace))
    .slice()
    .sort((a, b) => (a.namespace === b.namespace ? (a.name < b.name ? -1 : 1) : a.namespace < b.namespace ? -1 : 1));
  const names = pods.map((p) => `${p.namespace}/${p.name}`);
  const lines: string[] = [
    `Reachability ${proto}/${port}: rows = from, columns = to; . allowed, X denied, - self (not evaluated)`,
  ];
  if (pods.length === 0) {
    lines.push('(no pods in the cluster manifests)');
    return lines.join('\n') + '\n';
  }
  const rowW = Math.max(...names.map((n) => n.length));
  const nameW = rowW;
  const wide = rowW + 1 + names.length * (nameW + 1) > (options.maxWidth ?? 160);
  const colLabels = wide ? names.map((_, i) => String(i + 1)) : names;
  const colW = Math.max(...colLabels.map((c) => c.length));
  const pad = (s: string, w: number): string => s + ' '.repeat(Math.max(0, w - s.length));
  const center = (s: string, w: number): string => {
    const left = Math.floor((w - s.length) / 2);
    return ' '.repeat(left) + s + ' '.repeat(Math.max(0, w - s.length - left));
  };
  const rowLabel = (i: number): string =>
    wide ? `${pad(String(i + 1), String(names.length).length)} ${names[i]}` : names[i];
  const labelW = Math.max(...names.map((_, i) => rowLabel(i).length));
  lines.push(`${pad('', labelW)} ${colLabels.map((c) => center(c, colW)).join(' ')}`.trimEnd());
  const eps = pods.map((p) => ev.endpointForPod(p));
  let allowed = 0;
  let total = 0;
  for (let i = 0; i < pods.length; i++) {
    const cells: string[] = [];
    for (let j = 0; j < pods.length; j++) {
      if (i === j) {
        cells.push(center('-', colW));
        continue;
      }
      const d = ev.evaluate({ src: eps[i], dst: eps[j], port, protocol: proto });
      total++;
      if (d.allowed) allowed++;
      cells.push(center(d.allowed ? '.' : 'X', colW));
    }
    lines.push(`${pad(rowLabel(i), labelW)} ${cells.join(' ')}`.trimEnd());
  }
  lines.push(`${allowed} of ${total} pairs allowed`);
  return lines.join('\n') + '\n';
}

/** Body of POST /api/v1/policy-test: `{probes: [{from,to,port,protocol}]}` → `{items: ProbeResult[]}`. */
export function policyTestFromBody(
  source: PolicyInventory | NetworkPolicyEvaluator,
  body: unknown,
  maxProbes = 10_000,
): { items: ProbeResult[] } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new PolicyTestInputError('body', 'must be a JSON object {"probes": [...]}');
  const probes = (body as Record<string, unknown>).probes;
  if (!Array.isArray(probes) || probes.length === 0)
    throw new PolicyTestInputError('probes', 'must be a non-empty list of {from, to, port, protocol}');
  if (probes.length > maxProbes)
    throw new PolicyTestInputError('probes', `at most ${maxProbes} probes per request (got ${probes.length})`);
  const parsed = probes.map((p, i) => {
    if (typeof p !== 'object' || p === null || Array.isArray(p))
      throw new PolicyTestInputError(`probes[${i}]`, 'must be an object {from, to, port, protocol}');
    const r = p as Record<string, unknown>;
    return parseProbe(r.from, r.to, r.port, r.protocol, `probes[${i}].`);
  });
  const ev = evaluatorOf(source);
  return { items: parsed.map((p, i) => runOne(ev, p, `probes[${i}].`)) };
}

/** Parse a JSON-lines probes file; errors name the line. */
export function parseProbesJsonLines(text: string): ParsedProbe[] {
  const out: ParsedProbe[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) return;
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch (e) {
      throw new PolicyTestInputError(`line ${i + 1}`, `not JSON: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      throw new PolicyTestInputError(`line ${i + 1}`, 'must be an object {from, to, port, protocol}');
    const r = v as Record<string, unknown>;
    out.push(parseProbe(r.from, r.to, r.port, r.protocol, `line ${i + 1}: `));
  });
  return out;
}

export interface PolicyTestCliOptions {
  /** --cluster FILE (repeatable; files or folders). */
  cluster: readonly string[];
  from?: string;
  to?: string;
  port?: string | number;
  protocol?: string;
  /** --probes FILE (JSON lines). */
  probes?: string;
  /** --matrix: print the reachability table for --port/--protocol. */
  matrix?: boolean;
  /** Only these namespaces in the matrix. */
  namespaces?: readonly string[];
}

export interface PolicyTestIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readFile?(path: string): Promise<string>;
}

/** Run the CLI command; resolves the exit code (0 ok, 2 bad input). */
export async function runPolicyTestCli(opts: PolicyTestCliOptions, io: PolicyTestIo): Promise<number> {
  try {
    if (opts.cluster.length === 0)
      throw new PolicyTestInputError('--cluster', 'at least one manifest file or folder is required');
    const loaded = await loadManifestPaths(opts.cluster);
    for (const issue of loaded.issues) if (issue.severity === 'error') io.stderr(`${formatManifestIssue(issue)}\n`);
    if (loaded.files.length === 0)
      throw new PolicyTestInputError('--cluster', `no manifest files found in ${opts.cluster.join(', ')}`);
    const inventory = buildInventory(loaded.objects, loaded.issues);
    const ev = new NetworkPolicyEvaluator(inventory);
    if (opts.matrix) {
      const probe = parseProbe('a/a', 'b/b', opts.port ?? '', opts.protocol, '--');
      io.stdout(renderMatrix(ev, probe.port, probe.protocol, opts.namespaces ? { namespaces: opts.namespaces } : {}));
      return 0;
    }
    let probes: ParsedProbe[];
    if (opts.probes !== undefined) {
      if (opts.from !== undefined || opts.to !== undefined)
        throw new PolicyTestInputError('--probes', 'cannot be combined with --from/--to');
      const text = io.readFile ? await io.readFile(opts.probes) : await fs.readFile(opts.probes, 'utf8');
      probes = parseProbesJsonLines(text);
    } else {
      probes = [parseProbe(opts.from, opts.to, opts.port, opts.protocol, '--')];
    }
    for (const r of runProbes(ev, probes)) io.stdout(`${JSON.stringify(r)}\n`);
    return 0;
  } catch (e) {
    if (e instanceof PolicyTestInputError) {
      io.stderr(`policy-test: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
