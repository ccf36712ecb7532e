/**
 * Every edge case of ../shared/reference/networkpolicy-semantics.md, numbered as there.
 */
import { describe, expect, it } from '@jest/globals';
import { parseManifestText } from '../../src/policy/manifest.loader.js';
import { NetworkPolicyEvaluator } from '../../src/policy/network-policy.evaluator.js';
import { buildInventory } from '../../src/policy/policy-inventory.js';
import type { K8sNetworkPolicyObject } from '../../src/policy/policy-model.js';
import { everyoneBut, expectDenied, pairs, PODS, pods, probe, refs, xyz, xyzInventory } from './xyz.js';

const NP = 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy';

describe('1. policyTypes defaulting', () => {
  it('edge-policytypes-egress-only-rules: egress rules without policyTypes ALSO isolate ingress', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: eg, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  egress: [{to: [{podSelector: {}}]}]\n`,
    );
    const p = ev.inventory.policies[0] as K8sNetworkPolicyObject;
    expect(p.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(p.policyTypesDefaulted).toBe(true);
    expectDenied(ev, 80, 'TCP', [...pairs(everyoneBut('x/a'), ['x/a']), ...pairs(['x/a'], pods('y', 'z'))]);
    expect(refs(probe(ev, 'y/a', 'x/a', 80).ingress.isolatedBy)).toEqual(['x/eg']);
  });

  it('edge-policytypes-empty-egress: `egress: []` without policyTypes does NOT isolate egress', () => {
    const ev = xyz(`${NP}\nmetadata: {name: e, namespace: x}\nspec:\n  podSelector: {}\n  egress: []\n`);
    expect((ev.inventory.policies[0] as K8sNetworkPolicyObject).policyTypes).toEqual(['Ingress']);
    expectDenied(ev, 80, 'TCP', pairs(PODS, pods('x')));
    expect(probe(ev, 'x/a', 'y/a', 80).egress.isolated).toBe(false);
  });

  it('edge-policytypes-egress-explicit: policyTypes [Egress] with no rules denies all egress and leaves ingress alone', () => {
    const ev = xyz(`${NP}\nmetadata: {name: e, namespace: x}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n`);
    expectDenied(ev, 80, 'TCP', pairs(pods('x'), PODS));
    expect(probe(ev, 'y/a', 'x/a', 80).ingress.isolated).toBe(false);
  });

  it('edge-policytypes-ingress-only-with-egress-rules: explicit [Ingress] ignores egress rules', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: e, namespace: x}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n  ingress: [{}]\n  egress: [{to: [{podSelector: {}}]}]\n`,
    );
    expectDenied(ev, 80, 'TCP', []);
  });

  it('edge-policytypes-nothing: a policy with no rules and no policyTypes isolates ingress only', () => {
    const ev = xyz(`${NP}\nmetadata: {name: e, namespace: x}\nspec:\n  podSelector: {}\n`);
    expectDenied(ev, 80, 'TCP', pairs(PODS, pods('x')));
  });
});

describe('2. empty list vs allow-all', () => {
  it('`ingress: []` allows nothing, `ingress: [{}]` allows everything including external IPs', () => {
    expectDenied(
      xyz(`${NP}\nmetadata: {name: e, namespace: x}\nspec:\n  podSelector: {}\n  ingress: []\n`),
      80,
      'TCP',
      pairs(PODS, pods('x')),
    );
    const ev = xyz(`${NP}\nmetadata: {name: e, namespace: x}\nspec:\n  podSelector: {}\n  ingress: [{}]\n`);
    expectDenied(ev, 80, 'TCP', []);
    expect(probe(ev, '8.8.8.8', 'x/a', 443).allowed).toBe(true);
  });

  it('`from: []` and an omitted `from` mean any source, including external IPs', () => {
    for (const rule of ['{from: [], ports: [{port: 80}]}', '{ports: [{port: 80}]}']) {
      const ev = xyz(`${NP}\nmetadata: {name: e, namespace: x}\nspec:\n  podSelector: {}\n  ingress: [${rule}]\n`);
      expect(probe(ev, '8.8.8.8', 'x/a', 80).allowed).toBe(true);
      expect(probe(ev, 'z/c', 'x/a', 80).allowed).toBe(true);
      expect(probe(ev, 'z/c', 'x/a', 81).allowed).toBe(false);
    }
  });

  it('policyTypes with no rules allows nothing (Egress); `egress: [{}]` allows all', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: e, namespace: x}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress: [{}]\n`,
    );
    expect(probe(ev, 'x/a', '8.8.8.8', 53, 'UDP').allowed).toBe(true);
    expectDenied(ev, 80, 'TCP', []);
  });

  it('`ports: []` means all ports and protocols', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: e, namespace: x}\nspec:\n  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}], ports: []}]\n`,
    );
    expect(probe(ev, 'y/a', 'x/a', 81, 'SCTP').allowed).toBe(true);
    expect(probe(ev, 'y/a', 'x/a', undefined, 'ICMPv4').allowed).toBe(true);
  });
});

describe('3. peer composition', () => {
  it('a bare podSelector peer only matches the policy namespace', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: e, namespace: x}\nspec:\n  podSelector: {}\n  ingress: [{from: [{podSelector: {}}]}]\n`,
    );
    expectDenied(ev, 80, 'TCP', pairs(pods('y', 'z'), pods('x')));
  });

  it('`namespaceSelector: {}` matches every pod but no external IP (np-guard t35)', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: e, namespace: x}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress: [{to: [{namespaceSelector: {}}]}]\n`,
    );
    expectDenied(ev, 80, 'TCP', []);
    expect(probe(ev, 'x/a', '1.1.1.1', 80).allowed).toBe(false);
  });

  it('namespaceSelector + podSelector in one peer is AND, in two peers OR', () => {
    const and = xyz(
      `${NP}\nmetadata: {name: e, namespace: x}\nspec:\n  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchLabels: {pod: c}}}]}]\n`,
    );
    const or = xyz(
      `${NP}\nmetadata: {name: e, namespace: x}\nspec:\n  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}, {podSelector: {matchLabels: {pod: c}}}]}]\n`,
    );
    expect(probe(and, 'y/a', 'x/a', 80).allowed).toBe(false);
    expect(probe(and, 'y/c', 'x/a', 80).allowed).toBe(true);
    expect(probe(and, 'x/c', 'x/a', 80).allowed).toBe(false);
    expect(probe(or, 'y/a', 'x/a', 80).allowed).toBe(true);
    expect(probe(or, 'x/c', 'x/a', 80).allowed).toBe(true);
    expect(probe(or, 'z/c', 'x/a', 80).allowed).toBe(false);
  });
});

describe('4. named ports', () => {
  const cluster = `
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Namespace, metadata: {name: app}}
- apiVersion: v1
  kind: Pod
  metadata: {name: web1, namespace: app, labels: {app: web}}
  spec: {containers: [{name: c, ports: [{name: http, containerPort: 8080}, {name: metrics, containerPort: 9000, protocol: UDP}]}]}
  status: {podIP: 10.1.0.1}
- apiVersion: v1
  kind: Pod
  metadata: {name: web2, namespace: app, labels: {app: web}}
  spec: {containers: [{name: c, ports: [{name: http, containerPort: 9090}, {name: metrics, containerPort: 9000, protocol: TCP}]}]}
  status: {podIP: 10.1.0.2}
- apiVersion: v1
  kind: Pod
  metadata: {name: client, namespace: app, labels: {app: client}}
  spec: {containers: [{name: c, ports: [{name: http, containerPort: 7070}]}]}
  status: {podIP: 10.1.0.3}
`;
  function ev(policy: string): NetworkPolicyEvaluator {
    const loaded = parseManifestText(cluster, 'c.yaml');
    parseManifestText(policy, 'p.yaml', loaded);
    expect(loaded.issues.filter((i) => i.severity === 'error')).toEqual([]);
    return new NetworkPolicyEvaluator(buildInventory(loaded.objects));
  }
  const p = (e: NetworkPolicyEvaluator, from: string, to: string, port: number, proto = 'TCP'): boolean => {
    const [fns, fn] = from.split('/');
    const [tns, tn] = to.split('/');
    const s = e.inventory.pod(fns, fn);
    const d = e.inventory.pod(tns, tn);
    if (!s || !d) throw new Error('pod');
    return e.evaluate({ src: e.endpointForPod(s), dst: e.endpointForPod(d), port, protocol: proto }).allowed;
  };

  it('resolves an ingress named port per destination pod (different numbers on different pods)', () => {
    const e = ev(
      `${NP}\nmetadata: {name: http, namespace: app}\nspec:\n  podSelector: {matchLabels: {app: web}}\n  ingress: [{ports: [{port: http}]}]\n`,
    );
    expect(p(e, 'app/client', 'app/web1', 8080)).toBe(true);
    expect(p(e, 'app/client', 'app/web1', 9090)).toBe(false);
    expect(p(e, 'app/client', 'app/web2', 9090)).toBe(true);
    expect(p(e, 'app/client', 'app/web2', 8080)).toBe(false);
    // Never on the source pod (aws-network-policy-agent#149): client's http is 7070.
    expect(p(e, 'app/client', 'app/web1', 7070)).toBe(false);
  });

  it('resolves an egress named port on the destination, also when `to` is empty (antrea#343)', () => {
    const e = ev(
      `${NP}\nmetadata: {name: eg, namespace: app}\nspec:\n  podSelector: {matchLabels: {app: client}}\n  policyTypes: [Egress]\n  egress: [{to: [], ports: [{port: http}]}]\n`,
    );
    expect(p(e, 'app/client', 'app/web1', 8080)).toBe(true);
    expect(p(e, 'app/client', 'app/web2', 9090)).toBe(true);
    expect(p(e, 'app/client', 'app/web2', 7070)).toBe(false);
  });

  it('matches a named port by name AND protocol', () => {
    const e = ev(
      `${NP}\nmetadata: {name: m, namespace: app}\nspec:\n  podSelector: {matchLabels: {app: web}}\n  ingress: [{ports: [{port: metrics, protocol: UDP}]}]\n`,
    );
    expect(p(e, 'app/client', 'app/web1', 9000, 'UDP')).toBe(true);
    expect(p(e, 'app/client', 'app/web2', 9000, 'UDP')).toBe(false); // web2's metrics is TCP
    expect(p(e, 'app/client', 'app/web2', 9000, 'TCP')).toBe(false);
  });

  it('reports an unresolvable named port when the destination pod spec is unknown', () => {
    const e = ev(
      `${NP}\nmetadata: {name: http, namespace: app}\nspec:\n  podSelector: {}\n  ingress: [{ports: [{port: http}]}]\n`,
    );
    const d = e.evaluate({
      src: { kind: 'external', labels: {}, ip: '8.8.8.8' },
      dst: { kind: 'pod', namespace: 'app', labels: { app: 'other' } },
      port: 8080,
      protocol: 'TCP',
    });
    expect(d.allowed).toBe(false);
    expect(d.ingress.notes.join()).toMatch(/named port not resolvable/);
  });

  it('rejects endPort with a named port, endPort < port and endPort without port', () => {
    for (const port of ['{port: http, endPort: 90}', '{port: 90, endPort: 80}', '{endPort: 80}']) {
      const res = parseManifestText(
        `${NP}\nmetadata: {name: bad, namespace: app}\nspec:\n  podSelector: {}\n  ingress: [{ports: [${port}]}]\n`,
        'bad.yaml',
      );
      expect(res.objects).toHaveLength(0);
      expect(res.issues[0].message).toMatch(/endPort/);
    }
  });
});

describe('5. ipBlock vs pod IPs', () => {
  const egressTo = (cidr: string, except: string[] = []): string =>
    `${NP}\nmetadata: {name: cidr, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress: [{to: [{ipBlock: {cidr: '${cidr}', except: [${except.map((e) => `'${e}'`).join(',')}]}}]}]\n`;

  it('matches pod IPs by default (upstream e2e), not with ipBlockMatchesPodIps=false (Cilium, Terway)', () => {
    expect(probe(xyz(egressTo('10.0.2.0/24')), 'x/a', 'y/b', 80).allowed).toBe(true);
    const cil = xyz(egressTo('10.0.2.0/24'), { ipBlockMatchesPodIps: false });
    expect(probe(cil, 'x/a', 'y/b', 80).allowed).toBe(false);
    expect(probe(cil, 'x/a', '10.0.2.99', 80).allowed).toBe(true);
  });

  it('`except` only narrows its own peer: another peer in the same rule still admits the address (edge-ipblock-except-union)', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: u, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.2.0/24]}}, {namespaceSelector: {matchLabels: {ns: y}}}]}]\n`,
    );
    expect(probe(ev, 'x/a', 'y/a', 80).allowed).toBe(true);
    expect(probe(ev, 'x/a', '10.0.2.200', 80).allowed).toBe(false);
    expect(probe(ev, 'x/a', '10.9.9.9', 80).allowed).toBe(true);
  });

  it('accepts CIDRs with host bits set (192.168.242.213/24)', () => {
    const ev = xyz(egressTo('192.168.242.213/24'));
    expect(probe(ev, 'x/a', '192.168.242.1', 80).allowed).toBe(true);
    expect(probe(ev, 'x/a', '192.168.243.1', 80).allowed).toBe(false);
  });

  it('0.0.0.0/0 matches external and pod IPs; ::/0 is IPv6 only', () => {
    const ev = xyz(egressTo('0.0.0.0/0'));
    expect(probe(ev, 'x/a', '1.2.3.4', 80).allowed).toBe(true);
    expect(probe(ev, 'x/a', 'y/c', 80).allowed).toBe(true);
    expect(probe(ev, 'x/a', '2001:db8::1', 80).allowed).toBe(false);
    expect(probe(xyz(egressTo('::/0')), 'x/a', '2001:db8::1', 80).allowed).toBe(true);
  });

  it('rejects an except outside its cidr', () => {
    const res = parseManifestText(egressTo('10.0.0.0/16', ['10.1.0.0/24']), 'p.yaml');
    expect(res.objects).toHaveLength(0);
    expect(res.issues[0].message).toMatch(/strictly within 10\.0\.0\.0\/16/);
  });
});

describe('6. return traffic and direction', () => {
  it("the destination's egress isolation never affects inbound connections", () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: deny-eg, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n`,
    );
    const d = probe(ev, 'y/b', 'x/a', 80);
    expect(d.allowed).toBe(true);
    expect(d.ingress.isolated).toBe(false);
    expect(d.egress.isolated).toBe(false);
  });
});

describe('7. node and hostNetwork traffic', () => {
  const hostPod = `apiVersion: v1\nkind: Pod\nmetadata: {name: agent, namespace: x, labels: {pod: a}}\nspec:\n  hostNetwork: true\n  containers: [{name: c, ports: [{containerPort: 9100, name: metrics}]}]\nstatus: {podIP: 172.18.0.2}\n`;

  it('does not select hostNetwork pods (not isolated) and does not match them with pod/namespace selectors', () => {
    const inv = xyzInventory(
      `${NP}\nmetadata: {name: deny, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Ingress, Egress]\n---\n` +
        `${NP}\nmetadata: {name: from-a, namespace: y}\nspec:\n  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {}, podSelector: {matchLabels: {pod: a}}}]}]\n`,
      hostPod,
    );
    const ev = new NetworkPolicyEvaluator(inv);
    const d = probe(ev, 'y/b', 'x/agent', 9100);
    expect(d.ingress.applies).toBe(false);
    expect(d.allowed).toBe(true);
    expect(probe(ev, 'x/agent', 'y/a', 80).allowed).toBe(false); // y admits pod=a pods, not hostNetwork ones
    expect(probe(ev, 'x/a', 'y/a', 80).allowed).toBe(false); // x/a egress isolated by x/deny
    expect(probe(ev, 'z/a', 'y/a', 80).allowed).toBe(true);
  });

  it('treats hostNetwork pods as their node IP for ipBlock', () => {
    const inv = xyzInventory(
      `${NP}\nmetadata: {name: nodes, namespace: y}\nspec:\n  podSelector: {}\n  ingress: [{from: [{ipBlock: {cidr: 172.18.0.0/16}}]}]\n`,
      hostPod,
    );
    const ev = new NetworkPolicyEvaluator(inv);
    expect(probe(ev, 'x/agent', 'y/a', 80).allowed).toBe(true);
    expect(ev.inventory.podByIp('172.18.0.2')).toBeUndefined();
  });
});

describe('9. protocols', () => {
  it('rules with ports never match ICMP; rules without ports do', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: p, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress: [{ports: [{protocol: TCP}]}]\n---\n${NP}\nmetadata: {name: any, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: b}}\n  ingress: [{}]\n`,
    );
    expect(probe(ev, 'y/a', 'x/a', undefined, 'ICMPv4').allowed).toBe(false);
    expect(probe(ev, 'y/a', 'x/b', undefined, 'ICMPv4').allowed).toBe(true);
  });

  it('rejects unknown protocols in policies', () => {
    const res = parseManifestText(
      `${NP}\nmetadata: {name: p, namespace: x}\nspec:\n  podSelector: {}\n  ingress: [{ports: [{protocol: ICMP}]}]\n`,
      'p.yaml',
    );
    expect(res.issues[0]).toMatchObject({ severity: 'error', kind: 'NetworkPolicy', name: 'p' });
    expect(res.issues[0].message).toMatch(/protocol: must be TCP, UDP or SCTP/);
  });
});

describe('11. DNS and default-deny egress', () => {
  it('default-deny egress also blocks DNS', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: deny-eg, namespace: x}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n`,
    );
    expect(probe(ev, 'x/a', '10.96.0.10', 53, 'UDP').allowed).toBe(false);
    expect(refs(probe(ev, 'x/a', '10.96.0.10', 53, 'UDP').egress.isolatedBy)).toEqual(['x/deny-eg']);
  });
});
