import { describe, expect, it } from '@jest/globals';
import { parseManifestText } from './manifest.loader.js';
import { NetworkPolicyEvaluator, type PolicyDecision } from './network-policy.evaluator.js';
import { buildInventory } from './policy-inventory.js';

const CLUSTER = `
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Namespace, metadata: {name: shop, labels: {env: prod}}}
- {apiVersion: v1, kind: Namespace, metadata: {name: ops}}
- {apiVersion: v1, kind: Pod, metadata: {name: web, namespace: shop, labels: {app: web}}, spec: {containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}, status: {podIP: 10.2.0.1}}
- {apiVersion: v1, kind: Pod, metadata: {name: frontend, namespace: shop, labels: {app: frontend}}, status: {podIP: 10.2.0.2}}
- {apiVersion: v1, kind: Pod, metadata: {name: frontend, namespace: ops, labels: {app: frontend}}, status: {podIP: 10.3.0.2}}
`;

function evaluator(policies: string): NetworkPolicyEvaluator {
  const loaded = parseManifestText(CLUSTER, 'cluster.yaml');
  parseManifestText(policies, 'policies.yaml', loaded);
  const errors = loaded.issues.filter((i) => i.severity === 'error');
  if (errors.length > 0) throw new Error(errors.map((e) => e.message).join('; '));
  return new NetworkPolicyEvaluator(buildInventory(loaded.objects));
}

function run(ev: NetworkPolicyEvaluator, from: string, to: string, port: number, protocol = 'TCP'): PolicyDecision {
  const end = (r: string) => {
    if (!r.includes('/')) return ev.endpointForIp(r);
    const [ns, n] = r.split('/');
    const p = ev.inventory.pod(ns, n);
    if (!p) throw new Error(r);
    return ev.endpointForPod(p);
  };
  return ev.evaluate({ src: end(from), dst: end(to), port, protocol });
}

const CNP = 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy';
const CCNP = 'apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy';

describe('Cilium policies', () => {
  it('isolates selected endpoints; fromEndpoints are scoped to the policy namespace', () => {
    const ev = evaluator(
      `${CNP}\nmetadata: {name: web, namespace: shop}\nspec:\n  endpointSelector: {matchLabels: {app: web}}\n  ingress:\n  - fromEndpoints: [{matchLabels: {'k8s:app': frontend}}]\n    toPorts: [{ports: [{port: '8080', protocol: TCP}]}]\n`,
    );
    const ok = run(ev, 'shop/frontend', 'shop/web', 8080);
    expect(ok.allowed).toBe(true);
    expect(ok.ingress.allowedBy).toEqual([
      expect.objectContaining({ kind: 'CiliumNetworkPolicy', namespace: 'shop', name: 'web', ruleIndex: 0 }),
    ]);
    const other = run(ev, 'ops/frontend', 'shop/web', 8080);
    expect(other.allowed).toBe(false);
    expect(other.ingress.isolatedBy).toEqual([expect.objectContaining({ kind: 'CiliumNetworkPolicy', name: 'web' })]);
    expect(run(ev, 'shop/frontend', 'shop/web', 9090).allowed).toBe(false);
  });

  it('crosses namespaces when the selector names io.kubernetes.pod.namespace', () => {
    const ev = evaluator(
      `${CNP}\nmetadata: {name: web, namespace: shop}\nspec:\n  endpointSelector: {}\n  ingress:\n  - fromEndpoints: [{matchLabels: {'k8s:io.kubernetes.pod.namespace': ops}}]\n`,
    );
    expect(run(ev, 'ops/frontend', 'shop/web', 80).allowed).toBe(true);
    expect(run(ev, 'shop/frontend', 'shop/web', 80).allowed).toBe(false);
  });

  it('treats `ingress: [{}]` as default deny; ingressDeny overrides allows', () => {
    const ev = evaluator(
      `${CNP}\nmetadata: {name: deny-all, namespace: shop}\nspec:\n  endpointSelector: {}\n  ingress: [{}]\n---\n` +
        `${CCNP}\nmetadata: {name: allow-all-cluster}\nspec:\n  endpointSelector: {}\n  ingress: [{fromEntities: [all]}]\n  ingressDeny: [{fromEndpoints: [{matchLabels: {'io.kubernetes.pod.namespace': ops}}], toPorts: [{ports: [{port: '8080'}]}]}]\n`,
    );
    expect(run(ev, 'shop/frontend', 'shop/web', 8080).allowed).toBe(true);
    const d = run(ev, 'ops/frontend', 'shop/web', 8080);
    expect(d.allowed).toBe(false);
    expect(d.ingress.deniedBy).toEqual([
      expect.objectContaining({
        kind: 'CiliumClusterwideNetworkPolicy',
        name: 'allow-all-cluster',
        action: 'deny',
        ruleIndex: 0,
      }),
    ]);
    expect(run(ev, 'ops/frontend', 'shop/web', 8081).allowed).toBe(true);
  });

  it('matches CIDR rules and the world entity for external addresses only, and notes FQDN rules', () => {
    const ev = evaluator(
      `${CNP}\nmetadata: {name: eg, namespace: shop}\nspec:\n  endpointSelector: {matchLabels: {app: web}}\n  egress:\n  - toCIDR: [10.0.0.0/8]\n  - toEntities: [world]\n    toPorts: [{ports: [{port: '443'}]}]\n  - toFQDNs: [{matchName: api.example.com}]\n`,
    );
    expect(run(ev, 'shop/web', '10.9.9.9', 80).allowed).toBe(true);
    expect(run(ev, 'shop/web', 'ops/frontend', 80).allowed).toBe(false); // pod IP 10.3.0.2: CIDR rules never match pods
    expect(run(ev, 'shop/web', '93.184.216.34', 443).allowed).toBe(true);
    const d = run(ev, 'shop/web', '93.184.216.34', 80);
    expect(d.allowed).toBe(false);
    expect(d.egress.notes.join()).toMatch(/toFQDNs not modelled/);
  });
});

const GNP = 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy';
const CNPC = 'apiVersion: projectcalico.org/v3\nkind: NetworkPolicy';
const K8S = 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy';

describe('Calico policies', () => {
  it('explicit Deny in an earlier tier wins; Pass falls through to the Kubernetes policies', () => {
    const ev = evaluator(
      `${GNP}\nmetadata: {name: security.guard}\nspec:\n  tier: security\n  order: 1\n  selector: all()\n  types: [Ingress]\n  ingress:\n  - action: Deny\n    source: {namespaceSelector: "projectcalico.org/name == 'ops'"}\n  - action: Pass\n---\n` +
        `${K8S}\nmetadata: {name: web, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: web}}\n  ingress: [{from: [{podSelector: {}}]}]\n`,
    );
    const d = run(ev, 'ops/frontend', 'shop/web', 80);
    expect(d.allowed).toBe(false);
    expect(d.ingress.deniedBy).toEqual([
      expect.objectContaining({
        kind: 'GlobalNetworkPolicy',
        name: 'guard',
        tier: 'security',
        ruleIndex: 0,
        action: 'deny',
      }),
    ]);
    const ok = run(ev, 'shop/frontend', 'shop/web', 80);
    expect(ok.allowed).toBe(true);
    expect(ok.ingress.allowedBy).toEqual([expect.objectContaining({ kind: 'NetworkPolicy', name: 'web' })]);
  });

  it('ends a tier with deny when no rule matches (ruleIndex -1)', () => {
    const ev = evaluator(
      `${GNP}\nmetadata: {name: platform.only-prod}\nspec:\n  tier: platform\n  selector: "app == 'web'"\n  types: [Ingress]\n  ingress:\n  - action: Allow\n    protocol: TCP\n    source: {selector: "app == 'frontend'", namespaceSelector: "env == 'prod'"}\n    destination: {ports: [http]}\n`,
    );
    expect(run(ev, 'shop/frontend', 'shop/web', 8080).allowed).toBe(true);
    const d = run(ev, 'ops/frontend', 'shop/web', 8080);
    expect(d.allowed).toBe(false);
    expect(d.ingress.deniedBy).toEqual([
      expect.objectContaining({ name: 'only-prod', tier: 'platform', ruleIndex: -1 }),
    ]);
  });

  it('namespaced Calico policies select in their namespace; rule selectors default to it; nets match pods too', () => {
    const ev = evaluator(
      `${CNPC}\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: "app == 'web'"\n  ingress:\n  - action: Allow\n    source: {selector: "app == 'frontend'"}\n  - action: Allow\n    protocol: TCP\n    source: {nets: [10.3.0.0/16]}\n    destination: {ports: ['8000:8100']}\n`,
    );
    expect(run(ev, 'shop/frontend', 'shop/web', 1).allowed).toBe(true);
    expect(run(ev, 'ops/frontend', 'shop/web', 8080).allowed).toBe(true);
    expect(run(ev, 'ops/frontend', 'shop/web', 9000).allowed).toBe(false);
  });
});
