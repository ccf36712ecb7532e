/**
 * NetworkPolicy cases modelled on the upstream Kubernetes e2e suite
 * (test/e2e/network/netpol/network_policy.go): namespaces x, y, z; pods a, b, c; ports 80/81
 * on TCP/UDP/SCTP. Each case checks the reachability verdicts and the attribution lists.
 */
import { describe, expect, it } from '@jest/globals';
import { InventoryStore } from '../../src/policy/policy-inventory.js';
import { parseManifestText } from '../../src/policy/manifest.loader.js';
import { NetworkPolicyEvaluator } from '../../src/policy/network-policy.evaluator.js';
import { everyoneBut, expectDenied, pairs, PODS, pods, probe, refs, xyz, xyzInventory } from './xyz.js';

const NP = 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy';

describe('e2e: default deny', () => {
  const denyIngress = `${NP}\nmetadata: {name: deny-ingress, namespace: x}\nspec:\n  podSelector: {}\n  ingress: []\n`;

  it("supports a 'default-deny-ingress' policy", () => {
    const ev = xyz(denyIngress);
    expectDenied(ev, 80, 'TCP', pairs(PODS, pods('x')));
    const d = probe(ev, 'y/a', 'x/b', 80);
    expect(d.allowed).toBe(false);
    expect(refs(d.ingress.isolatedBy)).toEqual(['x/deny-ingress']);
    expect(d.ingress.allowedBy).toEqual([]);
    expect(d.egress.isolated).toBe(false);
    expect(d.egress.allowed).toBe(true);
  });

  it("supports a 'default-deny-all' policy (Ingress and Egress types, no rules)", () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: deny-all, namespace: x}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n`,
    );
    expectDenied(ev, 80, 'TCP', [...pairs(PODS, pods('x')), ...pairs(pods('x'), PODS)]);
    const d = probe(ev, 'x/a', 'y/a', 80);
    expect(refs(d.egress.isolatedBy)).toEqual(['x/deny-all']);
    expect(d.ingress.isolated).toBe(false);
  });

  it('denies egress on the client side even if the server explicitly allows it', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: deny-egress, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n---\n` +
        `${NP}\nmetadata: {name: allow-all-ingress, namespace: y}\nspec:\n  podSelector: {}\n  ingress: [{}]\n`,
    );
    const d = probe(ev, 'x/a', 'y/a', 80);
    expect(d.allowed).toBe(false);
    expect(d.egress.allowed).toBe(false);
    expect(refs(d.egress.isolatedBy)).toEqual(['x/deny-egress']);
    expect(d.ingress.allowed).toBe(true);
    expect(d.ingress.allowedBy).toEqual([
      expect.objectContaining({ namespace: 'y', name: 'allow-all-ingress', ruleIndex: 0, direction: 'ingress' }),
    ]);
    expectDenied(ev, 80, 'TCP', pairs(['x/a'], PODS));
  });

  it('supports an allow-all policy (ingress [{}] and egress [{}])', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: allow-all, namespace: x}\nspec:\n  podSelector: {}\n  ingress: [{}]\n  egress: [{}]\n  policyTypes: [Ingress, Egress]\n`,
    );
    expectDenied(ev, 80, 'TCP', []);
    const d = probe(ev, 'x/a', 'x/b', 81, 'UDP');
    expect(refs(d.egress.allowedBy)).toEqual(['x/allow-all']);
    expect(refs(d.ingress.allowedBy)).toEqual(['x/allow-all']);
    expect(probe(ev, '203.0.113.9', 'x/a', 80).allowed).toBe(true);
  });
});

describe('e2e: ingress peers', () => {
  it('allows traffic from pods within the server namespace based on PodSelector', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: x-a-from-b, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {pod: b}}}]\n`,
    );
    expectDenied(ev, 80, 'TCP', pairs(everyoneBut('x/b'), ['x/a']));
    expect(refs(probe(ev, 'x/b', 'x/a', 80).ingress.allowedBy)).toEqual(['x/x-a-from-b']);
    // A bare podSelector only matches the policy's own namespace.
    expect(probe(ev, 'y/b', 'x/a', 80).allowed).toBe(false);
  });

  it('allows ingress traffic for a target (ingress [{}]) next to a deny-all', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: deny-all, namespace: x}\nspec:\n  podSelector: {}\n  ingress: []\n---\n` +
        `${NP}\nmetadata: {name: allow-to-a, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress: [{}]\n`,
    );
    expectDenied(ev, 80, 'TCP', pairs(PODS, ['x/b', 'x/c']));
    const d = probe(ev, 'z/c', 'x/a', 80);
    expect(refs(d.ingress.isolatedBy).sort()).toEqual(['x/allow-to-a', 'x/deny-all']);
    expect(refs(d.ingress.allowedBy)).toEqual(['x/allow-to-a']);
    expect(probe(ev, '198.51.100.7', 'x/a', 80).allowed).toBe(true);
  });

  it('allows ingress traffic from pods in all namespaces (namespaceSelector {}), not from external IPs', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: from-all-ns, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{namespaceSelector: {}}]\n`,
    );
    expectDenied(ev, 80, 'TCP', []);
    expect(probe(ev, '198.51.100.7', 'x/a', 80).allowed).toBe(false);
    expect(probe(ev, '198.51.100.7', 'x/b', 80).allowed).toBe(true);
  });

  it('allows traffic only from a different namespace, based on NamespaceSelector', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: from-y, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {ns: y}}}]\n`,
    );
    expectDenied(ev, 80, 'TCP', pairs(pods('x', 'z'), ['x/a']));
    expect(refs(probe(ev, 'y/c', 'x/a', 80).ingress.allowedBy)).toEqual(['x/from-y']);
  });

  it('enforces policy based on PodSelector with MatchExpressions', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: me, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{podSelector: {matchExpressions: [{key: pod, operator: In, values: [b]}]}}]\n`,
    );
    expectDenied(ev, 80, 'TCP', pairs(everyoneBut('x/b'), ['x/a']));
  });

  it('enforces policy based on NamespaceSelector with MatchExpressions', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: me, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{namespaceSelector: {matchExpressions: [{key: ns, operator: In, values: [y]}]}}]\n`,
    );
    expectDenied(ev, 80, 'TCP', pairs(pods('x', 'z'), ['x/a']));
  });

  it('enforces policy based on PodSelector OR NamespaceSelector (two peers)', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: or, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from:\n    - podSelector: {matchLabels: {pod: b}}\n    - namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}\n`,
    );
    expectDenied(ev, 80, 'TCP', pairs(['x/c'], ['x/a']));
  });

  it('enforces policy based on PodSelector AND NamespaceSelector (one peer)', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: and, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from:\n    - podSelector: {matchLabels: {pod: b}}\n      namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}\n`,
    );
    expectDenied(ev, 80, 'TCP', pairs(everyoneBut('y/b', 'z/b'), ['x/a']));
    const d = probe(ev, 'x/b', 'x/a', 80);
    expect(d.ingress.closestRules).toEqual([expect.objectContaining({ missing: 'peer' })]);
  });

  it('enforces policy based on multiple PodSelectors and NamespaceSelectors', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: multi, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from:\n    - podSelector: {matchExpressions: [{key: pod, operator: In, values: [b, c]}]}\n      namespaceSelector: {matchExpressions: [{key: ns, operator: NotIn, values: [x]}]}\n`,
    );
    expectDenied(ev, 80, 'TCP', pairs(['x/b', 'x/c', 'y/a', 'z/a'], ['x/a']));
  });

  it('enforces policy based on any PodSelectors (two pod peers)', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: any, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from:\n    - podSelector: {matchLabels: {pod: b}}\n    - podSelector: {matchLabels: {pod: c}}\n`,
    );
    expectDenied(ev, 80, 'TCP', pairs(pods('y', 'z'), ['x/a']));
  });

  it('allows traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: y-a, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchLabels: {pod: a}}}]\n`,
    );
    expectDenied(ev, 80, 'TCP', pairs(everyoneBut('y/a'), ['x/a']));
  });

  it('uses the implicit kubernetes.io/metadata.name namespace label (matchLabels and NotIn)', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: by-name, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}}]\n`,
    );
    expectDenied(ev, 80, 'TCP', pairs(pods('x', 'z'), ['x/a']));
    const ev2 = xyz(
      `${NP}\nmetadata: {name: not-y, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [y]}]}}]\n`,
    );
    expectDenied(ev2, 80, 'TCP', pairs(pods('y'), ['x/a']));
  });

  it('supports Exists and DoesNotExist', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: ex, namespace: x}\nspec:\n  podSelector: {matchExpressions: [{key: pod, operator: Exists}]}\n  ingress:\n  - from: [{namespaceSelector: {matchExpressions: [{key: ns, operator: DoesNotExist}]}}]\n`,
    );
    // Every namespace has the ns label: nothing is admitted into x.
    expectDenied(ev, 80, 'TCP', pairs(PODS, pods('x')));
  });
});

describe('e2e: ports and protocols', () => {
  it('enforces policy based on Ports', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: port81, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {ns: y}}}]\n    ports: [{port: 81}]\n`,
    );
    expectDenied(ev, 80, 'TCP', pairs(everyoneBut('x/a'), ['x/a']));
    expectDenied(ev, 81, 'TCP', pairs(pods('x', 'z'), ['x/a']));
    const d = probe(ev, 'y/a', 'x/a', 80);
    expect(d.ingress.closestRules).toEqual([
      expect.objectContaining({ missing: 'port', detail: 'admits this peer on TCP/81 only' }),
    ]);
  });

  it('allows ingress access on one named port', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: named, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - ports: [{port: serve-81-tcp}]\n`,
    );
    expectDenied(ev, 80, 'TCP', pairs(everyoneBut('x/a'), ['x/a']));
    expectDenied(ev, 81, 'TCP', []);
    // The name matches the TCP port only: UDP 81 (serve-81-udp) is not admitted.
    expectDenied(ev, 81, 'UDP', pairs(everyoneBut('x/a'), ['x/a']));
  });

  it('allows ingress access from a namespace on one named port', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: named-ns, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {ns: y}}}]\n    ports: [{port: serve-80-tcp, protocol: TCP}]\n`,
    );
    expectDenied(ev, 80, 'TCP', pairs(pods('x', 'z'), ['x/a']));
    expectDenied(ev, 81, 'TCP', pairs(everyoneBut('x/a'), ['x/a']));
  });

  it('allows egress access on one named port (resolved on the destination pod)', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: eg-named, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress:\n  - ports: [{port: serve-80-tcp}]\n`,
    );
    expectDenied(ev, 80, 'TCP', []);
    expectDenied(ev, 81, 'TCP', pairs(['x/a'], PODS));
    // To an external IP, a named port never resolves.
    expect(probe(ev, 'x/a', '203.0.113.5', 80).allowed).toBe(false);
  });

  it('enforces ingress policy allowing any port traffic on a specific protocol ({protocol: TCP} without port)', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: any-tcp, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - ports: [{protocol: TCP}]\n`,
    );
    expectDenied(ev, 80, 'TCP', []);
    expectDenied(ev, 81, 'TCP', []);
    expectDenied(ev, 80, 'UDP', pairs(everyoneBut('x/a'), ['x/a']));
  });

  it('does not allow access by TCP when a policy specifies only UDP', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: udp81, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - ports: [{port: 81, protocol: UDP}]\n`,
    );
    expectDenied(ev, 81, 'TCP', pairs(everyoneBut('x/a'), ['x/a']));
    expectDenied(ev, 81, 'UDP', []);
  });

  it("does not mistakenly treat 'protocol: SCTP' as 'protocol: TCP'", () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: sctp, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - ports: [{port: 80, protocol: SCTP}]\n`,
    );
    expectDenied(ev, 80, 'TCP', pairs(everyoneBut('x/a'), ['x/a']));
    expectDenied(ev, 80, 'SCTP', []);
  });

  it('isolates pods selected by a policy allowing SCTP (TCP and UDP denied)', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: sctp-only, namespace: x}\nspec:\n  podSelector: {}\n  ingress:\n  - ports: [{protocol: SCTP}]\n`,
    );
    expectDenied(ev, 81, 'SCTP', []);
    expectDenied(ev, 81, 'UDP', pairs(PODS, pods('x')));
  });

  it('defaults an omitted protocol to TCP', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: p80, namespace: x}\nspec:\n  podSelector: {}\n  ingress:\n  - ports: [{port: 80}]\n`,
    );
    expectDenied(ev, 80, 'TCP', []);
    expectDenied(ev, 80, 'UDP', pairs(PODS, pods('x')));
  });

  it('supports endPort ranges', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: range, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{namespaceSelector: {matchLabels: {ns: y}}}]\n    ports: [{port: 80, endPort: 81, protocol: TCP}]\n`,
    );
    expectDenied(ev, 80, 'TCP', pairs(pods('x', 'z'), ['x/a']));
    expectDenied(ev, 81, 'TCP', pairs(pods('x', 'z'), ['x/a']));
    expectDenied(ev, 82, 'TCP', pairs(everyoneBut('x/a'), ['x/a']));
  });

  it("applies a rule's ports to all of its peers", () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: ports-all-peers, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {pod: b}}}, {namespaceSelector: {matchLabels: {ns: y}}}]\n    ports: [{port: 81}]\n`,
    );
    expect(probe(ev, 'x/b', 'x/a', 80).allowed).toBe(false);
    expect(probe(ev, 'y/b', 'x/a', 80).allowed).toBe(false);
    expect(probe(ev, 'x/b', 'x/a', 81).allowed).toBe(true);
    expect(probe(ev, 'y/b', 'x/a', 81).allowed).toBe(true);
  });
});

describe('e2e: egress', () => {
  it('allows egress to a server in a different namespace based on PodSelector and NamespaceSelector', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: to-y-a, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchLabels: {pod: a}}}]\n`,
    );
    expectDenied(ev, 80, 'TCP', pairs(['x/a'], everyoneBut('y/a')));
    const d = probe(ev, 'x/a', 'y/a', 80);
    expect(refs(d.egress.allowedBy)).toEqual(['x/to-y-a']);
    expect(d.ingress.isolated).toBe(false);
  });

  it('works with Ingress and Egress specified together', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: both, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Ingress, Egress]\n  ingress:\n  - from: [{podSelector: {matchLabels: {pod: b}}}]\n  egress:\n  - to: [{podSelector: {matchLabels: {pod: c}}}]\n`,
    );
    expectDenied(ev, 80, 'TCP', [...pairs(everyoneBut('x/b'), ['x/a']), ...pairs(['x/a'], everyoneBut('x/c'))]);
  });

  it('controls ingress and egress independently (egress allowed, ingress denied at the server)', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: a-egress-to-b, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{podSelector: {matchLabels: {pod: b}}}]\n---\n` +
        `${NP}\nmetadata: {name: b-deny, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: b}}\n  policyTypes: [Ingress]\n`,
    );
    const d = probe(ev, 'x/a', 'x/b', 80);
    expect(d.allowed).toBe(false);
    expect(d.egress).toMatchObject({ isolated: true, allowed: true });
    expect(refs(d.egress.allowedBy)).toEqual(['x/a-egress-to-b']);
    expect(d.ingress).toMatchObject({ isolated: true, allowed: false });
    expect(refs(d.ingress.isolatedBy)).toEqual(['x/b-deny']);
  });

  it('enforces multiple egress policies with an egress allow-all policy taking precedence', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: eg-80, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress: [{ports: [{port: 80}]}]\n---\n` +
        `${NP}\nmetadata: {name: eg-all, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress: [{}]\n`,
    );
    expectDenied(ev, 81, 'TCP', []);
    expect(refs(probe(ev, 'x/a', 'y/b', 80).egress.allowedBy).sort()).toEqual(['x/eg-80', 'x/eg-all']);
  });

  it('keeps DNS working in a default-deny egress namespace when a port-53 rule is allowed (rules are ORed)', () => {
    const dns = `apiVersion: v1\nkind: Pod\nmetadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}\nspec:\n  containers:\n  - name: coredns\n    ports: [{containerPort: 53, name: dns, protocol: UDP}, {containerPort: 53, name: dns-tcp}]\nstatus: {podIP: 10.96.0.10}\n`;
    const inv = xyzInventory(
      `${NP}\nmetadata: {name: deny-egress-but-dns, namespace: x}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]\n  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}]\n`,
      dns,
    );
    const ev = new NetworkPolicyEvaluator(inv);
    expect(probe(ev, 'x/a', 'kube-system/coredns', 53, 'UDP').allowed).toBe(true);
    // amazon-vpc-cni-k8s#3096: the port-53 rule without `to` admits 53 even to the excepted range.
    expect(probe(ev, 'x/a', '10.1.2.3', 53, 'UDP').allowed).toBe(true);
    expect(probe(ev, 'x/a', '10.1.2.3', 443).allowed).toBe(false);
    expect(probe(ev, 'x/a', '93.184.216.34', 443).allowed).toBe(true);
    expect(probe(ev, 'x/a', 'y/a', 80).allowed).toBe(false);
    expect(probe(ev, 'x/a', 'kube-system/coredns', 53, 'UDP').egress.allowedBy).toEqual([
      expect.objectContaining({ name: 'deny-egress-but-dns', ruleIndex: 0 }),
    ]);
  });
});

describe('e2e: ipBlock', () => {
  it('allows egress access to a server in a CIDR block (ipBlock matches pod IPs, as upstream e2e asserts)', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: cidr, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{ipBlock: {cidr: 10.0.1.2/32}}]\n`,
    );
    expectDenied(ev, 80, 'TCP', pairs(['x/a'], everyoneBut('x/b')));
  });

  it('enforces the except clause while egress access to a server in a CIDR block', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: except, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{ipBlock: {cidr: 10.0.1.0/24, except: [10.0.1.2/32]}}]\n`,
    );
    expectDenied(ev, 80, 'TCP', pairs(['x/a'], everyoneBut('x/a', 'x/c')));
  });

  it('allows an IP overlapping both IPBlock.CIDR and IPBlock.Except when another policy allows it', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: except, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{ipBlock: {cidr: 10.0.1.0/24, except: [10.0.1.2/32]}}]\n---\n` +
        `${NP}\nmetadata: {name: allow-b, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n  egress:\n  - to: [{ipBlock: {cidr: 10.0.1.2/32}}]\n`,
    );
    const d = probe(ev, 'x/a', 'x/b', 80);
    expect(d.allowed).toBe(true);
    expect(refs(d.egress.allowedBy)).toEqual(['x/allow-b']);
    expect(refs(probe(ev, 'x/a', 'x/c', 80).egress.allowedBy)).toEqual(['x/except']);
  });

  it('allows ingress from an external CIDR and supports IPv6 blocks', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: ext, namespace: x}\nspec:\n  podSelector: {}\n  ingress:\n  - from: [{ipBlock: {cidr: 203.0.113.0/24}}, {ipBlock: {cidr: '2001:db8::/32', except: ['2001:db8:bad::/48']}}]\n`,
    );
    expect(probe(ev, '203.0.113.77', 'x/a', 80).allowed).toBe(true);
    expect(probe(ev, '198.51.100.1', 'x/a', 80).allowed).toBe(false);
    expect(probe(ev, '2001:db8:1::5', 'x/a', 80).allowed).toBe(true);
    expect(probe(ev, '2001:db8:bad::5', 'x/a', 80).allowed).toBe(false);
    expect(probe(ev, 'y/a', 'x/a', 80).allowed).toBe(false);
  });
});

describe('e2e: multiple policies and updates', () => {
  it('enforces multiple ingress policies with an ingress allow-all policy taking precedence', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: only-81, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress: [{ports: [{port: 81}]}]\n---\n` +
        `${NP}\nmetadata: {name: allow-all, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress: [{}]\n`,
    );
    expectDenied(ev, 80, 'TCP', []);
    const d = probe(ev, 'y/a', 'x/a', 81);
    expect(refs(d.ingress.allowedBy).sort()).toEqual(['x/allow-all', 'x/only-81']);
    expect(refs(d.ingress.isolatedBy).sort()).toEqual(['x/allow-all', 'x/only-81']);
  });

  it('is additive across policies with overlapping podSelectors', () => {
    const ev = xyz(
      `${NP}\nmetadata: {name: from-y, namespace: x}\nspec:\n  podSelector: {}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}]}]\n---\n` +
        `${NP}\nmetadata: {name: from-z-to-a, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: z}}}]}]\n`,
    );
    expectDenied(ev, 80, 'TCP', [...pairs(pods('x', 'z'), ['x/b', 'x/c']), ...pairs(pods('x'), ['x/a'])]);
  });

  it('enforces an updated policy and stops enforcing a deleted one (upsert/delete feed)', () => {
    const store = new InventoryStore();
    const base = parseManifestText(
      `${NP}\nmetadata: {name: p, namespace: x}\nspec:\n  podSelector: {}\n  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]\n`,
      'p.yaml',
    );
    const cluster = xyzInventory();
    for (const o of [...cluster.namespaces.values(), ...cluster.pods, ...base.objects]) store.upsert(o);
    let ev = new NetworkPolicyEvaluator(store.snapshot());
    expect(probe(ev, 'x/c', 'x/a', 80).allowed).toBe(false);
    const g1 = store.snapshot().generation;
    store.upsertRaw({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'p', namespace: 'x' },
      spec: { podSelector: {}, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'c' } } }] }] },
    });
    expect(store.snapshot().generation).toBeGreaterThan(g1);
    ev = new NetworkPolicyEvaluator(store.snapshot());
    expect(probe(ev, 'x/c', 'x/a', 80).allowed).toBe(true);
    expect(probe(ev, 'x/b', 'x/a', 80).allowed).toBe(false);
    expect(store.delete('NetworkPolicy', 'x', 'p')).toBe(true);
    ev = new NetworkPolicyEvaluator(store.snapshot());
    expectDenied(ev, 80, 'TCP', []);
  });
});
