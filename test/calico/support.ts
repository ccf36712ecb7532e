import type { BatchHandler, ConsumedBatch, DeadLetter } from '../../src/bus/flow-bus.js';
import type { CheckpointReader } from '../../src/collector/collector.js';
import type { Logger } from '../../src/common/logger.js';
import { validateFlowRecord } from '../../src/flow/flow-record.validator.js';

/**
 * A consumer that behaves like the aggregator: it validates and stores records and commits the
 * batch's checkpoints only when its handler succeeds; the same Map is the collectors'
 * CheckpointReader, as the database is in production.
 */
export class RecordingConsumer {
  readonly ids: string[] = [];
  readonly checkpoints = new Map<string, string>();
  readonly batches: ConsumedBatch[] = [];
  /** Dead letters of the stored batches, in order (stored with their batch, as the aggregator does). */
  readonly deadLetters: DeadLetter[] = [];
  /** Fail the next n batches (not committed, publisher retries). */
  failNext = 0;
  /** When set, the handler waits on it, then fails if it resolves to false. */
  private gate?: Promise<boolean>;
  private openGate?: (ok: boolean) => void;
  private gateEntered?: () => void;

  readonly reader: CheckpointReader = { load: async (stream) => this.checkpoints.get(stream) };

  readonly handler: BatchHandler = async (batch) => {
    if (this.gate) {
      this.gateEntered?.();
      const ok = await this.gate;
      if (!ok) throw new Error('simulated crash: batch not stored');
    }
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('simulated database error');
    }
    for (const r of batch.records) this.ids.push(validateFlowRecord(r).id);
    for (const c of batch.checkpoints) this.checkpoints.set(c.stream, c.position);
    for (const d of batch.deadLetters ?? []) this.deadLetters.push(d);
    this.batches.push(batch);
  };

  /** Makes the next batch wait; resolves once a batch is waiting. */
  holdNext(): Promise<void> {
    this.gate = new Promise<boolean>((r) => (this.openGate = r));
    return new Promise<void>((r) => (this.gateEntered = r));
  }

  release(ok: boolean): void {
    const open = this.openGate;
    this.gate = undefined;
    this.openGate = undefined;
    this.gateEntered = undefined;
    open?.(ok);
  }

  count(id: string): number {
    let n = 0;
    for (const x of this.ids) if (x === id) n++;
    return n;
  }
}

export async function waitFor(cond: () => boolean, what: string, timeoutMs = 15000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Multiset equality of id lists, with a readable diff on failure. */
export function multisetDiff(got: string[], want: string[]): { missing: string[]; extra: string[] } {
  const m = new Map<string, number>();
  for (const w of want) m.set(w, (m.get(w) ?? 0) + 1);
  const extra: string[] = [];
  for (const g of got) {
    const n = m.get(g) ?? 0;
    if (n === 0) extra.push(g);
    else m.set(g, n - 1);
  }
  const missing: string[] = [];
  for (const [k, n] of m) for (let i = 0; i < n; i++) missing.push(k);
  return { missing, extra };
}

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields: Record<string, unknown>;
}

/** A Logger that keeps every line (children share the list and carry their bindings). */
export function collectingLogger(
  lines: LogLine[] = [],
  bindings: Record<string, unknown> = {},
): Logger & { lines: LogLine[] } {
  const at =
    (level: LogLine['level']) =>
    (msg: string, fields: Record<string, unknown> = {}): void => {
      lines.push({ level, msg, fields: { ...bindings, ...fields } });
    };
  return {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (b) => collectingLogger(lines, { ...bindings, ...b }),
  };
}
