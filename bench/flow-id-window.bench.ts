/**
 * The Kafka bus's producer-duplicate window (src/bus/flow-id-window.ts) on its own: CPU per
 * message and ids held, for uuid flow ids through a window of 10,000 offsets in chunks of 250
 * (one aggregator batch), and the heap of a full window (needs --expose-gc). Runnable alone:
 *   npx tsc -p tsconfig.build.json && node --expose-gc dist/bench/flow-id-window.bench.js [--messages N]
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { FlowIdChunk, FlowIdWindow } from '../src/bus/flow-id-window.js';

export interface FlowIdWindowBenchResult {
  messages: number;
  cpuMs: number;
  nsPerMessage: number;
  held: number;
  /** Heap of one full window, ids included (decoded from buffers, as the bus gets them); undefined without gc. */
  heapBytesPerWindow?: number;
}

/** Average heap of `n` full windows of `size` uuid ids, when the runtime exposes gc. */
function windowHeap(size: number, chunk: number, n = 10): number | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return undefined;
  const kept: FlowIdWindow[] = [];
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let w = 0; w < n; w++) {
    const window = new FlowIdWindow(size);
    for (let s = 0; s < size; s += chunk) {
      const c = new FlowIdChunk(window);
      for (let i = s; i < s + chunk; i++) c.isDuplicate(Buffer.from(randomUUID()).toString('utf8'), i);
      c.commit(s + chunk);
    }
    kept.push(window);
  }
  gc();
  return kept.length > 0 ? (process.memoryUsage().heapUsed - before) / kept.length : undefined;
}

export function benchFlowIdWindow(messages = 1_000_000, size = 10_000, chunk = 250): FlowIdWindowBenchResult {
  const ids = Array.from({ length: messages }, () => randomUUID());
  const window = new FlowIdWindow(size);
  const start = process.cpuUsage();
  for (let s = 0; s < messages; s += chunk) {
    const c = new FlowIdChunk(window);
    const end = Math.min(messages, s + chunk);
    for (let i = s; i < end; i++) c.isDuplicate(ids[i], i);
    c.commit(end);
  }
  const used = process.cpuUsage(start);
  const cpuMs = (used.user + used.system) / 1000;
  return {
    messages,
    cpuMs,
    nsPerMessage: (cpuMs * 1e6) / messages,
    held: window.length,
    heapBytesPerWindow: windowHeap(size, chunk),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf('--messages');
  const r = benchFlowIdWindow(i >= 0 ? Number(process.argv[i + 1]) : 1_000_000);
  process.stdout.write(
    `flow-id window: ${r.messages.toLocaleString('en-US')} messages, ${r.cpuMs.toFixed(0)} ms CPU ` +
      `(${Math.round(r.nsPerMessage)} ns per message), ${r.held.toLocaleString('en-US')} ids held; ` +
      (r.heapBytesPerWindow === undefined
        ? 'heap not measured (run with --expose-gc)\n'
        : `heap of a full window ${(r.heapBytesPerWindow / 1024 / 1024).toFixed(2)} MiB\n`),
  );
}
