/**
 * policy.networking.k8s.io ClusterNetworkPolicy (v1alpha2), AdminNetworkPolicy and
 * BaselineAdminNetworkPolicy (v1alpha1) → ordered compiled rules in the Admin or Baseline tier
 * (network-policy-api v0.2.0): policies by ascending priority, the first matching rule decides
 * (Accept, Deny, Pass), nothing matching falls through, and these policies never isolate.
 */
import { cidrContains, parseCidr } from './cidr.js';
import {
  anyOf,
  cidrBlock,
  withDirections,
  type CompileEnv,
  type CompiledDirection,
  type CompiledPolicy,
  type CompiledRule,
  type EndpointContext,
  type PolicyCompiler,
  selectionHintOf,
} from './compiled-policy.js';
import { compileLabelSelector, describeSelector, type LabelPredicate } from './label-selector.js';
import {
  policyRefOf,
  policyRefString,
  type ClusterPodsSelector,
  type ClusterPolicyPeer,
  type ClusterPolicyRule,
  type PolicyDirection,
  type PolicyObject,
} from './policy-model.js';
import { ANY_PORT, compilePortRanges, describePortRange } from './port-matching.js';

type Matcher = (c: EndpointContext) => boolean;

function podsMatcher(p: ClusterPodsSelector): Matcher {
  const pod = compileLabelSelector(p.podSelector);
  // An omitted namespaceSelector means every namespace (v1alpha2 `pods`).
  const ns: LabelPredicate | undefined = p.namespaceSelector ? compileLabelSelector(p.namespaceSelector) : undefined;
  return (c) => c.isPod && (!ns || ns(c.nsLabels)) && pod(c.labels);
}

function peerMatcher(peer: ClusterPolicyPeer, action: ClusterPolicyRule['action'], env: CompileEnv): Matcher {
  if (peer.namespaces) {
    const ns = compileLabelSelector(peer.namespaces);
    return (c) => c.isPod && ns(c.nsLabels);
  }
  if (peer.pods) return podsMatcher(peer.pods);
  if (peer.networks) {
    const cidrs = peer.networks.map((n) => parseCidr(n)).filter((x): x is NonNullable<typeof x> => x !== undefined);
    for (const n of cidrs) env.registerIpMatcher(`net:${n.text}`, cidrBlock(n));
    // Networks match any address in them, pod IPs included.
    return (c) => c.ip !== undefined && cidrs.some((n) => c.ip !== undefined && cidrContains(n, c.ip));
  }
  // Fail closed: an unknown peer makes Accept match nothing and Deny / Pass match everything.
  if (peer.unknown) return action === 'Accept' ? () => false : () => true;
  return () => false;
}

function describePeer(peer: ClusterPolicyPeer): string {
  if (peer.namespaces) return `namespaces ${describeSelector(peer.namespaces)}`;
  if (peer.pods)
    return `pods ${describeSelector(peer.pods.podSelector)} in ${peer.pods.namespaceSelector ? `namespaces ${describeSelector(peer.pods.namespaceSelector)}` : 'all namespaces'}`;
  if (peer.networks) return `networks ${peer.networks.join(',')}`;
  if (peer.unmodelled) return peer.unmodelled;
  return 'an unknown peer';
}

const ACTIONS = { Accept: 'allow', Deny: 'deny', Pass: 'pass' } as const;

export const clusterNetworkPolicyCompiler: PolicyCompiler = {
  kinds: ['ClusterNetworkPolicy', 'AdminNetworkPolicy', 'BaselineAdminNetworkPolicy'],
  compile(p: PolicyObject, env: CompileEnv): CompiledPolicy {
    if (p.kind !== 'ClusterNetworkPolicy' && p.kind !== 'AdminNetworkPolicy' && p.kind !== 'BaselineAdminNetworkPolicy')
      throw new Error(`not a cluster network policy: ${p.kind}`);
    const ref = policyRefOf(p);
    const refString = policyRefString(ref);
    const subject: Matcher = p.subject.pods
      ? podsMatcher(p.subject.pods)
      : p.subject.namespaces
        ? (
            (ns: LabelPredicate): Matcher =>
            (c) =>
              c.isPod && ns(c.nsLabels)
          )(compileLabelSelector(p.subject.namespaces))
        : () => false;
    const compileDir = (direction: PolicyDirection): CompiledDirection | undefined => {
      const list = direction === 'ingress' ? p.ingress : p.egress;
      if (list.length === 0) return undefined;
      const rules = list.map((r, i): CompiledRule => {
        const peers = r.peers.map((x) => peerMatcher(x, r.action, env));
        const ranges = r.ports?.map((x) => ({ protocol: x.protocol, port: x.port, endPort: x.endPort }));
        if (ranges?.some((x) => typeof x.port === 'string')) env.useNamedPorts();
        const unmodelled = r.peers.flatMap((x) => (x.unmodelled ? [x.unmodelled] : []));
        const label = `${refString} ${direction}[${i}]${r.name ? ` (${r.name})` : ''}`;
        const notes = unmodelled.map((u) => `${label}: ${u} peer not modelled`);
        const rule: CompiledRule = {
          ref: { ...ref, direction, ruleIndex: i, action: ACTIONS[r.action] },
          matchPeer: anyOf(peers),
          // No protocols: any protocol and port.
          matchPort: ranges === undefined ? ANY_PORT : compilePortRanges(ranges),
          describePeer: r.peers.map(describePeer).join(' or '),
          describePorts:
            ranges === undefined ? 'any port' : ranges.map((x) => describePortRange(x.protocol ?? 'any', x)).join(','),
          notes,
        };
        if (notes.length > 0) rule.uncertain = notes.join('; ');
        return rule;
      });
      return { isolates: false, rules, denyRules: [] };
    };
    return withDirections(
      {
        ref,
        refString,
        tier: p.tier,
        order: p.priority,
        ordered: true,
        selects: subject,
        ...(p.subject.pods ? selectionHintOf(p.subject.pods.podSelector) : {}),
      },
      compileDir,
    );
  },
};
