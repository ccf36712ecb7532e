/**
 * Turns one raw Kubernetes object (a parsed YAML/JSON document, or an object from an API watch)
 * into a validated InventoryObject. Validation follows the API server where it matters for
 * evaluation (selector operators, ports, endPort, ipBlock, protocols); defaults are replayed
 * (NetworkPolicy policyTypes, protocol TCP, namespace `default`), because manifests read from
 * files or git never went through the API server.
 */
import { compileCalicoSelector, CalicoSelectorError } from './calico-selector.js';
import { cidrWithin, parseCidr } from './cidr.js';
import {
  labelMap,
  SELECTOR_OPERATORS,
  type LabelSelector,
  type LabelSelectorRequirement,
  type SelectorOperator,
} from './label-selector.js';
import {
  POLICY_PROTOCOLS,
  type CalicoEntityRule,
  type CalicoPolicyObject,
  type CalicoPortSpec,
  type CalicoRule,
  type CiliumPolicyObject,
  type CiliumPortSpec,
  type CiliumRule,
  type CiliumRuleSet,
  type CalicoNetworkSetObject,
  type CalicoTierObject,
  type ClusterPodsSelector,
  type ClusterPolicyKind,
  type ClusterPolicyObject,
  type ClusterPolicyPeer,
  type ClusterPolicyPort,
  type ClusterPolicyRule,
  type InventoryObject,
  type StagedPolicyObject,
  type IpBlockSpec,
  type K8sNetworkPolicyObject,
  type NamedPort,
  type NamespaceObject,
  type NpPeer,
  type NpPort,
  type NpRule,
  type PodObject,
  type PolicyProtocol,
  ADMIN_TIER,
  BASELINE_TIER,
} from './policy-model.js';

export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export type NormalizeResult =
  | { status: 'ok'; object: InventoryObject; warnings: string[] }
  | { status: 'ignored'; kind: string; reason: string }
  | { status: 'invalid'; kind: string; name?: string; namespace?: string; errors: string[] };

export type Raw = Record<string, unknown>;

export function isRecord(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Collects errors with a JSON-path-ish prefix. */
class Issues {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  error(path: string, msg: string): void {
    this.errors.push(`${path}: ${msg}`);
  }
  warn(path: string, msg: string): void {
    this.warnings.push(`${path}: ${msg}`);
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function arr(v: unknown, path: string, issues: Issues): unknown[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) {
    issues.error(path, 'must be a list');
    return undefined;
  }
  return v;
}

function stringMap(v: unknown, path: string, issues: Issues): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isRecord(v)) {
    issues.error(path, 'must be a map of strings');
    return {};
  }
  const out: Array<[string, string]> = [];
  for (const [k, val] of Object.entries(v)) {
    if (typeof val === 'string') out.push([k, val]);
    else if (typeof val === 'number' || typeof val === 'boolean') out.push([k, String(val)]);
    else issues.error(`${path}.${k}`, 'label value must be a string');
  }
  return labelMap(out);
}

function labelSelector(v: unknown, path: string, issues: Issues, keyMap?: (k: string) => string): LabelSelector {
  if (v === null || v === undefined) return {};
  if (!isRecord(v)) {
    issues.error(path, 'must be a label selector object');
    return {};
  }
  const sel: LabelSelector = {};
  const ml = stringMap(v.matchLabels, `${path}.matchLabels`, issues);
  if (Object.keys(ml).length > 0) {
    sel.matchLabels = keyMap ? Object.fromEntries(Object.entries(ml).map(([k, val]) => [keyMap(k), val])) : ml;
  }
  const exprs = arr(v.matchExpressions, `${path}.matchExpressions`, issues);
  if (exprs && exprs.length > 0) {
    const out: LabelSelectorRequirement[] = [];
    exprs.forEach((e, i) => {
      const p = `${path}.matchExpressions[${i}]`;
      if (!isRecord(e)) return issues.error(p, 'must be an object');
      const key = str(e.key);
      const op = str(e.operator);
      if (!key) return issues.error(`${p}.key`, 'is required');
      if (!op || !(SELECTOR_OPERATORS as readonly string[]).includes(op)) {
        return issues.error(
          `${p}.operator`,
          `must be one of ${SELECTOR_OPERATORS.join(', ')} (got ${JSON.stringify(e.operator)})`,
        );
      }
      const values = arr(e.values, `${p}.values`, issues)?.map((x) => String(x)) ?? [];
      if ((op === 'In' || op === 'NotIn') && values.length === 0)
        issues.error(`${p}.values`, `must be non-empty for ${op}`);
      if ((op === 'Exists' || op === 'DoesNotExist') && values.length > 0)
        issues.error(`${p}.values`, `must be empty for ${op}`);
      const req: LabelSelectorRequirement = { key: keyMap ? keyMap(key) : key, operator: op as SelectorOperator };
      if (values.length > 0) req.values = values;
      out.push(req);
    });
    sel.matchExpressions = out;
  }
  return sel;
}

function protocol(v: unknown, path: string, issues: Issues): PolicyProtocol {
  if (v === undefined || v === null) return 'TCP';
  const p = typeof v === 'string' ? v.toUpperCase() : '';
  if ((POLICY_PROTOCOLS as readonly string[]).includes(p)) {
    if (v !== p) issues.warn(path, `protocol ${JSON.stringify(v)} read as ${p}`);
    return p as PolicyProtocol;
  }
  issues.error(path, `must be TCP, UDP or SCTP (got ${JSON.stringify(v)})`);
  return 'TCP';
}

/** IANA_SVC_NAME as the API server validates named ports. */
export function isValidPortName(s: string): boolean {
  return (
    s.length >= 1 && s.length <= 15 && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(s) && /[a-z]/.test(s) && !s.includes('--')
  );
}

function portNumber(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535 ? v : undefined;
}

function ipBlock(v: unknown, path: string, issues: Issues): IpBlockSpec | undefined {
  if (!isRecord(v)) {
    issues.error(path, 'must be an object with cidr');
    return undefined;
  }
  const cidrText = str(v.cidr);
  const cidr = cidrText ? parseCidr(cidrText) : undefined;
  if (!cidrText || !cidr || !cidrText.includes('/')) {
    issues.error(`${path}.cidr`, `must be a CIDR such as 10.0.0.0/8 or 2001:db8::/32 (got ${JSON.stringify(v.cidr)})`);
    return undefined;
  }
  const exceptions: string[] = [];
  (arr(v.except, `${path}.except`, issues) ?? []).forEach((e, i) => {
    const t = str(e);
    const c = t ? parseCidr(t) : undefined;
    if (!t || !c || !t.includes('/'))
      return issues.error(`${path}.except[${i}]`, `must be a CIDR (got ${JSON.stringify(e)})`);
    if (!cidrWithin(c, cidr) || c.prefix === cidr.prefix) {
      issues.error(`${path}.except[${i}]`, `${t} must be strictly within ${cidrText}`);
    }
    exceptions.push(t);
  });
  return { cidr: cidrText, except: exceptions };
}

function npPorts(v: unknown, path: string, issues: Issues): NpPort[] {
  const list = arr(v, path, issues) ?? [];
  const out: NpPort[] = [];
  list.forEach((p, i) => {
    const pp = `${path}[${i}]`;
    if (!isRecord(p)) return issues.error(pp, 'must be an object');
    const port: NpPort = { protocol: protocol(p.protocol, `${pp}.protocol`, issues) };
    if (p.port !== undefined && p.port !== null) {
      if (typeof p.port === 'number') {
        if (portNumber(p.port) === undefined) issues.error(`${pp}.port`, `must be 1-65535 (got ${p.port})`);
        port.port = p.port;
      } else if (typeof p.port === 'string') {
        if (!isValidPortName(p.port))
          issues.error(`${pp}.port`, `${JSON.stringify(p.port)} is not a valid port number or port name`);
        port.port = p.port;
      } else issues.error(`${pp}.port`, 'must be a number or a port name');
    }
    if (p.endPort !== undefined && p.endPort !== null) {
      const end = portNumber(p.endPort);
      if (end === undefined) issues.error(`${pp}.endPort`, `must be 1-65535 (got ${JSON.stringify(p.endPort)})`);
      else if (typeof port.port !== 'number')
        issues.error(`${pp}.endPort`, 'requires a numeric port (not a named port, not absent)');
      else if (end < port.port) issues.error(`${pp}.endPort`, `must be >= port (${end} < ${port.port})`);
      else port.endPort = end;
    }
    out.push(port);
  });
  return out;
}

function npPeers(v: unknown, path: string, issues: Issues): NpPeer[] {
  const list = arr(v, path, issues) ?? [];
  const out: NpPeer[] = [];
  list.forEach((p, i) => {
    const pp = `${path}[${i}]`;
    if (!isRecord(p)) return issues.error(pp, 'must be an object');
    const peer: NpPeer = {};
    const hasPod = p.podSelector !== undefined && p.podSelector !== null;
    const hasNs = p.namespaceSelector !== undefined && p.namespaceSelector !== null;
    const hasIp = p.ipBlock !== undefined && p.ipBlock !== null;
    if (!hasPod && !hasNs && !hasIp) issues.error(pp, 'must set podSelector, namespaceSelector or ipBlock');
    if (hasIp && (hasPod || hasNs))
      issues.error(pp, 'ipBlock cannot be combined with podSelector or namespaceSelector');
    if (hasPod) peer.podSelector = labelSelector(p.podSelector, `${pp}.podSelector`, issues);
    if (hasNs) peer.namespaceSelector = labelSelector(p.namespaceSelector, `${pp}.namespaceSelector`, issues);
    if (hasIp) {
      const b = ipBlock(p.ipBlock, `${pp}.ipBlock`, issues);
      if (b) peer.ipBlock = b;
    }
    out.push(peer);
  });
  return out;
}

function npRules(v: unknown, path: string, peerKey: 'from' | 'to', issues: Issues): NpRule[] {
  const list = arr(v, path, issues) ?? [];
  return list.map((r, i) => {
    const rp = `${path}[${i}]`;
    if (r === null || r === undefined) return { peers: [], ports: [] };
    if (!isRecord(r)) {
      issues.error(rp, 'must be an object');
      return { peers: [], ports: [] };
    }
    return { peers: npPeers(r[peerKey], `${rp}.${peerKey}`, issues), ports: npPorts(r.ports, `${rp}.ports`, issues) };
  });
}

function meta(o: Raw): { name?: string; namespace?: string; labels: unknown } {
  const m = isRecord(o.metadata) ? o.metadata : {};
  return { name: str(m.name), namespace: str(m.namespace), labels: m.labels };
}

function normalizeNamespace(o: Raw, issues: Issues, name: string): NamespaceObject {
  const labels = stringMap(meta(o).labels, 'metadata.labels', issues);
  return { kind: 'Namespace', name, labels: { ...labels, [NAMESPACE_NAME_LABEL]: name } };
}

function normalizePod(o: Raw, issues: Issues, name: string, namespace: string): PodObject {
  const labels = stringMap(meta(o).labels, 'metadata.labels', issues);
  const spec = isRecord(o.spec) ? o.spec : {};
  const status = isRecord(o.status) ? o.status : {};
  const ips: string[] = [];
  const podIP = str(status.podIP);
  if (podIP) ips.push(podIP);
  for (const e of arr(status.podIPs, 'status.podIPs', issues) ?? []) {
    const ip = isRecord(e) ? str(e.ip) : undefined;
    if (ip && !ips.includes(ip)) ips.push(ip);
  }
  const ports: NamedPort[] = [];
  for (const field of ['containers', 'initContainers'] as const) {
    (arr(spec[field], `spec.${field}`, issues) ?? []).forEach((c, ci) => {
      if (!isRecord(c)) return;
      (arr(c.ports, `spec.${field}[${ci}].ports`, issues) ?? []).forEach((p, pi) => {
        const pp = `spec.${field}[${ci}].ports[${pi}]`;
        if (!isRecord(p)) return issues.error(pp, 'must be an object');
        const num = portNumber(p.containerPort);
        if (num === undefined)
          return issues.error(`${pp}.containerPort`, `must be 1-65535 (got ${JSON.stringify(p.containerPort)})`);
        const np: NamedPort = { port: num, protocol: protocol(p.protocol, `${pp}.protocol`, issues) };
        const pname = str(p.name);
        if (pname) np.name = pname;
        ports.push(np);
      });
    });
  }
  return { kind: 'Pod', namespace, name, labels, ips, ports, hostNetwork: spec.hostNetwork === true };
}

function normalizeK8sPolicy(o: Raw, issues: Issues, name: string, namespace: string): K8sNetworkPolicyObject {
  const spec = isRecord(o.spec) ? o.spec : undefined;
  if (!spec) issues.error('spec', 'is required');
  const s = spec ?? {};
  const podSelector = labelSelector(s.podSelector, 'spec.podSelector', issues);
  const ingress = npRules(s.ingress, 'spec.ingress', 'from', issues);
  const egress = npRules(s.egress, 'spec.egress', 'to', issues);
  const rawTypes = arr(s.policyTypes, 'spec.policyTypes', issues);
  let policyTypes: Array<'Ingress' | 'Egress'>;
  let defaulted = false;
  if (rawTypes === undefined || rawTypes.length === 0) {
    // SetDefaults_NetworkPolicy: Ingress always; Egress only when egress rules exist.
    defaulted = true;
    policyTypes = ['Ingress'];
    if (egress.length > 0) policyTypes.push('Egress');
  } else {
    policyTypes = [];
    rawTypes.forEach((t, i) => {
      if (t === 'Ingress' || t === 'Egress') {
        if (!policyTypes.includes(t)) policyTypes.push(t);
      } else issues.error(`spec.policyTypes[${i}]`, `must be Ingress or Egress (got ${JSON.stringify(t)})`);
    });
  }
  return {
    kind: 'NetworkPolicy',
    namespace,
    name,
    podSelector,
    policyTypes,
    policyTypesDefaulted: defaulted,
    ingress,
    egress,
  };
}

// ---- Cilium ----------------------------------------------------------------------------------

/** Cilium label keys carry a source prefix (`k8s:`, `any:`); matching ignores it. */
export function ciliumKey(k: string): string {
  if (k.startsWith('k8s:')) return k.slice(4);
  if (k.startsWith('any:')) return k.slice(4);
  return k;
}

const CILIUM_UNMODELLED_PEER_FIELDS = [
  'fromRequires',
  'toRequires',
  'toFQDNs',
  'toServices',
  'toGroups',
  'fromGroups',
  'fromNodes',
  'toNodes',
  'icmps',
];

function ciliumRules(v: unknown, path: string, dir: 'from' | 'to', issues: Issues): CiliumRule[] | undefined {
  const list = arr(v, path, issues);
  if (list === undefined) return undefined;
  return list.map((r, i) => {
    const rp = `${path}[${i}]`;
    const rule: CiliumRule = { cidrs: [], entities: [], ports: [], hasL7: false, unmodelled: [] };
    if (!isRecord(r)) {
      if (r !== null && r !== undefined) issues.error(rp, 'must be an object');
      return rule;
    }
    const eps = arr(r[`${dir}Endpoints`], `${rp}.${dir}Endpoints`, issues);
    if (eps) rule.endpoints = eps.map((e, j) => labelSelector(e, `${rp}.${dir}Endpoints[${j}]`, issues, ciliumKey));
    (arr(r[`${dir}CIDR`], `${rp}.${dir}CIDR`, issues) ?? []).forEach((c, j) => {
      const t = str(c);
      if (!t || !parseCidr(t))
        return issues.error(`${rp}.${dir}CIDR[${j}]`, `must be a CIDR (got ${JSON.stringify(c)})`);
      rule.cidrs.push({ cidr: t, except: [] });
    });
    (arr(r[`${dir}CIDRSet`], `${rp}.${dir}CIDRSet`, issues) ?? []).forEach((c, j) => {
      if (isRecord(c) && c.cidr === undefined && (c.cidrGroupRef !== undefined || c.cidrGroupSelector !== undefined)) {
        rule.unmodelled.push(`${dir}CIDRSet[${j}].cidrGroupRef`);
        return;
      }
      const b = ipBlock(c, `${rp}.${dir}CIDRSet[${j}]`, issues);
      if (b) rule.cidrs.push(b);
    });
    (arr(r[`${dir}Entities`], `${rp}.${dir}Entities`, issues) ?? []).forEach((e) => {
      if (typeof e === 'string') rule.entities.push(e);
    });
    for (const f of CILIUM_UNMODELLED_PEER_FIELDS) if (r[f] !== undefined && r[f] !== null) rule.unmodelled.push(f);
    (arr(r.toPorts, `${rp}.toPorts`, issues) ?? []).forEach((tp, j) => {
      if (!isRecord(tp)) return issues.error(`${rp}.toPorts[${j}]`, 'must be an object');
      if (tp.rules !== undefined && tp.rules !== null) rule.hasL7 = true;
      (arr(tp.ports, `${rp}.toPorts[${j}].ports`, issues) ?? []).forEach((p, k) => {
        const pp = `${rp}.toPorts[${j}].ports[${k}]`;
        if (!isRecord(p)) return issues.error(pp, 'must be an object');
        const protoRaw = str(p.protocol)?.toUpperCase() ?? 'ANY';
        if (!['TCP', 'UDP', 'SCTP', 'ANY'].includes(protoRaw))
          return issues.error(`${pp}.protocol`, `must be TCP, UDP, SCTP or ANY (got ${JSON.stringify(p.protocol)})`);
        const spec: CiliumPortSpec = { protocol: protoRaw as CiliumPortSpec['protocol'] };
        const rawPort = p.port;
        if (typeof rawPort === 'number' || (typeof rawPort === 'string' && /^\d+$/.test(rawPort))) {
          const n = Number(rawPort);
          if (n !== 0) {
            if (portNumber(n) === undefined)
              return issues.error(`${pp}.port`, `must be 0-65535 (got ${JSON.stringify(rawPort)})`);
            spec.port = n;
          }
        } else if (typeof rawPort === 'string' && rawPort !== '') spec.port = rawPort;
        if (p.endPort !== undefined) {
          const e = portNumber(p.endPort);
          if (e === undefined || typeof spec.port !== 'number' || e < spec.port)
            issues.error(`${pp}.endPort`, 'must be a port >= port');
          else spec.endPort = e;
        }
        rule.ports.push(spec);
      });
    });
    return rule;
  });
}

function ciliumRuleSet(s: Raw, path: string, issues: Issues): CiliumRuleSet {
  const set: CiliumRuleSet = { enableDefaultDeny: { ingress: true, egress: true } };
  if (s.endpointSelector !== undefined && s.endpointSelector !== null) {
    set.endpointSelector = labelSelector(s.endpointSelector, `${path}.endpointSelector`, issues, ciliumKey);
  }
  if (s.nodeSelector !== undefined && s.nodeSelector !== null) {
    set.nodeSelector = labelSelector(s.nodeSelector, `${path}.nodeSelector`, issues, ciliumKey);
  }
  if (!set.endpointSelector && !set.nodeSelector) issues.error(path, 'must set endpointSelector or nodeSelector');
  const ing = ciliumRules(s.ingress, `${path}.ingress`, 'from', issues);
  if (ing) set.ingress = ing;
  const ingD = ciliumRules(s.ingressDeny, `${path}.ingressDeny`, 'from', issues);
  if (ingD) set.ingressDeny = ingD;
  const eg = ciliumRules(s.egress, `${path}.egress`, 'to', issues);
  if (eg) set.egress = eg;
  const egD = ciliumRules(s.egressDeny, `${path}.egressDeny`, 'to', issues);
  if (egD) set.egressDeny = egD;
  if (isRecord(s.enableDefaultDeny)) {
    if (s.enableDefaultDeny.ingress === false) set.enableDefaultDeny.ingress = false;
    if (s.enableDefaultDeny.egress === false) set.enableDefaultDeny.egress = false;
  }
  return set;
}

function normalizeCilium(
  o: Raw,
  issues: Issues,
  kind: CiliumPolicyObject['kind'],
  name: string,
  namespace: string | undefined,
): CiliumPolicyObject {
  const specs: CiliumRuleSet[] = [];
  if (isRecord(o.spec)) specs.push(ciliumRuleSet(o.spec, 'spec', issues));
  (arr(o.specs, 'specs', issues) ?? []).forEach((s, i) => {
    if (isRecord(s)) specs.push(ciliumRuleSet(s, `specs[${i}]`, issues));
    else issues.error(`specs[${i}]`, 'must be an object');
  });
  if (specs.length === 0) issues.error('spec', 'spec or specs is required');
  const obj: CiliumPolicyObject = { kind, name, specs };
  if (namespace !== undefined) obj.namespace = namespace;
  return obj;
}

// ---- Calico ----------------------------------------------------------------------------------

function calicoSelector(v: unknown, path: string, issues: Issues): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') {
    issues.error(path, 'must be a selector expression string');
    return undefined;
  }
  try {
    compileCalicoSelector(v);
  } catch (e) {
    issues.error(
      path,
      e instanceof CalicoSelectorError ? `invalid selector ${JSON.stringify(v)}: ${e.message}` : String(e),
    );
  }
  return v;
}

function calicoPorts(v: unknown, path: string, issues: Issues): CalicoPortSpec[] {
  return (arr(v, path, issues) ?? []).flatMap((p, i): CalicoPortSpec[] => {
    if (typeof p === 'number' && portNumber(p) !== undefined) return [{ from: p, to: p }];
    if (typeof p === 'string') {
      const m = /^(\d+):(\d+)$/.exec(p);
      if (m) {
        const a = Number(m[1]);
        const b = Number(m[2]);
        if (portNumber(a) !== undefined && portNumber(b) !== undefined && a <= b) return [{ from: a, to: b }];
      } else if (/^\d+$/.test(p) && portNumber(Number(p)) !== undefined) return [{ from: Number(p), to: Number(p) }];
      else if (p.length > 0) return [{ name: p }];
    }
    issues.error(`${path}[${i}]`, `must be a port, a range "from:to" or a port name (got ${JSON.stringify(p)})`);
    return [];
  });
}

function calicoNets(v: unknown, path: string, issues: Issues): string[] {
  return (arr(v, path, issues) ?? []).flatMap((n, i) => {
    const t = str(n);
    if (!t || !parseCidr(t)) {
      issues.error(`${path}[${i}]`, `must be a CIDR (got ${JSON.stringify(n)})`);
      return [];
    }
    return [t];
  });
}

function calicoEntity(v: unknown, path: string, issues: Issues): CalicoEntityRule {
  const e: CalicoEntityRule = { nets: [], notNets: [], ports: [], notPorts: [], unmodelled: [] };
  if (v === undefined || v === null) return e;
  if (!isRecord(v)) {
    issues.error(path, 'must be an object');
    return e;
  }
  const sel = calicoSelector(v.selector, `${path}.selector`, issues);
  if (sel !== undefined) e.selector = sel;
  const notSel = calicoSelector(v.notSelector, `${path}.notSelector`, issues);
  if (notSel !== undefined) e.notSelector = notSel;
  const nsSel = calicoSelector(v.namespaceSelector, `${path}.namespaceSelector`, issues);
  if (nsSel !== undefined) e.namespaceSelector = nsSel;
  e.nets = calicoNets(v.nets ?? (v.net !== undefined ? [v.net] : undefined), `${path}.nets`, issues);
  e.notNets = calicoNets(v.notNets ?? (v.notNet !== undefined ? [v.notNet] : undefined), `${path}.notNets`, issues);
  e.ports = calicoPorts(v.ports, `${path}.ports`, issues);
  e.notPorts = calicoPorts(v.notPorts, `${path}.notPorts`, issues);
  for (const f of ['serviceAccounts', 'services', 'domains'])
    if (v[f] !== undefined && v[f] !== null) e.unmodelled.push(f);
  return e;
}

function calicoRules(v: unknown, path: string, issues: Issues): CalicoRule[] {
  return (arr(v, path, issues) ?? []).flatMap((r, i): CalicoRule[] => {
    const rp = `${path}[${i}]`;
    if (!isRecord(r)) {
      issues.error(rp, 'must be an object');
      return [];
    }
    const action = str(r.action);
    const norm = action ? action.charAt(0).toUpperCase() + action.slice(1).toLowerCase() : undefined;
    if (norm !== 'Allow' && norm !== 'Deny' && norm !== 'Log' && norm !== 'Pass') {
      issues.error(`${rp}.action`, `must be Allow, Deny, Log or Pass (got ${JSON.stringify(r.action)})`);
      return [];
    }
    const rule: CalicoRule = {
      action: norm,
      source: calicoEntity(r.source, `${rp}.source`, issues),
      destination: calicoEntity(r.destination, `${rp}.destination`, issues),
      unmodelled: [],
    };
    if (r.protocol !== undefined && r.protocol !== null) rule.protocol = String(r.protocol).toUpperCase();
    if (r.notProtocol !== undefined && r.notProtocol !== null) rule.notProtocol = String(r.notProtocol).toUpperCase();
    const hasPorts =
      rule.source.ports.length +
        rule.destination.ports.length +
        rule.source.notPorts.length +
        rule.destination.notPorts.length >
      0;
    if (hasPorts && !['TCP', 'UDP', 'SCTP', 'UDPLITE', '6', '17', '132', '136'].includes(rule.protocol ?? '')) {
      issues.error(`${rp}.protocol`, 'ports require protocol TCP, UDP or SCTP');
    }
    for (const f of ['http', 'icmp', 'notICMP']) if (r[f] !== undefined && r[f] !== null) rule.unmodelled.push(f);
    return [rule];
  });
}

/**
 * Policies outside the default tier are named `<tier>.<name>`; the name without the prefix is what
 * flow sources report.
 */
function calicoPolicyName(rawName: string, tier: string): string {
  return tier !== 'default' && rawName.startsWith(`${tier}.`)
    ? rawName.slice(tier.length + 1)
    : rawName.replace(/^default\./, '');
}

function normalizeCalico(
  o: Raw,
  issues: Issues,
  kind: CalicoPolicyObject['kind'],
  rawName: string,
  namespace: string | undefined,
): CalicoPolicyObject {
  const spec = isRecord(o.spec) ? o.spec : {};
  const tier = str(spec.tier) ?? 'default';
  const name = calicoPolicyName(rawName, tier);
  const ingress = calicoRules(spec.ingress, 'spec.ingress', issues);
  const egress = calicoRules(spec.egress, 'spec.egress', issues);
  let types: Array<'Ingress' | 'Egress'> = [];
  const rawTypes = arr(spec.types, 'spec.types', issues);
  if (rawTypes && rawTypes.length > 0) {
    rawTypes.forEach((t, i) => {
      if (t === 'Ingress' || t === 'Egress') types.push(t);
      else issues.error(`spec.types[${i}]`, `must be Ingress or Egress (got ${JSON.stringify(t)})`);
    });
  } else {
    // Calico defaulting: Ingress when ingress rules or no rules at all; Egress when egress rules.
    if (ingress.length > 0 || egress.length === 0) types.push('Ingress');
    if (egress.length > 0) types.push('Egress');
  }
  types = [...new Set(types)];
  let order: number | undefined;
  if (typeof spec.order === 'number') order = spec.order;
  else if (typeof spec.order === 'string' && spec.order.trim() !== '' && !Number.isNaN(Number(spec.order)))
    order = Number(spec.order);
  const obj: CalicoPolicyObject = {
    kind,
    name,
    tier,
    selector: calicoSelector(spec.selector, 'spec.selector', issues) ?? 'all()',
    types,
    ingress,
    egress,
  };
  if (order !== undefined) obj.order = order;
  if (namespace !== undefined) obj.namespace = namespace;
  if (kind === 'GlobalNetworkPolicy') {
    const nsSel = calicoSelector(spec.namespaceSelector, 'spec.namespaceSelector', issues);
    if (nsSel !== undefined) obj.namespaceSelector = nsSel;
  }
  return obj;
}

// ---- ClusterNetworkPolicy (v1alpha2), AdminNetworkPolicy and BaselineAdminNetworkPolicy (v1alpha1) ----

function podsSelector(v: unknown, path: string, issues: Issues, nsRequired: boolean): ClusterPodsSelector {
  if (!isRecord(v)) {
    issues.error(path, 'must be an object with podSelector');
    return { podSelector: {} };
  }
  if (v.podSelector === undefined || v.podSelector === null) issues.error(`${path}.podSelector`, 'is required');
  const out: ClusterPodsSelector = { podSelector: labelSelector(v.podSelector, `${path}.podSelector`, issues) };
  if (v.namespaceSelector !== undefined && v.namespaceSelector !== null)
    out.namespaceSelector = labelSelector(v.namespaceSelector, `${path}.namespaceSelector`, issues);
  else if (nsRequired) issues.error(`${path}.namespaceSelector`, 'is required');
  return out;
}

function clusterSubject(v: unknown, issues: Issues, v1alpha1: boolean): ClusterPolicyObject['subject'] {
  if (!isRecord(v)) {
    issues.error('spec.subject', 'is required');
    return {};
  }
  const hasNs = v.namespaces !== undefined && v.namespaces !== null;
  const hasPods = v.pods !== undefined && v.pods !== null;
  if (hasNs === hasPods) issues.error('spec.subject', 'must set exactly one of namespaces or pods');
  if (hasNs) return { namespaces: labelSelector(v.namespaces, 'spec.subject.namespaces', issues) };
  if (hasPods) return { pods: podsSelector(v.pods, 'spec.subject.pods', issues, v1alpha1) };
  return {};
}

const CLUSTER_PEER_FIELDS = ['namespaces', 'pods', 'networks', 'nodes', 'domainNames'] as const;

function clusterPeers(
  v: unknown,
  path: string,
  issues: Issues,
  direction: 'ingress' | 'egress',
  v1alpha1: boolean,
): ClusterPolicyPeer[] {
  const list = arr(v, path, issues) ?? [];
  if (list.length === 0) issues.error(path, 'must list at least one peer');
  return list.map((p, i): ClusterPolicyPeer => {
    const pp = `${path}[${i}]`;
    if (!isRecord(p)) {
      issues.error(pp, 'must be an object');
      return { unknown: true };
    }
    const set = CLUSTER_PEER_FIELDS.filter((f) => p[f] !== undefined && p[f] !== null);
    if (set.length > 1) issues.error(pp, `must set exactly one field (got ${set.join(', ')})`);
    const f = set[0];
    // A peer with no field this version knows: fail closed (the compiler decides what that means).
    if (f === undefined) return { unknown: true };
    if (direction === 'ingress' && f !== 'namespaces' && f !== 'pods')
      issues.error(`${pp}.${f}`, 'ingress peers are namespaces or pods only');
    if (f === 'namespaces') return { namespaces: labelSelector(p.namespaces, `${pp}.namespaces`, issues) };
    if (f === 'pods') return { pods: podsSelector(p.pods, `${pp}.pods`, issues, v1alpha1) };
    if (f === 'networks') {
      const nets: string[] = [];
      (arr(p.networks, `${pp}.networks`, issues) ?? []).forEach((n, j) => {
        const t = str(n);
        if (!t || !t.includes('/') || !parseCidr(t))
          return issues.error(`${pp}.networks[${j}]`, `must be a CIDR (got ${JSON.stringify(n)})`);
        nets.push(t);
      });
      return { networks: nets };
    }
    return { unmodelled: f };
  });
}

function protocolKey(k: string): PolicyProtocol | undefined {
  return k === 'tcp' ? 'TCP' : k === 'udp' ? 'UDP' : k === 'sctp' ? 'SCTP' : undefined;
}

/** v1alpha2 `protocols`: `{tcp|udp|sctp: {destinationPort: {number} | {range}}}` or `{destinationNamedPort}`. */
function cnpProtocols(v: unknown, path: string, issues: Issues): ClusterPolicyPort[] | undefined {
  const list = arr(v, path, issues);
  if (list === undefined) return undefined;
  return list.flatMap((e, i): ClusterPolicyPort[] => {
    const ep = `${path}[${i}]`;
    if (!isRecord(e)) {
      issues.error(ep, 'must be an object');
      return [];
    }
    const keys = Object.keys(e).filter((k) => e[k] !== undefined && e[k] !== null);
    if (keys.length !== 1) {
      issues.error(ep, 'must set exactly one of tcp, udp, sctp or destinationNamedPort');
      return [];
    }
    const k = keys[0];
    if (k === 'destinationNamedPort') {
      const name = str(e.destinationNamedPort);
      if (!name || !isValidPortName(name)) {
        issues.error(
          `${ep}.destinationNamedPort`,
          `must be a port name (got ${JSON.stringify(e.destinationNamedPort)})`,
        );
        return [];
      }
      return [{ port: name }];
    }
    const protocol = protocolKey(k);
    if (!protocol) {
      issues.error(`${ep}.${k}`, 'is not a known protocol (tcp, udp, sctp)');
      return [];
    }
    const body = e[k];
    // The CRD rejects `tcp: {}` (minProperties 1), although the docs read it as every port.
    const dp = isRecord(body) ? body.destinationPort : undefined;
    if (!isRecord(dp)) {
      issues.error(`${ep}.${k}.destinationPort`, 'is required');
      return [];
    }
    if (dp.number !== undefined) {
      const n = portNumber(dp.number);
      if (n === undefined) {
        issues.error(`${ep}.${k}.destinationPort.number`, `must be 1-65535 (got ${JSON.stringify(dp.number)})`);
        return [];
      }
      return [{ protocol, port: n }];
    }
    const range = isRecord(dp.range) ? dp.range : undefined;
    const start = portNumber(range?.start);
    const end = portNumber(range?.end);
    if (start === undefined || end === undefined || start >= end) {
      issues.error(`${ep}.${k}.destinationPort`, 'must set number, or range with start < end (1-65535)');
      return [];
    }
    return [{ protocol, port: start, endPort: end }];
  });
}

/** v1alpha1 `ports`: `portNumber{protocol,port}`, `portRange{protocol,start,end}` or `namedPort`. */
function anpPorts(v: unknown, path: string, issues: Issues): ClusterPolicyPort[] | undefined {
  const list = arr(v, path, issues);
  if (list === undefined) return undefined;
  return list.flatMap((e, i): ClusterPolicyPort[] => {
    const ep = `${path}[${i}]`;
    if (!isRecord(e)) {
      issues.error(ep, 'must be an object');
      return [];
    }
    if (e.namedPort !== undefined) {
      const name = str(e.namedPort);
      if (!name || !isValidPortName(name)) {
        issues.error(`${ep}.namedPort`, `must be a port name (got ${JSON.stringify(e.namedPort)})`);
        return [];
      }
      return [{ port: name }];
    }
    if (isRecord(e.portNumber)) {
      const n = portNumber(e.portNumber.port);
      if (n === undefined) {
        issues.error(`${ep}.portNumber.port`, `must be 1-65535 (got ${JSON.stringify(e.portNumber.port)})`);
        return [];
      }
      return [{ protocol: protocol(e.portNumber.protocol, `${ep}.portNumber.protocol`, issues), port: n }];
    }
    if (isRecord(e.portRange)) {
      const start = portNumber(e.portRange.start);
      const end = portNumber(e.portRange.end);
      if (start === undefined || end === undefined || start >= end) {
        issues.error(`${ep}.portRange`, 'must set start < end (1-65535)');
        return [];
      }
      return [
        { protocol: protocol(e.portRange.protocol, `${ep}.portRange.protocol`, issues), port: start, endPort: end },
      ];
    }
    issues.error(ep, 'must set one of portNumber, portRange or namedPort');
    return [];
  });
}

function clusterRules(
  v: unknown,
  direction: 'ingress' | 'egress',
  kind: ClusterPolicyKind,
  issues: Issues,
): ClusterPolicyRule[] {
  const path = `spec.${direction}`;
  const v1alpha1 = kind !== 'ClusterNetworkPolicy';
  const actions =
    kind === 'ClusterNetworkPolicy'
      ? ['Accept', 'Deny', 'Pass']
      : kind === 'AdminNetworkPolicy'
        ? ['Allow', 'Deny', 'Pass']
        : ['Allow', 'Deny'];
  return (arr(v, path, issues) ?? []).flatMap((r, i): ClusterPolicyRule[] => {
    const rp = `${path}[${i}]`;
    if (!isRecord(r)) {
      issues.error(rp, 'must be an object');
      return [];
    }
    const a = str(r.action);
    if (!a || !actions.includes(a)) {
      issues.error(`${rp}.action`, `must be one of ${actions.join(', ')} (got ${JSON.stringify(r.action)})`);
      return [];
    }
    const peerKey = direction === 'ingress' ? 'from' : 'to';
    const rule: ClusterPolicyRule = {
      action: a === 'Allow' ? 'Accept' : (a as ClusterPolicyRule['action']),
      peers: clusterPeers(r[peerKey], `${rp}.${peerKey}`, issues, direction, v1alpha1),
    };
    const name = str(r.name);
    if (name !== undefined) rule.name = name;
    const ports = v1alpha1
      ? anpPorts(r.ports, `${rp}.ports`, issues)
      : cnpProtocols(r.protocols, `${rp}.protocols`, issues);
    if (ports !== undefined) rule.ports = ports;
    return [rule];
  });
}

function normalizeClusterPolicy(o: Raw, issues: Issues, kind: ClusterPolicyKind, name: string): ClusterPolicyObject {
  const spec = isRecord(o.spec) ? o.spec : {};
  let tier: ClusterPolicyObject['tier'] = ADMIN_TIER;
  let priority = 1000;
  if (kind === 'ClusterNetworkPolicy') {
    if (spec.tier === ADMIN_TIER || spec.tier === BASELINE_TIER) tier = spec.tier;
    else issues.error('spec.tier', `must be Admin or Baseline (got ${JSON.stringify(spec.tier)})`);
  } else if (kind === 'BaselineAdminNetworkPolicy') {
    tier = BASELINE_TIER;
    if (name !== 'default') issues.error('metadata.name', 'a BaselineAdminNetworkPolicy must be named default');
  }
  if (kind !== 'BaselineAdminNetworkPolicy') {
    const pr = spec.priority;
    if (typeof pr === 'number' && Number.isInteger(pr) && pr >= 0 && pr <= 1000) priority = pr;
    else issues.error('spec.priority', `must be an integer 0-1000 (got ${JSON.stringify(pr)})`);
  }
  return {
    kind,
    name,
    tier,
    priority,
    subject: clusterSubject(spec.subject, issues, kind !== 'ClusterNetworkPolicy'),
    ingress: clusterRules(spec.ingress, 'ingress', kind, issues),
    egress: clusterRules(spec.egress, 'egress', kind, issues),
  };
}

// ---- Calico Tier, NetworkSet, GlobalNetworkSet, staged policies ----

function normalizeTier(o: Raw, issues: Issues, name: string): CalicoTierObject {
  const spec = isRecord(o.spec) ? o.spec : {};
  const out: CalicoTierObject = { kind: 'Tier', name, defaultAction: 'Deny' };
  if (typeof spec.order === 'number') out.order = spec.order;
  else if (spec.order !== undefined && spec.order !== null)
    issues.error('spec.order', `must be a number (got ${JSON.stringify(spec.order)})`);
  if (spec.defaultAction === 'Pass') out.defaultAction = 'Pass';
  else if (spec.defaultAction !== undefined && spec.defaultAction !== null && spec.defaultAction !== 'Deny')
    issues.error('spec.defaultAction', `must be Deny or Pass (got ${JSON.stringify(spec.defaultAction)})`);
  return out;
}

function normalizeNetworkSet(
  o: Raw,
  issues: Issues,
  kind: CalicoNetworkSetObject['kind'],
  name: string,
  namespace: string | undefined,
): CalicoNetworkSetObject {
  const spec = isRecord(o.spec) ? o.spec : {};
  const out: CalicoNetworkSetObject = {
    kind,
    name,
    labels: stringMap(meta(o).labels, 'metadata.labels', issues),
    nets: calicoNets(spec.nets, 'spec.nets', issues),
  };
  if (namespace !== undefined) out.namespace = namespace;
  return out;
}

const STAGED_ACTIONS = ['Set', 'Delete', 'Learn', 'Ignore'] as const;

function normalizeStaged(
  o: Raw,
  issues: Issues,
  kind: StagedPolicyObject['kind'],
  name: string,
  namespace: string | undefined,
): StagedPolicyObject {
  const spec = isRecord(o.spec) ? o.spec : {};
  const rawAction = spec.stagedAction ?? 'Set';
  const stagedAction = STAGED_ACTIONS.find((a) => a === rawAction);
  if (!stagedAction)
    issues.error('spec.stagedAction', `must be one of ${STAGED_ACTIONS.join(', ')} (got ${JSON.stringify(rawAction)})`);
  // The enforced form: the same object under the enforced kind (staged-only fields dropped).
  const enforcedSpec: Raw = { ...spec };
  delete enforcedSpec.stagedAction;
  const enforced: Raw = { ...o, spec: enforcedSpec };
  const out: StagedPolicyObject = {
    kind,
    name,
    stagedAction: stagedAction ?? 'Set',
    target: { kind: 'NetworkPolicy', name },
  };
  if (namespace !== undefined) out.namespace = namespace;
  if (kind === 'StagedKubernetesNetworkPolicy') {
    out.target = { kind: 'NetworkPolicy', namespace, name };
    if (out.stagedAction !== 'Delete') out.policy = normalizeK8sPolicy(enforced, issues, name, namespace ?? 'default');
  } else {
    const tier = str(spec.tier) ?? 'default';
    const target = kind === 'StagedNetworkPolicy' ? 'CalicoNetworkPolicy' : 'GlobalNetworkPolicy';
    out.target = { kind: target, name: calicoPolicyName(name, tier) };
    if (namespace !== undefined) out.target.namespace = namespace;
    if (out.stagedAction !== 'Delete') out.policy = normalizeCalico(enforced, issues, target, name, namespace);
  }
  return out;
}

// ---- entry point -----------------------------------------------------------------------------

const K8S_NP_GROUPS = ['networking.k8s.io/v1', undefined];
const CILIUM_GROUPS = ['cilium.io/v2'];
const CALICO_GROUPS = ['projectcalico.org/v3', 'crd.projectcalico.org/v1'];
const CNP_GROUP = 'policy.networking.k8s.io/v1alpha2';
const ANP_GROUP = 'policy.networking.k8s.io/v1alpha1';

/** Normalize one raw object. Kinds the evaluator does not need are `ignored`, never errors. */
export function normalizeObject(raw: unknown): NormalizeResult {
  if (!isRecord(raw)) return { status: 'invalid', kind: '?', errors: ['document is not an object'] };
  const kind = str(raw.kind);
  const apiVersion = str(raw.apiVersion);
  if (!kind) return { status: 'invalid', kind: '?', errors: ['kind: is required'] };
  const m = meta(raw);
  const issues = new Issues();
  const name = m.name;
  const needName = (): string => {
    if (!name) issues.error('metadata.name', 'is required');
    return name ?? '';
  };
  let object: InventoryObject | undefined;
  if (kind === 'Namespace' && (apiVersion === 'v1' || apiVersion === undefined)) {
    object = normalizeNamespace(raw, issues, needName());
  } else if (kind === 'Pod' && (apiVersion === 'v1' || apiVersion === undefined)) {
    object = normalizePod(raw, issues, needName(), m.namespace ?? 'default');
  } else if (kind === 'NetworkPolicy' && K8S_NP_GROUPS.includes(apiVersion)) {
    object = normalizeK8sPolicy(raw, issues, needName(), m.namespace ?? 'default');
  } else if (
    (kind === 'CiliumNetworkPolicy' || kind === 'CiliumClusterwideNetworkPolicy') &&
    apiVersion &&
    CILIUM_GROUPS.includes(apiVersion)
  ) {
    object = normalizeCilium(
      raw,
      issues,
      kind,
      needName(),
      kind === 'CiliumNetworkPolicy' ? (m.namespace ?? 'default') : undefined,
    );
  } else if (
    (kind === 'NetworkPolicy' || kind === 'GlobalNetworkPolicy') &&
    apiVersion &&
    CALICO_GROUPS.includes(apiVersion)
  ) {
    object =
      kind === 'NetworkPolicy'
        ? normalizeCalico(raw, issues, 'CalicoNetworkPolicy', needName(), m.namespace ?? 'default')
        : normalizeCalico(raw, issues, 'GlobalNetworkPolicy', needName(), undefined);
  } else if (kind === 'ClusterNetworkPolicy' && apiVersion === CNP_GROUP) {
    object = normalizeClusterPolicy(raw, issues, kind, needName());
  } else if ((kind === 'AdminNetworkPolicy' || kind === 'BaselineAdminNetworkPolicy') && apiVersion === ANP_GROUP) {
    object = normalizeClusterPolicy(raw, issues, kind, needName());
  } else if (apiVersion && CALICO_GROUPS.includes(apiVersion) && kind === 'Tier') {
    object = normalizeTier(raw, issues, needName());
  } else if (
    apiVersion &&
    CALICO_GROUPS.includes(apiVersion) &&
    (kind === 'NetworkSet' || kind === 'GlobalNetworkSet')
  ) {
    object = normalizeNetworkSet(
      raw,
      issues,
      kind,
      needName(),
      kind === 'NetworkSet' ? (m.namespace ?? 'default') : undefined,
    );
  } else if (
    apiVersion &&
    CALICO_GROUPS.includes(apiVersion) &&
    (kind === 'StagedNetworkPolicy' || kind === 'StagedGlobalNetworkPolicy' || kind === 'StagedKubernetesNetworkPolicy')
  ) {
    object = normalizeStaged(
      raw,
      issues,
      kind,
      needName(),
      kind === 'StagedGlobalNetworkPolicy' ? undefined : (m.namespace ?? 'default'),
    );
  } else {
    return {
      status: 'ignored',
      kind,
      reason: `${apiVersion ?? '(no apiVersion)'} ${kind} is not used for policy evaluation`,
    };
  }
  if (issues.errors.length > 0 || !object) {
    const res: NormalizeResult = { status: 'invalid', kind, errors: issues.errors };
    if (name) res.name = name;
    if (m.namespace) res.namespace = m.namespace;
    return res;
  }
  return { status: 'ok', object, warnings: issues.warnings };
}
