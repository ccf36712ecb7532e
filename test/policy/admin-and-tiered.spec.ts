/**
 * ClusterNetworkPolicy (network-policy-api v0.2.0), AdminNetworkPolicy / BaselineAdminNetworkPolicy
 * (v1alpha1), Calico tiers, staged policies and network sets, on the x/y/z model (pods a, b, c in
 * namespaces x, y, z labelled ns=<name>, pod=<name>; 10.0.<1|2|3>.<1|2|3>). Cases are numbered as
 * in admin-and-tiered-policies.md §4; expected values are written from the specification.
 */
import { describe, expect, it } from '@jest/globals';
import { normalizeObject } from '../../src/policy/manifest.normalize.js';
import { everyoneBut, expectDenied, pairs, pods, probe, refs, xyz } from './xyz.js';

const CNP = 'apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy';
const ANP = 'apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy';
const BANP = 'apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy';
const NP = 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy';
const GNP = 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy';
const TIER = 'apiVersion: projectcalico.org/v3\nkind: Tier';

/** `x/b` ingress: an NP allowing only from namespace `from` (ns label). */
const npOnXbFrom = (from: string): string =>
  `${NP}\nmetadata: {name: b-from-${from}, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: b}}\n  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: ${from}}}}]}]\n`;

const cnp = (name: string, tier: string, priority: number, body: string): string =>
  `${CNP}\nmetadata: {name: ${name}}\nspec:\n  tier: ${tier}\n  priority: ${priority}\n${body}`;

/** Subject x/b; ingress rules as given. */
const onXb = (rules: string): string =>
  `  subject: {pods: {namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {pod: b}}}}\n  ingress:\n${rules}`;

describe('ClusterNetworkPolicy: tiers, priority, Accept / Deny / Pass', () => {
  it('1. Admin Pass hands over to NetworkPolicy: allowed where the NP allows, denied where it isolates', () => {
    const pass = cnp(
      'pass-all',
      'Admin',
      1,
      `  subject: {namespaces: {}}\n  ingress:\n  - {action: Pass, from: [{namespaces: {}}]}\n`,
    );
    const ev = xyz(`${pass}---\n${npOnXbFrom('y')}`);
    expect(probe(ev, 'y/a', 'x/b', 80).allowed).toBe(true);
    expect(probe(ev, 'z/a', 'x/b', 80).allowed).toBe(false);
    expect(probe(ev, 'z/a', 'x/b', 80).ingress).toMatchObject({ basis: 'isolation', tier: 'default' });
  });

  it('2. Baseline Deny applies only when no NetworkPolicy selects the pod', () => {
    const base = cnp('base-deny', 'Baseline', 1, onXb(`  - {action: Deny, from: [{namespaces: {}}]}\n`));
    const only = xyz(base);
    expect(probe(only, 'y/a', 'x/b', 80).allowed).toBe(false);
    expect(probe(only, 'y/a', 'x/b', 80).ingress).toMatchObject({ basis: 'rule', tier: 'Baseline' });
    expect(refs(probe(only, 'y/a', 'x/b', 80).ingress.deniedBy)).toEqual(['base-deny']);
    const withNp = xyz(`${base}---\n${npOnXbFrom('y')}`);
    expect(probe(withNp, 'y/a', 'x/b', 80).allowed).toBe(true);
  });

  it('3. an egress-only NetworkPolicy on the pod leaves its ingress to Baseline (decided per direction)', () => {
    const base = cnp('base-deny', 'Baseline', 1, onXb(`  - {action: Deny, from: [{namespaces: {}}]}\n`));
    const egressOnly = `${NP}\nmetadata: {name: eg, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: b}}\n  policyTypes: [Egress]\n  egress: [{}]\n`;
    expect(probe(xyz(`${base}---\n${egressOnly}`), 'y/a', 'x/b', 80).allowed).toBe(false);
  });

  it('5. within one policy the first matching rule wins: Deny from y before Accept from all', () => {
    const ev = xyz(
      cnp(
        'first',
        'Admin',
        3,
        onXb(
          `  - {action: Deny, from: [{namespaces: {matchLabels: {ns: y}}}]}\n  - {action: Accept, from: [{namespaces: {}}]}\n`,
        ),
      ),
    );
    expect(probe(ev, 'y/a', 'x/b', 80).allowed).toBe(false);
    expect(probe(ev, 'z/a', 'x/b', 80).allowed).toBe(true);
  });

  it('lower priority runs first across policies', () => {
    const deny = (p: number): string =>
      cnp('deny-y', 'Admin', p, onXb(`  - {action: Deny, from: [{namespaces: {}}]}\n`));
    const accept = (p: number): string =>
      cnp('accept-y', 'Admin', p, onXb(`  - {action: Accept, from: [{namespaces: {}}]}\n`));
    expect(probe(xyz(`${deny(1)}---\n${accept(2)}`), 'y/a', 'x/b', 80).allowed).toBe(false);
    expect(probe(xyz(`${deny(2)}---\n${accept(1)}`), 'y/a', 'x/b', 80).allowed).toBe(true);
  });

  it('Admin Accept is final over a NetworkPolicy that isolates; Admin Deny over one that allows', () => {
    const denyAll = `${NP}\nmetadata: {name: deny-all, namespace: x}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n`;
    const accept = cnp('acc', 'Admin', 1, onXb(`  - {action: Accept, from: [{namespaces: {matchLabels: {ns: y}}}]}\n`));
    const ev = xyz(`${accept}---\n${denyAll}`);
    expect(probe(ev, 'y/a', 'x/b', 80).allowed).toBe(true);
    expect(probe(ev, 'z/a', 'x/b', 80).allowed).toBe(false);
    const deny = cnp('den', 'Admin', 1, onXb(`  - {action: Deny, from: [{namespaces: {matchLabels: {ns: y}}}]}\n`));
    const ev2 = xyz(`${deny}---\n${npOnXbFrom('y')}`);
    expect(probe(ev2, 'y/a', 'x/b', 80).allowed).toBe(false);
    expect(probe(ev2, 'y/a', 'x/b', 80).ingress).toMatchObject({ basis: 'rule', tier: 'Admin' });
  });

  it('6. destinationNamedPort resolves on the destination pod (serve-80-tcp is 80/TCP)', () => {
    const denyAll = `${NP}\nmetadata: {name: deny-all, namespace: x}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n`;
    const accept = cnp(
      'named',
      'Admin',
      1,
      onXb(`  - action: Accept\n    from: [{namespaces: {}}]\n    protocols: [{destinationNamedPort: serve-80-tcp}]\n`),
    );
    const ev = xyz(`${accept}---\n${denyAll}`);
    expect(probe(ev, 'y/a', 'x/b', 80).allowed).toBe(true);
    expect(probe(ev, 'y/a', 'x/b', 81).allowed).toBe(false);
    expect(probe(ev, 'y/a', 'x/b', 80, 'UDP').allowed).toBe(false);
  });

  it('protocols: port number and inclusive range; other ports and protocols do not match', () => {
    const ev = xyz(
      cnp(
        'ports',
        'Admin',
        1,
        onXb(
          `  - action: Deny\n    from: [{namespaces: {}}]\n    protocols: [{tcp: {destinationPort: {number: 80}}}, {udp: {destinationPort: {range: {start: 81, end: 82}}}}]\n`,
        ),
      ),
    );
    expect(probe(ev, 'y/a', 'x/b', 80).allowed).toBe(false);
    expect(probe(ev, 'y/a', 'x/b', 81).allowed).toBe(true);
    expect(probe(ev, 'y/a', 'x/b', 80, 'UDP').allowed).toBe(true);
    expect(probe(ev, 'y/a', 'x/b', 82, 'UDP').allowed).toBe(false);
  });

  it('7. an egress Deny to networks 0.0.0.0/0 also denies pod-to-pod traffic', () => {
    const ev = xyz(
      cnp(
        'no-egress',
        'Admin',
        1,
        `  subject: {namespaces: {matchLabels: {ns: x}}}\n  egress:\n  - {action: Deny, to: [{networks: [0.0.0.0/0]}]}\n`,
      ),
    );
    expectDenied(ev, 80, 'TCP', pairs(pods('x'), everyoneBut()));
    expect(probe(ev, 'x/a', '8.8.8.8', 53, 'UDP').allowed).toBe(false);
  });

  it('8. Baseline Pass skips the rest of the Baseline tier: allowed', () => {
    const p1 = cnp('p1', 'Baseline', 1, onXb(`  - {action: Pass, from: [{namespaces: {matchLabels: {ns: y}}}]}\n`));
    const p2 = cnp('p2', 'Baseline', 2, onXb(`  - {action: Deny, from: [{namespaces: {}}]}\n`));
    const ev = xyz(`${p1}---\n${p2}`);
    expect(probe(ev, 'y/a', 'x/b', 80).allowed).toBe(true);
    expect(probe(ev, 'z/a', 'x/b', 80).allowed).toBe(false);
  });

  it('9. an egress Accept does not bypass the destination ingress NetworkPolicy', () => {
    const acc = cnp(
      'eg',
      'Admin',
      1,
      `  subject: {namespaces: {matchLabels: {ns: y}}}\n  egress:\n  - {action: Accept, to: [{namespaces: {matchLabels: {ns: x}}}]}\n`,
    );
    const none = `${NP}\nmetadata: {name: none, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: b}}\n  policyTypes: [Ingress]\n`;
    const d = probe(xyz(`${acc}---\n${none}`), 'y/a', 'x/b', 80);
    expect(d.egress.allowed).toBe(true);
    expect(d.ingress.allowed).toBe(false);
    expect(d.allowed).toBe(false);
  });

  it('10. a pods peer without namespaceSelector matches pods in every namespace', () => {
    const ev = xyz(
      cnp('pa', 'Admin', 1, onXb(`  - {action: Deny, from: [{pods: {podSelector: {matchLabels: {pod: a}}}}]}\n`)),
    );
    expect(probe(ev, 'y/a', 'x/b', 80).allowed).toBe(false);
    expect(probe(ev, 'z/a', 'x/b', 80).allowed).toBe(false);
    expect(probe(ev, 'x/a', 'x/b', 80).allowed).toBe(false);
    expect(probe(ev, 'y/c', 'x/b', 80).allowed).toBe(true);
  });

  it('ingress namespaces / pods peers never match external sources', () => {
    const ev = xyz(cnp('ns-all', 'Admin', 1, onXb(`  - {action: Deny, from: [{namespaces: {}}]}\n`)));
    expect(probe(ev, '192.0.2.1', 'x/b', 80).allowed).toBe(true);
  });

  it('fail closed: a peer with no known field makes Deny match everything and Accept nothing', () => {
    const denyUnknown = xyz(cnp('u', 'Admin', 1, onXb(`  - {action: Deny, from: [{futurePeer: {}}]}\n`)));
    expect(probe(denyUnknown, 'y/a', 'x/b', 80).allowed).toBe(false);
    const denyAll = `${NP}\nmetadata: {name: deny-all, namespace: x}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n`;
    const acceptUnknown = xyz(
      `${cnp('u', 'Admin', 1, onXb(`  - {action: Accept, from: [{futurePeer: {}}]}\n`))}---\n${denyAll}`,
    );
    expect(probe(acceptUnknown, 'y/a', 'x/b', 80).allowed).toBe(false);
  });

  it('an experimental nodes / domainNames peer is not modelled: the verdict it could change is uncertain', () => {
    const ev = xyz(
      cnp(
        'dn',
        'Admin',
        1,
        `  subject: {namespaces: {matchLabels: {ns: x}}}\n  egress:\n  - {action: Deny, to: [{domainNames: ["*.example.com"]}]}\n`,
      ),
    );
    const d = probe(ev, 'x/a', '93.184.216.34', 443);
    expect(d.allowed).toBe(true);
    expect(d.egress.uncertain).toEqual(['dn egress[0]: domainNames peer not modelled']);
    expect(probe(ev, 'y/a', 'x/a', 80).egress.uncertain).toEqual([]);
  });

  it('rejects what the CRD rejects: tcp: {} , a bad tier, priority out of range', () => {
    const bad = (spec: Record<string, unknown>): string[] => {
      const r = normalizeObject({
        apiVersion: 'policy.networking.k8s.io/v1alpha2',
        kind: 'ClusterNetworkPolicy',
        metadata: { name: 'p' },
        spec: { tier: 'Admin', priority: 1, subject: { namespaces: {} }, ...spec },
      });
      return r.status === 'invalid' ? r.errors : [];
    };
    expect(bad({ ingress: [{ action: 'Deny', from: [{ namespaces: {} }], protocols: [{ tcp: {} }] }] })).toEqual([
      'spec.ingress[0].protocols[0].tcp.destinationPort: is required',
    ]);
    expect(bad({ tier: 'Middle' })).toEqual(['spec.tier: must be Admin or Baseline (got "Middle")']);
    expect(bad({ priority: 1001 })).toEqual(['spec.priority: must be an integer 0-1000 (got 1001)']);
  });
});

describe('v1alpha1 AdminNetworkPolicy and BaselineAdminNetworkPolicy', () => {
  it('ANP Allow is Accept in the Admin tier, with portNumber ports', () => {
    const denyAll = `${NP}\nmetadata: {name: deny-all, namespace: x}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n`;
    const anp = `${ANP}\nmetadata: {name: allow-y}\nspec:\n  priority: 10\n  subject: {namespaces: {matchLabels: {ns: x}}}\n  ingress:\n  - action: Allow\n    from: [{namespaces: {matchLabels: {ns: y}}}]\n    ports: [{portNumber: {protocol: TCP, port: 80}}]\n`;
    const ev = xyz(`${anp}---\n${denyAll}`);
    expect(probe(ev, 'y/a', 'x/b', 80).allowed).toBe(true);
    expect(probe(ev, 'y/a', 'x/b', 81).allowed).toBe(false);
    expect(probe(ev, 'y/a', 'x/b', 80).ingress.allowedBy).toEqual([
      {
        kind: 'AdminNetworkPolicy',
        name: 'allow-y',
        tier: 'Admin',
        direction: 'ingress',
        ruleIndex: 0,
        action: 'allow',
      },
    ]);
  });

  it('BANP denies in the Baseline tier only where no NetworkPolicy selects; it must be named default', () => {
    const banp = `${BANP}\nmetadata: {name: default}\nspec:\n  subject: {namespaces: {}}\n  ingress:\n  - {action: Deny, from: [{namespaces: {matchLabels: {ns: z}}}]}\n`;
    const ev = xyz(`${banp}---\n${npOnXbFrom('z')}`);
    expect(probe(ev, 'z/a', 'x/a', 80).allowed).toBe(false);
    expect(probe(ev, 'z/a', 'x/b', 80).allowed).toBe(true);
    expect(probe(ev, 'y/a', 'x/a', 80).allowed).toBe(true);
    const r = normalizeObject({
      apiVersion: 'policy.networking.k8s.io/v1alpha1',
      kind: 'BaselineAdminNetworkPolicy',
      metadata: { name: 'other' },
      spec: { subject: { namespaces: {} } },
    });
    expect(r.status === 'invalid' ? r.errors : []).toEqual([
      'metadata.name: a BaselineAdminNetworkPolicy must be named default',
    ]);
  });
});

describe('Calico tiers, staged policies, network sets', () => {
  const gnpOnXb = (name: string, tier: string, order: number, rules: string): string =>
    `${GNP}\nmetadata: {name: ${tier}.${name}}\nspec:\n  tier: ${tier}\n  order: ${order}\n  selector: "pod == 'b' && projectcalico.org/namespace == 'x'"\n  types: [Ingress]\n  ingress:\n${rules}`;

  it('11. a tier with defaultAction Pass hands unmatched traffic on (allowed); with Deny it is denied at the end of the tier', () => {
    const policy = gnpOnXb('deny-z', 'sec', 1, `  - action: Deny\n    source: {namespaceSelector: "ns == 'z'"}\n`);
    const pass = xyz(`${TIER}\nmetadata: {name: sec}\nspec: {order: 100, defaultAction: Pass}\n---\n${policy}`);
    expect(probe(pass, 'y/a', 'x/b', 80).allowed).toBe(true);
    expect(probe(pass, 'z/a', 'x/b', 80).allowed).toBe(false);
    const deny = xyz(`${TIER}\nmetadata: {name: sec}\nspec: {order: 100, defaultAction: Deny}\n---\n${policy}`);
    const d = probe(deny, 'y/a', 'x/b', 80).ingress;
    expect(d).toMatchObject({ allowed: false, basis: 'end-of-tier', tier: 'sec' });
    expect(d.deniedBy).toEqual([
      { kind: 'GlobalNetworkPolicy', name: 'deny-z', tier: 'sec', direction: 'ingress', ruleIndex: -1, action: 'deny' },
    ]);
  });

  it('12. a tier none of whose policies selects the endpoint is skipped', () => {
    const ev = xyz(
      `${TIER}\nmetadata: {name: sec}\nspec: {order: 100}\n---\n${gnpOnXb('only-b', 'sec', 1, '  - action: Deny\n')}`,
    );
    expect(probe(ev, 'y/a', 'x/c', 80).allowed).toBe(true);
    expect(probe(ev, 'y/a', 'x/b', 80).allowed).toBe(false);
  });

  it('tiers run by their order, not their names', () => {
    const tiers = `${TIER}\nmetadata: {name: aaa}\nspec: {order: 200}\n---\n${TIER}\nmetadata: {name: zzz}\nspec: {order: 100}\n---\n`;
    const ev = xyz(
      `${tiers}${gnpOnXb('allow', 'aaa', 1, '  - action: Allow\n')}---\n${gnpOnXb('deny', 'zzz', 1, '  - action: Deny\n')}`,
    );
    expect(probe(ev, 'y/a', 'x/b', 80).ingress).toMatchObject({ allowed: false, tier: 'zzz', basis: 'rule' });
  });

  it('a Calico tier ordered before 1,000 runs before the Admin tier; one after it runs after', () => {
    const admin = cnp('acc', 'Admin', 1, onXb(`  - {action: Accept, from: [{namespaces: {}}]}\n`));
    const early = xyz(
      `${admin}---\n${TIER}\nmetadata: {name: early}\nspec: {order: 100}\n---\n${gnpOnXb('d', 'early', 1, '  - action: Deny\n')}`,
    );
    expect(probe(early, 'y/a', 'x/b', 80).ingress).toMatchObject({ allowed: false, tier: 'early' });
    const late = xyz(
      `${admin}---\n${TIER}\nmetadata: {name: late}\nspec: {order: 5000}\n---\n${gnpOnXb('d', 'late', 1, '  - action: Deny\n')}`,
    );
    expect(probe(late, 'y/a', 'x/b', 80).ingress).toMatchObject({ allowed: true, tier: 'Admin' });
  });

  it('13. staged policies are never enforced, and are kept apart in the inventory', () => {
    const staged = `apiVersion: projectcalico.org/v3\nkind: StagedGlobalNetworkPolicy\nmetadata: {name: deny-b}\nspec:\n  order: 1\n  selector: "pod == 'b'"\n  types: [Ingress]\n  ingress: [{action: Deny}]\n`;
    const ev = xyz(staged);
    expect(probe(ev, 'y/a', 'x/b', 80).allowed).toBe(true);
    expect(ev.inventory.policies).toEqual([]);
    expect(ev.inventory.staged).toMatchObject([
      {
        kind: 'StagedGlobalNetworkPolicy',
        stagedAction: 'Set',
        target: { kind: 'GlobalNetworkPolicy', name: 'deny-b' },
        policy: { kind: 'GlobalNetworkPolicy', name: 'deny-b', tier: 'default', order: 1 },
      },
    ]);
  });

  it('a rule selector matches the CIDRs of the NetworkSets and GlobalNetworkSets it selects', () => {
    const sets =
      `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: blocked, labels: {role: blocked}}\nspec: {nets: [203.0.113.0/24]}\n---\n` +
      `apiVersion: projectcalico.org/v3\nkind: NetworkSet\nmetadata: {name: partners, namespace: x, labels: {role: partner}}\nspec: {nets: [198.51.100.0/24]}\n---\n`;
    const gnp = `${GNP}\nmetadata: {name: no-blocked}\nspec:\n  order: 1\n  selector: "projectcalico.org/namespace == 'x'"\n  types: [Egress]\n  egress:\n  - action: Deny\n    destination: {selector: "role == 'blocked'"}\n  - action: Allow\n    destination: {selector: "role == 'partner'"}\n`;
    const ev = xyz(`${sets}${gnp}`);
    expect(probe(ev, 'x/a', '203.0.113.7', 443).egress).toMatchObject({ allowed: false, basis: 'rule' });
    expect(probe(ev, 'x/a', '198.51.100.9', 443).allowed).toBe(true);
    // Not in any set: the default tier ends with deny.
    expect(probe(ev, 'x/a', '192.0.2.1', 443).egress).toMatchObject({ allowed: false, basis: 'end-of-tier' });
    const global = `${GNP}\nmetadata: {name: only-global}\nspec:\n  order: 1\n  selector: "projectcalico.org/namespace == 'y'"\n  types: [Egress]\n  egress:\n  - action: Allow\n    destination: {selector: "has(role)", namespaceSelector: global()}\n`;
    const ev2 = xyz(`${sets}${global}`);
    expect(probe(ev2, 'y/a', '203.0.113.7', 443).allowed).toBe(true);
    expect(probe(ev2, 'y/a', '198.51.100.9', 443).allowed).toBe(false);
    // global() selects no pod.
    expect(probe(ev2, 'y/a', 'x/a', 80).allowed).toBe(false);
  });
});
