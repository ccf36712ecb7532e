import { describe, expect, it } from '@jest/globals';
import { suggestedFix } from '../../src/alerts/alert-evaluator.js';
import { buildInventory, loadManifestPaths } from '../../src/policy/index.js';

describe('the fix quoted in an alert', () => {
  it("allows the alert's edge and names the alert's own episode, not the epoch", async () => {
    const loaded = await loadManifestPaths(['examples/cluster']);
    const inventory = buildInventory(loaded.objects, loaded.issues);
    const yaml = suggestedFix(
      inventory,
      {
        cluster: 'example',
        srcKind: 'pod',
        srcNamespace: 'shop',
        srcWorkload: 'Deployment/frontend',
        srcLabels: { 'app.kubernetes.io/name': 'frontend', 'pod-template-hash': '7d9f8b6c5d' },
        dstKind: 'pod',
        dstNamespace: 'shop',
        dstWorkload: 'Deployment/payments',
        dstLabels: { 'app.kubernetes.io/name': 'payments', 'pod-template-hash': '6b7c9d8f7' },
        dstPort: 8443,
        protocol: 'TCP',
        direction: 'egress',
        dropReason: 'POLICY_DENIED',
        attributionLevel: 'inferred',
        policies: ['shop/default-deny'],
      },
      { count: 12, firstSeen: Date.UTC(2026, 10, 29, 9, 0, 0), lastSeen: Date.UTC(2026, 10, 29, 9, 20, 0) },
    );
    expect(yaml).toBeDefined();
    expect(yaml).toContain('kind: NetworkPolicy');
    expect(yaml).toContain('port: 8443');
    expect(yaml).toContain('2026-11-29T09:00:00');
    expect(yaml).not.toContain('1970-01-01');
  });
});
