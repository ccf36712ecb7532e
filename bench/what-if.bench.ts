/**
 * What-if benchmark: the synthetic cluster of policy-evaluator.bench.ts (10,000 pods in 100
 * namespaces, 1,000 NetworkPolicies) and a day of workload-level edge roll-ups generated
 * synthetically (100,000 distinct edges between the cluster's workloads and external addresses),
 * evaluated before and after a proposal: an Admin-tier ClusterNetworkPolicy, a replaced allow-dns
 * in every namespace and ten removed policies. Goal: under 5 s.
 * Called by the bench runner; also runnable alone:
 *   npx tsc -p tsconfig.build.json && node dist/bench/what-if.bench.js
 */
import { pathToFileURL } from 'node:url';
import { seededRandom } from '../src/common/prng.js';
import { normalizeObject, type InventoryObject, type PolicyInventory } from '../src/policy/index.js';
import { stableLabels, type EdgeEndpoint, type ObservedEdge } from '../src/suggest/index.js';
import { whatIf, type Proposal } from '../src/whatif/index.js';
import { buildSyntheticCluster } from './policy-evaluator.bench.js';

export interface WhatIfBenchResult {
  pods: number;
  policies: number;
  edges: number;
  seconds: number;
  /** CPU time of the process meanwhile (the machine may be shared: wall time then overstates). */
  cpuSeconds: number;
  newlyDenied: number;
  newlyAllowed: number;
  uncertain: number;
}

function workloads(inv: PolicyInventory): EdgeEndpoint[] {
  const seen = new Map<string, EdgeEndpoint>();
  for (const p of inv.pods) {
    const labels = stableLabels(p.labels);
    const key = `${p.namespace}|${JSON.stringify(labels)}`;
    if (!seen.has(key)) seen.set(key, { kind: 'pod', namespace: p.namespace, workload: labels.app, labels, ips: [] });
  }
  return [...seen.values()];
}

export function syntheticEdges(inv: PolicyInventory, count: number): ObservedEdge[] {
  const r = seededRandom(11);
  const ws = workloads(inv);
  const index = new Map(ws.map((w, i) => [w, i]));
  const ports = [8080, 8081, 9090, 443, 53];
  const day = Date.parse('2025-01-01T00:00:00Z');
  const seen = new Set<string>();
  const out: ObservedEdge[] = [];
  while (out.length < count) {
    const src = ws[Math.floor(r() * ws.length)];
    const dst: EdgeEndpoint =
      r() < 0.1
        ? { kind: 'world', labels: {}, ips: [`93.184.${Math.floor(r() * 255)}.${Math.floor(r() * 255)}`] }
        : ws[Math.floor(r() * ws.length)];
    const dstPort = ports[Math.floor(r() * ports.length)];
    const protocol = dstPort === 53 && r() < 0.5 ? 'UDP' : 'TCP';
    // Workloads are distinct by namespace and labels: their index names them.
    const key = `${index.get(src)}>${index.get(dst) ?? dst.ips[0]}:${protocol}/${dstPort}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const first = day + Math.floor(r() * 80_000_000);
    out.push({
      src,
      dst,
      dstPort,
      protocol,
      verdict: r() < 0.2 ? 'denied' : 'allowed',
      count: 1 + Math.floor(r() * 1000),
      firstSeen: new Date(first).toISOString(),
      lastSeen: new Date(first + Math.floor(r() * 6_000_000)).toISOString(),
    });
  }
  return out;
}

function object(raw: unknown): InventoryObject {
  const res = normalizeObject(raw);
  if (res.status !== 'ok') throw new Error(JSON.stringify(res));
  return res.object;
}

function proposal(inv: PolicyInventory): Proposal {
  const add: InventoryObject[] = [
    object({
      apiVersion: 'policy.networking.k8s.io/v1alpha2',
      kind: 'ClusterNetworkPolicy',
      metadata: { name: 'no-metrics-from-dev' },
      spec: {
        tier: 'Admin',
        priority: 10,
        subject: { namespaces: {} },
        ingress: [
          {
            action: 'Deny',
            from: [{ namespaces: { matchLabels: { env: 'dev' } } }],
            protocols: [{ tcp: { destinationPort: { number: 9090 } } }],
          },
        ],
      },
    }),
  ];
  // allow-dns narrowed to UDP in every namespace (a replacement of the same name).
  for (const ns of inv.namespaces.keys())
    add.push(
      object({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'allow-dns', namespace: ns },
        spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ port: 53, protocol: 'UDP' }] }] },
      }),
    );
  const remove = inv.policies
    .filter((p) => p.name !== 'default-deny' && p.name !== 'allow-dns')
    .slice(0, 10)
    .map((p) => `${p.namespace ?? ''}/${p.name}`);
  return { add, remove };
}

export function benchWhatIf(edgeCount = 100_000): WhatIfBenchResult {
  const inv = buildSyntheticCluster();
  const edges = syntheticEdges(inv, edgeCount);
  const change = proposal(inv);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const r = whatIf(inv, change, edges, {
    window: { from: '2025-01-01T00:00:00.000Z', to: '2025-01-02T00:00:00.000Z' },
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    pods: inv.pods.length,
    policies: inv.policies.length,
    edges: r.summary.edges,
    seconds: Math.round(seconds * 100) / 100,
    cpuSeconds: Math.round((cpu.user + cpu.system) / 1e4) / 100,
    newlyDenied: r.summary.newlyDenied,
    newlyAllowed: r.summary.newlyAllowed,
    uncertain: r.summary.uncertain,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = benchWhatIf();
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  if (r.seconds >= 5) process.stderr.write('what-if: above the 5 s goal\n');
}
