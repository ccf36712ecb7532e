/** Shared set-up of the API e2e tests: a real service on a fresh database, fixture data imported through the real pipeline. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../src/common/logger.js';
import { startService, type RunningService } from '../../src/app/service.js';
import { CalicoLineMapper } from '../../src/collector/calico/calico-flow-log.mapper.js';
import type { LineMapper } from '../../src/collector/collector.js';
import { generateHubbleLines } from '../../src/synthetic/hubble-flow.generator.js';
import { HubbleLineMapper } from '../../src/collector/hubble/hubble-line.mapper.js';
import { loadConfig } from '../../src/config/config.js';
import type { FlowRecord } from '../../src/flow/flow-record.js';
import { validateFlowRecord } from '../../src/flow/flow-record.validator.js';
import { importFile } from '../../src/ingest/file-import.js';

export const READ_TOKEN = 'read-token-0123456789abcdef';
export const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
export const FIXTURES = new URL('../fixtures', import.meta.url).pathname;
export const POLICY_FIXTURE = new URL('../policy/fixtures/hubble-samples-cluster.yaml', import.meta.url).pathname;

export interface LogLine {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}

/** A logger that keeps every line (to assert on warnings and on what is never logged). */
export function collectingLogger(lines: LogLine[] = []): Logger & { lines: LogLine[] } {
  const mk = (): Logger => ({
    debug: (msg, fields) => lines.push({ level: 'debug', msg, fields }),
    info: (msg, fields) => lines.push({ level: 'info', msg, fields }),
    warn: (msg, fields) => lines.push({ level: 'warn', msg, fields }),
    error: (msg, fields) => lines.push({ level: 'error', msg, fields }),
    child: () => mk(),
  });
  return Object.assign(mk(), { lines });
}

/**
 * Starts the service. Without DROPSCOPE_DATA_DIR in `env`, on a temp data dir of its own, removed
 * when the service has closed (or failed to start).
 */
export async function startApi(env: Record<string, string>, log: Logger): Promise<RunningService> {
  const ownDir = env.DROPSCOPE_DATA_DIR === undefined ? mkdtempSync(join(tmpdir(), 'dropscope-api-')) : undefined;
  const removeOwnDir = () => {
    if (ownDir) rmSync(ownDir, { recursive: true, force: true });
  };
  let svc: RunningService;
  try {
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      DROPSCOPE_ROLES: 'aggregator,api',
      API_READ_TOKENS: READ_TOKEN,
      API_ADMIN_TOKENS: ADMIN_TOKEN,
      ...(ownDir ? { DROPSCOPE_DATA_DIR: ownDir } : {}),
      ...env,
    });
    svc = await startService(config, log);
  } catch (e) {
    removeOwnDir();
    throw e;
  }
  const close = svc.close;
  svc.close = async () => {
    try {
      await close();
    } finally {
      removeOwnDir();
    }
  };
  return svc;
}

export interface Dataset {
  /** The temp folder holding the generated files: the caller removes it (removeDataset) when done. */
  dir: string;
  /** Import order: [file, mapper factory]. */
  files: Array<{ path: string; mapper: () => LineMapper }>;
  /** Every FlowRecord the files hold, mapped independently of the service (same mappers, same order). */
  records: FlowRecord[];
  recentStart: number;
}

function mapAll(path: string, newMapper: () => LineMapper): FlowRecord[] {
  const m = newMapper();
  const out: FlowRecord[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      const r = m.map(line);
      if (r.kind === 'flows') out.push(...r.records);
    } catch {
      // dead letter
    }
  }
  out.push(...m.flush());
  return out.flatMap((r) => {
    try {
      return [validateFlowRecord(r)];
    } catch {
      return [];
    }
  });
}

/**
 * The shared fixtures (Hubble samples, Calico records unwrapped from their sample envelopes) plus
 * generated Hubble traffic: 2,000 lines on 2025-03-01 (several pages of drops) and 300 lines in the
 * last half hour (for the default 24 h window).
 */
export function buildDataset(now: number): Dataset {
  const dir = mkdtempSync(join(tmpdir(), 'dropscope-api-data-'));
  const calico = join(dir, 'calico.jsonl');
  const bare: string[] = [];
  for (const line of readFileSync(join(FIXTURES, 'calico/flowlog-samples.jsonl'), 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const w = JSON.parse(line) as { record?: Record<string, unknown> };
    if (w.record && w.record.start_time !== undefined) bare.push(JSON.stringify(w.record));
  }
  writeFileSync(calico, bare.join('\n') + '\n');
  const gen = join(dir, 'generated.jsonl');
  writeFileSync(
    gen,
    [
      ...generateHubbleLines({
        count: 2000,
        seed: 7,
        cluster: 'gen',
        namespaces: 4,
        workloadsPerNamespace: 3,
        policyDropShare: 0.25,
        otherDropShare: 0.05,
        startMs: Date.parse('2025-03-01T00:00:00Z'),
        flowsPerSecond: 0.2,
        lostEventsEvery: 0,
      }),
    ].join('\n') + '\n',
  );
  const recent = join(dir, 'recent.jsonl');
  const recentStart = now - 30 * 60_000;
  writeFileSync(
    recent,
    [
      ...generateHubbleLines({
        count: 300,
        seed: 11,
        cluster: 'recent',
        namespaces: 2,
        workloadsPerNamespace: 2,
        policyDropShare: 0.3,
        startMs: recentStart,
        flowsPerSecond: 1,
        lostEventsEvery: 0,
      }),
    ].join('\n') + '\n',
  );
  const files = [
    { path: join(FIXTURES, 'hubble/observe-samples.jsonl'), mapper: (): LineMapper => new HubbleLineMapper({}) },
    { path: calico, mapper: (): LineMapper => new CalicoLineMapper({}) },
    { path: gen, mapper: (): LineMapper => new HubbleLineMapper({}) },
    { path: recent, mapper: (): LineMapper => new HubbleLineMapper({}) },
  ];
  const records = files.flatMap((f) => mapAll(f.path, f.mapper));
  return { dir, files, records, recentStart };
}

/** Removes the temp folder of buildDataset's generated files. */
export function removeDataset(ds: Dataset): void {
  rmSync(ds.dir, { recursive: true, force: true });
}

export async function importDataset(svc: RunningService, ds: Dataset): Promise<void> {
  const checkpoints = { load: (s: string) => svc.runtime.repositories.checkpoints.load(s) };
  for (const f of ds.files) await importFile(f.path, f.mapper, svc.runtime.bus, checkpoints);
}
