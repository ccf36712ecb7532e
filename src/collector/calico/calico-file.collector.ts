import { createHash } from 'node:crypto';
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { basename, dirname, join } from 'node:path';
import { Counter, type Registry } from 'prom-client';
import type { DeadLetter, FlowBus } from '../../bus/flow-bus.js';
import { truncateRaw } from '../../bus/flow-bus.js';
import type { Logger } from '../../common/logger.js';
import { silentLogger } from '../../common/logger.js';
import type { FlowRecord } from '../../flow/flow-record.js';
import type { CheckpointReader, Collector, LineMapper, LineResult } from '../collector.js';
import { CalicoLineMapper } from './calico-flow-log.mapper.js';
import { expandGlob, hasGlob } from './file-glob.js';
import { WakeableSleep } from '../../common/wakeable-sleep.js';
import { Backoff } from '../../common/backoff.js';
import { metric } from '../../metrics/metrics.registry.js';
import { CollectorHealth } from '../collector-health.js';
import { IN_PROCESS_PUBLISH_WINDOW, PublishWindow } from '../publish-window.js';

/**
 * Tails Calico flows.log files like `tail -F` and publishes FlowRecords with their checkpoints.
 *
 * - One stream per file path: `calico-file:<absolute path>`, position `<inode>:<offset>:<head>`
 *   where offset is the byte after the last line handled and head a short sha1 of the file's first
 *   min(256, offset) bytes (detects a file replaced under the same inode). The position travels
 *   with each batch, so the aggregator stores it in the same transaction as the data.
 * - Rotation (rename + new file): the old file is read to its end first, then the new one from 0.
 *   After a crash in between, the old file is found again by inode in the same directory.
 * - Truncation (copytruncate, size below our position or a different head): restart at 0.
 * - Backpressure: on the in-process bus up to IN_PROCESS_PUBLISH_WINDOW batches are in flight
 *   (each checkpoint says which position it continues from, so a batch after a failed one is
 *   never stored); on Kafka each batch is awaited before more is read. Memory is one read chunk,
 *   one partial line (capped) and a few batches.
 * See docs/CALICO.md.
 */

export interface CalicoFileCollectorOptions {
  /** A file or a glob (`*`, `?`, `[...]` per path segment) matching live flow-log files. */
  path: string;
  bus: FlowBus;
  checkpoints: CheckpointReader;
  /** Cluster for records without a `cluster` field. */
  cluster?: string;
  /** Builds the line mapper (default CalicoLineMapper with `cluster`). */
  mapperFactory?: () => LineMapper;
  registry?: Registry;
  logger?: Logger;
  /** How often an idle file is checked for growth, rotation and truncation (ms, default 250). */
  pollIntervalMs?: number;
  /** How often the glob is expanded again to find new files (ms, default 5000). */
  rescanIntervalMs?: number;
  /** Records per published batch (default 1000). */
  batchSize?: number;
  /** Bytes per read (default 256 KiB). */
  readChunkBytes?: number;
  /** Longer lines are dead-lettered and skipped (default 1 MiB). */
  maxLineBytes?: number;
  /** Files present at start without a checkpoint: read from the beginning (default) or the end. */
  startAt?: 'beginning' | 'end';
  /** First delay when publishing fails; doubles up to 30 s (default 500 ms). */
  retryDelayMs?: number;
  /**
   * Batches in flight at most (default IN_PROCESS_PUBLISH_WINDOW on the in-process bus, 1 on
   * Kafka, where a batch stored after a failed one could not be taken back).
   */
  publishWindow?: number;
}

export const CALICO_FILE_STREAM_PREFIX = 'calico-file:';

/**
 * Lines mapped between turns of the event loop (a few ms of work): the embedded aggregator's
 * writes run on this thread too, and each of their round trips to PostgreSQL waits for the turn.
 * A whole 256 KiB chunk at once held them up by tens of ms per round trip.
 */
const LINES_PER_TURN = 256;

const HEAD_BYTES = 256;

interface Position {
  ino: string;
  offset: number;
  head?: string;
}

/** `<inode>:<offset>[:<head>]`; undefined for anything else. */
export function parseFilePosition(s: string | undefined): Position | undefined {
  if (!s) return undefined;
  const m = /^(\d+):(\d+)(?::([0-9a-f]{1,40}))?$/.exec(s);
  if (!m) return undefined;
  return { ino: m[1], offset: Number(m[2]), head: m[3] };
}

export function formatFilePosition(p: Position): string {
  return p.head ? `${p.ino}:${p.offset}:${p.head}` : `${p.ino}:${p.offset}`;
}

function headHash(buf: Buffer, len: number): string {
  return createHash('sha1').update(buf.subarray(0, len)).digest('hex').slice(0, 16);
}

/** `CODE: message` of a file-system error, for logs and health. */
function errorCause(e: unknown): string {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  const msg = e instanceof Error ? e.message : String(e);
  return typeof code === 'string' && !msg.startsWith(code) ? `${code}: ${msg}` : msg;
}

function isEnoent(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'ENOENT';
}

interface Metrics {
  lines: Counter<string>;
  skipped: Counter<string>;
  malformed: Counter<string>;
  rotations: Counter<string>;
  records: Counter<string>;
}

function counter(
  registry: Registry | undefined,
  name: string,
  help: string,
  labelNames: string[] = [],
): Counter<string> {
  const make = (): Counter<string> => new Counter({ name, help, labelNames, registers: registry ? [registry] : [] });
  return registry ? metric(registry, name, make) : make();
}

function makeMetrics(registry: Registry | undefined): Metrics {
  return {
    lines: counter(registry, 'dropscope_calico_file_lines_total', 'Lines read from Calico flow-log files.'),
    skipped: counter(
      registry,
      'dropscope_calico_file_lines_skipped_total',
      'Flow-log lines read but not turned into flows, by reason (stale zero-packet denies, blank lines).',
      ['reason'],
    ),
    malformed: counter(
      registry,
      'dropscope_calico_file_lines_malformed_total',
      'Malformed flow-log lines sent to dead letters.',
    ),
    rotations: counter(
      registry,
      'dropscope_calico_file_rotations_total',
      'Flow-log file rotations (rename) and truncations seen.',
      ['kind'],
    ),
    records: counter(
      registry,
      'dropscope_calico_file_records_total',
      'FlowRecords published from Calico flow-log files.',
    ),
  };
}

/** One followed path. */
class Tail {
  readonly stream: string;
  fd?: FileHandle;
  ino = '';
  /** Next byte to read from fd. */
  readPos = 0;
  /** Byte after the last line fully handled (start of `carry`). */
  offset = 0;
  carry: Buffer[] = [];
  carryLen = 0;
  /** Skipping an over-long line (or a partial first line when starting at the end). */
  discarding = false;
  discardStart = 0;
  readonly head = Buffer.alloc(HEAD_BYTES);
  headLen = 0;
  /** Records, dead letters and the offset not yet handed to the bus. */
  records: FlowRecord[] = [];
  dead: DeadLetter[] = [];
  sentOffset = -1;
  sentIno = '';
  /** The stream's position as last handed to the bus (or as stored at start; null: none). */
  sentPosition: string | null = null;
  /** Set while reading a rotated predecessor found by inode after a restart. */
  readingPredecessor = false;
  constructor(readonly path: string) {
    this.stream = `${CALICO_FILE_STREAM_PREFIX}${path}`;
  }
  dirty(): boolean {
    return (
      this.records.length > 0 || this.dead.length > 0 || this.offset !== this.sentOffset || this.ino !== this.sentIno
    );
  }
}

/** The first 1,024 bytes of a tail's carried partial line, as text (for a dead letter). */
function carryHead(t: Tail): string {
  return Buffer.concat(t.carry).toString('utf8', 0, 1024);
}

export class CalicoFileCollector implements Collector {
  readonly name = 'calico-file';
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly mapper: LineMapper;
  private readonly tails = new Map<string, Tail>();
  /** Paths matched by the glob but holding a file another tail owns (a rotated copy), by inode. */
  private readonly ignored = new Map<string, string>();
  /** Inodes this process has read or is reading: never start them again under another name. */
  private readonly seenInodes = new Set<string>();
  private readonly buf: Buffer;
  private readonly poll: number;
  private readonly rescan: number;
  private readonly batchSize: number;
  private readonly maxLine: number;
  private readonly window: PublishWindow;
  private linesThisTurn = 0;
  private loop?: Promise<void>;
  private stopping = false;
  private killed = false;
  private readonly sleeper = new WakeableSleep();
  private readonly abort = new AbortController();
  private discovered = false;
  readonly health: CollectorHealth;

  constructor(private readonly opts: CalicoFileCollectorOptions) {
    this.log = (opts.logger ?? silentLogger).child({ collector: 'calico-file', path: opts.path });
    this.metrics = makeMetrics(opts.registry);
    this.health = new CollectorHealth('calico-file', this.log, opts.registry);
    this.mapper = opts.mapperFactory ? opts.mapperFactory() : new CalicoLineMapper({ cluster: opts.cluster });
    this.buf = Buffer.allocUnsafe(opts.readChunkBytes ?? 256 * 1024);
    this.poll = opts.pollIntervalMs ?? 250;
    this.rescan = opts.rescanIntervalMs ?? 5000;
    this.batchSize = opts.batchSize ?? 1000;
    this.maxLine = opts.maxLineBytes ?? 1024 * 1024;
    this.window = new PublishWindow(opts.bus, {
      size: opts.publishWindow ?? (opts.bus.kind === 'in-process' ? IN_PROCESS_PUBLISH_WINDOW : 1),
      retryDelayMs: opts.retryDelayMs,
      log: this.log,
      stopping: () => this.stopping,
      killed: () => this.killed,
    });
  }

  /** Streams this collector publishes checkpoints for (after start). */
  streams(): string[] {
    return [...this.tails.values()].map((t) => t.stream);
  }

  /** Discovers the files, resumes each from its checkpoint, then follows them in the background. */
  async start(): Promise<void> {
    if (this.loop) throw new Error('collector already started');
    try {
      await this.discover(true);
      this.discovered = true;
    } catch (e) {
      this.health.down(errorCause(e));
    }
    this.loop = this.supervise();
  }

  /**
   * Runs the reading loop; on any error but a missing file (which is waited for) it marks the
   * collector down, drops what it read but did not publish, and starts again from the stored
   * checkpoints after a capped backoff, so a failure never leaves a silent, healthy-looking stop.
   */
  private async supervise(): Promise<void> {
    const backoff = new Backoff({ initialMs: this.opts.retryDelayMs ?? 500, maxMs: 30_000 }, this.abort.signal);
    while (!this.stopping) {
      try {
        if (!this.discovered) {
          await this.discover(true);
          this.discovered = true;
        }
        await this.run(() => {
          this.health.up();
          backoff.reset();
        });
        return;
      } catch (e) {
        if (this.stopping) {
          this.log.error('calico file collector stopped with an error', { error: errorCause(e) });
          return;
        }
        this.health.down(errorCause(e));
        // What is in flight settles first, so the checkpoints read next are the last stored.
        await this.window.abandon();
        await this.closeAll();
        this.tails.clear();
        this.ignored.clear();
        this.seenInodes.clear();
        this.discovered = false;
        await backoff.next();
      }
    }
  }

  /** Stops reading, publishes the lines already read, closes the files. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    this.sleeper.wake();
    await this.loop;
    await this.closeAll();
  }

  /**
   * Simulates a crash: publishes nothing more (a publish already in flight settles on its own) and
   * abandons buffered lines. Resolves once the reading loop has exited.
   */
  async kill(): Promise<void> {
    this.killed = true;
    this.stopping = true;
    this.abort.abort();
    this.sleeper.wake();
    await this.loop;
    await this.closeAll();
  }

  private async closeAll(): Promise<void> {
    for (const t of this.tails.values()) {
      await t.fd?.close().catch(() => undefined);
      t.fd = undefined;
    }
  }

  private async discover(initial: boolean): Promise<void> {
    const paths = await expandGlob(this.opts.path);
    const fresh = paths.filter((p) => !this.tails.has(p));
    if (fresh.length === 0) return;
    const positions = new Map<string, Position | undefined>();
    const stored = new Map<string, string>();
    for (const p of fresh) {
      const raw = await this.opts.checkpoints.load(`${CALICO_FILE_STREAM_PREFIX}${p}`);
      if (raw !== undefined) stored.set(p, raw);
      const pos = parseFilePosition(raw);
      if (raw !== undefined && pos === undefined)
        this.log.warn('ignoring an unreadable checkpoint', { path: p, position: raw });
      positions.set(p, pos);
    }
    // Inodes named by other paths' checkpoints belong to those streams (rotated copies).
    const claimed = new Map<string, string>();
    for (const [p, pos] of positions) if (pos) claimed.set(pos.ino, p);
    for (const p of fresh) {
      if (hasGlob(this.opts.path)) {
        let ino: string;
        try {
          ino = String((await stat(p, { bigint: true })).ino);
        } catch {
          continue;
        }
        if (this.ignored.get(p) === ino) continue;
        const owner = claimed.get(ino);
        if ((owner !== undefined && owner !== p) || this.seenInodes.has(ino) || this.isOpenInode(ino)) {
          this.ignored.set(p, ino);
          continue;
        }
        this.ignored.delete(p);
      }
      const t = new Tail(p);
      t.sentPosition = stored.get(p) ?? null;
      this.tails.set(p, t);
      await this.resume(t, positions.get(p), initial);
    }
  }

  private isOpenInode(ino: string): boolean {
    for (const t of this.tails.values()) if (t.fd && t.ino === ino) return true;
    return false;
  }

  /** Opens a tail at its checkpoint (see the class comment for the cases). */
  private async resume(t: Tail, pos: Position | undefined, initial: boolean): Promise<void> {
    let cur: { ino: string; size: number } | undefined;
    try {
      const st = await stat(t.path, { bigint: true });
      cur = { ino: String(st.ino), size: Number(st.size) };
    } catch (e) {
      if (!isEnoent(e)) throw e;
    }
    if (pos) {
      if (cur && cur.ino === pos.ino) {
        if (cur.size >= pos.offset && (await this.openAt(t, t.path, pos))) return;
        this.log.warn('flow-log file was truncated or replaced since the checkpoint; reading it from the start', {
          path: t.path,
        });
        this.metrics.rotations.inc({ kind: 'truncate' });
      } else {
        const old = await this.findByInode(dirname(t.path), pos.ino);
        if (old && (await this.openAt(t, old, pos))) {
          t.readingPredecessor = true;
          this.log.info('finishing the rotated flow-log file found by inode before the new one', {
            path: t.path,
            rotated: old,
          });
          return;
        }
        if (cur || pos.offset > 0)
          this.log.warn('the checkpointed flow-log file is gone; lines written to it after the checkpoint are lost', {
            path: t.path,
            inode: pos.ino,
          });
      }
    }
    if (!cur) return; // waits for the file to appear
    await this.openAt(t, t.path, undefined, !pos && initial && this.opts.startAt === 'end');
  }

  private async findByInode(dir: string, ino: string): Promise<string | undefined> {
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch {
      return undefined;
    }
    for (const e of entries) {
      const p = join(dir, e);
      try {
        const st = await stat(p, { bigint: true });
        if (st.isFile() && String(st.ino) === ino) return p;
      } catch {
        // vanished
      }
    }
    return undefined;
  }

  /** Opens `file` for tail `t` at `pos` (verified by head hash), or at 0 / at the end. */
  private async openAt(t: Tail, file: string, pos: Position | undefined, atEnd = false): Promise<boolean> {
    let fd: FileHandle;
    try {
      fd = await open(file, 'r');
    } catch (e) {
      if (isEnoent(e)) return false;
      throw e;
    }
    const st = await fd.stat({ bigint: true });
    const ino = String(st.ino);
    let offset = 0;
    if (pos) {
      if (ino !== pos.ino || Number(st.size) < pos.offset) {
        await fd.close();
        return false;
      }
      offset = pos.offset;
    } else if (atEnd) offset = Number(st.size);
    const headLen = Math.min(HEAD_BYTES, offset);
    t.headLen = 0;
    if (headLen > 0) {
      const { bytesRead } = await fd.read(t.head, 0, headLen, 0);
      t.headLen = bytesRead;
      if (pos?.head && headHash(t.head, Math.min(bytesRead, pos.offset)) !== pos.head) {
        await fd.close();
        t.headLen = 0;
        return false;
      }
    }
    t.fd = fd;
    t.ino = ino;
    t.offset = offset;
    t.readPos = offset;
    t.carry = [];
    t.carryLen = 0;
    t.discarding = false;
    if (atEnd && offset > 0) {
      const last = Buffer.alloc(1);
      await fd.read(last, 0, 1, offset - 1);
      if (last[0] !== 10) {
        // Started in the middle of a line: drop it quietly up to the next newline.
        t.discarding = true;
        t.discardStart = offset;
      }
    }
    if (pos) {
      t.sentOffset = offset;
      t.sentIno = ino;
    }
    this.seenInodes.add(ino);
    return true;
  }

  private async run(healthy: () => void): Promise<void> {
    let lastScan = Date.now();
    while (!this.stopping) {
      let progress = false;
      for (const t of this.tails.values()) {
        if (this.stopping) break;
        if (!t.fd) {
          await this.resume(t, undefined, false);
          if (!t.fd) continue;
          progress = true;
        }
        if (await this.pump(t)) {
          progress = true;
          continue;
        }
        await this.flush(t);
        if (await this.checkRotation(t)) progress = true;
      }
      if (!this.stopping && hasGlob(this.opts.path) && Date.now() - lastScan >= this.rescan) {
        lastScan = Date.now();
        await this.discover(false);
      }
      healthy();
      if (!progress && !this.stopping) {
        await this.window.drain(); // idle: see what is in flight stored before sleeping
        await this.sleep(this.poll);
      }
    }
    if (!this.killed) {
      for (const t of this.tails.values()) await this.flush(t);
      await this.window.drain();
    }
  }

  private sleep(ms: number): Promise<void> {
    return this.sleeper.sleep(ms);
  }

  /** Reads one chunk and handles its complete lines. False at end of file. */
  private async pump(t: Tail): Promise<boolean> {
    const fd = t.fd!;
    const { bytesRead: n } = await fd.read(this.buf, 0, this.buf.length, t.readPos);
    if (n === 0) return false;
    const chunkPos = t.readPos;
    if (chunkPos < HEAD_BYTES && chunkPos === t.headLen) {
      const k = Math.min(HEAD_BYTES - chunkPos, n);
      this.buf.copy(t.head, chunkPos, 0, k);
      t.headLen += k;
    }
    t.readPos += n;
    let start = 0;
    while (start < n) {
      const nl = this.buf.indexOf(10, start);
      if (nl < 0 || nl >= n) break;
      const lineStart = t.offset;
      if (t.discarding) {
        t.discarding = false;
        t.carry = [];
        t.carryLen = 0;
      } else if (t.carryLen + nl - start > this.maxLine) {
        // The carry is checked as it grows; this catches a line whose last piece, or whole self,
        // arrives in one chunk and still goes over the limit.
        this.overLong(
          t,
          lineStart,
          t.carryLen > 0 ? carryHead(t) : this.buf.toString('utf8', start, Math.min(nl, start + 1024)),
        );
      } else {
        let line: string;
        if (t.carryLen > 0) {
          t.carry.push(this.buf.subarray(start, nl));
          line = Buffer.concat(t.carry, t.carryLen + nl - start).toString('utf8');
          t.carry = [];
          t.carryLen = 0;
        } else line = this.buf.toString('utf8', start, nl);
        this.handleLine(t, line, lineStart);
      }
      t.offset = chunkPos + nl + 1;
      start = nl + 1;
      if (t.records.length >= this.batchSize) await this.flush(t);
      if (++this.linesThisTurn >= LINES_PER_TURN) {
        this.linesThisTurn = 0;
        await nextTurn();
      }
      if (this.killed) return false;
    }
    if (start < n && !t.discarding) {
      const rest = n - start;
      if (t.carryLen + rest > this.maxLine) {
        this.overLong(t, t.offset, t.carry.length ? carryHead(t) : '');
        t.discarding = true;
        t.discardStart = t.offset;
      } else {
        t.carry.push(Buffer.from(this.buf.subarray(start, n)));
        t.carryLen += rest;
      }
    }
    return true;
  }

  /** Dead-letters the line starting at `at` as over the limit (`head`: its start) and drops its carry. */
  private overLong(t: Tail, at: number, head: string): void {
    this.deadLetter(t, at, `${head}...`, `line longer than ${this.maxLine} bytes`);
    t.carry = [];
    t.carryLen = 0;
  }

  private handleLine(t: Tail, rawLine: string, at: number): void {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    this.metrics.lines.inc();
    let res: LineResult;
    try {
      res = this.mapper.map(line);
    } catch (e) {
      this.deadLetter(t, at, line, e instanceof Error ? e.message : String(e));
      return;
    }
    if (res.kind === 'skipped') {
      this.metrics.skipped.inc({ reason: res.what });
      return;
    }
    for (const r of res.records) t.records.push(r);
  }

  private deadLetter(t: Tail, at: number, raw: string, reason: string): void {
    this.metrics.malformed.inc();
    t.dead.push({ raw: truncateRaw(raw), reason, origin: `${t.stream}:${at}` });
  }

  /**
   * Hands what the tail holds to the bus with its checkpoint (PublishWindow: up to a few batches
   * in flight on the in-process bus, each retried until stored or we stop).
   */
  private async flush(t: Tail): Promise<void> {
    if (this.killed || !t.fd || !t.dirty()) return;
    const position = formatFilePosition({
      ino: t.ino,
      offset: t.offset,
      head: headHash(t.head, Math.min(t.headLen, t.offset)),
    });
    const records = t.records;
    // Dead letters travel with the batch whose checkpoint covers their lines: stored in its
    // transaction (embedded mode), so lines read again after a crash are not dead-lettered twice.
    const dead = t.dead;
    const checkpoint = this.window.pipelined
      ? { stream: t.stream, position, after: t.sentPosition }
      : { stream: t.stream, position };
    t.records = [];
    t.dead = [];
    t.sentOffset = t.offset;
    t.sentIno = t.ino;
    t.sentPosition = position;
    await this.window.send(
      { records, checkpoints: [checkpoint], ...(dead.length > 0 ? { deadLetters: dead } : {}) },
      () => this.metrics.records.inc(records.length),
    );
  }

  /** At end of file: detects rotation (new inode under the path) and truncation. */
  private async checkRotation(t: Tail): Promise<boolean> {
    let st;
    try {
      st = await stat(t.path, { bigint: true });
    } catch (e) {
      if (isEnoent(e)) return false; // renamed away, new file not there yet: keep the old one open
      throw e;
    }
    const ino = String(st.ino);
    if (ino !== t.ino) {
      // Rotated: finish the old file (a last write may have landed), then switch.
      while (await this.pump(t)) if (this.killed) return false;
      if (this.killed) return false;
      if (t.carryLen > 0 && !t.discarding) {
        // A last line without its newline: the writer is gone, take it as it is.
        const line = Buffer.concat(t.carry, t.carryLen).toString('utf8');
        const at = t.offset;
        t.carry = [];
        t.carryLen = 0;
        this.handleLine(t, line, at);
        t.offset = t.readPos;
      }
      await this.flush(t);
      if (this.killed) return false;
      await t.fd?.close().catch(() => undefined);
      t.fd = undefined;
      this.metrics.rotations.inc({ kind: 'rename' });
      this.log.info(t.readingPredecessor ? 'finished the rotated flow-log file' : 'flow-log file rotated', {
        path: t.path,
        file: basename(t.path),
      });
      t.readingPredecessor = false;
      await this.openAt(t, t.path, undefined);
      return true;
    }
    const size = Number(st.size);
    if (size < t.readPos || !(await this.headMatches(t))) {
      this.log.warn('flow-log file truncated; reading it again from the start', { path: t.path });
      this.metrics.rotations.inc({ kind: 'truncate' });
      if (t.carryLen > 0 && !t.discarding)
        this.deadLetter(
          t,
          t.offset,
          Buffer.concat(t.carry, t.carryLen).toString('utf8'),
          'incomplete line cut by truncation',
        );
      t.carry = [];
      t.carryLen = 0;
      t.discarding = false;
      t.offset = 0;
      t.readPos = 0;
      t.headLen = 0;
      return true;
    }
    return false;
  }

  private async headMatches(t: Tail): Promise<boolean> {
    if (t.headLen === 0 || !t.fd) return true;
    const now = Buffer.alloc(t.headLen);
    const { bytesRead } = await t.fd.read(now, 0, t.headLen, 0);
    return bytesRead === t.headLen && now.equals(t.head.subarray(0, t.headLen));
  }
}
