import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { MapperSpec } from './line-mappers.js';
import type { Segment, SegmentResult } from './segment-mapping.js';

interface Waiting {
  resolve: (r: SegmentResult) => void;
  reject: (e: Error) => void;
}

const WORKER_URL = new URL('./segment-worker.js', import.meta.url);

/** Worker threads map segments; absent when the compiled worker is not beside this module (ts sources). */
export function workersAvailable(): boolean {
  return existsSync(fileURLToPath(WORKER_URL));
}

/**
 * Maps and folds segments in worker threads, round robin. Results come back as each worker finishes; the
 * caller keeps file order by awaiting the promises in the order it asked.
 */
export class SegmentWorkerPool {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 0;
  private failure?: Error;

  /**
   * `attributeHere`: the workers attribute drops too (no policy inventory; segment-fold.ts).
   * `dropEventsPerRow`: DROP_EVENTS_PER_EDGE_MINUTE (0: every event).
   */
  constructor(spec: MapperSpec, stream: string, threads: number, attributeHere: boolean, dropEventsPerRow = 0) {
    for (let i = 0; i < threads; i++) {
      // A worker holds one segment at a time and folds records as they are mapped, so most die
      // young: a 16 MB young generation keeps the import's RSS within its budget (each thread
      // has its own heap); 8 MB cost more GC, 32 MB about 70 MB more RSS for little gain.
      const w = new Worker(WORKER_URL, {
        workerData: { spec, stream, attributeHere, dropEventsPerRow },
        resourceLimits: { maxYoungGenerationSizeMb: 16 },
      });
      w.on('message', (m: { id: number; result?: SegmentResult; error?: string }) => {
        const p = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        if (m.result) p?.resolve(m.result);
        else p?.reject(new Error(`segment mapping failed: ${m.error}`));
      });
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => {
        if (this.waiting.size > 0) this.fail(new Error(`a mapping worker exited (${code})`));
      });
      this.workers.push(w);
    }
  }

  map(segment: Segment): Promise<SegmentResult> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<SegmentResult>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      // A segment of bytes is handed over, not copied (it is not used here again).
      const transfer = segment.bytes ? [segment.bytes.buffer as ArrayBuffer] : [];
      this.workers[id % this.workers.length].postMessage({ id, segment }, transfer);
    });
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const p of this.waiting.values()) p.reject(e);
    this.waiting.clear();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
