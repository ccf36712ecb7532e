/**
 * Renders suggested policies as Kubernetes NetworkPolicy, CiliumNetworkPolicy (cilium.io/v2) or
 * Calico NetworkPolicy (projectcalico.org/v3) objects and reviewable YAML: stable names, an
 * annotation listing the observed flows each rule covers, DNS names as comments on CIDRs.
 */
import { Document, isNode } from 'yaml';
import { NAMESPACE_NAME_LABEL } from '../policy/index.js';
import {
  edgeText,
  type PortSpec,
  type SuggestedPeer,
  type SuggestedPolicy,
  type SuggestedRule,
  type SuggestFormat,
} from './suggestion-model.js';

export const COVERS_ANNOTATION = 'dropscope.io/observed-flows';
const CILIUM_NS_KEY = 'k8s:io.kubernetes.pod.namespace';

type Raw = Record<string, unknown>;
type YamlPath = Array<string | number>;

export interface RenderedPolicy {
  object: Raw;
  /** Comments to attach to nodes of the object, by path. */
  comments: Array<{ path: YamlPath; text: string }>;
}

/** One line per covered edge: `ingress[0]: shop/frontend -> shop/payments TCP/8443, 12 flows, first..last`. */
function coversAnnotation(p: SuggestedPolicy, format: SuggestFormat): string {
  const lines: string[] = [];
  const dirs: Array<['ingress' | 'egress', SuggestedRule[]]> = [
    ['ingress', p.ingress],
    ['egress', p.egress],
  ];
  for (const [dir, rules] of dirs) {
    // Calico splits a rule per protocol: number the rendered rules, not the neutral ones.
    let index = 0;
    for (const r of rules) {
      const width = format === 'calico' ? new Set(r.ports.map((x) => x.protocol)).size || 1 : 1;
      const label = width > 1 ? `${dir}[${index}-${index + width - 1}]` : `${dir}[${index}]`;
      if (r.support) lines.push(`${label}: ${r.support}`);
      for (const e of r.covers)
        lines.push(
          `${label}: ${edgeText(e)}, ${e.count} flow${e.count === 1 ? '' : 's'}, ${e.firstSeen}..${e.lastSeen}`,
        );
      index += width;
    }
  }
  if (lines.length === 0) return 'none (default deny)\n';
  return `${lines.join('\n')}\n`;
}

function metadata(p: SuggestedPolicy, format: SuggestFormat): Raw {
  return { name: p.name, namespace: p.namespace, annotations: { [COVERS_ANNOTATION]: coversAnnotation(p, format) } };
}

function namesComment(peer: SuggestedPeer): string | undefined {
  if (peer.kind === 'world' && peer.names.length > 0) return ` ${peer.names.join(', ')}`;
  if (peer.kind === 'host') return ' node addresses';
  return undefined;
}

// ---- Kubernetes NetworkPolicy ----

function k8sPeers(peer: SuggestedPeer, policyNs: string): Raw[] {
  if (peer.kind === 'pod') {
    const out: Raw = { podSelector: { matchLabels: { ...peer.selector } } };
    if (peer.namespace !== policyNs)
      out.namespaceSelector = { matchLabels: { [NAMESPACE_NAME_LABEL]: peer.namespace } };
    return [out];
  }
  return peer.cidrs.map((cidr) => ({ ipBlock: { cidr } }));
}

function k8sPorts(ports: PortSpec[]): Raw[] {
  return ports.map((p) => ({ protocol: p.protocol, port: p.port }));
}

function renderK8s(p: SuggestedPolicy): RenderedPolicy {
  const comments: RenderedPolicy['comments'] = [];
  const spec: Raw = {
    podSelector: Object.keys(p.selector).length > 0 ? { matchLabels: { ...p.selector } } : {},
    policyTypes: [...p.types],
  };
  const dir = (rules: SuggestedRule[], key: 'ingress' | 'egress', peerKey: 'from' | 'to'): Raw[] =>
    rules
      .filter((r) => r.peer.kind !== 'world' || r.peer.cidrs.length > 0)
      .map((r, i) => {
        const c = namesComment(r.peer);
        if (c) comments.push({ path: ['spec', key, i, peerKey], text: c });
        return { [peerKey]: k8sPeers(r.peer, p.namespace), ports: k8sPorts(r.ports) };
      });
  if (p.types.includes('Ingress')) spec.ingress = dir(p.ingress, 'ingress', 'from');
  if (p.types.includes('Egress')) spec.egress = dir(p.egress, 'egress', 'to');
  return {
    object: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: metadata(p, 'k8s'), spec },
    comments,
  };
}

// ---- CiliumNetworkPolicy ----

function ciliumPorts(ports: PortSpec[]): Raw[] {
  return ports.length > 0 ? [{ ports: ports.map((x) => ({ port: String(x.port), protocol: x.protocol })) }] : [];
}

function ciliumRule(r: SuggestedRule, dir: 'ingress' | 'egress', policyNs: string): Raw {
  const pre = dir === 'ingress' ? 'from' : 'to';
  const out: Raw = {};
  const peer = r.peer;
  if (peer.kind === 'pod') {
    const labels: Record<string, string> = { ...peer.selector };
    // Endpoint selectors in a namespaced policy only match its own namespace unless told otherwise.
    if (peer.namespace !== policyNs) labels[CILIUM_NS_KEY] = peer.namespace;
    out[`${pre}Endpoints`] = [{ matchLabels: labels }];
  } else if (peer.kind === 'host') {
    out[`${pre}Entities`] = [...peer.entities];
  } else if (dir === 'egress' && peer.names.length > 0) {
    out.toFQDNs = peer.names.map((n) => ({ matchName: n }));
  } else {
    out[`${pre}CIDRSet`] = peer.cidrs.map((cidr) => ({ cidr }));
  }
  const ports = ciliumPorts(r.ports);
  if (ports.length > 0) out.toPorts = ports;
  if (r.support && ports.length > 0) (ports[0] as Raw).rules = { dns: [{ matchPattern: '*' }] };
  return out;
}

function renderCilium(p: SuggestedPolicy): RenderedPolicy {
  const comments: RenderedPolicy['comments'] = [];
  const spec: Raw = {
    endpointSelector: Object.keys(p.selector).length > 0 ? { matchLabels: { ...p.selector } } : {},
  };
  // An empty rule enables default deny for its direction and admits nothing (Cilium's idiom).
  const dir = (rules: SuggestedRule[], key: 'ingress' | 'egress'): Raw[] => {
    if (rules.length === 0) return [{}];
    return rules.map((r, i) => {
      const c = namesComment(r.peer);
      if (c && r.peer.kind === 'world' && !(key === 'egress' && r.peer.names.length > 0))
        comments.push({ path: ['spec', key, i], text: c });
      return ciliumRule(r, key, p.namespace);
    });
  };
  if (p.types.includes('Ingress')) spec.ingress = dir(p.ingress, 'ingress');
  if (p.types.includes('Egress')) spec.egress = dir(p.egress, 'egress');
  return {
    object: { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: metadata(p, 'cilium'), spec },
    comments,
  };
}

// ---- Calico NetworkPolicy ----

function calicoSelector(labels: Record<string, string>): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k} == '${labels[k]}'`);
  return parts.length > 0 ? parts.join(' && ') : 'all()';
}

function calicoEntity(peer: SuggestedPeer, policyNs: string): Raw {
  if (peer.kind === 'pod') {
    const out: Raw = { selector: calicoSelector(peer.selector) };
    if (peer.namespace !== policyNs) out.namespaceSelector = `${NAMESPACE_NAME_LABEL} == '${peer.namespace}'`;
    return out;
  }
  return { nets: [...peer.cidrs] };
}

function renderCalico(p: SuggestedPolicy): RenderedPolicy {
  const comments: RenderedPolicy['comments'] = [];
  const spec: Raw = { selector: calicoSelector(p.selector), types: [...p.types] };
  const dir = (rules: SuggestedRule[], key: 'ingress' | 'egress'): Raw[] => {
    const out: Raw[] = [];
    for (const r of rules) {
      if (r.peer.kind === 'world' && r.peer.cidrs.length === 0) continue;
      const protocols = [...new Set(r.ports.map((x) => x.protocol))];
      for (const protocol of protocols) {
        const peerSide = key === 'ingress' ? 'source' : 'destination';
        const rule: Raw = { action: 'Allow', protocol, [peerSide]: calicoEntity(r.peer, p.namespace) };
        const ports = r.ports.filter((x) => x.protocol === protocol).map((x) => x.port);
        if (key === 'ingress') rule.destination = { ports };
        else (rule.destination as Raw).ports = ports;
        const c = namesComment(r.peer);
        if (c) comments.push({ path: ['spec', key, out.length, peerSide], text: c });
        out.push(rule);
      }
    }
    return out;
  };
  if (p.types.includes('Ingress')) spec.ingress = dir(p.ingress, 'ingress');
  if (p.types.includes('Egress')) spec.egress = dir(p.egress, 'egress');
  return {
    object: { apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', metadata: metadata(p, 'calico'), spec },
    comments,
  };
}

export function renderPolicy(p: SuggestedPolicy, format: SuggestFormat): RenderedPolicy {
  if (format === 'cilium') return renderCilium(p);
  if (format === 'calico') return renderCalico(p);
  return renderK8s(p);
}

/** YAML for one object, with its comments attached. */
export function toYaml(r: RenderedPolicy): string {
  const doc = new Document(r.object);
  for (const c of r.comments) {
    const node = doc.getIn(c.path, true);
    if (isNode(node)) node.commentBefore = c.text;
  }
  return doc.toString({ lineWidth: 0 });
}

/** Several objects as one multi-document YAML stream. */
export function toMultiDocYaml(rendered: readonly RenderedPolicy[]): string {
  return rendered.map((r) => `---\n${toYaml(r)}`).join('');
}
