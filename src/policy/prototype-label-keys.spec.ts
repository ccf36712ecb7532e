/**
 * Label keys that share a name with Object.prototype members are ordinary label keys: a pod
 * without the label does not "have" it, and a manifest or flow label named `__proto__` stays data.
 */
import { describe, expect, it } from '@jest/globals';
import { compileCalicoSelector } from './calico-selector.js';
import { compileLabelSelector, type LabelSelector } from './label-selector.js';
import { parseManifestText } from './manifest.loader.js';
import { NetworkPolicyEvaluator } from './network-policy.evaluator.js';
import { buildInventory, splitFlowLabels } from './policy-inventory.js';

const KEYS = ['constructor', 'toString', '__proto__', 'hasOwnProperty'];

describe('label selectors with Object.prototype key names', () => {
  const sel = (s: LabelSelector, labels: Record<string, string>): boolean => compileLabelSelector(s)(labels);
  const withKey = (key: string, value: string): Record<string, string> =>
    Object.fromEntries([
      ['app', 'web'],
      [key, value],
    ]);

  for (const key of KEYS) {
    it(`treats "${key}" as absent on a pod without it`, () => {
      const none = { app: 'web' };
      expect(sel({ matchExpressions: [{ key, operator: 'Exists' }] }, none)).toBe(false);
      expect(sel({ matchExpressions: [{ key, operator: 'DoesNotExist' }] }, none)).toBe(true);
      expect(sel({ matchExpressions: [{ key, operator: 'In', values: ['x'] }] }, none)).toBe(false);
      expect(sel({ matchExpressions: [{ key, operator: 'NotIn', values: ['x'] }] }, none)).toBe(true);
      expect(sel({ matchLabels: Object.fromEntries([[key, 'x']]) }, none)).toBe(false);
    });

    it(`matches "${key}" when the pod has it`, () => {
      const has = withKey(key, 'x');
      expect(sel({ matchExpressions: [{ key, operator: 'Exists' }] }, has)).toBe(true);
      expect(sel({ matchExpressions: [{ key, operator: 'DoesNotExist' }] }, has)).toBe(false);
      expect(sel({ matchExpressions: [{ key, operator: 'In', values: ['x', 'y'] }] }, has)).toBe(true);
      expect(sel({ matchExpressions: [{ key, operator: 'NotIn', values: ['x'] }] }, has)).toBe(false);
      expect(sel({ matchLabels: Object.fromEntries([[key, 'x']]) }, has)).toBe(true);
    });

    it(`Calico: has(${key}), !has(${key}), ${key} == / != / in / not in`, () => {
      const m = (expr: string, labels: Record<string, string>): boolean => compileCalicoSelector(expr)(labels);
      const none = { app: 'web' };
      const has = withKey(key, 'x');
      expect(m(`has(${key})`, none)).toBe(false);
      expect(m(`!has(${key})`, none)).toBe(true);
      expect(m(`${key} == 'x'`, none)).toBe(false);
      expect(m(`${key} != 'x'`, none)).toBe(true);
      expect(m(`${key} in {'x'}`, none)).toBe(false);
      expect(m(`${key} not in {'x'}`, none)).toBe(true);
      expect(m(`${key} contains 'x'`, none)).toBe(false);
      expect(m(`has(${key})`, has)).toBe(true);
      expect(m(`${key} == 'x'`, has)).toBe(true);
      expect(m(`${key} starts with 'x'`, has)).toBe(true);
    });
  }
});

describe('labels parsed from manifests and flows keep prototype-named keys as data', () => {
  const CLUSTER = `
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Namespace, metadata: {name: shop}}
- {apiVersion: v1, kind: Pod, metadata: {name: web, namespace: shop, labels: {app: web}}, status: {podIP: 10.2.0.1}}
- {apiVersion: v1, kind: Pod, metadata: {name: proto, namespace: shop, labels: {__proto__: yes, app: client}}, status: {podIP: 10.2.0.2}}
- {apiVersion: v1, kind: Pod, metadata: {name: plain, namespace: shop, labels: {app: client}}, status: {podIP: 10.2.0.3}}
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: web, namespace: shop}
  spec:
    podSelector: {matchLabels: {app: web}}
    ingress:
    - from: [{podSelector: {matchExpressions: [{key: __proto__, operator: Exists}]}}]
- apiVersion: projectcalico.org/v3
  kind: NetworkPolicy
  metadata: {name: ctor, namespace: shop}
  spec:
    selector: "app == 'client'"
    types: [Egress]
    egress:
    - action: Allow
      destination: {selector: "!has(constructor)"}
`;

  it('keeps a __proto__ pod label from YAML and selects by it', () => {
    const loaded = parseManifestText(CLUSTER, 'cluster.yaml');
    expect(loaded.issues.filter((i) => i.severity === 'error')).toEqual([]);
    const inv = buildInventory(loaded.objects);
    const proto = inv.pod('shop', 'proto');
    expect(proto && Object.hasOwn(proto.labels, '__proto__')).toBe(true);
    expect(proto && Object.entries(proto.labels)).toEqual([
      ['__proto__', 'yes'],
      ['app', 'client'],
    ]);
    const ev = new NetworkPolicyEvaluator(inv);
    const at = (n: string) => {
      const p = inv.pod('shop', n);
      if (!p) throw new Error(n);
      return ev.endpointForPod(p);
    };
    // Only the pod that carries the __proto__ label is admitted by `__proto__ Exists`.
    expect(ev.evaluate({ src: at('proto'), dst: at('web'), port: 80 }).allowed).toBe(true);
    expect(ev.evaluate({ src: at('plain'), dst: at('web'), port: 80 }).allowed).toBe(false);
  });

  it('Calico !has(constructor) admits pods without a constructor label', () => {
    const loaded = parseManifestText(CLUSTER, 'cluster.yaml');
    const inv = buildInventory(loaded.objects);
    const ev = new NetworkPolicyEvaluator(inv);
    const at = (n: string) => {
      const p = inv.pod('shop', n);
      if (!p) throw new Error(n);
      return ev.endpointForPod(p);
    };
    const d = ev.evaluate({ src: at('plain'), dst: at('proto'), port: 80 });
    expect(d.egress.allowedBy).toEqual([expect.objectContaining({ name: 'ctor', ruleIndex: 0 })]);
  });

  it('splitFlowLabels keeps a __proto__ label from a JSON flow', () => {
    const labels = JSON.parse(
      '{"__proto__":"yes","app":"web","io.cilium.k8s.namespace.labels.toString":"n"}',
    ) as Record<string, string>;
    const { pod, namespace } = splitFlowLabels(labels);
    expect(Object.entries(pod)).toEqual([
      ['__proto__', 'yes'],
      ['app', 'web'],
    ]);
    expect(Object.entries(namespace)).toEqual([['toString', 'n']]);
  });
});
