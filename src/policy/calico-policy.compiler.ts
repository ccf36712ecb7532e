/**
 * Calico NetworkPolicy and GlobalNetworkPolicy (projectcalico.org/v3) → ordered compiled rules:
 * tier and order, first matching rule decides (Allow, Deny, Pass; Log does not decide), entity
 * rules over selectors, namespace selectors, nets and ports, over Calico's label view.
 */
import { cidrContains, parseCidr, type Cidr } from './cidr.js';
import { compileCalicoSelector } from './calico-selector.js';
import {
  cidrBlock,
  labelView,
  withDirections,
  type CompileEnv,
  type CompiledDirection,
  type CompiledPolicy,
  type CompiledRule,
  type EndpointContext,
  type PolicyCompiler,
} from './compiled-policy.js';
import type { Labels } from './label-selector.js';
import { NAMESPACE_NAME_LABEL } from './manifest.normalize.js';
import {
  policyRefOf,
  policyRefString,
  type CalicoEntityRule,
  type CalicoPortSpec,
  type PolicyDirection,
  type PolicyObject,
} from './policy-model.js';
import { matchPortRanges, normProto, type PortRange, type PortResult } from './port-matching.js';

/** Pod labels as Calico sees them: plus the orchestrator and namespace labels it adds. */
function calicoLabels(c: EndpointContext): Labels {
  return labelView(c, 'calico', () => {
    const l: Record<string, string> = { ...c.labels, 'projectcalico.org/orchestrator': 'k8s' };
    if (c.ep.namespace !== undefined) l['projectcalico.org/namespace'] = c.ep.namespace;
    return l;
  });
}

function calicoNsLabels(c: EndpointContext): Labels {
  return labelView(c, 'calico-ns', () =>
    c.ep.namespace !== undefined ? { ...c.nsLabels, 'projectcalico.org/name': c.ep.namespace } : c.nsLabels,
  );
}

/** Calico port specs as port ranges (the rule's protocol is checked by the rule). */
function portRanges(list: readonly CalicoPortSpec[]): PortRange[] {
  const out: PortRange[] = [];
  for (const p of list) {
    if (p.name !== undefined) out.push({ port: p.name });
    else if (p.from !== undefined) out.push({ port: p.from, endPort: p.to ?? p.from });
  }
  return out;
}

interface EntityMatcher {
  matchEndpoint(c: EndpointContext): boolean;
  matchPorts(port: number | undefined, proto: string, dst: EndpointContext): PortResult;
}

/**
 * The CIDRs of the NetworkSets and GlobalNetworkSets an entity's selectors select: a namespaced
 * policy without namespaceSelector takes the sets of its namespace, `namespaceSelector: global()`
 * the GlobalNetworkSets, another namespaceSelector the sets of the namespaces it selects, and a
 * global policy without one both kinds.
 */
function networkSetCidrs(e: CalicoEntityRule, policyNs: string | undefined, env: CompileEnv): Cidr[] {
  const sets = env.networkSets ?? [];
  if (sets.length === 0 || (e.selector === undefined && e.namespaceSelector === undefined)) return [];
  const sel = compileCalicoSelector(e.selector ?? 'all()');
  const nsText = e.namespaceSelector?.trim();
  const nsSel = nsText !== undefined && nsText !== 'global()' ? compileCalicoSelector(nsText) : undefined;
  const out: Cidr[] = [];
  for (const set of sets) {
    const ns = set.namespace;
    let inScope: boolean;
    if (nsText === 'global()') inScope = ns === undefined;
    else if (nsSel)
      inScope =
        ns !== undefined &&
        nsSel({ ...(env.namespaceLabels?.(ns) ?? {}), [NAMESPACE_NAME_LABEL]: ns, 'projectcalico.org/name': ns });
    else inScope = policyNs === undefined || ns === policyNs;
    const labels = ns !== undefined ? { ...set.labels, 'projectcalico.org/namespace': ns } : set.labels;
    if (!inScope || !sel(labels)) continue;
    for (const n of set.nets) {
      const c = parseCidr(n);
      if (c) out.push(c);
    }
  }
  return out;
}

function compileEntity(e: CalicoEntityRule, policyNs: string | undefined, env: CompileEnv): EntityMatcher {
  const sel = e.selector !== undefined ? compileCalicoSelector(e.selector) : undefined;
  const notSel = e.notSelector !== undefined ? compileCalicoSelector(e.notSelector) : undefined;
  // `global()` selects non-namespaced resources only: no pod is in it.
  const nsGlobal = e.namespaceSelector?.trim() === 'global()';
  const nsSel = e.namespaceSelector !== undefined ? compileCalicoSelector(e.namespaceSelector) : undefined;
  const setNets = networkSetCidrs(e, policyNs, env);
  setNets.forEach((n) => env.registerIpMatcher(`net:${n.text}`, cidrBlock(n)));
  // Sets match by IP, pod IPs included.
  const inSet = (c: EndpointContext): boolean =>
    setNets.length > 0 && c.ip !== undefined && setNets.some((n) => c.ip !== undefined && cidrContains(n, c.ip));
  const nets = e.nets.map((n) => parseCidr(n)).filter((x): x is NonNullable<typeof x> => x !== undefined);
  const notNets = e.notNets.map((n) => parseCidr(n)).filter((x): x is NonNullable<typeof x> => x !== undefined);
  nets.forEach((n) => env.registerIpMatcher(`net:${n.text}`, cidrBlock(n)));
  notNets.forEach((n) => env.registerIpMatcher(`net:${n.text}`, cidrBlock(n)));
  const unmodelled = e.unmodelled.length > 0;
  const ports = portRanges(e.ports);
  const notPorts = portRanges(e.notPorts);
  return {
    matchEndpoint: (c) => {
      if (unmodelled) return false;
      if (nets.length > 0 && (!c.ip || !nets.some((n) => c.ip !== undefined && cidrContains(n, c.ip)))) return false;
      if (notNets.length > 0 && c.ip && notNets.some((n) => c.ip !== undefined && cidrContains(n, c.ip))) return false;
      if (sel || nsSel) {
        const podOk =
          c.isPod &&
          !nsGlobal &&
          (nsSel ? nsSel(calicoNsLabels(c)) : policyNs === undefined || c.ep.namespace === policyNs) &&
          (!sel || sel(calicoLabels(c)));
        if (!podOk && !inSet(c)) return false;
      }
      if (notSel && c.isPod && notSel(calicoLabels(c))) return false;
      return true;
    },
    matchPorts: (port, proto, dst) => {
      if (e.ports.length === 0 && e.notPorts.length === 0) return 'match';
      if (port === undefined) return 'nomatch';
      if (e.notPorts.length > 0 && matchPortRanges(notPorts, port, proto, dst) === 'match') return 'nomatch';
      if (e.ports.length === 0) return 'match';
      return matchPortRanges(ports, port, proto, dst);
    },
  };
}

function describePort(p: CalicoPortSpec): string {
  if (p.name !== undefined) return p.name;
  return p.from === p.to ? String(p.from) : `${p.from}:${p.to}`;
}

function describeEntity(e: CalicoEntityRule): string {
  const parts: string[] = [];
  if (e.namespaceSelector) parts.push(`namespaceSelector ${e.namespaceSelector}`);
  if (e.selector) parts.push(`selector ${e.selector}`);
  if (e.nets.length > 0) parts.push(`nets ${e.nets.join(',')}`);
  if (e.notNets.length > 0) parts.push(`notNets ${e.notNets.join(',')}`);
  return parts.length > 0 ? parts.join(' ') : 'any';
}

export const calicoPolicyCompiler: PolicyCompiler = {
  kinds: ['CalicoNetworkPolicy', 'GlobalNetworkPolicy'],
  compile(p: PolicyObject, env: CompileEnv): CompiledPolicy {
    if (p.kind !== 'CalicoNetworkPolicy' && p.kind !== 'GlobalNetworkPolicy')
      throw new Error(`not a Calico policy: ${p.kind}`);
    const ref = policyRefOf(p);
    const ns = p.namespace;
    const sel = compileCalicoSelector(p.selector);
    const nsSel = p.namespaceSelector !== undefined ? compileCalicoSelector(p.namespaceSelector) : undefined;
    const compileDir = (direction: PolicyDirection): CompiledDirection | undefined => {
      if (!p.types.includes(direction === 'ingress' ? 'Ingress' : 'Egress')) return undefined;
      const list = direction === 'ingress' ? p.ingress : p.egress;
      const rules = list.map((r, i): CompiledRule => {
        const srcM = compileEntity(r.source, ns, env);
        const dstM = compileEntity(r.destination, ns, env);
        const action = r.action === 'Allow' ? 'allow' : r.action === 'Deny' ? 'deny' : 'pass';
        const notes = [...r.unmodelled, ...r.source.unmodelled, ...r.destination.unmodelled].map(
          (u) => `${policyRefString(ref)} ${direction}[${i}]: ${u} not modelled`,
        );
        const proto = r.protocol !== undefined ? normProto(r.protocol) : undefined;
        const notProto = r.notProtocol !== undefined ? normProto(r.notProtocol) : undefined;
        if ([...r.destination.ports, ...r.destination.notPorts].some((x) => x.name !== undefined)) env.useNamedPorts();
        return {
          ref: { ...ref, direction, ruleIndex: i, action },
          // For ingress the peer is the source; for egress the peer is the destination. Both
          // entity matchers see (source ctx, destination ctx) via matchPeer(peer, self).
          matchPeer: (peer, self) => {
            const s = direction === 'ingress' ? peer : self;
            const d = direction === 'ingress' ? self : peer;
            return srcM.matchEndpoint(s) && dstM.matchEndpoint(d);
          },
          matchPort: (port, protocol, dst) => {
            if (proto !== undefined && proto !== protocol) return 'nomatch';
            if (notProto !== undefined && notProto === protocol) return 'nomatch';
            if (r.source.ports.length > 0) return 'unresolved';
            return dstM.matchPorts(port, protocol, dst);
          },
          describePeer: `${describeEntity(r.source)} -> ${describeEntity(r.destination)}`,
          logOnly: r.action === 'Log',
          describePorts: `${proto ?? 'any'}/${r.destination.ports.length > 0 ? r.destination.ports.map(describePort).join(',') : '*'}`,
          notes,
          ...(notes.length > 0 ? { uncertain: notes.join('; ') } : {}),
        };
      });
      return { isolates: true, rules, denyRules: [] };
    };
    return withDirections(
      {
        ref,
        refString: policyRefString(ref),
        tier: p.tier,
        order: p.order ?? Number.MAX_SAFE_INTEGER,
        ordered: true,
        selects: (self) =>
          self.isPod &&
          (ns === undefined || self.ep.namespace === ns) &&
          (!nsSel || nsSel(calicoNsLabels(self))) &&
          sel(calicoLabels(self)),
      },
      compileDir,
    );
  },
};
