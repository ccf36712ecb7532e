/**
 * `dropscope what-if` through the built binary on the example cluster and its Hubble flows
 * (examples/): shop has default-deny, allow-dns (egress to kube-system DNS), frontend-egress (to
 * cart) and allow-frontend-to-cart; four edges were observed dropped.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertBuilt, runCli } from '../support/cli.js';

const CLUSTER = 'examples/cluster';
const HUBBLE = 'examples/flows/hubble-observe.jsonl';
const FLOWS = ['--cluster', CLUSTER, '--flows', HUBBLE, '--source', 'hubble'];

interface Item {
  src: { namespace?: string; workload?: string };
  dst: { namespace?: string; workload?: string; ip?: string };
  dstPort: number;
  before: string;
  after: string;
  deniedBy: string[];
}

const edgeText = (i: Item): string =>
  `${i.src.namespace}/${i.src.workload}>${i.dst.ip ?? `${i.dst.namespace}/${i.dst.workload}`}:${i.dstPort}`;

describe('dropscope what-if', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  beforeAll(() => assertBuilt());

  it('removing shop default-deny and allow-dns opens the cart → postgres and payments → 52.1.2.3 drops only', async () => {
    const r = await runCli([
      'what-if',
      ...FLOWS,
      '--remove',
      'shop/default-deny',
      '--remove',
      'shop/allow-dns',
      '--format',
      'json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { summary: unknown; items: Item[] };
    // frontend stays isolated by frontend-egress, cart's ingress by allow-frontend-to-cart.
    expect(out.summary).toEqual({ edges: 7, newlyDenied: 0, newlyAllowed: 2, unchanged: 5, uncertain: 0 });
    expect(out.items.slice(0, 2).map((i) => [edgeText(i), i.before, i.after])).toEqual([
      ['shop/cart>db/postgres:5432', 'denied', 'allowed'],
      ['shop/payments>52.1.2.3:443', 'denied', 'allowed'],
    ]);
  });

  it('table: a default-deny in kube-system breaks DNS from cart and payments', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'what-if-'));
    dirs.push(dir);
    const file = join(dir, 'kube-system-deny.yaml');
    writeFileSync(
      file,
      'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: default-deny, namespace: kube-system}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n',
    );
    const r = await runCli(['what-if', ...FLOWS, '--add', file]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/: 7 edge\(s\) observed; 2 newly denied, 0 newly allowed, 5 unchanged, 0 uncertain$/);
    expect(lines[1]).toBe('Proposal: + NetworkPolicy kube-system/default-deny');
    expect(lines.filter((l) => l.startsWith('newly denied')).map((l) => l.split(/\s{2,}/).slice(1, 4))).toEqual([
      ['shop/cart', 'kube-system/coredns', 'UDP/53'],
      ['shop/payments', 'kube-system/coredns', 'UDP/53'],
    ]);
  });

  it('a bad --to is a usage error naming the option (status 2)', async () => {
    const r = await runCli(['what-if', '--cluster', CLUSTER, '--remove', 'shop/default-deny', '--to', 'tomorrow']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^dropscope: --to: "tomorrow" is not an RFC 3339 time/);
  });

  it('usage errors exit 2: nothing proposed, a removal naming no policy', async () => {
    const none = await runCli(['what-if', ...FLOWS]);
    expect(none.code).toBe(2);
    expect(none.stderr).toBe('dropscope: nothing proposed: give --add FILE, --remove NS/NAME or --staged\n');
    const bad = await runCli(['what-if', ...FLOWS, '--remove', 'shop/nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('dropscope: remove shop/nope: no policy of that namespace and name\n');
  });
});
