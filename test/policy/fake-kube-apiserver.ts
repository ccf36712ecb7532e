/**
 * A fake Kubernetes API server over real HTTP(S): collections keyed by path, LIST with
 * `limit`/`continue` paging (items without apiVersion/kind, as the API server sends them), WATCH
 * streaming newline-delimited JSON events from a resourceVersion, `410 Gone` for versions older
 * than the last compaction (as an ERROR event or an HTTP status), bearer-token checks, absent
 * collections (404) and connection drops.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> };
  [k: string]: unknown;
}

interface Collection {
  apiVersion: string;
  kind: string;
  items: Map<string, KubeObject>;
  /** Events with their resourceVersion, for watches that start in the past. */
  log: Array<{ rv: number; line: string }>;
  /** Watches from versions below this get 410. */
  compactedRv: number;
  watches: Set<http.ServerResponse>;
}

export interface RecordedRequest {
  path: string;
  query: Record<string, string>;
  authorization?: string;
  watch: boolean;
}

export interface FakeKubeApiServerOptions {
  /** PEM files for HTTPS; plain HTTP when absent. */
  tls?: { certFile: string; keyFile: string };
  /** The bearer token every request must carry; undefined: no check. */
  token?: string;
}

const COLLECTIONS: Record<string, { apiVersion: string; kind: string }> = {
  '/api/v1/namespaces': { apiVersion: 'v1', kind: 'Namespace' },
  '/api/v1/pods': { apiVersion: 'v1', kind: 'Pod' },
  '/apis/networking.k8s.io/v1/networkpolicies': { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
  '/apis/cilium.io/v2/ciliumnetworkpolicies': { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy' },
  '/apis/cilium.io/v2/ciliumclusterwidenetworkpolicies': {
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumClusterwideNetworkPolicy',
  },
  '/apis/projectcalico.org/v3/networkpolicies': { apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy' },
  '/apis/projectcalico.org/v3/globalnetworkpolicies': {
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
  },
  '/apis/projectcalico.org/v3/tiers': { apiVersion: 'projectcalico.org/v3', kind: 'Tier' },
  '/apis/projectcalico.org/v3/stagednetworkpolicies': {
    apiVersion: 'projectcalico.org/v3',
    kind: 'StagedNetworkPolicy',
  },
  '/apis/projectcalico.org/v3/stagedglobalnetworkpolicies': {
    apiVersion: 'projectcalico.org/v3',
    kind: 'StagedGlobalNetworkPolicy',
  },
  '/apis/projectcalico.org/v3/stagedkubernetesnetworkpolicies': {
    apiVersion: 'projectcalico.org/v3',
    kind: 'StagedKubernetesNetworkPolicy',
  },
  '/apis/projectcalico.org/v3/networksets': { apiVersion: 'projectcalico.org/v3', kind: 'NetworkSet' },
  '/apis/projectcalico.org/v3/globalnetworksets': { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkSet' },
  '/apis/policy.networking.k8s.io/v1alpha2/clusternetworkpolicies': {
    apiVersion: 'policy.networking.k8s.io/v1alpha2',
    kind: 'ClusterNetworkPolicy',
  },
  '/apis/policy.networking.k8s.io/v1alpha1/adminnetworkpolicies': {
    apiVersion: 'policy.networking.k8s.io/v1alpha1',
    kind: 'AdminNetworkPolicy',
  },
  '/apis/policy.networking.k8s.io/v1alpha1/baselineadminnetworkpolicies': {
    apiVersion: 'policy.networking.k8s.io/v1alpha1',
    kind: 'BaselineAdminNetworkPolicy',
  },
};

export const PATHS = {
  namespaces: '/api/v1/namespaces',
  pods: '/api/v1/pods',
  networkpolicies: '/apis/networking.k8s.io/v1/networkpolicies',
  cnp: '/apis/cilium.io/v2/ciliumnetworkpolicies',
  ccnp: '/apis/cilium.io/v2/ciliumclusterwidenetworkpolicies',
  calicoNp: '/apis/projectcalico.org/v3/networkpolicies',
  calicoGnp: '/apis/projectcalico.org/v3/globalnetworkpolicies',
  calicoTiers: '/apis/projectcalico.org/v3/tiers',
  calicoStagedNp: '/apis/projectcalico.org/v3/stagednetworkpolicies',
  calicoStagedGnp: '/apis/projectcalico.org/v3/stagedglobalnetworkpolicies',
  calicoStagedK8sNp: '/apis/projectcalico.org/v3/stagedkubernetesnetworkpolicies',
  calicoNetworkSets: '/apis/projectcalico.org/v3/networksets',
  calicoGlobalNetworkSets: '/apis/projectcalico.org/v3/globalnetworksets',
  clusterNp: '/apis/policy.networking.k8s.io/v1alpha2/clusternetworkpolicies',
  anp: '/apis/policy.networking.k8s.io/v1alpha1/adminnetworkpolicies',
  banp: '/apis/policy.networking.k8s.io/v1alpha1/baselineadminnetworkpolicies',
} as const;

/** The collections a cluster without Cilium, Calico or network-policy-api CRDs does not serve. */
export const OPTIONAL_PATHS: readonly string[] = Object.values(PATHS).filter(
  (p) => p !== PATHS.namespaces && p !== PATHS.pods && p !== PATHS.networkpolicies,
);

function idOf(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

export class FakeKubeApiServer {
  readonly requests: RecordedRequest[] = [];
  /** Collections answered with 404 (CRD not installed). */
  readonly absent = new Set<string>();
  /** When set, the next WATCH of that path is answered with HTTP 410 instead of a stream. */
  readonly watchGoneOnce = new Set<string>();
  token: string | undefined;
  private rv = 100;
  private readonly collections = new Map<string, Collection>();
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly tls: boolean;

  constructor(options: FakeKubeApiServerOptions = {}) {
    this.token = options.token;
    this.tls = options.tls !== undefined;
    for (const [path, c] of Object.entries(COLLECTIONS))
      this.collections.set(path, { ...c, items: new Map(), log: [], compactedRv: 0, watches: new Set() });
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => this.handle(req, res);
    this.server = options.tls
      ? https.createServer(
          { cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) },
          handler,
        )
      : http.createServer(handler);
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('secureConnection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const { port } = this.server.address() as AddressInfo;
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Open WATCH streams of a collection. */
  watchCount(path: string): number {
    return this.col(path).watches.size;
  }

  requestsFor(path: string, watch?: boolean): RecordedRequest[] {
    return this.requests.filter((r) => r.path === path && (watch === undefined || r.watch === watch));
  }

  // ---- state changes ----

  /** Create or replace an object and emit ADDED / MODIFIED. */
  apply(path: string, obj: KubeObject): void {
    const c = this.col(path);
    const stored = this.stamp(c, obj);
    const type = c.items.has(idOf(stored)) ? 'MODIFIED' : 'ADDED';
    c.items.set(idOf(stored), stored);
    this.emit(c, type, stored);
  }

  /** Delete an object and emit DELETED. */
  remove(path: string, namespace: string | undefined, name: string): void {
    const c = this.col(path);
    const id = `${namespace ?? ''}/${name}`;
    const o = c.items.get(id);
    if (!o) return;
    c.items.delete(id);
    this.emit(c, 'DELETED', this.stamp(c, o));
  }

  /** Change an object or delete it without any event (what a watch misses while expired). */
  silently(path: string, change: { apply?: KubeObject; remove?: { namespace?: string; name: string } }): void {
    const c = this.col(path);
    if (change.apply) {
      const stored = this.stamp(c, change.apply);
      c.items.set(idOf(stored), stored);
    }
    if (change.remove) c.items.delete(`${change.remove.namespace ?? ''}/${change.remove.name}`);
  }

  /** Compact history: watches from older versions get 410; open watches get an ERROR 410 event. */
  expire(path: string): void {
    const c = this.col(path);
    c.compactedRv = ++this.rv;
    c.log = [];
    const status = { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired' };
    for (const w of c.watches) {
      w.write(`${JSON.stringify({ type: 'ERROR', object: { ...status, message: 'too old resource version' } })}\n`);
      w.end();
    }
    c.watches.clear();
  }

  /** The CRD is deleted: the collection answers 404 from now on and its open watches end. */
  uninstall(path: string): void {
    const c = this.col(path);
    this.absent.add(path);
    c.items.clear();
    c.log = [];
    for (const w of c.watches) w.end();
    c.watches.clear();
  }

  /** Send a BOOKMARK to open watches of a collection. */
  bookmark(path: string): void {
    const c = this.col(path);
    const rv = String(++this.rv);
    for (const w of c.watches)
      w.write(
        `${JSON.stringify({ type: 'BOOKMARK', object: { apiVersion: c.apiVersion, kind: c.kind, metadata: { resourceVersion: rv } } })}\n`,
      );
  }

  /** Cut every connection (both LIST and WATCH) without a clean end. */
  dropConnections(): void {
    for (const c of this.collections.values()) c.watches.clear();
    for (const s of this.sockets) s.destroy();
  }

  // ---- internals ----

  private col(path: string): Collection {
    const c = this.collections.get(path);
    if (!c) throw new Error(`unknown collection ${path}`);
    return c;
  }

  private stamp(c: Collection, obj: KubeObject): KubeObject {
    return {
      ...obj,
      apiVersion: c.apiVersion,
      kind: c.kind,
      metadata: { ...obj.metadata, resourceVersion: String(++this.rv) },
    };
  }

  private emit(c: Collection, type: string, obj: KubeObject): void {
    const line = `${JSON.stringify({ type, object: obj })}\n`;
    c.log.push({ rv: Number(obj.metadata.resourceVersion), line });
    for (const w of c.watches) w.write(line);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(url.searchParams.entries());
    const watch = query.watch === '1' || query.watch === 'true';
    this.requests.push({ path: url.pathname, query, authorization: req.headers.authorization, watch });
    const status = (code: number, reason: string, message: string): void => {
      res.writeHead(code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message }));
    };
    if (this.token !== undefined && req.headers.authorization !== `Bearer ${this.token}`)
      return status(401, 'Unauthorized', 'Unauthorized');
    const c = this.collections.get(url.pathname);
    if (!c || this.absent.has(url.pathname))
      return status(404, 'NotFound', 'the server could not find the requested resource');
    if (!watch) return this.list(c, query, res);
    if (this.watchGoneOnce.delete(url.pathname)) return status(410, 'Expired', 'too old resource version');
    const from = Number(query.resourceVersion ?? '0');
    if (from < c.compactedRv) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        `${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: `too old resource version: ${from}` } })}\n`,
      );
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    for (const e of c.log) if (e.rv > from) res.write(e.line);
    c.watches.add(res);
    res.on('close', () => c.watches.delete(res));
  }

  private list(c: Collection, query: Record<string, string>, res: http.ServerResponse): void {
    const all = [...c.items.values()].sort((a, b) => idOf(a).localeCompare(idOf(b)));
    const offset = query.continue ? Number(query.continue) : 0;
    const limit = query.limit ? Number(query.limit) : all.length;
    const page = all.slice(offset, offset + limit);
    const metadata: Record<string, string> = { resourceVersion: String(this.rv) };
    if (offset + limit < all.length) metadata.continue = String(offset + limit);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(
      JSON.stringify({
        apiVersion: c.apiVersion,
        kind: `${c.kind}List`,
        metadata,
        // The API server leaves apiVersion and kind out of list items.
        items: page.map(({ apiVersion: _a, kind: _k, ...rest }) => rest),
      }),
    );
  }
}
