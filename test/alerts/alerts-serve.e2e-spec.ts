import { afterAll, describe, expect, it } from '@jest/globals';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SlackMessage } from '../../src/alerts/slack-message.js';
import { collect, spawnCli, waitForOutput } from '../support/cli.js';
import { createTestDatabase, pollRows } from '../support/test-database.js';
import { until } from '../support/wait.js';

/** One denied Calico flow-log record: `src` → `dst`:5432/tcp, denied by the Calico policy `policy`. */
function deniedLine(srcNs: string, src: string, dstNs: string, dst: string, policy: string): string {
  const now = Math.floor(Date.now() / 1000);
  return `${JSON.stringify({
    start_time: now - 5,
    end_time: now,
    source_ip: '10.0.1.5',
    source_name: `${src}-7d9f8-abcde`,
    source_name_aggr: `${src}-7d9f8-*`,
    source_namespace: srcNs,
    source_port: null,
    source_type: 'wep',
    source_labels: { labels: [`app=${src}`] },
    dest_ip: '10.0.2.7',
    dest_name: `${dst}-0`,
    dest_name_aggr: `${dst}-*`,
    dest_namespace: dstNs,
    dest_port: 5432,
    dest_type: 'wep',
    dest_labels: { labels: [`app=${dst}`] },
    proto: 'tcp',
    action: 'deny',
    reporter: 'dst',
    policies: { enforced_policies: [`0|default|${dstNs}/default.${policy}|deny|0`] },
    bytes_in: 600,
    bytes_out: 0,
    num_flows: 3,
    packets_in: 9,
    packets_out: 0,
    host: 'node-1',
  })}\n`;
}

describe('serve: denied Calico records reach Slack as one Block Kit message per group', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('tails the flow log, alerts on the unexpected drops and posts one message per namespace', async () => {
    const accepted: SlackMessage[] = [];
    const slack = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        accepted.push(JSON.parse(body) as SlackMessage);
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => slack.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => slack.close(r)));

    const dir = mkdtempSync(join(tmpdir(), 'ds-alerts-serve-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true })); // after serve stops (run in reverse)
    const log = join(dir, 'flows.log');
    writeFileSync(log, '');
    const rules = join(dir, 'rules.yaml');
    writeFileSync(rules, 'rules:\n  - {id: unexpected-drop, for: 0s}\n');
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const child = spawnCli(['serve'], {
      DATABASE_URL: db.url,
      CALICO_FLOWLOG_PATH: log,
      DROPSCOPE_ROLES: 'collector,aggregator,alerts',
      PORT: '0',
      SLACK_WEBHOOK_URL: `http://127.0.0.1:${(slack.address() as AddressInfo).port}/services/T/B/x`,
      ALERT_RULES_FILE: rules,
      ALERT_EVALUATION_INTERVAL: '500ms',
      ALERT_GROUP_WAIT: '1s',
    });
    const done = collect(child);
    cleanups.push(async () => {
      child.kill('SIGTERM');
      await done;
    });
    const started = await waitForOutput(child, /"msg":"dropscope started"/, 60_000);

    appendFileSync(log, deniedLine('shop', 'web', 'shop', 'db', 'deny-db'));
    appendFileSync(log, deniedLine('shop', 'api', 'shop', 'db', 'deny-db'));
    appendFileSync(log, deniedLine('bank', 'teller', 'bank', 'ledger', 'deny-ledger'));

    const delivered = () =>
      pollRows<{ n: number }>(
        db.url,
        `SELECT count(*)::int AS n FROM notification_outbox WHERE delivered_at IS NOT NULL`,
      );
    await until('two notifications delivered', async () => ((await delivered())[0]?.n ?? 0) >= 2, 60_000);
    expect(accepted).toHaveLength(2);
    const byNs = new Map(
      accepted.map((m) => [/namespace=(\w+)/.exec(JSON.stringify(m.blocks[0]))?.[1], JSON.stringify(m.blocks)]),
    );
    expect([...byNs.keys()].sort()).toEqual(['bank', 'shop']);
    expect(accepted.find((m) => m.blocks[0] && JSON.stringify(m.blocks[0]).includes('shop'))?.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: 'FIRING: 2 alerts · alertname=UnexpectedDrop namespace=shop' },
    });
    // Calico names workloads by their aggregated pod names (source_name_aggr, dest_name_aggr).
    expect(byNs.get('shop')).toContain('shop/web-7d9f8-* → shop/db-*:5432/TCP');
    expect(byNs.get('shop')).toContain('shop/api-7d9f8-* → shop/db-*:5432/TCP');
    expect(byNs.get('shop')).toContain('*Policy:* `shop/deny-db` (reported)');
    expect(byNs.get('bank')).toContain('bank/teller-7d9f8-* → bank/ledger-*:5432/TCP');
    expect(byNs.get('bank')).toContain('*Policy:* `bank/deny-ledger` (reported)');
    // ALERT_LINK_BASE_URL is unset and PORT=0: links name the port the server bound, on localhost (HOST 0.0.0.0).
    const port = (JSON.parse(started) as { port: number }).port;
    expect(port).toBeGreaterThan(0);
    expect(byNs.get('shop')).toMatch(new RegExp(`http://localhost:${port}/api/v1/alerts\\?fingerprint=[0-9a-f]+`));
    expect(byNs.get('shop')).not.toContain('localhost:0/');
  });
});
