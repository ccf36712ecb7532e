/**
 * networking.k8s.io/v1 NetworkPolicy → compiled rules: additive allow rules, isolation per
 * policyTypes, peers by pod/namespace selectors or ipBlocks (docs/POLICY.md).
 */
import { ipBlockMatches, type ParsedIp } from './cidr.js';
import {
  anyOf,
  DEFAULT_TIER,
  toIpBlock,
  withDirections,
  type CompileEnv,
  type CompiledDirection,
  type CompiledPolicy,
  type CompiledRule,
  type EndpointContext,
  type PolicyCompiler,
  selectionHintOf,
} from './compiled-policy.js';
import { compileLabelSelector, describeSelector, isEmptySelector, type LabelPredicate } from './label-selector.js';
import { policyRefOf, policyRefString, type NpPeer, type PolicyDirection, type PolicyObject } from './policy-model.js';
import { ANY_PORT, compilePortRanges, describePortRange } from './port-matching.js';

function compilePeer(peer: NpPeer, policyNs: string, env: CompileEnv): (c: EndpointContext) => boolean {
  if (peer.ipBlock) {
    const b = toIpBlock(peer.ipBlock);
    if (!b) return () => false;
    const fn = (ip: ParsedIp): boolean => ipBlockMatches(b, ip);
    env.registerIpMatcher(`ipb:${b.text}`, b);
    const podsToo = env.ipBlockMatchesPodIps;
    return (c) => c.ip !== undefined && (podsToo || !c.isPod) && fn(c.ip);
  }
  const podSel: LabelPredicate | undefined = peer.podSelector ? compileLabelSelector(peer.podSelector) : undefined;
  const nsSel: LabelPredicate | undefined = peer.namespaceSelector
    ? compileLabelSelector(peer.namespaceSelector)
    : undefined;
  if (nsSel && podSel) return (c) => c.isPod && nsSel(c.nsLabels) && podSel(c.labels);
  if (nsSel) return (c) => c.isPod && nsSel(c.nsLabels);
  if (podSel) return (c) => c.isPod && c.ep.namespace === policyNs && podSel(c.labels);
  return () => false;
}

function describePeer(peer: NpPeer, policyNs: string): string {
  if (peer.ipBlock)
    return peer.ipBlock.except.length > 0
      ? `${peer.ipBlock.cidr} except ${peer.ipBlock.except.join(',')}`
      : peer.ipBlock.cidr;
  const parts: string[] = [];
  if (peer.namespaceSelector)
    parts.push(
      isEmptySelector(peer.namespaceSelector)
        ? 'all namespaces'
        : `namespaces ${describeSelector(peer.namespaceSelector)}`,
    );
  else parts.push(`namespace ${policyNs}`);
  if (peer.podSelector)
    parts.push(isEmptySelector(peer.podSelector) ? 'all pods' : `pods ${describeSelector(peer.podSelector)}`);
  return parts.join(' and ');
}

export const kubernetesPolicyCompiler: PolicyCompiler = {
  kinds: ['NetworkPolicy'],
  compile(p: PolicyObject, env: CompileEnv): CompiledPolicy {
    if (p.kind !== 'NetworkPolicy') throw new Error(`not a NetworkPolicy: ${p.kind}`);
    const ref = policyRefOf(p);
    const podSel = compileLabelSelector(p.podSelector);
    const ns = p.namespace;
    const compileDir = (direction: PolicyDirection): CompiledDirection | undefined => {
      const type = direction === 'ingress' ? 'Ingress' : 'Egress';
      if (!p.policyTypes.includes(type)) return undefined;
      const rules = (direction === 'ingress' ? p.ingress : p.egress).map((rule, i): CompiledRule => {
        const peers = rule.peers.map((peer) => compilePeer(peer, ns, env));
        const ports = rule.ports;
        if (ports.some((x) => typeof x.port === 'string')) env.useNamedPorts();
        return {
          ref: { ...ref, direction, ruleIndex: i, action: 'allow' },
          matchPeer: peers.length === 0 ? () => true : anyOf(peers),
          matchPort: ports.length === 0 ? ANY_PORT : compilePortRanges(ports),
          describePeer: rule.peers.length === 0 ? 'any peer' : rule.peers.map((x) => describePeer(x, ns)).join(' or '),
          describePorts: ports.length === 0 ? 'any port' : ports.map((x) => describePortRange(x.protocol, x)).join(','),
          notes: [],
        };
      });
      return { isolates: true, rules, denyRules: [] };
    };
    return withDirections(
      {
        ref,
        refString: policyRefString(ref),
        tier: DEFAULT_TIER,
        order: 1000,
        ordered: false,
        selects: (self) => self.ep.namespace === ns && podSel(self.labels),
        ...selectionHintOf(p.podSelector),
      },
      compileDir,
    );
  },
};
