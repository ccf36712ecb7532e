/**
 * The engine behind `dropscope policy-test` and `POST /api/v1/policy-test`: probes
 * (from, to, port, protocol) evaluated against a cluster's manifests, printed as JSON lines or a
 * table in input order, and a reachability matrix of all pods for one port/protocol.
 */
import { promises as fs } from 'node:fs';
import { editDistance } from '../common/edit-distance.js';
import { sideReason } from './attribution.js';
import { isIp } from './cidr.js';
import { formatManifestIssue, loadManifestPaths } from './manifest.loader.js';
import { isValidPortName } from './manifest.normalize.js';
import { NetworkPolicyEvaluator, type DirectionDecision, type PolicyEndpoint } from './network-policy.evaluator.js';
import { buildInventory, type PolicyInventory } from './policy-inventory.js';
import {
  POLICY_PROTOCOLS,
  policyRefString,
  type PolicyDirection,
  type PolicyProtocol,
  type PolicyRef,
} from './policy-model.js';

/** Bad input; `field` names it (`port`, `probes[2].from`, `line 3: to`). */
export class PolicyTestInputError extends Error {
  constructor(
    readonly field: string,
    message: string,
    /** `: ` for "field: message"; ` ` for sentences such as "--port is required (...)". */
    separator = ': ',
  ) {
    super(`${field}${separator}${message}`);
    this.name = 'PolicyTestInputError';
  }
}

export type ProbeEndpointRef = { type: 'pod'; namespace: string; name: string } | { type: 'ip'; ip: string };

/** What a probe is expected to answer (`--expect`, `expected` in a probes file). */
export type ProbeExpectation = 'allow' | 'deny';

export interface ParsedProbe {
  from: string;
  to: string;
  /** A number, or a container port name resolved on the destination pod. */
  port: number | string;
  protocol: PolicyProtocol;
  src: ProbeEndpointRef;
  dst: ProbeEndpointRef;
  expected?: ProbeExpectation;
}

/** A rule that admitted the flow: policy, direction and index of the rule in that direction. */
export interface ProbeRule {
  policy: string;
  direction: PolicyDirection;
  ruleIndex: number;
}

export interface ProbeDirectionResult {
  allowed: boolean;
  isolatedBy: string[];
  allowedBy: string[];
  /** The admitting rules, when any. */
  admittedBy?: ProbeRule[];
  /** Explicit deny rules / Calico end of tier, when any. */
  deniedBy?: string[];
  /** Why the side denied, as drop attributions say it. */
  reason?: string;
  /** Limits of the answer (unmodelled features, hostNetwork). */
  notes?: string[];
}

export interface ProbeResult {
  from: string;
  /** The pod `from` resolved to, when it was given as an IP. */
  fromPod?: string;
  to: string;
  toPod?: string;
  /** The port number (a named port resolved on the destination pod). */
  port: number;
  /** The port name, when the probe named one. */
  portName?: string;
  protocol: PolicyProtocol;
  allowed: boolean;
  expected?: ProbeExpectation;
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

function parsePort(port: unknown, field: string): number | string {
  if (port === undefined || port === null || (typeof port === 'string' && port.trim() === ''))
    throw new PolicyTestInputError(field, 'is required (a number or a named port)', ' ');
  const t = typeof port === 'string' ? port.trim() : port;
  const n = typeof t === 'string' && /^\d+$/.test(t) ? Number(t) : t;
  if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535) return n;
  if (typeof n === 'string' && isValidPortName(n)) return n;
  throw new PolicyTestInputError(field, `must be a port number 1-65535 or a port name (got ${JSON.stringify(port)})`);
}

/** `allow`, `deny`, or absent. */
export function parseExpectation(value: unknown, field: string): ProbeExpectation | undefined {
  if (value === undefined || value === null) return undefined;
  if (value === 'allow' || value === 'deny') return value;
  throw new PolicyTestInputError(field, `must be allow or deny (got ${JSON.stringify(value)})`);
}

/**
 * Validate one probe. `port` accepts a number, a numeric string or a port name (IANA_SVC_NAME,
 * resolved on the destination pod when evaluated); protocol defaults to TCP.
 */
export function parseProbe(
  from: unknown,
  to: unknown,
  port: unknown,
  protocol?: unknown,
  fieldPrefix = '',
): ParsedProbe {
  const src = parseEndpointRef(from, `${fieldPrefix}from`);
  const dst = parseEndpointRef(to, `${fieldPrefix}to`);
  const p = parsePort(port, `${fieldPrefix}port`);
  let proto: PolicyProtocol = 'TCP';
  if (protocol !== undefined && protocol !== null && protocol !== '') {
    const u = typeof protocol === 'string' ? protocol.toUpperCase() : '';
    if (!(POLICY_PROTOCOLS as readonly string[]).includes(u)) {
      throw new PolicyTestInputError(
        `${fieldPrefix}protocol`,
        `must be TCP, UDP or SCTP (got ${JSON.stringify(protocol)})`,
      );
    }
    proto = u as PolicyProtocol;
  }
  return { from: String(from).trim(), to: String(to).trim(), port: p, protocol: proto, src, dst };
}

/**
 * Up to 3 pods whose names are close to a missing one: in its namespace starting with the name
 * (a Deployment's pods), the same name in other namespaces, then near misses (typos).
 */
function closePods(ev: NetworkPolicyEvaluator, namespace: string, name: string): string[] {
  const wanted = `${namespace}/${name}`;
  // Beyond a quarter of the name it is another pod, not a typo.
  const maxDistance = Math.max(2, Math.floor(wanted.length / 4));
  const scored: Array<{ ref: string; score: number }> = [];
  for (const pod of ev.inventory.pods) {
    const ref = `${pod.namespace}/${pod.name}`;
    let score: number | undefined;
    if (pod.namespace === namespace && pod.name.startsWith(name)) score = 0;
    else if (pod.name.startsWith(name)) score = 1;
    else {
      const d = editDistance(wanted, ref);
      if (d <= maxDistance) score = 1 + d;
    }
    if (score !== undefined) scored.push({ ref, score });
  }
  scored.sort((a, b) => a.score - b.score || (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
  return scored.slice(0, 3).map((s) => s.ref);
}

function resolve(ev: NetworkPolicyEvaluator, r: ProbeEndpointRef, field: string): PolicyEndpoint {
  if (r.type === 'ip') return ev.endpointForIp(r.ip);
  const pod = ev.inventory.pod(r.namespace, r.name);
  if (!pod) {
    const close = closePods(ev, r.namespace, r.name);
    const hint = close.length > 0 ? `; did you mean ${close.join(', ')}?` : '';
    throw new PolicyTestInputError(field, `pod ${r.namespace}/${r.name} is not in the cluster manifests${hint}`);
  }
  return ev.endpointForPod(pod);
}

/** A named port as Kubernetes resolves it: the destination pod's container port of that name and protocol. */
function resolvePort(p: ParsedProbe, dst: PolicyEndpoint, field: string): number {
  if (typeof p.port === 'number') return p.port;
  if (dst.kind !== 'pod')
    throw new PolicyTestInputError(
      field,
      `a named port needs a destination pod, and ${p.to} is not a pod in the cluster manifests`,
    );
  const ports = dst.namedPorts ?? [];
  const hit = ports.find((x) => x.name === p.port && x.protocol === p.protocol);
  if (hit) return hit.port;
  const named = ports.filter((x) => x.name !== undefined);
  const has =
    named.length > 0
      ? `its named ports: ${named.map((x) => `${x.name} ${x.protocol}/${x.port}`).join(', ')}`
      : 'it has no named ports';
  throw new PolicyTestInputError(
    field,
    `pod ${dst.namespace}/${dst.name} has no ${p.protocol} container port named ${p.port} (${has})`,
  );
}

function refs(list: readonly PolicyRef[]): string[] {
  return [...new Set(list.map(policyRefString))];
}

function directionResult(d: DirectionDecision, reason: () => string): ProbeDirectionResult {
  const out: ProbeDirectionResult = {
    allowed: d.allowed,
    isolatedBy: refs(d.isolatedBy),
    allowedBy: refs(d.allowedBy),
  };
  if (d.allowedBy.length > 0)
    out.admittedBy = d.allowedBy.map((r) => ({
      policy: policyRefString(r),
      direction: r.direction,
      ruleIndex: r.ruleIndex,
    }));
  if (d.deniedBy.length > 0) out.deniedBy = refs(d.deniedBy);
  if (!d.allowed) out.reason = reason();
  if (d.notes.length > 0) out.notes = [...d.notes];
  return out;
}

function evaluatorOf(source: PolicyInventory | NetworkPolicyEvaluator): NetworkPolicyEvaluator {
  return source instanceof NetworkPolicyEvaluator ? source : new NetworkPolicyEvaluator(source);
}

/**
 * Evaluate probes in input order. Unknown pods throw PolicyTestInputError naming the probe
 * (`fieldPrefix(i)`; by default `probes[i].` when there are several).
 */
export function runProbes(
  source: PolicyInventory | NetworkPolicyEvaluator,
  probes: readonly ParsedProbe[],
  fieldPrefix: (i: number) => string = (i) => (probes.length > 1 ? `probes[${i}].` : ''),
): ProbeResult[] {
  const ev = evaluatorOf(source);
  return probes.map((p, i) => runOne(ev, p, fieldPrefix(i)));
}

function podRef(e: PolicyEndpoint): string | undefined {
  return e.kind === 'pod' && e.namespace !== undefined && e.name !== undefined ? `${e.namespace}/${e.name}` : undefined;
}

function runOne(ev: NetworkPolicyEvaluator, p: ParsedProbe, fieldPrefix: string): ProbeResult {
  const src = resolve(ev, p.src, `${fieldPrefix}from`);
  const dst = resolve(ev, p.dst, `${fieldPrefix}to`);
  const port = resolvePort(p, dst, `${fieldPrefix}port`);
  const d = ev.evaluate({ src, dst, port, protocol: p.protocol });
  const reason = (side: DirectionDecision) => (): string => sideReason(side, src, dst, `${p.protocol}/${port}`);
  const fromPod = p.src.type === 'ip' ? podRef(src) : undefined;
  const toPod = p.dst.type === 'ip' ? podRef(dst) : undefined;
  return {
    from: p.from,
    ...(fromPod !== undefined && { fromPod }),
    to: p.to,
    ...(toPod !== undefined && { toPod }),
    port,
    ...(typeof p.port === 'string' && { portName: p.port }),
    protocol: p.protocol,
    allowed: d.allowed,
    ...(p.expected !== undefined && { expected: p.expected }),
    egress: directionResult(d.egress, reason(d.egress)),
    ingress: directionResult(d.ingress, reason(d.ingress)),
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

/**
 * One probe given as an object `{from, to, port, protocol, expected}` (a probes-file line, an item
 * of the POST /api/v1/policy-test body); `fieldPrefix` names it in errors.
 */
export function parseProbeObject(r: Readonly<Record<string, unknown>>, fieldPrefix: string): ParsedProbe {
  const probe = parseProbe(r.from, r.to, r.port, r.protocol, fieldPrefix);
  const expected = parseExpectation(r.expected, `${fieldPrefix}expected`);
  return expected !== undefined ? { ...probe, expected } : probe;
}

/** One probe line of a probes file: the probe, or why the line is bad. */
export type ProbeLine = { line: number; probe: ParsedProbe } | { line: number; error: PolicyTestInputError };

/**
 * Parse a JSON-lines probes file (`{from,to,port,protocol,expected}`; blank and `#` lines
 * skipped). A bad line does not stop the others: it comes back as an error naming the line.
 */
export function parseProbesJsonLines(text: string): ProbeLine[] {
  const out: ProbeLine[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) return;
    const line = i + 1;
    try {
      let v: unknown;
      try {
        v = JSON.parse(t);
      } catch (e) {
        throw new PolicyTestInputError(`line ${line}`, `not JSON: ${e instanceof Error ? e.message : String(e)}`);
      }
      if (typeof v !== 'object' || v === null || Array.isArray(v))
        throw new PolicyTestInputError(`line ${line}`, 'must be an object {from, to, port, protocol}');
      out.push({ line, probe: parseProbeObject(v as Record<string, unknown>, `line ${line}: `) });
    } catch (e) {
      if (!(e instanceof PolicyTestInputError)) throw e;
      out.push({ line, error: e });
    }
  });
  return out;
}

/** `ns/pod`, or `10.0.0.1 (ns/pod)` when an IP resolved to a pod. */
function endpointText(given: string, pod: string | undefined): string {
  return pod !== undefined ? `${given} (${pod})` : given;
}

function verdictText(allowed: boolean): ProbeExpectation {
  return allowed ? 'allow' : 'deny';
}

/**
 * One probe for people: the verdict, then per direction whether it is enforced, the isolating
 * policies, the admitting rules or the reason of the denial.
 */
export function renderProbeTable(r: ProbeResult): string {
  let head = `${r.allowed ? 'ALLOW' : 'DENY '}  ${endpointText(r.from, r.fromPod)} -> ${endpointText(r.to, r.toPod)} ${r.protocol}/${r.port}`;
  if (r.portName !== undefined) head += ` (${r.portName})`;
  if (r.expected !== undefined)
    head += r.expected === verdictText(r.allowed) ? `  expected ${r.expected}` : `  expected ${r.expected}: DISAGREES`;
  const lines = [head];
  const indent = ' '.repeat(18);
  for (const direction of ['egress', 'ingress'] as const) {
    const d = r[direction];
    const self = direction === 'egress' ? r.from : r.to;
    const detail: string[] = [];
    if (d.isolatedBy.length > 0) {
      detail.push(`isolated by ${d.isolatedBy.join(', ')}`);
      if (d.admittedBy)
        detail.push(`admitted by ${d.admittedBy.map((a) => `${a.policy} ${a.direction}[${a.ruleIndex}]`).join(', ')}`);
    } else if (d.notes?.some((n) => n.startsWith('hostNetwork'))) {
      detail.push('not enforced (hostNetwork pods are not selected by policies)');
    } else if (!isIp(self) || (direction === 'egress' ? r.fromPod : r.toPod) !== undefined) {
      detail.push('not isolated');
    } else {
      detail.push(`not enforced (${self} is not a pod)`);
    }
    if (d.reason !== undefined) detail.push(d.reason);
    for (const n of d.notes ?? []) if (!n.startsWith('hostNetwork')) detail.push(`note: ${n}`);
    lines.push(`  ${direction.padEnd(7)}  ${verdictText(d.allowed).padEnd(5)}  ${detail[0]}`);
    for (const more of detail.slice(1)) lines.push(`${indent}${more}`);
  }
  return lines.join('\n') + '\n';
}

export type PolicyTestOutput = 'table' | 'json';

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
  /** --output: table or json; default table on a terminal, json otherwise. */
  output?: string;
  /** --expect allow|deny: exit 1 when a probe disagrees (default of probes lacking `expected`). */
  expect?: string;
}

export interface PolicyTestIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readFile?(path: string): Promise<string>;
  /** Whether stdout is a terminal (picks the default output). */
  isTTY?: boolean;
}

function parseOutput(value: string | undefined, isTTY: boolean): PolicyTestOutput {
  if (value === undefined) return isTTY ? 'table' : 'json';
  if (value === 'table' || value === 'json') return value;
  throw new PolicyTestInputError('--output', `must be table or json (got ${JSON.stringify(value)})`);
}

/**
 * Run the CLI command; resolves the exit code: 0 ok, 1 a probe disagreed with its expected
 * verdict, 2 bad input (in a probes file: after evaluating the good lines).
 */
export async function runPolicyTestCli(opts: PolicyTestCliOptions, io: PolicyTestIo): Promise<number> {
  try {
    const output = parseOutput(opts.output, io.isTTY === true);
    const expect = parseExpectation(opts.expect, '--expect');
    if (opts.cluster.length === 0)
      throw new PolicyTestInputError('--cluster', 'at least one manifest file or folder is required');
    const loaded = await loadManifestPaths(opts.cluster);
    for (const issue of loaded.issues) if (issue.severity === 'error') io.stderr(`${formatManifestIssue(issue)}\n`);
    if (loaded.files.length === 0)
      throw new PolicyTestInputError('--cluster', `no manifest files found in ${opts.cluster.join(', ')}`);
    const inventory = buildInventory(loaded.objects, loaded.issues);
    const ev = new NetworkPolicyEvaluator(inventory);
    if (opts.matrix) {
      if (opts.output === 'json') throw new PolicyTestInputError('--output', 'the matrix is printed as a table only');
      if (expect !== undefined) throw new PolicyTestInputError('--expect', 'applies to probes, not to --matrix');
      const port = parsePort(opts.port, '--port');
      if (typeof port === 'string')
        throw new PolicyTestInputError(
          '--port',
          'the matrix needs a port number (a named port differs from pod to pod)',
        );
      const probe = parseProbe('a/a', 'b/b', port, opts.protocol, '--');
      io.stdout(renderMatrix(ev, port, probe.protocol, opts.namespaces ? { namespaces: opts.namespaces } : {}));
      return 0;
    }
    let lines: ProbeLine[];
    let fieldPrefix: (line: number) => string;
    if (opts.probes !== undefined) {
      if (opts.from !== undefined || opts.to !== undefined)
        throw new PolicyTestInputError('--probes', 'cannot be combined with --from/--to');
      const text = io.readFile ? await io.readFile(opts.probes) : await fs.readFile(opts.probes, 'utf8');
      lines = parseProbesJsonLines(text);
      if (lines.length === 0) throw new PolicyTestInputError('--probes', `no probes in ${opts.probes}`);
      fieldPrefix = (line) => `line ${line}: `;
    } else {
      // One probe: bad input is thrown, as for any other option.
      lines = [{ line: 0, probe: parseProbe(opts.from, opts.to, opts.port, opts.protocol, '--') }];
      fieldPrefix = () => '--';
    }
    let bad = 0;
    let disagreed = 0;
    for (const l of lines) {
      let result: ProbeResult;
      try {
        if ('error' in l) throw l.error;
        const probe =
          l.probe.expected === undefined && expect !== undefined ? { ...l.probe, expected: expect } : l.probe;
        result = runOne(ev, probe, fieldPrefix(l.line));
      } catch (e) {
        if (!(e instanceof PolicyTestInputError) || opts.probes === undefined) throw e;
        bad++;
        io.stderr(`policy-test: ${e.message}\n`);
        continue;
      }
      io.stdout(output === 'json' ? `${JSON.stringify(result)}\n` : renderProbeTable(result));
      if (result.expected !== undefined && result.expected !== verdictText(result.allowed)) {
        disagreed++;
        const where = opts.probes !== undefined ? `line ${l.line}: ` : '';
        io.stderr(
          `policy-test: ${where}expected ${result.expected}, got ${verdictText(result.allowed)}: ${result.from} -> ${result.to} ${result.protocol}/${result.port}\n`,
        );
      }
    }
    if (disagreed > 0)
      io.stderr(`policy-test: ${disagreed} of ${lines.length - bad} probes disagreed with the expected verdict\n`);
    if (bad > 0) io.stderr(`policy-test: ${bad} of ${lines.length} probes not evaluated (bad input)\n`);
    return bad > 0 ? 2 : disagreed > 0 ? 1 : 0;
  } catch (e) {
    if (e instanceof PolicyTestInputError) {
      io.stderr(`policy-test: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
