/**
 * The Kubernetes API watch against a real HTTPS server acting as the API server
 * (fake-kube-apiserver.ts): paging, watch events into the evaluator's verdicts, 410 re-lists,
 * reconnects, absent CRDs, token handling; the combined file + API source; the config variables.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import type { Logger } from '../../src/common/logger.js';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { CombinedInventorySource, KubernetesWatch } from '../../src/policy/kubernetes-watch.js';
import { NetworkPolicyEvaluator, type PolicyDecision } from '../../src/policy/network-policy.evaluator.js';
import type { PolicyInventory } from '../../src/policy/policy-inventory.js';
import { makeTestCerts, type TestCerts } from '../support/test-certs.js';
import { FakeKubeApiServer, OPTIONAL_PATHS, PATHS, type KubeObject } from './fake-kube-apiserver.js';

interface LogLine {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

function collectingLogger(lines: LogLine[], bindings: Record<string, unknown> = {}): Logger {
  const at =
    (level: string) =>
    (msg: string, fields: Record<string, unknown> = {}): void => {
      lines.push({ level, msg, fields: { ...bindings, ...fields } });
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (b) => collectingLogger(lines, { ...bindings, ...b }),
  };
}

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const ns = (name: string): KubeObject => ({ metadata: { name, labels: { ns: name } } });
const pod = (namespace: string, name: string, ip: string, labels: Record<string, string> = {}): KubeObject => ({
  metadata: { name, namespace, labels: { pod: name, ...labels } },
  spec: { containers: [{ name: 'c', ports: [{ containerPort: 80, name: 'http' }] }] },
  status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
});
const np = (namespace: string, name: string, spec: Record<string, unknown>): KubeObject => ({
  metadata: { name, namespace },
  spec,
});

function probe(inv: PolicyInventory, from: string, to: string, port = 80): PolicyDecision {
  const ev = new NetworkPolicyEvaluator(inv);
  const ep = (ref: string) => {
    const [n, p] = ref.split('/');
    const o = inv.pod(n, p);
    if (!o) throw new Error(`no pod ${ref}`);
    return ev.endpointForPod(o);
  };
  return ev.evaluate({ src: ep(from), dst: ep(to), port, protocol: 'TCP' });
}

const isolatedBy = (d: PolicyDecision): string[] => d.ingress.isolatedBy.map((r) => `${r.namespace}/${r.name}`);

let certs: TestCerts;
beforeAll(() => {
  certs = makeTestCerts(['kubernetes.test']);
});
afterAll(() => {
  certs?.remove();
});

describe('KubernetesWatch against a fake API server (HTTPS)', () => {
  const TOKEN = 'sa-token-0123456789abcdef';
  let server: FakeKubeApiServer;
  let url: string;
  let dir: string;
  let tokenFile: string;
  let logs: LogLine[];
  let registry: Registry;
  let watch: KubernetesWatch | undefined;

  beforeEach(async () => {
    server = new FakeKubeApiServer({
      tls: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile },
      token: TOKEN,
    });
    for (const n of ['x', 'y']) server.apply(PATHS.namespaces, ns(n));
    server.apply(PATHS.pods, pod('x', 'a', '10.0.0.1'));
    server.apply(PATHS.pods, pod('x', 'b', '10.0.0.2'));
    server.apply(PATHS.pods, pod('x', 'c', '10.0.0.3'));
    server.apply(PATHS.pods, pod('y', 'a', '10.0.1.1'));
    server.apply(PATHS.pods, pod('y', 'b', '10.0.1.2'));
    for (const p of OPTIONAL_PATHS) server.absent.add(p);
    url = await server.listen();
    dir = mkdtempSync(join(tmpdir(), 'dropscope-kube-'));
    tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`);
    logs = [];
    registry = new Registry();
  });

  afterEach(async () => {
    await watch?.stop();
    watch = undefined;
    await server.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function start(extra: Partial<ConstructorParameters<typeof KubernetesWatch>[0]> = {}): KubernetesWatch {
    watch = new KubernetesWatch({
      apiUrl: url,
      tokenFile,
      caFile: certs.caFile,
      logger: collectingLogger(logs),
      registry,
      pageSize: 2,
      snapshotIntervalMs: 0,
      backoffInitialMs: 20,
      backoffMaxMs: 200,
      watchTimeoutSeconds: 30,
      ...extra,
    });
    watch.start();
    return watch;
  }

  async function metric(name: string, labels: string): Promise<number> {
    const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
    return line ? Number(line.split(' ').pop()) : 0;
  }

  it('lists every resource with paging, watches from the list version, and skips absent CRDs quietly', async () => {
    const w = start();
    expect(await w.waitUntilReady(5000)).toBe(true);
    const inv = w.current();
    expect([...inv.namespaces.keys()].sort()).toEqual(['x', 'y']);
    expect(inv.pods.map((p) => `${p.namespace}/${p.name}`).sort()).toEqual(['x/a', 'x/b', 'x/c', 'y/a', 'y/b']);
    expect(inv.podByIp('10.0.1.2')?.name).toBe('b');
    expect(inv.pod('x', 'a')?.ports).toEqual([{ name: 'http', port: 80, protocol: 'TCP' }]);
    expect(inv.pod('x', 'a')?.origin).toEqual({ via: 'kubernetes-api' });

    const podLists = server.requestsFor(PATHS.pods, false);
    expect(podLists.map((r) => r.query.continue ?? '')).toEqual(['', '2', '4']);
    expect(podLists.every((r) => r.query.limit === '2')).toBe(true);
    expect(podLists[0].query.fieldSelector).toBe('status.phase!=Succeeded,status.phase!=Failed');

    await until('pod watch', () => server.watchCount(PATHS.pods) === 1);
    const [podWatch] = server.requestsFor(PATHS.pods, true);
    expect(podWatch.query).toMatchObject({ allowWatchBookmarks: 'true', timeoutSeconds: '30' });
    expect(Number(podWatch.query.resourceVersion)).toBeGreaterThan(100);
    // Absent CRDs are listed once, never watched, and said once at info level: 2 Cilium and 2 Calico
    // policy kinds, Calico tiers, 3 staged kinds, 2 network set kinds, and the 3 network-policy-api kinds.
    for (const p of OPTIONAL_PATHS) {
      expect(server.requestsFor(p, true)).toEqual([]);
      expect(server.requestsFor(p, false)).toHaveLength(1);
    }
    const absent = logs.filter((l) => l.msg.includes('CRD absent'));
    expect(absent).toHaveLength(13);
    expect(absent.map((l) => l.fields.resource).sort()).toEqual([
      'adminnetworkpolicies',
      'baselineadminnetworkpolicies',
      'calico-globalnetworkpolicies',
      'calico-globalnetworksets',
      'calico-networkpolicies',
      'calico-networksets',
      'calico-stagedglobalnetworkpolicies',
      'calico-stagedkubernetesnetworkpolicies',
      'calico-stagednetworkpolicies',
      'calico-tiers',
      'ciliumclusterwidenetworkpolicies',
      'ciliumnetworkpolicies',
      'clusternetworkpolicies',
    ]);
    expect(absent.every((l) => l.level === 'info')).toBe(true);
    expect(logs.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
    expect(server.requests.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it('reads Cilium and Calico policies when their APIs are served', async () => {
    server.absent.clear();
    server.apply(PATHS.cnp, {
      metadata: { name: 'cnp', namespace: 'x' },
      spec: { endpointSelector: { matchLabels: { pod: 'a' } }, ingress: [{}] },
    });
    server.apply(PATHS.calicoGnp, {
      metadata: { name: 'security.deny-all' },
      spec: { tier: 'security', selector: 'all()', types: ['Ingress'] },
    });
    const w = start();
    expect(await w.waitUntilReady(5000)).toBe(true);
    expect(
      w
        .current()
        .policies.map((p) => `${p.kind} ${p.name}`)
        .sort(),
    ).toEqual(['CiliumNetworkPolicy cnp', 'GlobalNetworkPolicy deny-all']);
  });

  /** Ingress to x/<pod> from namespace y denied by a network-policy-api policy (v1alpha2 or v1alpha1 form). */
  const denyFromY = (name: string, podName: string, spec: Record<string, unknown> = {}): KubeObject => ({
    metadata: { name },
    spec: {
      ...spec,
      subject: {
        pods: { namespaceSelector: { matchLabels: { ns: 'x' } }, podSelector: { matchLabels: { pod: podName } } },
      },
      ingress: [{ action: 'Deny', from: [{ namespaces: { matchLabels: { ns: 'y' } } }] }],
    },
  });

  it('reads the network-policy-api kinds, Calico tiers, staged policies and network sets, and follows their events', async () => {
    server.absent.clear();
    server.apply(PATHS.clusterNp, denyFromY('deny-y-to-c', 'c', { tier: 'Admin', priority: 5 }));
    server.apply(PATHS.anp, denyFromY('deny-y-to-b', 'b', { priority: 10 }));
    server.apply(PATHS.banp, denyFromY('default', 'a'));
    server.apply(PATHS.calicoTiers, { metadata: { name: 'security' }, spec: { order: 100, defaultAction: 'Pass' } });
    server.apply(PATHS.calicoStagedGnp, {
      metadata: { name: 'security.deny-b' },
      spec: { tier: 'security', order: 1, selector: "pod == 'b'", types: ['Ingress'], ingress: [{ action: 'Deny' }] },
    });
    server.apply(PATHS.calicoStagedNp, {
      metadata: { name: 'default.deny-a', namespace: 'x' },
      spec: { selector: "pod == 'a'", types: ['Ingress'], ingress: [{ action: 'Deny' }] },
    });
    server.apply(PATHS.calicoStagedK8sNp, {
      metadata: { name: 'deny-c', namespace: 'x' },
      spec: { podSelector: { matchLabels: { pod: 'c' } }, policyTypes: ['Ingress'] },
    });
    server.apply(PATHS.calicoNetworkSets, {
      metadata: { name: 'partners', namespace: 'x', labels: { role: 'partner' } },
      spec: { nets: ['198.51.100.0/24'] },
    });
    server.apply(PATHS.calicoGlobalNetworkSets, {
      metadata: { name: 'blocked', labels: { role: 'blocked' } },
      spec: { nets: ['203.0.113.0/24'] },
    });
    const w = start();
    expect(await w.waitUntilReady(5000)).toBe(true);
    const inv = w.current();
    expect(inv.policies.map((p) => `${p.kind} ${p.name}`).sort()).toEqual([
      'AdminNetworkPolicy deny-y-to-b',
      'BaselineAdminNetworkPolicy default',
      'ClusterNetworkPolicy deny-y-to-c',
    ]);
    expect([...inv.tiers.values()].map((t) => [t.name, t.order, t.defaultAction])).toEqual([['security', 100, 'Pass']]);
    expect(inv.staged.map((p) => `${p.kind} ${p.namespace ?? ''}/${p.name}`).sort()).toEqual([
      'StagedGlobalNetworkPolicy /security.deny-b',
      'StagedKubernetesNetworkPolicy x/deny-c',
      'StagedNetworkPolicy x/default.deny-a',
    ]);
    expect(inv.networkSets.map((n) => `${n.kind} ${n.namespace ?? ''}/${n.name} ${n.nets.join(',')}`).sort()).toEqual([
      'GlobalNetworkSet /blocked 203.0.113.0/24',
      'NetworkSet x/partners 198.51.100.0/24',
    ]);
    // Each of the three kinds denies y -> one pod of x; nothing else is denied (staged policies are not enforced).
    expect(['x/a', 'x/b', 'x/c'].map((to) => probe(inv, 'y/a', to).allowed)).toEqual([false, false, false]);
    expect(['x/a', 'x/b', 'x/c'].map((to) => probe(inv, 'x/a', to).allowed)).toEqual([true, true, true]);

    await until('watches', () => server.watchCount(PATHS.anp) === 1 && server.watchCount(PATHS.calicoTiers) === 1);
    server.remove(PATHS.anp, undefined, 'deny-y-to-b');
    await until('ANP DELETED admits y -> x/b', () => probe(w.current(), 'y/a', 'x/b').allowed);
    server.remove(PATHS.calicoTiers, undefined, 'security');
    await until('Tier DELETED', () => w.current().tiers.size === 0);
    server.apply(PATHS.calicoGlobalNetworkSets, {
      metadata: { name: 'blocked', labels: { role: 'blocked' } },
      spec: { nets: ['203.0.113.0/24', '192.0.2.0/24'] },
    });
    await until('GlobalNetworkSet MODIFIED', () =>
      w.current().networkSets.some((n) => n.name === 'blocked' && n.nets.length === 2),
    );
    expect(probe(w.current(), 'y/a', 'x/c').allowed).toBe(false);
    expect(logs.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
  });

  it('finds a CRD installed later on the recheck, and forgets one deleted while watched, quietly', async () => {
    const w = start({ absentRecheckMs: 50 });
    expect(await w.waitUntilReady(5000)).toBe(true);
    const absentLogs = () =>
      logs.filter((l) => l.msg.includes('CRD absent') && l.fields.resource === 'clusternetworkpolicies');
    expect(absentLogs()).toHaveLength(1);

    server.absent.delete(PATHS.clusterNp);
    server.apply(PATHS.clusterNp, denyFromY('deny-y-to-c', 'c', { tier: 'Admin', priority: 5 }));
    await until('installed CRD found', () => !probe(w.current(), 'y/a', 'x/c').allowed);
    expect(logs.filter((l) => l.msg.includes('now served')).map((l) => l.fields.resource)).toEqual([
      'clusternetworkpolicies',
    ]);
    await until('watched', () => server.watchCount(PATHS.clusterNp) === 1);

    server.uninstall(PATHS.clusterNp);
    await until('objects of the deleted CRD forgotten', () => probe(w.current(), 'y/a', 'x/c').allowed);
    await until('said once more', () => absentLogs().length === 2);
    // Rechecked, not retried in a loop: no warnings, and still absent after further rechecks.
    const lists = server.requestsFor(PATHS.clusterNp, false).length;
    await until('rechecked', () => server.requestsFor(PATHS.clusterNp, false).length >= lists + 2);
    expect(absentLogs()).toHaveLength(2);
    expect(logs.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
    expect(w.current().policies).toEqual([]);
  });

  it('applies NetworkPolicy ADDED / MODIFIED / DELETED and pod label changes to the verdicts', async () => {
    const w = start();
    await w.waitUntilReady(5000);
    await until('watches', () => server.watchCount(PATHS.networkpolicies) === 1 && server.watchCount(PATHS.pods) === 1);
    expect(probe(w.current(), 'y/a', 'x/a').allowed).toBe(true);

    server.apply(PATHS.networkpolicies, np('x', 'deny', { podSelector: {}, ingress: [] }));
    await until('ADDED isolates', () => !probe(w.current(), 'y/a', 'x/a').allowed);
    expect(isolatedBy(probe(w.current(), 'y/a', 'x/a'))).toEqual(['x/deny']);

    server.apply(
      PATHS.networkpolicies,
      np('x', 'deny', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] }),
    );
    await until('MODIFIED admits y', () => probe(w.current(), 'y/a', 'x/a').allowed);
    expect(probe(w.current(), 'x/b', 'x/a').allowed).toBe(false);

    // Select by a label x/a does not carry yet; a pod MODIFIED event gives it the label.
    server.apply(PATHS.networkpolicies, np('x', 'deny', { podSelector: { matchLabels: { role: 'db' } }, ingress: [] }));
    await until('policy selects role=db only', () => probe(w.current(), 'x/b', 'x/a').allowed);
    server.apply(PATHS.pods, pod('x', 'a', '10.0.0.1', { role: 'db' }));
    await until('pod label change isolates x/a', () => !probe(w.current(), 'x/b', 'x/a').allowed);
    expect(w.current().pod('x', 'a')?.labels).toEqual({ pod: 'a', role: 'db' });

    server.remove(PATHS.networkpolicies, 'x', 'deny');
    await until('DELETED removes isolation', () => probe(w.current(), 'x/b', 'x/a').allowed);
    expect(w.current().policies).toEqual([]);

    server.remove(PATHS.pods, 'x', 'c');
    await until('pod DELETED', () => w.current().pod('x', 'c') === undefined);
    expect(w.current().podByIp('10.0.0.3')).toBeUndefined();
    expect(await metric('dropscope_kubernetes_watch_events_total', 'kind="networkpolicies",type="MODIFIED"')).toBe(2);
    expect(await metric('dropscope_kubernetes_watch_events_total', 'kind="pods",type="DELETED"')).toBe(1);
  });

  it('re-lists on an ERROR 410 event and replaces the kind: objects missing from the relist are gone', async () => {
    const w = start();
    await w.waitUntilReady(5000);
    await until('pod watch', () => server.watchCount(PATHS.pods) === 1);
    const listsBefore = server.requestsFor(PATHS.pods, false).length;
    // Changes the watch never hears about, then history is compacted.
    server.silently(PATHS.pods, { remove: { namespace: 'x', name: 'b' }, apply: pod('x', 'd', '10.0.0.4') });
    server.expire(PATHS.pods);
    await until('relist', () => w.current().pod('x', 'd') !== undefined);
    const inv = w.current();
    expect(inv.pod('x', 'b')).toBeUndefined();
    expect(inv.pods).toHaveLength(5);
    expect(server.requestsFor(PATHS.pods, false).length).toBe(listsBefore + 3);
    expect(await metric('dropscope_kubernetes_watch_restarts_total', 'kind="pods",reason="expired"')).toBe(1);
    // Namespaces were not touched by the pods' relist.
    expect(inv.namespaces.size).toBe(2);
    await until('watch again', () => server.watchCount(PATHS.pods) === 1);
    server.apply(PATHS.pods, pod('y', 'c', '10.0.1.3'));
    await until('events after the relist', () => w.current().pod('y', 'c') !== undefined);
  });

  it('re-lists when the WATCH request itself answers HTTP 410', async () => {
    const w = start();
    await w.waitUntilReady(5000);
    await until('np watch', () => server.watchCount(PATHS.networkpolicies) === 1);
    server.silently(PATHS.networkpolicies, { apply: np('x', 'missed', { podSelector: {}, ingress: [] }) });
    server.watchGoneOnce.add(PATHS.networkpolicies);
    server.dropConnections();
    await until('relisted policy', () => w.current().policies.length === 1);
    expect(server.watchGoneOnce.size).toBe(0); // the WATCH did get its 410
    expect(
      await metric('dropscope_kubernetes_watch_restarts_total', 'kind="networkpolicies",reason="expired"'),
    ).toBeGreaterThanOrEqual(1);
  });

  it('reconnects after dropped connections and resumes from the last resourceVersion', async () => {
    const w = start();
    await w.waitUntilReady(5000);
    await until('watches', () => server.watchCount(PATHS.pods) === 1 && server.watchCount(PATHS.namespaces) === 1);
    server.bookmark(PATHS.pods);
    server.apply(PATHS.pods, pod('y', 'c', '10.0.1.3'));
    await until('event', () => w.current().pod('y', 'c') !== undefined);
    const listsBefore = server.requestsFor(PATHS.pods, false).length;
    const watchesBefore = server.requestsFor(PATHS.pods, true).length;

    server.dropConnections();
    server.apply(PATHS.pods, pod('y', 'd', '10.0.1.4')); // while disconnected: replayed from history
    await until('replayed event', () => w.current().pod('y', 'd') !== undefined);
    await until('watching again', () => server.watchCount(PATHS.pods) === 1);
    const rewatch = server.requestsFor(PATHS.pods, true)[watchesBefore];
    const lastSeen = server.requestsFor(PATHS.pods, true)[watchesBefore - 1];
    expect(Number(rewatch.query.resourceVersion)).toBeGreaterThan(Number(lastSeen.query.resourceVersion));
    expect(server.requestsFor(PATHS.pods, false).length).toBe(listsBefore); // no relist needed
    expect(
      (await metric('dropscope_kubernetes_watch_restarts_total', 'kind="pods",reason="error"')) +
        (await metric('dropscope_kubernetes_watch_restarts_total', 'kind="pods",reason="closed"')),
    ).toBeGreaterThanOrEqual(1);
  });

  it('re-reads a rotated token file after a 401 and never logs the token', async () => {
    const w = start({ tokenRefreshMs: 3_600_000 });
    await w.waitUntilReady(5000);
    const NEW = 'rotated-token-fedcba9876543210';
    server.token = NEW;
    writeFileSync(tokenFile, NEW);
    server.dropConnections();
    server.apply(PATHS.pods, pod('y', 'c', '10.0.1.3'));
    await until('event after rotation', () => w.current().pod('y', 'c') !== undefined);
    const statuses = server.requests.map((r) => r.authorization);
    expect(statuses).toContain(`Bearer ${TOKEN}`);
    expect(statuses[statuses.length - 1]).toBe(`Bearer ${NEW}`);
    expect(logs.some((l) => l.level === 'warn' && String(l.fields.error).includes('HTTP 401'))).toBe(true);
    const text = JSON.stringify(logs);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(NEW);
  });

  it('logs an invalid object once per version, leaves it out, and keeps watching', async () => {
    const bad = np('x', 'bad', {
      podSelector: { matchExpressions: [{ key: 'a', operator: 'Equals', values: ['b'] }] },
      ingress: [],
    });
    server.apply(PATHS.networkpolicies, bad);
    const w = start();
    await w.waitUntilReady(5000);
    expect(w.current().policies).toEqual([]);
    const invalid = () => logs.filter((l) => l.level === 'warn' && l.msg.includes('invalid NetworkPolicy x/bad'));
    expect(invalid()).toHaveLength(1);
    expect(String(invalid()[0].fields.errors)).toContain('operator');

    // A relist of the same version does not log again.
    await until('np watch', () => server.watchCount(PATHS.networkpolicies) === 1);
    server.expire(PATHS.networkpolicies);
    await until('relist', () => server.requestsFor(PATHS.networkpolicies, false).length === 2);
    await until('watch again', () => server.watchCount(PATHS.networkpolicies) === 1);
    expect(invalid()).toHaveLength(1);

    // Fixed: in; broken again: out (and logged for that version).
    server.apply(PATHS.networkpolicies, np('x', 'bad', { podSelector: {}, ingress: [] }));
    await until('fixed policy', () => w.current().policies.length === 1);
    server.apply(PATHS.networkpolicies, bad);
    await until('broken again', () => w.current().policies.length === 0);
    expect(invalid()).toHaveLength(2);
    expect(w.isReady).toBe(true);
  });

  it('stop() aborts open watches; ready resolves on stop even when the API never answered', async () => {
    const w = start();
    await w.waitUntilReady(5000);
    await until('watches', () => server.watchCount(PATHS.pods) === 1);
    await w.stop();
    await until(
      'watches closed',
      () => server.watchCount(PATHS.pods) === 0 && server.watchCount(PATHS.namespaces) === 0,
    );
    watch = undefined;

    server.token = 'something-else-entirely';
    const denied = start();
    expect(await denied.waitUntilReady(300)).toBe(false);
    expect(denied.current().isEmpty).toBe(true);
    await denied.stop();
    await denied.ready;
    expect(denied.isReady).toBe(false);
    expect(JSON.stringify(logs)).not.toContain(TOKEN);
  });
});

describe('CombinedInventorySource: POLICY_MANIFESTS files plus the API watch', () => {
  let server: FakeKubeApiServer;
  let source: CombinedInventorySource | undefined;
  const dirs: string[] = [];
  afterEach(async () => {
    source?.stop();
    source = undefined;
    await server.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('merges both, the API winning on the same object; a file reload keeps the API objects', async () => {
    server = new FakeKubeApiServer();
    for (const p of [PATHS.cnp, PATHS.ccnp, PATHS.calicoNp, PATHS.calicoGnp]) server.absent.add(p);
    server.apply(PATHS.namespaces, { metadata: { name: 'x', labels: { from: 'api' } } });
    server.apply(PATHS.pods, pod('x', 'a', '10.0.0.1'));
    const url = await server.listen();
    const dir = mkdtempSync(join(tmpdir(), 'dropscope-kube-files-'));
    dirs.push(dir);
    const file = join(dir, 'cluster.yaml');
    writeFileSync(
      file,
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: x, labels: {from: file}}\n---\n' +
        'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: from-file, namespace: x}\nspec: {podSelector: {}, ingress: []}\n',
    );
    source = new CombinedInventorySource({
      paths: [dir],
      pollIntervalMs: 0,
      kubernetes: { apiUrl: url, snapshotIntervalMs: 0 },
      readyTimeoutMs: 5000,
    });
    const inv = await source.start();
    expect(source.watch.isReady).toBe(true);
    expect(inv.namespaces.get('x')?.labels.from).toBe('api');
    expect(inv.policies.map((p) => p.name)).toEqual(['from-file']);
    expect(isolatedBy(probe(inv, 'x/a', 'x/a'))).toEqual(['x/from-file']);
    expect(source.current()).toBe(source.current());

    writeFileSync(file, 'apiVersion: v1\nkind: Namespace\nmetadata: {name: z}\n');
    await source.reload();
    const after = source.current();
    expect([...after.namespaces.keys()].sort()).toEqual(['x', 'z']);
    expect(after.policies).toEqual([]);
    expect(after.pod('x', 'a')).toBeDefined();
    expect(after.generation).toBeGreaterThan(inv.generation);
  });
});

describe('config: POLICY_KUBERNETES and the KUBERNETES_* variables', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dropscope-kube-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const token = join(dir, 'token');
  const ca = join(dir, 'ca.crt');
  writeFileSync(token, 'x');
  writeFileSync(ca, 'x');
  const files = { KUBERNETES_TOKEN_FILE: token, KUBERNETES_CA_FILE: ca };

  function configError(env: Record<string, string>): ConfigError {
    try {
      loadConfig(env);
    } catch (e) {
      if (e instanceof ConfigError) return e;
      throw e;
    }
    throw new Error('expected a ConfigError');
  }

  it('is off by default', () => {
    expect(loadConfig({}).policyKubernetes).toBeUndefined();
  });

  it('builds the in-cluster URL from KUBERNETES_SERVICE_HOST/PORT, or takes KUBERNETES_API_URL', () => {
    expect(
      loadConfig({
        POLICY_KUBERNETES: 'true',
        KUBERNETES_SERVICE_HOST: '10.96.0.1',
        KUBERNETES_SERVICE_PORT: '6443',
        ...files,
      }).policyKubernetes,
    ).toEqual({
      apiUrl: 'https://10.96.0.1:6443',
      tokenFile: token,
      caFile: ca,
      readyTimeoutMs: 30_000,
      snapshotIntervalMs: 1000,
    });
    expect(
      loadConfig({ POLICY_KUBERNETES: 'true', KUBERNETES_SERVICE_HOST: 'fd00::1', ...files }).policyKubernetes?.apiUrl,
    ).toBe('https://[fd00::1]:443');
    expect(
      loadConfig({
        POLICY_KUBERNETES: 'true',
        KUBERNETES_SERVICE_HOST: '10.96.0.1',
        KUBERNETES_API_URL: 'http://127.0.0.1:8001',
        POLICY_KUBERNETES_READY_TIMEOUT: '2m',
        POLICY_KUBERNETES_SNAPSHOT_INTERVAL: '250ms',
        ...files,
      }).policyKubernetes,
    ).toMatchObject({ apiUrl: 'http://127.0.0.1:8001', readyTimeoutMs: 120_000, snapshotIntervalMs: 250 });
  });

  it('names the variable in errors', () => {
    expect(configError({ POLICY_KUBERNETES: 'maybe' }).variable).toBe('POLICY_KUBERNETES');
    expect(configError({ POLICY_KUBERNETES: 'true', ...files }).variable).toBe('KUBERNETES_API_URL');
    expect(configError({ POLICY_KUBERNETES: 'true', KUBERNETES_API_URL: 'kubernetes:443' }).variable).toBe(
      'KUBERNETES_API_URL',
    );
    expect(
      configError({ POLICY_KUBERNETES: 'true', KUBERNETES_SERVICE_HOST: 'k', KUBERNETES_SERVICE_PORT: '0' }).variable,
    ).toBe('KUBERNETES_SERVICE_PORT');
    expect(
      configError({
        POLICY_KUBERNETES: 'true',
        KUBERNETES_API_URL: 'https://k',
        KUBERNETES_TOKEN_FILE: join(dir, 'nope'),
      }).variable,
    ).toBe('KUBERNETES_TOKEN_FILE');
    expect(
      configError({ POLICY_KUBERNETES: 'true', KUBERNETES_API_URL: 'https://k', KUBERNETES_CA_FILE: join(dir, 'nope') })
        .variable,
    ).toBe('KUBERNETES_CA_FILE');
    expect(
      configError({
        POLICY_KUBERNETES: 'true',
        KUBERNETES_API_URL: 'https://k',
        POLICY_KUBERNETES_READY_TIMEOUT: 'soon',
      }).variable,
    ).toBe('POLICY_KUBERNETES_READY_TIMEOUT');
    expect(
      configError({
        POLICY_KUBERNETES: 'true',
        KUBERNETES_API_URL: 'https://k',
        POLICY_KUBERNETES_SNAPSHOT_INTERVAL: 'often',
      }).variable,
    ).toBe('POLICY_KUBERNETES_SNAPSHOT_INTERVAL');
  });
});
