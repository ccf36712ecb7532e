/**
 * Dialect-neutral suggested policies: who the policy selects, and per direction one rule per
 * peer with that peer's ports merged. The dialect renderers turn these into YAML.
 */
import type { ObservedEdge } from './observed-edge.js';

export const SUGGEST_MODES = ['fix', 'baseline'] as const;
export type SuggestMode = (typeof SUGGEST_MODES)[number];
export const SUGGEST_FORMATS = ['k8s', 'cilium', 'calico'] as const;
export type SuggestFormat = (typeof SUGGEST_FORMATS)[number];

export type EdgeProtocol = ObservedEdge['protocol'];

export interface PortSpec {
  protocol: EdgeProtocol;
  port: number;
}

export type SuggestedPeer =
  | { kind: 'pod'; namespace: string; name: string; selector: Record<string, string> }
  | { kind: 'host'; cidrs: string[]; entities: Array<'host' | 'remote-node'> }
  /** `names` are the DNS names observed for the addresses; `cidrs` may be empty when only names are known. */
  | { kind: 'world'; cidrs: string[]; names: string[] };

export interface SuggestedRule {
  peer: SuggestedPeer;
  ports: PortSpec[];
  /** The observed edges this rule admits. */
  covers: ObservedEdge[];
  /** Added for a reason other than an observed edge (Cilium's DNS visibility for toFQDNs). */
  support?: string;
}

export interface SuggestedPolicy {
  namespace: string;
  name: string;
  /** Workload name the policy is about; `*` for namespace-wide policies. */
  subject: string;
  /** matchLabels of the selected pods; empty selects every pod of the namespace. */
  selector: Record<string, string>;
  types: Array<'Ingress' | 'Egress'>;
  ingress: SuggestedRule[];
  egress: SuggestedRule[];
}

export function portText(p: PortSpec): string {
  return `${p.protocol}/${p.port}`;
}

export function endpointText(e: ObservedEdge['src']): string {
  if (e.kind === 'pod') return `${e.namespace ?? '?'}/${e.workload ?? JSON.stringify(e.labels)}`;
  if (e.kind === 'host') return `node ${e.ips.join(',') || e.entity || '?'}`;
  return `world ${e.ips.join(',') || '?'}`;
}

export function edgeText(e: ObservedEdge): string {
  const names = e.dnsNames?.length ? ` (${e.dnsNames.join(',')})` : '';
  return `${endpointText(e.src)} -> ${endpointText(e.dst)}${names} ${e.protocol}/${e.dstPort}`;
}
