/**
 * `suggest --from` and `what-if --from` over stored history: the example Hubble flows imported
 * (retimed to now) into a fresh database, then both commands read the edges back from it. The
 * example cluster (examples/README.md): shop is default-deny; frontend → payments:8443,
 * cart → db/postgres:5432, monitoring/prometheus → cart:9090 and payments → 52.1.2.3:443 were
 * denied; frontend → cart:8080 and DNS from cart and payments to kube-system/coredns were allowed.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { assertBuilt, runCli } from '../support/cli.js';
import { createTestDatabase } from '../support/test-database.js';

const CLUSTER = 'examples/cluster';
const HUBBLE = 'examples/flows/hubble-observe.jsonl';

interface Item {
  src: { namespace?: string; workload?: string };
  dst: { namespace?: string; workload?: string; ip?: string };
  dstPort: number;
  protocol: string;
  before: string;
  after: string;
}

const edgeText = (i: Item): string =>
  `${i.src.namespace}/${i.src.workload}>${i.dst.ip ?? `${i.dst.namespace}/${i.dst.workload}`}:${i.dstPort}/${i.protocol}`;

/** The changed edges of a what-if, as `src>dst:port/proto before→after`, sorted. */
const changed = (items: Item[]): string[] =>
  items
    .filter((i) => i.before !== i.after)
    .map((i) => `${edgeText(i)} ${i.before}→${i.after}`)
    .sort();

describe('suggest and what-if over stored history', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let env: Record<string, string>;
  const dirs: string[] = [];

  beforeAll(async () => {
    assertBuilt();
    db = await createTestDatabase();
    env = { DATABASE_URL: db.url, POLICY_MANIFESTS: CLUSTER };
    const imported = await runCli(['import', '--retime', '--source', 'hubble', HUBBLE], env);
    expect(imported.code).toBe(0);
    expect(imported.stdout).toMatch(/^imported 112 flows/);
  }, 120_000);

  afterAll(async () => {
    await db?.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('suggest --from: the fix for the four denied edges, checked against the stored history', async () => {
    const r = await runCli(['suggest', '--cluster', CLUSTER, '--from', '-7d'], env);
    expect(r.code).toBe(0);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as { metadata: { name: string; namespace: string } });
    expect(docs.map((d) => `${d.metadata.namespace}/${d.metadata.name}`)).toEqual([
      'shop/dropscope-allow-cart',
      'shop/dropscope-allow-frontend',
      'shop/dropscope-allow-payments',
    ]);
    expect(r.stderr).toMatch(/^# fix suggestions \(k8s\): 1 namespace\(s\), 7 observed edges \/ 112 flows from /);
    expect(r.stderr).toContain('# shop: admits 4/4 claimed edges; over-permission: 0 pod pair(s)\n');
    expect(r.stderr).toContain(
      '#   against the stored history: 4 denied edge(s) newly allowed, 0 edge(s) newly denied\n',
    );
  });

  it('what-if --from: removing shop/allow-dns newly denies exactly the two DNS edges', async () => {
    const r = await runCli(
      ['what-if', '--cluster', CLUSTER, '--remove', 'shop/allow-dns', '--from', '-7d', '--format', 'json'],
      env,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { summary: unknown; items: Item[] };
    expect(out.summary).toEqual({ edges: 7, newlyDenied: 2, newlyAllowed: 0, unchanged: 5, uncertain: 0 });
    expect(changed(out.items)).toEqual([
      'shop/cart>kube-system/coredns:53/UDP allowed→denied',
      'shop/payments>kube-system/coredns:53/UDP allowed→denied',
    ]);
  });

  it('what-if --from --add the suggested fix: exactly the four denied edges newly allowed', async () => {
    const fix = await runCli(['suggest', '--cluster', CLUSTER, '--from', '-7d'], env);
    expect(fix.code).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'stored-what-if-'));
    dirs.push(dir);
    const file = join(dir, 'fix.yaml');
    writeFileSync(file, fix.stdout);
    const r = await runCli(
      ['what-if', '--cluster', CLUSTER, '--add', file, '--from', '-7d', '--to', 'now', '--format', 'json'],
      env,
    );
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { summary: unknown; items: Item[] };
    expect(out.summary).toEqual({ edges: 7, newlyDenied: 0, newlyAllowed: 4, unchanged: 3, uncertain: 0 });
    expect(changed(out.items)).toEqual([
      'monitoring/prometheus>shop/cart:9090/TCP denied→allowed',
      'shop/cart>db/postgres:5432/TCP denied→allowed',
      'shop/frontend>shop/payments:8443/TCP denied→allowed',
      'shop/payments>52.1.2.3:443/TCP denied→allowed',
    ]);
  });

  it('--namespace narrows the stored edges; a window before the import holds none', async () => {
    // allow-dns isolates shop's egress too: cart → postgres opens only with both gone.
    const db1 = await runCli(
      [
        ...['what-if', '--cluster', CLUSTER, '--remove', 'shop/default-deny', '--remove', 'shop/allow-dns'],
        ...['--from', '-7d', '--namespace', 'db'],
      ],
      env,
    );
    expect(db1.code).toBe(0);
    expect(db1.stdout.split('\n')[0]).toMatch(
      /: 1 edge\(s\) observed; 0 newly denied, 1 newly allowed, 0 unchanged, 0 uncertain$/,
    );
    const old = await runCli(
      [
        'what-if',
        '--cluster',
        CLUSTER,
        '--remove',
        'shop/allow-dns',
        '--from',
        '-30d',
        '--to',
        '-8d',
        '--format',
        'json',
      ],
      env,
    );
    expect(old.code).toBe(0);
    expect((JSON.parse(old.stdout) as { summary: { edges: number } }).summary.edges).toBe(0);
  });

  it('bad times are usage errors naming the option (status 2), before the database is opened', async () => {
    const bad = await runCli(['suggest', '--cluster', CLUSTER, '--from', 'yesterday'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^dropscope: --from: "yesterday" is not an RFC 3339 time/);
    const order = await runCli(
      ['what-if', '--cluster', CLUSTER, '--remove', 'shop/allow-dns', '--from', '-1d', '--to', '-2d'],
      env,
    );
    expect(order.code).toBe(2);
    expect(order.stderr).toBe('dropscope: --from must not be later than --to\n');
    const both = await runCli(
      ['suggest', '--cluster', CLUSTER, '--from', '-7d', '--flows', HUBBLE, '--source', 'hubble'],
      env,
    );
    expect(both.code).toBe(2);
    expect(both.stderr).toBe('dropscope: give either --flows FILE (a flow file) or --from (stored edges), not both\n');
  });
});
