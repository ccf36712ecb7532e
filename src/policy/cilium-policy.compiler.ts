/**
 * CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy → compiled rules: endpoint selectors
 * over Cilium's label view (pod labels + namespace + namespace labels), CIDRs that never match
 * cluster endpoints, entities, and deny rules that win over every allow. L7 rules are evaluated
 * at L4 with a note.
 */
import { ipBlockMatches, type ParsedIp } from './cidr.js';
import {
  anyOf,
  DEFAULT_TIER,
  labelView,
  toIpBlock,
  withDirections,
  type CompileEnv,
  type CompiledDirection,
  type CompiledPolicy,
  type CompiledRule,
  type EndpointContext,
  type PolicyCompiler,
} from './compiled-policy.js';
import {
  compileLabelSelector,
  describeSelector,
  selectorRequirements,
  type LabelSelector,
  type Labels,
} from './label-selector.js';
import {
  policyRefOf,
  policyRefString,
  type CiliumRule,
  type PolicyDirection,
  type PolicyObject,
  type PolicyRef,
} from './policy-model.js';
import { ANY_PORT, compilePortRanges, describePortRange } from './port-matching.js';

const CILIUM_NS_KEY = 'io.kubernetes.pod.namespace';
const CILIUM_NS_LABEL_PREFIX = 'io.cilium.k8s.namespace.labels.';

/** The labels Cilium gives an endpoint: pod labels, its namespace, and its namespace's labels. */
function ciliumLabels(c: EndpointContext): Labels {
  return labelView(c, 'cilium', () => {
    const l: Record<string, string> = { ...c.labels };
    if (c.ep.namespace !== undefined) l[CILIUM_NS_KEY] = c.ep.namespace;
    for (const [k, v] of Object.entries(c.nsLabels)) l[CILIUM_NS_LABEL_PREFIX + k] = v;
    return l;
  });
}

function selectorReferencesKey(sel: LabelSelector, key: string): boolean {
  return selectorRequirements(sel).some((r) => r.key === key);
}

function compileRule(
  r: CiliumRule,
  ref: PolicyRef,
  direction: PolicyDirection,
  index: number,
  action: 'allow' | 'deny',
  ns: string | undefined,
  env: CompileEnv,
): CompiledRule {
  const matchers: Array<(c: EndpointContext) => boolean> = [];
  const desc: string[] = [];
  for (const sel of r.endpoints ?? []) {
    const pred = compileLabelSelector(sel);
    const scoped = ns !== undefined && !selectorReferencesKey(sel, CILIUM_NS_KEY);
    matchers.push((c) => c.isPod && (!scoped || c.ep.namespace === ns) && pred(ciliumLabels(c)));
    desc.push(`endpoints ${describeSelector(sel)}${scoped ? ` in ${ns}` : ''}`);
  }
  for (const b of r.cidrs) {
    const m = toIpBlock(b);
    if (!m) continue;
    const fn = (ip: ParsedIp): boolean => ipBlockMatches(m, ip);
    env.registerIpMatcher(`ipb:${m.text}`, m);
    // Cilium never matches cluster endpoints (pods, nodes) with CIDR rules.
    matchers.push((c) => c.ep.kind === 'external' && c.ip !== undefined && fn(c.ip));
    desc.push(m.text);
  }
  const notes: string[] = [];
  for (const e of r.entities) {
    desc.push(`entity ${e}`);
    switch (e) {
      case 'all':
        matchers.push(() => true);
        break;
      case 'world':
      case 'world-ipv4':
      case 'world-ipv6':
        matchers.push((c) => c.ep.kind === 'external');
        break;
      case 'cluster':
        matchers.push((c) => c.ep.kind !== 'external');
        break;
      case 'host':
      case 'remote-node':
        matchers.push((c) => c.ep.kind === 'host' || c.ep.hostNetwork === true);
        break;
      default:
        notes.push(`${policyRefString(ref)}: entity ${e} not modelled`);
    }
  }
  for (const u of r.unmodelled)
    notes.push(`${policyRefString(ref)} ${direction}${action === 'deny' ? 'Deny' : ''}[${index}]: ${u} not modelled`);
  const uncertain = notes.join('; ');
  const l4Only = r.hasL7
    ? `${policyRefString(ref)} ${direction}[${index}]: L7 rules not modelled (evaluated at L4)`
    : '';
  if (l4Only) notes.push(l4Only);
  const ports = r.ports;
  if (ports.some((x) => typeof x.port === 'string')) env.useNamedPorts();
  // Cilium's ANY protocol is a port range without a protocol.
  const ranges = ports.map((p) => ({ ...p, protocol: p.protocol === 'ANY' ? undefined : p.protocol }));
  const noPeerFields =
    r.endpoints === undefined && r.cidrs.length === 0 && r.entities.length === 0 && r.unmodelled.length === 0;
  // A rule with only toPorts admits every peer on those ports; a rule with nothing admits nothing.
  const matchPeer = noPeerFields ? (ports.length > 0 ? () => true : () => false) : anyOf(matchers);
  return {
    ref: { ...ref, direction, ruleIndex: index, action },
    matchPeer,
    matchPort: ports.length === 0 ? ANY_PORT : compilePortRanges(ranges),
    describePeer: noPeerFields ? (ports.length > 0 ? 'any peer' : 'nothing') : desc.join(' or '),
    describePorts: ports.length === 0 ? 'any port' : ports.map((p) => describePortRange(p.protocol, p)).join(','),
    notes,
    ...(uncertain ? { uncertain } : {}),
    ...(l4Only ? { l4Only } : {}),
  };
}

export const ciliumPolicyCompiler: PolicyCompiler = {
  kinds: ['CiliumNetworkPolicy', 'CiliumClusterwideNetworkPolicy'],
  compile(p: PolicyObject, env: CompileEnv): CompiledPolicy {
    if (p.kind !== 'CiliumNetworkPolicy' && p.kind !== 'CiliumClusterwideNetworkPolicy')
      throw new Error(`not a Cilium policy: ${p.kind}`);
    const ref = policyRefOf(p);
    const ns = p.namespace;
    const specs = p.specs
      .filter((s) => s.endpointSelector !== undefined)
      .map((s) => {
        const pred = compileLabelSelector(s.endpointSelector ?? {});
        return {
          s,
          selects: (c: EndpointContext) =>
            c.isPod && (ns === undefined || c.ep.namespace === ns) && pred(ciliumLabels(c)),
        };
      });
    const compileDir = (direction: PolicyDirection): CompiledDirection | undefined => {
      const rules: CompiledRule[] = [];
      const denyRules: CompiledRule[] = [];
      let isolates = false;
      let present = false;
      for (const { s } of specs) {
        const allow = direction === 'ingress' ? s.ingress : s.egress;
        const deny = direction === 'ingress' ? s.ingressDeny : s.egressDeny;
        if (allow !== undefined || deny !== undefined) present = true;
        // Cilium enforces a direction when a selecting rule has ingress/egress (or deny) rules.
        if (((allow?.length ?? 0) > 0 || (deny?.length ?? 0) > 0) && s.enableDefaultDeny[direction]) isolates = true;
        allow?.forEach((r) => rules.push(compileRule(r, ref, direction, rules.length, 'allow', ns, env)));
        deny?.forEach((r) => denyRules.push(compileRule(r, ref, direction, denyRules.length, 'deny', ns, env)));
      }
      return present ? { isolates, rules, denyRules } : undefined;
    };
    return withDirections(
      {
        ref,
        refString: policyRefString(ref),
        tier: DEFAULT_TIER,
        order: 1000,
        ordered: false,
        selects: (self) => specs.some((s) => s.selects(self)),
      },
      compileDir,
    );
  },
};
