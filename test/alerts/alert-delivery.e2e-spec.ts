import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { startAlerting, type AlertingHandle } from '../../src/app/alerting.js';
import type { SlackMessage } from '../../src/alerts/slack-message.js';
import { silentLogger } from '../../src/common/logger.js';
import { loadConfig } from '../../src/config/config.js';
import { createDataSource } from '../../src/storage/data-source.js';
import { createTestDatabase } from '../support/test-database.js';

const S = 1000;
const T0 = Date.parse('2026-03-01T10:00:00Z');

type Mode = 'ok' | '429' | '500' | 'hang';

/** A real HTTP server standing in for Slack: answers per `mode`, records what it accepted with `ok`. */
class SlackStandIn {
  mode: Mode = 'ok';
  requests = 0;
  accepted: SlackMessage[] = [];
  private readonly hanging: ServerResponse[] = [];
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        this.requests++;
        if (this.mode === 'hang') return void this.hanging.push(res);
        if (this.mode === '429') return void res.writeHead(429, { 'retry-after': '120' }).end('rate_limited');
        if (this.mode === '500') return void res.writeHead(500).end('internal_error');
        this.accepted.push(JSON.parse(body) as SlackMessage);
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/services/T000/B000/secret`;
  }

  async stop(): Promise<void> {
    for (const r of this.hanging) r.destroy();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

describe('alert delivery through the outbox to a real HTTP Slack stand-in', () => {
  const slack = new SlackStandIn();
  let db: { url: string; drop(): Promise<void> };
  let ds: DataSource;
  const clock = { t: T0, now: () => clock.t };
  let alerting: AlertingHandle;
  const dirs: string[] = [];

  const config = () => {
    const dir = mkdtempSync(join(tmpdir(), 'ds-alerts-'));
    dirs.push(dir);
    const rules = join(dir, 'rules.yaml');
    writeFileSync(
      rules,
      'rules:\n  - {id: unexpected-drop, for: 0s, window: 2m}\nroute: {group_by: [alertname, namespace]}\n',
    );
    return loadConfig({
      DATABASE_URL: db.url,
      DROPSCOPE_DATA_DIR: dir,
      SLACK_WEBHOOK_URL: slack.url,
      ALERT_RULES_FILE: rules,
      ALERT_SEND_TIMEOUT: '300ms',
    });
  };

  const start = async () => {
    ds = createDataSource(db.url, 4);
    await ds.initialize();
    alerting = startAlerting(
      {
        dataSource: ds,
        config: config(),
        log: silentLogger,
        registry: new Registry(),
        clock,
        localApiUrl: 'http://localhost:8080',
      },
      { timer: false },
    );
  };
  const restart = async () => {
    await alerting.stop();
    await ds.destroy();
    await start();
  };

  const drop = (src: string, dst: string, at: number) =>
    ds.query(
      `INSERT INTO edge_rollups (bucket, edge_key, cluster, src_kind, src_namespace, src_workload, dst_kind, dst_namespace,
         dst_workload, dst_port, protocol, verdict, direction, drop_reason, attribution_level, policies, source, count,
         first_seen, last_seen)
       VALUES (date_trunc('minute', $3::timestamptz), $1 || $2 || $3, 'prod', 'pod', split_part($1, '/', 1), split_part($1, '/', 2),
         'pod', split_part($2, '/', 1), split_part($2, '/', 2), 5432, 'TCP', 'denied', 'ingress', 'POLICY_DENY', 'reported',
         ARRAY['shop/default-deny'], 'calico', 4, $3, $3)`,
      [src, dst, new Date(at).toISOString()],
    );
  /** Advances the clock in 15 s evaluation steps, running the service's evaluation + delivery each time. */
  const run = async (ms: number) => {
    for (const end = clock.t + ms; clock.t < end;) {
      clock.t += 15 * S;
      await alerting.runOnce();
    }
  };
  const outbox = () =>
    ds.query(
      `SELECT seq, attempts, delivered_at IS NOT NULL AS delivered FROM notification_outbox ORDER BY id`,
    ) as Promise<Array<{ seq: number; attempts: number; delivered: boolean }>>;

  beforeAll(async () => {
    await slack.start();
    db = await createTestDatabase();
    const m = createDataSource(db.url, 1);
    await m.initialize();
    await m.runMigrations({ transaction: 'each' });
    await m.query(`CREATE TABLE edge_rollups_default PARTITION OF edge_rollups DEFAULT`);
    await m.destroy();
    await start();
  });
  afterAll(async () => {
    await alerting?.stop();
    await ds?.destroy();
    await slack.stop();
    await db?.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('delivers every group notification once and in order across 500s, a 429, a hang and a restart', async () => {
    for (let t = T0; t < T0 + 20 * 60 * S; t += 10 * S) await drop('shop/web', 'shop/db', t);
    slack.mode = '500';
    // First evaluation at T0+15s fires the alert; group_wait 30 s: the notification is queued at T0+45s.
    await run(45 * S);
    expect(await outbox()).toEqual([{ seq: 1, attempts: 1, delivered: false }]);
    expect(slack.requests).toBe(1);
    expect(slack.accepted).toEqual([]);

    // The service restarts in the middle of the outage; Slack now rate-limits (Retry-After: 120).
    await restart();
    slack.mode = '429';
    await run(15 * S);
    expect(slack.requests).toBe(2);
    // A second edge in the same namespace joins the group: its notification queues behind the first.
    for (let t = clock.t; t < T0 + 20 * 60 * S; t += 10 * S) await drop('shop/api', 'shop/db', t);
    await run(60 * S);
    expect(slack.requests).toBe(2); // Retry-After honoured: nothing sent for 120 s
    slack.mode = 'hang';
    await run(60 * S);
    expect(slack.requests).toBe(3); // the hanging request timed out; retried later
    slack.mode = 'ok';
    await run(6 * 60 * S);

    expect(slack.accepted.map((m) => m.blocks[0])).toEqual([
      {
        type: 'header',
        text: { type: 'plain_text', text: 'FIRING: 1 alert · alertname=UnexpectedDrop namespace=shop' },
      },
      {
        type: 'header',
        text: { type: 'plain_text', text: 'FIRING: 2 alerts · alertname=UnexpectedDrop namespace=shop' },
      },
    ]);
    expect(JSON.stringify(slack.accepted[0].blocks)).toContain('shop/web → shop/db:5432/TCP');
    expect(JSON.stringify(slack.accepted[0].blocks)).toContain('`shop/default-deny` (reported)');
    expect((await outbox()).map((r) => [r.seq, r.delivered])).toEqual([
      [1, true],
      [2, true],
    ]);
    const history = (await ds.query(`SELECT history FROM alerts ORDER BY id`)) as Array<{
      history: Array<{ event: string }>;
    }>;
    expect(history[0].history.map((h) => h.event)).toEqual(['pending', 'firing', 'notified', 'notified']);
  });
});
