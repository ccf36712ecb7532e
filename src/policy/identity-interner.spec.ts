import { describe, expect, it } from '@jest/globals';
import { IdentityInterner } from './identity-interner.js';
import { parseManifestText } from './manifest.loader.js';
import { NetworkPolicyEvaluator } from './network-policy.evaluator.js';
import { buildInventory } from './policy-inventory.js';

const pod = (name: string): string =>
  `- {apiVersion: v1, kind: Pod, metadata: {name: ${name}, namespace: shop, labels: {app: ${name}}}}`;

const CLUSTER = `
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Namespace, metadata: {name: shop}}
${['web', 'client', 'p1', 'p2', 'p3', 'p4', 'p5'].map(pod).join('\n')}
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: web, namespace: shop}
  spec:
    podSelector: {matchLabels: {app: web}}
    ingress:
    - from: [{podSelector: {matchLabels: {app: client}}}]
`;

describe('IdentityInterner', () => {
  it('numbers identities from 1 and starts over at its cap with a new generation', () => {
    let restarts = 0;
    const i = new IdentityInterner(4, () => restarts++);
    expect(['a', 'b', 'a', 'c', 'd'].map((s) => i.intern(s))).toEqual([1, 2, 1, 3, 4]);
    expect(i.generation).toBe(0);
    expect(i.intern('e')).toBe(1);
    expect(i.generation).toBe(1);
    expect(restarts).toBe(1);
    expect(i.size).toBe(1);
    expect(i.intern('a')).toBe(2);
  });
});

describe('evaluator identities across an interner restart', () => {
  it('never answers with the cached decision of another identity', () => {
    const inv = buildInventory(parseManifestText(CLUSTER, 'cluster.yaml').objects);
    // A cap of 4 identities: the interner starts over every few new label sets.
    const ev = new NetworkPolicyEvaluator(inv, { identityCacheSize: 4 });
    const at = (n: string) => {
      const p = inv.pod('shop', n);
      if (!p) throw new Error(n);
      return ev.endpointForPod(p);
    };
    const web = at('web');
    // Only app=client is admitted; the others are denied. Endpoint objects are memoized, so their
    // identities from before a restart are reused unless invalidated.
    for (let round = 0; round < 3; round++) {
      for (const n of ['client', 'p1', 'p2', 'p3', 'p4', 'p5']) {
        expect([n, ev.evaluate({ src: at(n), dst: web, port: 80 }).allowed]).toEqual([n, n === 'client']);
      }
    }
  });
});
