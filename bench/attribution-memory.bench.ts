/**
 * Attribution memory under an address scan: 1,000,000 drops from distinct external addresses
 * (half ingress from them, half egress to them) through InventoryFlowAttributor on the synthetic
 * cluster of the policy evaluator benchmark. Reports the RSS growth after a GC; the goal is under
 * 100 MB, which holds only while every cache on that path is bounded by entries.
 * Called by the bench runner; also runnable alone (with --expose-gc for a stable figure):
 *   npx tsc -p tsconfig.build.json && node --expose-gc dist/bench/attribution-memory.bench.js
 */
import { abortableSleep as sleep } from '../src/common/backoff.js';
import { pathToFileURL } from 'node:url';
import type { FlowRecord } from '../src/flow/flow-record.js';
import { InventoryFlowAttributor } from '../src/policy/attribution.js';
import { buildSyntheticCluster } from './policy-evaluator.bench.js';

export interface AttributionMemoryBenchResult {
  addresses: number;
  /** Retained: RSS after the run and a settled GC, minus RSS before it (settled likewise). */
  rssGrowthBytes: number;
  /** Highest RSS sampled during the run, minus the settled RSS before it (includes garbage). */
  peakRssGrowthBytes: number;
  heapGrowthBytes: number;
  attributionCacheSize: number;
  attributionCacheMax: number;
  seconds: number;
}

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

/** GC a few times with pauses: V8 returns freed pages to the OS only after GCs settle. */
async function settledMemory(): Promise<NodeJS.MemoryUsage> {
  for (let i = 0; i < 4; i++) {
    gc();
    await sleep(250);
  }
  return process.memoryUsage();
}

function scannerAddress(i: number): string {
  // 198.18.0.0/15 and onwards: distinct addresses, none of them a pod IP of the synthetic cluster.
  return `${198 + Math.floor(i / 16_777_216)}.${18 + (Math.floor(i / 65_536) % 256)}.${Math.floor(i / 256) % 256}.${i % 256}`;
}

export async function benchAttributionMemory(addresses = 1_000_000): Promise<AttributionMemoryBenchResult> {
  const inventory = buildSyntheticCluster();
  const att = new InventoryFlowAttributor(inventory, { observeEndpoints: false });
  const pods = inventory.pods.slice(0, 50);
  const flow = (i: number): FlowRecord => {
    const pod = pods[i % pods.length];
    const self = { kind: 'pod' as const, namespace: pod.namespace, pod: pod.name, ip: pod.ips[0] };
    const world = { kind: 'world' as const, ip: scannerAddress(i) };
    const ingress = i % 2 === 0;
    return {
      id: String(i),
      source: 'hubble',
      cluster: 'bench',
      time: '2026-01-01T00:00:00Z',
      verdict: 'denied',
      direction: ingress ? 'ingress' : 'egress',
      src: ingress ? world : self,
      dst: ingress ? self : world,
      protocol: 'TCP',
      dstPort: ingress ? 22 : 443,
      count: 1,
      policies: [],
    };
  };
  // Warm up on the same path so compiled policies and one-off allocations are in the baseline.
  for (let i = 0; i < 1_000; i++) att.attribute(flow(addresses + i));
  const before = await settledMemory();
  let peak = before.rss;
  const t0 = performance.now();
  for (let i = 0; i < addresses; i++) {
    att.attribute(flow(i));
    if (i % 50_000 === 0) peak = Math.max(peak, process.memoryUsage().rss);
  }
  const seconds = (performance.now() - t0) / 1000;
  peak = Math.max(peak, process.memoryUsage().rss);
  const after = await settledMemory();
  const stats = att.attributionCacheStats();
  return {
    addresses,
    rssGrowthBytes: after.rss - before.rss,
    peakRssGrowthBytes: peak - before.rss,
    heapGrowthBytes: after.heapUsed - before.heapUsed,
    attributionCacheSize: stats.size,
    attributionCacheMax: stats.max,
    seconds: Math.round(seconds * 10) / 10,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchAttributionMemory().then(
    (r) => {
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      if (r.rssGrowthBytes > 100 * 1024 * 1024) process.stderr.write('attribution memory: above the 100 MB goal\n');
    },
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
