import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { formatManifestIssue, loadManifestPaths, parseManifestText } from './manifest.loader.js';
import { InventoryStore, PolicyInventorySource, parsePolicyManifestsEnv } from './policy-inventory.js';
import type { CalicoPolicyObject, CiliumPolicyObject, NamespaceObject, PodObject } from './policy-model.js';

const FIXTURES = path.resolve(process.cwd(), 'test/policy/fixtures');

describe('manifest loader', () => {
  it('loads folders recursively: multi-document YAML, JSON *List, Cilium and Calico kinds', async () => {
    const res = await loadManifestPaths([path.join(FIXTURES, 'manifests')]);
    expect(res.files.map((f) => path.basename(f))).toEqual(['01-multi.yaml', 'cilium-calico.yaml', 'pods.json']);
    expect(res.objects.map((o) => `${o.kind}/${o.name}`)).toEqual([
      'Namespace/shop',
      'NetworkPolicy/default-deny',
      'CiliumNetworkPolicy/web-from-frontend',
      'GlobalNetworkPolicy/block-metadata',
      'Pod/web-1',
    ]);
    expect(res.ignored).toBe(1); // the Service
    const ns = res.objects[0] as NamespaceObject;
    expect(ns.labels).toEqual({ team: 'web', 'kubernetes.io/metadata.name': 'shop' });
    const pod = res.objects[4] as PodObject;
    expect(pod).toMatchObject({
      namespace: 'shop',
      ips: ['10.2.0.5', 'fd00::5'],
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      hostNetwork: false,
    });
    expect(pod.origin?.index).toBe('0.items[0]');
    const cnp = res.objects[2] as CiliumPolicyObject;
    expect(cnp.specs[0].endpointSelector).toEqual({ matchLabels: { app: 'web' } });
    expect(cnp.specs[0].ingress?.[0].endpoints).toEqual([{ matchLabels: { app: 'frontend' } }]);
    const gnp = res.objects[3] as CalicoPolicyObject;
    expect(gnp).toMatchObject({ tier: 'security', order: 10, types: ['Egress'] });
  });

  it('reports bad documents with file, index, kind and name, and skips them', async () => {
    const res = await loadManifestPaths([path.join(FIXTURES, 'manifests')]);
    const errors = res.issues.filter((i) => i.severity === 'error').map(formatManifestIssue);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(
      /01-multi\.yaml#2 \(NetworkPolicy shop\/broken\): skipped: spec\.podSelector\.matchExpressions\[0\]\.operator: must be one of In, NotIn, Exists, DoesNotExist/,
    );
    expect(errors[1]).toMatch(
      /cilium-calico\.yaml#2 \(NetworkPolicy shop\/bad-selector\): skipped: spec\.selector: invalid selector/,
    );
  });

  it('reads `kind: List` as kubectl prints it and reports YAML syntax errors per document', () => {
    const res = parseManifestText(
      'apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: a}}\n- {apiVersion: v1, kind: Pod}\n---\nkind: [oops\n',
      'dump.yaml',
    );
    expect(res.objects.map((o) => o.name)).toEqual(['a']);
    expect(res.issues.map(formatManifestIssue)).toEqual([
      'error: dump.yaml#0.items[1] (Pod): skipped: metadata.name: is required',
      expect.stringMatching(/^error: dump\.yaml#1: skipped: YAML: /),
    ]);
  });

  it('does not execute or resolve custom tags (safe parsing)', () => {
    const res = parseManifestText(
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: !!js/function "function(){}"}\n',
      't.yaml',
    );
    expect(res.objects).toHaveLength(1);
    expect(typeof res.objects[0].name).toBe('string');
  });

  it('defaults namespace to default and policyTypes per the API server', () => {
    const res = parseManifestText(
      'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  podSelector: {}\n  egress: [{}]\n',
      'p.yaml',
    );
    expect(res.objects[0]).toMatchObject({
      namespace: 'default',
      policyTypes: ['Ingress', 'Egress'],
      policyTypesDefaulted: true,
    });
  });

  it('parses POLICY_MANIFESTS lists', () => {
    expect(parsePolicyManifestsEnv(' a.yaml, dir/ ,,')).toEqual(['a.yaml', 'dir/']);
    expect(parsePolicyManifestsEnv(undefined)).toEqual([]);
  });
});

describe('inventory store and source', () => {
  it('upserts raw objects (the API-watch path) and reports invalid ones', () => {
    const store = new InventoryStore();
    expect(
      store.upsertRaw({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n', labels: { a: 'b' } } }).status,
    ).toBe('ok');
    expect(store.upsertRaw({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }).status).toBe('ignored');
    const bad = store.upsertRaw({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'p' },
      spec: { podSelector: {}, ingress: [{ from: [{}] }] },
    });
    expect(bad).toMatchObject({
      status: 'invalid',
      errors: ['spec.ingress[0].from[0]: must set podSelector, namespaceSelector or ipBlock'],
    });
    const inv = store.snapshot();
    expect(inv.coversNamespace('n')).toBe(true);
    expect(inv.namespaceLabels('n')).toEqual({ a: 'b', 'kubernetes.io/metadata.name': 'n' });
    expect(inv.namespaceLabels('other')).toEqual({ 'kubernetes.io/metadata.name': 'other' });
    expect(store.snapshot()).toBe(inv); // unchanged store, same snapshot
    expect(store.delete('Namespace', undefined, 'n')).toBe(true);
    expect(store.snapshot()).not.toBe(inv);
    expect(inv.coversNamespace('n')).toBe(true); // old snapshots are immutable
  });

  it('reloads when a manifest file changes and emits a new snapshot', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dropscope-policy-'));
    try {
      const f = path.join(dir, 'p.yaml');
      writeFileSync(f, 'apiVersion: v1\nkind: Namespace\nmetadata: {name: one}\n');
      const src = new PolicyInventorySource({ paths: [dir], pollIntervalMs: 0 });
      const seen: number[] = [];
      src.subscribe((inv) => seen.push(inv.namespaces.size));
      await src.start();
      expect(await src.checkForChanges()).toBe(false);
      writeFileSync(
        f,
        'apiVersion: v1\nkind: Namespace\nmetadata: {name: one}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: two}\n',
      );
      const later = new Date(Date.now() + 5000);
      utimesSync(f, later, later);
      expect(await src.checkForChanges()).toBe(true);
      expect(seen).toEqual([1, 2]);
      expect(src.current().coversNamespace('two')).toBe(true);
      src.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
