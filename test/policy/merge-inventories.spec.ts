import { describe, expect, it } from '@jest/globals';
import { parseManifestText } from '../../src/policy/manifest.loader.js';
import { buildInventory, ObservedEndpoints } from '../../src/policy/policy-inventory.js';
import { mergeInventories } from '../../src/policy/kubernetes-watch.js';

const inventory = (yaml: string) => {
  const loaded = parseManifestText(yaml, 'test.yaml');
  expect(loaded.issues).toEqual([]);
  return buildInventory(loaded.objects);
};

// POLICY_MANIFESTS files and the Kubernetes API watch each give a snapshot; the service evaluates
// their merge, so every kind the evaluator understands must survive it.
describe('mergeInventories (files + Kubernetes API)', () => {
  const files = inventory(
    `apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: security}\nspec: {order: 100, defaultAction: Pass}\n---\n` +
      `apiVersion: projectcalico.org/v3\nkind: NetworkSet\nmetadata: {name: partners, namespace: x, labels: {role: partner}}\nspec: {nets: [198.51.100.0/24]}\n---\n` +
      `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: blocked, labels: {role: blocked}}\nspec: {nets: [203.0.113.0/24]}\n---\n` +
      `apiVersion: projectcalico.org/v3\nkind: StagedNetworkPolicy\nmetadata: {name: security.trial, namespace: x}\nspec: {tier: security, selector: all(), types: [Ingress]}\n---\n` +
      `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-all, namespace: x}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n`,
  );
  const api = inventory(
    `apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: platform}\nspec: {order: 50}\n---\n` +
      `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-all, namespace: x}\nspec: {podSelector: {}, policyTypes: [Egress]}\n`,
  );

  it('keeps tiers, network sets and staged policies from both parts', () => {
    const merged = mergeInventories([files, api], 7, new ObservedEndpoints());
    expect([...merged.tiers.keys()].sort()).toEqual(['platform', 'security']);
    expect(merged.networkSets.map((s) => s.name).sort()).toEqual(['blocked', 'partners']);
    expect(merged.staged.map((s) => `${s.namespace ?? ''}/${s.name}`)).toEqual(['x/security.trial']);
    expect(merged.generation).toBe(7);
  });

  it('lets the API object win when both parts hold the same kind/namespace/name', () => {
    const merged = mergeInventories([files, api], 1, new ObservedEndpoints());
    const denyAll = merged.policies.filter((p) => p.name === 'deny-all');
    expect(denyAll).toHaveLength(1);
    // The file's copy isolates ingress, the API's egress.
    expect(denyAll[0]).toMatchObject({ kind: 'NetworkPolicy', policyTypes: ['Egress'] });
  });
});
