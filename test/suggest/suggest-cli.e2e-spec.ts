import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { assertBuilt, runCli } from '../support/cli.js';
import { schemaErrors } from './policy-schemas.js';

const CLUSTER = 'examples/cluster';
const HUBBLE = 'examples/flows/hubble-observe.jsonl';

describe('dropscope suggest', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  beforeAll(() => assertBuilt());

  it('fix: the example cluster gets the allow rules for the four dropped edges, verified', async () => {
    const r = await runCli(['suggest', '--cluster', CLUSTER, '--flows', HUBBLE, '--source', 'hubble']);
    expect(r.stderr).toContain('# shop: admits 4/4 claimed edges; over-permission: 0 pod pair(s)');
    expect(r.code).toBe(0);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as { metadata: { name: string; namespace: string } });
    expect(docs.map((d) => `${d.metadata.namespace}/${d.metadata.name}`)).toEqual([
      'shop/dropscope-allow-cart',
      'shop/dropscope-allow-frontend',
      'shop/dropscope-allow-payments',
    ]);
    for (const d of docs) expect(schemaErrors(d)).toEqual([]);
    expect(r.stdout).toContain('# api.stripe.com\n        - ipBlock:\n            cidr: 52.1.2.3/32');
  });

  it('baseline: a namespace without policies keeps its observed traffic, DNS included', async () => {
    const r = await runCli([
      'suggest',
      '--cluster',
      `${CLUSTER}/namespaces.yaml`,
      '--cluster',
      `${CLUSTER}/pods.yaml`,
      '--flows',
      HUBBLE,
      '--source',
      'hubble',
      '--mode',
      'baseline',
      '--namespace',
      'shop',
      '--format',
      'calico',
    ]);
    expect(r.code).toBe(0);
    const names = parseAllDocuments(r.stdout).map((d) => (d.toJS() as { metadata: { name: string } }).metadata.name);
    expect(names).toEqual([
      'dropscope-default-deny',
      'dropscope-allow-dns',
      'dropscope-allow-cart',
      'dropscope-allow-frontend',
    ]);
    expect(r.stderr).toContain('# shop: admits 3/3 claimed edges');
  });

  it('records: reads FlowRecord JSON lines as `dropscope normalize` prints them', async () => {
    const norm = await runCli(['normalize', '--source', 'hubble', HUBBLE]);
    const dir = mkdtempSync(join(tmpdir(), 'suggest-'));
    dirs.push(dir);
    const file = join(dir, 'records.jsonl');
    writeFileSync(file, norm.stdout);
    const r = await runCli([
      'suggest',
      '--cluster',
      CLUSTER,
      '--flows',
      file,
      '--source',
      'records',
      '--format',
      'cilium',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('matchName: api.stripe.com');
    expect(r.stderr).toContain('not verified: toFQDNs');
  });

  it.each([
    [['--format', 'yaml'], /--format must be one of k8s\|cilium\|calico, got "yaml"/],
    [['--mode', 'lockdown'], /--mode must be one of fix\|baseline, got "lockdown"/],
    [['--source', 'calico'], /holds no calico flows \(is --source calico right\?\)/],
    [['--source', 'records'], /holds no FlowRecord JSON lines \(is --source records right\?\)/],
    [
      ['--namespace', 'billing'],
      /namespace billing is not in the cluster manifests \(known: db, kube-system, monitoring, shop\)/,
    ],
  ])('bad input %j: a clear error and status 2', async (extra, message) => {
    const args = ['suggest', '--cluster', CLUSTER, '--flows', HUBBLE, '--source', 'hubble', ...extra];
    const r = await runCli(args);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
  });

  it('neither --flows nor --from: a usage error naming both (status 2)', async () => {
    const r = await runCli(['suggest', '--cluster', CLUSTER]);
    expect(r.stderr).toBe('dropscope: either --flows FILE --source hubble|calico|records or --from TIME is required\n');
    expect(r.code).toBe(2);
  });
});
