import { describe, expect, it } from '@jest/globals';
import { calicoPolicyCompiler } from './calico-policy.compiler.js';
import { ciliumPolicyCompiler } from './cilium-policy.compiler.js';
import type { CompileEnv, CompiledPolicy, EndpointContext } from './compiled-policy.js';
import { kubernetesPolicyCompiler } from './kubernetes-policy.compiler.js';
import { parseManifestText } from './manifest.loader.js';
import { compilersByKind, POLICY_COMPILERS } from './policy-compilers.js';
import { isPolicyObject, type PolicyObject } from './policy-model.js';

function policy(yaml: string): PolicyObject {
  const loaded = parseManifestText(yaml, 'p.yaml');
  const p = loaded.objects[0];
  if (!p || !isPolicyObject(p)) throw new Error(JSON.stringify(loaded.issues));
  return p;
}

function env(): CompileEnv & { matchers: string[]; named: boolean } {
  const e = {
    ipBlockMatchesPodIps: true,
    matchers: [] as string[],
    named: false,
    registerIpMatcher: (key: string) => void e.matchers.push(key),
    useNamedPorts: () => void (e.named = true),
  };
  return e;
}

const ctx = (namespace: string, labels: Record<string, string>): EndpointContext => ({
  ep: { kind: 'pod', namespace, labels, namedPorts: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
  labels,
  namedPorts: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  nsLabels: { 'kubernetes.io/metadata.name': namespace },
  ip: undefined,
  isPod: true,
});

/** The data part of a compiled policy (functions left out). */
function shape(c: CompiledPolicy): unknown {
  const dir = (d: CompiledPolicy['ingress']) =>
    d && {
      isolates: d.isolates,
      rules: d.rules.map((r) => ({ ref: r.ref, peer: r.describePeer, ports: r.describePorts, notes: r.notes })),
      denyRules: d.denyRules.map((r) => ({ ref: r.ref, peer: r.describePeer, ports: r.describePorts })),
    };
  return {
    ref: c.ref,
    tier: c.tier,
    order: c.order,
    ordered: c.ordered,
    ingress: dir(c.ingress),
    egress: dir(c.egress),
  };
}

describe('policy compilers', () => {
  it('registers one compiler per kind', () => {
    expect([...compilersByKind(POLICY_COMPILERS).keys()].sort()).toEqual([
      'AdminNetworkPolicy',
      'BaselineAdminNetworkPolicy',
      'CalicoNetworkPolicy',
      'CiliumClusterwideNetworkPolicy',
      'CiliumNetworkPolicy',
      'ClusterNetworkPolicy',
      'GlobalNetworkPolicy',
      'NetworkPolicy',
    ]);
    expect(() => compilersByKind([kubernetesPolicyCompiler, kubernetesPolicyCompiler])).toThrow(/two compilers/);
  });

  it('Kubernetes: additive allow rules in the default tier, ipBlocks registered, named ports noticed', () => {
    const e = env();
    const c = kubernetesPolicyCompiler.compile(
      policy(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: client}}}, {ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]
    ports: [{port: http}, {port: 9000, endPort: 9010}]
`),
      e,
    );
    const ref = { kind: 'NetworkPolicy', namespace: 'shop', name: 'web' };
    expect(shape(c)).toEqual({
      ref,
      tier: 'default',
      order: 1000,
      ordered: false,
      ingress: {
        isolates: true,
        rules: [
          {
            ref: { ...ref, direction: 'ingress', ruleIndex: 0, action: 'allow' },
            peer: 'namespace shop and pods app=client or 10.0.0.0/8 except 10.1.0.0/16',
            ports: 'TCP/http,TCP/9000-9010',
            notes: [],
          },
        ],
        denyRules: [],
      },
      egress: undefined,
    });
    expect(e.matchers).toEqual(['ipb:10.0.0.0/8 except 10.1.0.0/16']);
    expect(e.named).toBe(true);
    expect(c.selects(ctx('shop', { app: 'web' }))).toBe(true);
    expect(c.selects(ctx('other', { app: 'web' }))).toBe(false);
    const rule = c.ingress?.rules[0];
    expect(rule?.matchPeer(ctx('shop', { app: 'client' }), ctx('shop', { app: 'web' }))).toBe(true);
    expect(rule?.matchPort(8080, 'TCP', ctx('shop', { app: 'web' }))).toBe('match');
    expect(rule?.matchPort(9010, 'TCP', ctx('shop', { app: 'web' }))).toBe('match');
    expect(rule?.matchPort(9011, 'TCP', ctx('shop', { app: 'web' }))).toBe('nomatch');
  });

  it('Cilium: allow and deny rules, ANY protocol, namespace-scoped endpoints', () => {
    const c = ciliumPolicyCompiler.compile(
      policy(`apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts: [{ports: [{port: '80', protocol: ANY}]}]
  ingressDeny:
  - fromEntities: [world]
`),
      env(),
    );
    const ref = { kind: 'CiliumNetworkPolicy', namespace: 'shop', name: 'web' };
    expect(shape(c)).toEqual({
      ref,
      tier: 'default',
      order: 1000,
      ordered: false,
      ingress: {
        isolates: true,
        rules: [
          {
            ref: { ...ref, direction: 'ingress', ruleIndex: 0, action: 'allow' },
            peer: 'endpoints app=client in shop',
            ports: 'ANY/80',
            notes: [],
          },
        ],
        denyRules: [
          {
            ref: { ...ref, direction: 'ingress', ruleIndex: 0, action: 'deny' },
            peer: 'entity world',
            ports: 'any port',
          },
        ],
      },
      egress: undefined,
    });
    expect(c.ingress?.rules[0].matchPort(80, 'UDP', ctx('shop', { app: 'web' }))).toBe('match');
  });

  it('Calico: ordered rules with actions in their tier and order', () => {
    const c = calicoPolicyCompiler.compile(
      policy(`apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: security.web, namespace: shop}
spec:
  tier: security
  order: 10
  selector: app == 'web'
  types: [Ingress]
  ingress:
  - action: Deny
    protocol: TCP
    source: {selector: app == 'bad'}
    destination: {ports: [22, '8000:8010']}
  - action: Pass
`),
      env(),
    );
    const ref = { kind: 'CalicoNetworkPolicy', namespace: 'shop', name: 'web', tier: 'security' };
    expect(shape(c)).toEqual({
      ref,
      tier: 'security',
      order: 10,
      ordered: true,
      ingress: {
        isolates: true,
        rules: [
          {
            ref: { ...ref, direction: 'ingress', ruleIndex: 0, action: 'deny' },
            peer: "selector app == 'bad' -> any",
            ports: 'TCP/22,8000:8010',
            notes: [],
          },
          {
            ref: { ...ref, direction: 'ingress', ruleIndex: 1, action: 'pass' },
            peer: 'any -> any',
            ports: 'any/*',
            notes: [],
          },
        ],
        denyRules: [],
      },
      egress: undefined,
    });
    const deny = c.ingress?.rules[0];
    expect(deny?.matchPort(8005, 'TCP', ctx('shop', { app: 'web' }))).toBe('match');
    expect(deny?.matchPort(8005, 'UDP', ctx('shop', { app: 'web' }))).toBe('nomatch');
    expect(deny?.matchPort(23, 'TCP', ctx('shop', { app: 'web' }))).toBe('nomatch');
  });
});
