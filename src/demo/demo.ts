/**
 * `dropscope demo`: the demo cluster (demo-cluster.ts) served by a fake Hubble Relay over real
 * gRPC and a Calico flows.log file the demo appends to, through the whole service (embedded
 * PostgreSQL, collectors, aggregator, alerts, API) started in-process, and a terminal story:
 * drops as they arrive with their attribution, the alert as the local Slack sink receives it,
 * the suggested fix and its what-if check. Ends with a checklist of the four.
 */
import { appendFileSync, createWriteStream, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startService, type RunningService } from '../app/service.js';
import { createLogger } from '../common/pino-logger.js';
import { loadConfig } from '../config/config.js';
import { loadInventory, parseManifestText, type PolicyInventory } from '../policy/index.js';
import { PostgresDropEventReader } from '../storage/drop-event.reader.js';
import { PostgresEdgeReader } from '../storage/edge.reader.js';
import type { DropItem } from '../storage/readers.js';
import { edgesFromStored, suggest } from '../suggest/index.js';
import { whatIf } from '../whatif/index.js';
import { calicoLines, DEMO_CLUSTER, demoManifests, hubbleTick } from './demo-cluster.js';
import { FakeHubbleRelay } from './fake-hubble-relay.js';
import { startSlackSink } from './slack-sink.js';

export interface DemoOptions {
  /** Seconds to run; undefined: until `signal` aborts. */
  durationSeconds?: number;
  /** With a duration: stop as soon as all four steps appeared. */
  untilComplete: boolean;
  /** HTTP port (0: any free one). */
  port: number;
  dataDir: string;
  write: (text: string) => void;
  signal?: AbortSignal;
}

export interface DemoChecklist {
  drops: boolean;
  attribution: boolean;
  alert: boolean;
  suggestion: boolean;
}

const CALICO_INTERVAL_S = 5;
/** How long drops accumulate before the fix is suggested, so both sources' edges are stored. */
const SUGGEST_AFTER_MS = 8_000;
const POLL_MS = 2_000;

/** A rule that fires within seconds: a new demo run would otherwise wait for the 5m default `for`. */
const ALERT_RULES = `# The demo's alert rule: fires once the window holds 3 drops (the default waits 5 minutes).
rules:
  - id: unexpected-drop
    for: 10s
    window: 2m
    min_count: 3
    # The baseline reaches back only one minute (ending an hour ago), so an earlier demo run in
    # the same data dir does not make today's drops "expected".
    baseline: 1m
route:
  group_by: [alertname, namespace]
`;

function endpointText(e: unknown): string {
  if (typeof e !== 'object' || e === null) return '?';
  const ep = e as { namespace?: string; workload?: { name?: string }; nameAggr?: string; pod?: string; ip?: string };
  const name = ep.workload?.name ?? ep.nameAggr ?? ep.pod ?? ep.ip ?? '?';
  return ep.namespace ? `${ep.namespace}/${name}` : name;
}

function policyText(p: unknown): string {
  if (typeof p !== 'object' || p === null) return String(p);
  const q = p as { namespace?: string; name?: string };
  return q.namespace ? `${q.namespace}/${q.name ?? '?'}` : (q.name ?? '?');
}

function dropKey(d: DropItem): { edge: string; attribution: string; named: boolean } {
  const port = typeof d.dstPort === 'number' ? `:${d.dstPort}` : '';
  const edge = `${endpointText(d.src)} → ${endpointText(d.dst)}${port}/${String(d.protocol)} (${String(d.source)})`;
  const a = d.attribution;
  const policies = Array.isArray(a.policies) ? a.policies.map(policyText) : [];
  const named = policies.length > 0 && a.level !== 'unknown';
  return { edge, attribution: `${policies.join(', ') || 'no policy named'} [${a.level}]`, named };
}

function indent(text: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

export function checklistText(c: DemoChecklist): string {
  const mark = (ok: boolean) => (ok ? '[x]' : '[ ]');
  return [
    'Checklist:',
    `  ${mark(c.drops)} drops arrived`,
    `  ${mark(c.attribution)} attribution: drops credited to a policy`,
    `  ${mark(c.alert)} alert delivered to the Slack sink`,
    `  ${mark(c.suggestion)} suggestion: a NetworkPolicy fix, checked by what-if`,
    '',
  ].join('\n');
}

export async function runDemo(o: DemoOptions): Promise<DemoChecklist> {
  const started = Date.now();
  const say = (line: string) => o.write(`${line}\n`);
  const at = () => `[${String(Math.round((Date.now() - started) / 1000)).padStart(3)}s]`;
  const checklist: DemoChecklist = { drops: false, attribution: false, alert: false, suggestion: false };
  const cleanup: Array<() => Promise<void> | void> = [];
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((r) => (finish = r));
  const checkComplete = () => {
    if (o.untilComplete && Object.values(checklist).every(Boolean)) finish();
  };

  try {
    const dataDir = resolve(o.dataDir);
    mkdirSync(join(dataDir, 'calico'), { recursive: true });
    const manifests = join(dataDir, 'demo-cluster.yaml');
    writeFileSync(manifests, demoManifests());
    const rulesFile = join(dataDir, 'demo-alert-rules.yaml');
    writeFileSync(rulesFile, ALERT_RULES);
    // A fresh file each run: the collector sees a replaced file and reads it from the start.
    const flowLog = join(dataDir, 'calico', 'flows.log');
    rmSync(flowLog, { force: true });
    writeFileSync(flowLog, '');

    const sink = await startSlackSink((text) => {
      checklist.alert = true;
      say(`${at()} ALERT delivered to the Slack sink:`);
      say(indent(text));
      checkComplete();
    });
    cleanup.push(() => sink.close());
    const relay = new FakeHubbleRelay({ maxHistory: 5_000 });
    const relayPort = await relay.start(0);
    cleanup.push(() => relay.stop());

    const env: Record<string, string> = {
      DROPSCOPE_DATA_DIR: dataDir,
      PORT: String(o.port),
      HOST: '127.0.0.1',
      CLUSTER_NAME: DEMO_CLUSTER,
      HUBBLE_ADDR: `127.0.0.1:${relayPort}`,
      HUBBLE_FILTER: 'all',
      CALICO_FLOWLOG_PATH: flowLog,
      POLICY_MANIFESTS: manifests,
      SLACK_WEBHOOK_URL: sink.url,
      ALERT_RULES_FILE: rulesFile,
      ALERT_GROUP_WAIT: '5s',
      ALERT_EVALUATION_INTERVAL: '2s',
      LOG_LEVEL: 'info',
    };
    const logFile = join(dataDir, 'demo.log');
    const logStream = createWriteStream(logFile, { flags: 'a' });
    cleanup.push(() => new Promise<void>((r) => logStream.end(() => r())));
    const service: RunningService = await startService(loadConfig(env), createLogger('info', logStream));
    cleanup.push(() => service.close());

    const base = `http://127.0.0.1:${service.port}`;
    const tokenFile = join(dataDir, 'admin-token');
    say('Dropscope demo: frontend, backend and database namespaces, default-deny, one allow rule missing');
    say(`  API       ${base}/api/v1/drops/summary?by=policy`);
    say(`  metrics   ${base}/metrics`);
    say(`  API docs  ${base}/docs`);
    say(`  curl -H "Authorization: Bearer $(cat ${tokenFile})" "${base}/api/v1/drops/summary?by=policy"`);
    say(`  flows     Hubble Relay (fake, gRPC) 127.0.0.1:${relayPort}; Calico ${flowLog}`);
    say(`  service log ${logFile}`);
    say('');

    // Traffic: Hubble every second, a Calico flush interval every few seconds.
    const hubbleTimer = setInterval(() => relay.add(hubbleTick(Date.now())), 1000);
    let lastCalico = 0;
    const calicoTimer = setInterval(() => {
      const now = Math.floor(Date.now() / 1000);
      if (now - lastCalico < CALICO_INTERVAL_S) return;
      lastCalico = now;
      appendFileSync(flowLog, `${calicoLines(now, CALICO_INTERVAL_S).join('\n')}\n`);
    }, 1000);
    cleanup.push(() => {
      clearInterval(hubbleTimer);
      clearInterval(calicoTimer);
    });

    const inventory = await loadInventory([manifests]);
    const ds = service.runtime.db.dataSource;
    const drops = new PostgresDropEventReader(ds);
    const edges = new PostgresEdgeReader(ds);
    const seen = new Set<string>();
    let firstDropAt: number | undefined;
    let polling = false;

    const poll = async () => {
      if (polling) return;
      polling = true;
      try {
        const page = await drops.listDrops(
          { from: started - 60_000, to: Date.now() + 60_000, verdict: ['denied', 'dropped'] },
          500,
        );
        const fresh = new Map<string, { attribution: string; count: number }>();
        for (const d of page.items) {
          if (seen.has(d.id)) continue;
          seen.add(d.id);
          const k = dropKey(d);
          const cur = fresh.get(k.edge) ?? { attribution: k.attribution, count: 0 };
          cur.count += typeof d.count === 'number' ? d.count : 1;
          fresh.set(k.edge, cur);
          checklist.drops = true;
          if (k.named) checklist.attribution = true;
        }
        for (const [edge, f] of fresh) say(`${at()} DROP ${edge} ×${f.count}  denied by ${f.attribution}`);
        if (checklist.drops) firstDropAt ??= Date.now();
        if (!checklist.suggestion && firstDropAt !== undefined && Date.now() - firstDropAt >= SUGGEST_AFTER_MS)
          if ((await suggestFix(inventory)) === true) await crossCheck();
        checkComplete();
      } catch (e) {
        say(`${at()} (poll failed: ${(e as Error).message})`);
      } finally {
        polling = false;
      }
    };

    const suggestFix = async (inv: PolicyInventory) => {
      const window = { from: started - 60_000, to: Date.now() + 60_000 };
      const stored = await edges.observedEdges(window);
      const { edges: observed } = edgesFromStored(stored, inv);
      const result = suggest(inv, observed, { mode: 'fix', format: 'k8s' });
      const yaml = result.items.map((i) => i.yaml).join('');
      if (!/^kind: NetworkPolicy$/m.test(yaml)) return false; // nothing to fix yet: try on the next poll
      checklist.suggestion = true;
      say(`${at()} SUGGESTED FIX (from ${observed.length} stored edges):`);
      say(indent(yaml));
      const fix = parseManifestText(yaml, 'suggested-fix.yaml').objects;
      const check = whatIf(inv, { add: fix, remove: [] }, observed, {
        window: { from: new Date(window.from).toISOString(), to: new Date(window.to).toISOString() },
      });
      say(
        `${at()} WHAT-IF: newly allowed: ${check.summary.newlyAllowed} edges (the drops the fix repairs), ` +
          `newly denied: ${check.summary.newlyDenied}, unchanged: ${check.summary.unchanged}`,
      );
      return true;
    };

    /** The same data through the service's own doors: the API (with the admin token) and /metrics. */
    const crossCheck = async () => {
      const token = readFileSync(tokenFile, 'utf8').trim();
      const res = await fetch(`${base}/api/v1/drops/summary?by=policy`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const body = (await res.json()) as { items?: Array<Record<string, unknown>> };
      const items = (body.items ?? []).map((i) => `${String(i.policy ?? i.key ?? '?')} ${String(i.count)}`);
      say(`${at()} API   GET /api/v1/drops/summary?by=policy → ${res.status}: ${items.join(', ') || 'no rows yet'}`);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      let denied = 0;
      for (const m of metrics.matchAll(/^dropscope_drops_total\{[^}]*verdict="denied"[^}]*\} (\d+)/gm))
        denied += Number(m[1]);
      say(`${at()} /metrics dropscope_drops_total{verdict="denied"} summed: ${denied}`);
    };

    const pollTimer = setInterval(() => void poll(), POLL_MS);
    cleanup.push(() => clearInterval(pollTimer));

    if (o.durationSeconds !== undefined) {
      const t = setTimeout(finish, o.durationSeconds * 1000);
      cleanup.push(() => clearTimeout(t));
    }
    if (o.signal) {
      if (o.signal.aborted) finish();
      o.signal.addEventListener('abort', () => finish(), { once: true });
    }
    await finished;
    await poll(); // the last arrivals, and the checklist as it stands now
    say('');
    o.write(checklistText(checklist));
    return checklist;
  } finally {
    for (const c of cleanup.reverse()) await c();
  }
}
