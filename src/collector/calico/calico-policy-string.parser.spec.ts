import { describe, expect, it } from '@jest/globals';
import type { FlowPolicy } from '../../flow/flow-record.js';
import {
  parsePolicyString,
  parsePolicyStrings,
  parsePolicyTrace,
  PolicyStringCache,
  PolicyStringError,
  verdictEntry,
} from './calico-policy-string.parser.js';

function one(s: string, stage: 'enforced' | 'pending' = 'enforced'): FlowPolicy & { index: number } {
  const e = parsePolicyString(s, stage);
  return { index: e.index, ...e.policy };
}

describe('parsePolicyString: legacy dialect (reference §2a)', () => {
  const cases: Array<[string, Partial<FlowPolicy> & { index: number }]> = [
    [
      '0|security|security.tenant-histershop|deny|0',
      {
        index: 0,
        kind: 'GlobalNetworkPolicy',
        name: 'tenant-histershop',
        tier: 'security',
        action: 'deny',
        ruleIndex: 0,
      },
    ],
    [
      '1|app-hipstershop|hipstershop/app-hipstershop.checkoutservice|deny|-1',
      {
        index: 1,
        kind: 'CalicoNetworkPolicy',
        namespace: 'hipstershop',
        name: 'checkoutservice',
        tier: 'app-hipstershop',
        action: 'deny',
        ruleIndex: -1,
      },
    ],
    [
      '2|default|default.staged:default-deny|deny|-1',
      {
        index: 2,
        kind: 'StagedGlobalNetworkPolicy',
        name: 'default-deny',
        tier: 'default',
        action: 'deny',
        ruleIndex: -1,
      },
    ],
    [
      '0|namespace-isolation|curl-ns/namespace-isolation.staged:curl-ns-vfzgh|allow|3',
      {
        index: 0,
        kind: 'StagedNetworkPolicy',
        namespace: 'curl-ns',
        name: 'curl-ns-vfzgh',
        tier: 'namespace-isolation',
        action: 'allow',
        ruleIndex: 3,
      },
    ],
    [
      '0|default|namespace/knp.default.name|allow|2',
      {
        index: 0,
        kind: 'NetworkPolicy',
        namespace: 'namespace',
        name: 'name',
        tier: 'default',
        action: 'allow',
        ruleIndex: 2,
      },
    ],
    [
      '1|default|namespace/staged:knp.default.name|deny|3',
      {
        index: 1,
        kind: 'StagedKubernetesNetworkPolicy',
        namespace: 'namespace',
        name: 'name',
        tier: 'default',
        action: 'deny',
        ruleIndex: 3,
      },
    ],
    [
      '3|adminnetworkpolicy|kanp.adminnetworkpolicy.name|pass|4',
      { index: 3, kind: 'AdminNetworkPolicy', name: 'name', tier: 'adminnetworkpolicy', action: 'pass', ruleIndex: 4 },
    ],
    [
      '2|baselineadminnetworkpolicy|kbanp.baselineadminnetworkpolicy.default|deny|0',
      {
        index: 2,
        kind: 'BaselineAdminNetworkPolicy',
        name: 'default',
        tier: 'baselineadminnetworkpolicy',
        action: 'deny',
        ruleIndex: 0,
      },
    ],
    [
      '1|__PROFILE__|__PROFILE__.kns.kube-system|allow|0',
      { index: 1, kind: 'Profile', name: 'kns.kube-system', action: 'allow', ruleIndex: 0 },
    ],
    [
      '0|__PROFILE__|__PROFILE__.ksa.ns.sa|allow|0',
      { index: 0, kind: 'Profile', name: 'ksa.ns.sa', action: 'allow', ruleIndex: 0 },
    ],
    // 4-field strings of the pre-rule-index era [S07-S09]
    [
      '0|__PROFILE__|__PROFILE__.kns.kube-system|allow',
      { index: 0, kind: 'Profile', name: 'kns.kube-system', action: 'allow' },
    ],
    [
      '0|default|default.allow-dns|allow',
      { index: 0, kind: 'GlobalNetworkPolicy', name: 'allow-dns', tier: 'default', action: 'allow' },
    ],
    // section 2c chains
    [
      '0|security|security.tenant-histershop|pass|0',
      {
        index: 0,
        kind: 'GlobalNetworkPolicy',
        name: 'tenant-histershop',
        tier: 'security',
        action: 'pass',
        ruleIndex: 0,
      },
    ],
    [
      '1|default|default.default-deny|deny|-1',
      { index: 1, kind: 'GlobalNetworkPolicy', name: 'default-deny', tier: 'default', action: 'deny', ruleIndex: -1 },
    ],
    // names with dots: only the first tier segment goes
    [
      '0|security|security.a.b.c|allow|1',
      { index: 0, kind: 'GlobalNetworkPolicy', name: 'a.b.c', tier: 'security', action: 'allow', ruleIndex: 1 },
    ],
  ];
  it.each(cases)('%s', (s, want) => {
    const got = one(s);
    expect(got).toEqual({ stage: 'enforced', ...want });
  });

  it('4-field strings have no ruleIndex', () => {
    expect(one('0|__PROFILE__|__PROFILE__.kns.kube-system|allow').ruleIndex).toBeUndefined();
  });

  it('accepts the docs staged form "ns/staged:tier.name" and keeps a name not prefixed by its own tier', () => {
    // [S12]: tier field tier2, name tier1.policy1: inconsistent by construction, nothing is guessed.
    expect(one('1|tier2|ns2/staged:tier1.policy1|deny|1', 'pending')).toEqual({
      index: 1,
      kind: 'StagedNetworkPolicy',
      namespace: 'ns2',
      name: 'tier1.policy1',
      tier: 'tier2',
      action: 'deny',
      ruleIndex: 1,
      stage: 'pending',
    });
    expect(one('1|tier1|ns2/staged:tier1.policy1|deny|1').name).toBe('policy1');
  });

  it('maps -2 (unknown), "-" (nil) and "*" (obfuscated) rule indices to undefined', () => {
    expect(one('0|t|t.p|allow|-2').ruleIndex).toBeUndefined();
    expect(one('0|t|t.p|allow|-').ruleIndex).toBeUndefined();
    expect(one('3|*|*|deny|*')).toEqual({ index: 3, kind: 'Obfuscated', name: '*', action: 'deny', stage: 'enforced' });
  });
});

describe('parsePolicyString: explicit-kind dialect (reference §2b)', () => {
  const cases: Array<[string, Partial<FlowPolicy> & { index: number }]> = [
    [
      '0|tier2|gnp:tier2.gnp2-2|deny|0',
      { index: 0, kind: 'GlobalNetworkPolicy', name: 'gnp2-2', tier: 'tier2', action: 'deny', ruleIndex: 0 },
    ],
    [
      '0|tier2|np:default/tier2.np2-4|deny|0',
      {
        index: 0,
        kind: 'CalicoNetworkPolicy',
        namespace: 'default',
        name: 'np2-4',
        tier: 'tier2',
        action: 'deny',
        ruleIndex: 0,
      },
    ],
    [
      '1|tier|sgnp:name|deny|2',
      { index: 1, kind: 'StagedGlobalNetworkPolicy', name: 'name', tier: 'tier', action: 'deny', ruleIndex: 2 },
    ],
    [
      '1|tier2|snp:default/tier2.np2-1|deny|-1',
      {
        index: 1,
        kind: 'StagedNetworkPolicy',
        namespace: 'default',
        name: 'np2-1',
        tier: 'tier2',
        action: 'deny',
        ruleIndex: -1,
      },
    ],
    [
      '0|default|knp:namespace/name|allow|2',
      {
        index: 0,
        kind: 'NetworkPolicy',
        namespace: 'namespace',
        name: 'name',
        tier: 'default',
        action: 'allow',
        ruleIndex: 2,
      },
    ],
    [
      '1|default|sknp:namespace/name|deny|3',
      {
        index: 1,
        kind: 'StagedKubernetesNetworkPolicy',
        namespace: 'namespace',
        name: 'name',
        tier: 'default',
        action: 'deny',
        ruleIndex: 3,
      },
    ],
    [
      '0|kube-admin|kcnp:pass-ingress|pass|0',
      {
        index: 0,
        kind: 'ClusterNetworkPolicy',
        name: 'pass-ingress',
        tier: 'kube-admin',
        action: 'pass',
        ruleIndex: 0,
      },
    ],
    [
      '1|__PROFILE__|pro:kns.default|allow|0',
      { index: 1, kind: 'Profile', name: 'kns.default', action: 'allow', ruleIndex: 0 },
    ],
    [
      '0|tier1|np:default/tier1.np1-1|pass|0',
      {
        index: 0,
        kind: 'CalicoNetworkPolicy',
        namespace: 'default',
        name: 'np1-1',
        tier: 'tier1',
        action: 'pass',
        ruleIndex: 0,
      },
    ],
    [
      '2|default|eot:__NO_MATCH__|deny',
      { index: 2, kind: 'EndOfTier', name: '__NO_MATCH__', tier: 'default', action: 'deny' },
    ],
    [
      '0|adminnetworkpolicy|kanp:foo|pass|1',
      { index: 0, kind: 'AdminNetworkPolicy', name: 'foo', tier: 'adminnetworkpolicy', action: 'pass', ruleIndex: 1 },
    ],
    // 3.32 names need no tier prefix
    [
      '0|tier2|gnp:plain-name|allow|0',
      { index: 0, kind: 'GlobalNetworkPolicy', name: 'plain-name', tier: 'tier2', action: 'allow', ruleIndex: 0 },
    ],
    // KNP names are never tier-stripped
    [
      '0|default|knp:ns/default.x|allow|0',
      {
        index: 0,
        kind: 'NetworkPolicy',
        namespace: 'ns',
        name: 'default.x',
        tier: 'default',
        action: 'allow',
        ruleIndex: 0,
      },
    ],
  ];
  it.each(cases)('%s', (s, want) => {
    expect(one(s)).toEqual({ stage: 'enforced', ...want });
  });

  it('treats an unknown prefix before ":" as legacy', () => {
    expect(one('0|t|ns/t.staged:x|allow|0').kind).toBe('StagedNetworkPolicy');
  });
});

describe('parsePolicyString: malformed input', () => {
  const bad: Array<[string, RegExp]> = [
    ['', /expected "index\|tier\|name\|action\[\|ruleIndex\]", got 1 fields/],
    ['0|t|t.p', /got 3 fields/],
    ['0|t|t.p|allow|0|x', /got 6 fields/],
    ['x|t|t.p|allow|0', /index must be a non-negative integer/],
    ['-1|t|t.p|allow|0', /index must be a non-negative integer/],
    ['0|t|t.p|drop|0', /action must be allow, deny or pass, got "drop"/],
    ['0|t|t.p|allow|abc', /rule index must be an integer/],
    ['0|t|t.p|allow|-7', /rule index must be >= -2/],
    ['0|t||allow|0', /policy name is empty/],
    ['0|t|np:noslash|allow|0', /kind np needs "<namespace>\/<name>"/],
    ['0|__PROFILE__|__PROFILE__.|allow|0', /profile name is empty/],
  ];
  it.each(bad)('%j', (s, re) => {
    expect(() => parsePolicyString(s, 'enforced')).toThrow(PolicyStringError);
    expect(() => parsePolicyString(s, 'enforced')).toThrow(re);
  });

  it('names the input in the message', () => {
    expect(() => parsePolicyString('0|t|t.p|drop|0', 'enforced')).toThrow('bad Calico policy string "0|t|t.p|drop|0"');
  });

  it('rejects non-string entries and non-array lists', () => {
    expect(() => parsePolicyTrace([1], 'enforced')).toThrow(/must be a string/);
    expect(() => parsePolicyTrace('0|t|t.p|allow|0', 'enforced')).toThrow(/must be an array/);
  });
});

describe('traces', () => {
  it('sorts out-of-order entries by index; the verdict is the highest index [S15]', () => {
    const trace = parsePolicyTrace(
      [
        '1|namespace-isolation|stars/namespace-isolation.staged:stars-kcxyk|allow|2',
        '2|default|default.staged:default-deny|deny|-1',
        '3|__PROFILE__|__PROFILE__.kns.stars|allow|0',
        '0|security|security.security-default-pass|pass|0',
      ],
      'enforced',
    );
    expect(trace.map((e) => e.index)).toEqual([0, 1, 2, 3]);
    expect(verdictEntry(trace)?.policy).toMatchObject({ kind: 'Profile', name: 'kns.stars', action: 'allow' });
  });

  it('parsePolicyStrings returns fresh, mutable copies', () => {
    const [a] = parsePolicyStrings(['0|t|t.p|allow|0'], 'pending');
    a.name = 'changed';
    expect(parsePolicyStrings(['0|t|t.p|allow|0'], 'pending')[0].name).toBe('p');
  });

  it('the cache returns the same frozen entry and stays bounded', () => {
    const c = new PolicyStringCache(2);
    const a = c.get('0|t|t.p|allow|0', 'enforced');
    expect(c.get('0|t|t.p|allow|0', 'enforced')).toBe(a);
    expect(Object.isFrozen(a.policy)).toBe(true);
    c.get('1|t|t.q|allow|0', 'enforced');
    c.get('2|t|t.r|allow|0', 'enforced');
    expect(c.get('0|t|t.p|allow|0', 'enforced')).not.toBe(a);
    expect(c.get('0|t|t.p|allow|0', 'pending').policy.stage).toBe('pending');
  });
});
