/**
 * Keeps an `InventoryStore` current from the Kubernetes API (DESIGN.md "Attribution": "later a
 * watch on the Kubernetes API"), with no client library: `node:http`/`node:https` only.
 *
 * Per resource (Namespaces, Pods, NetworkPolicies; when their CRDs or API exist, Cilium and
 * Calico policies, Calico tiers, staged policies and network sets, and the network-policy-api
 * ClusterNetworkPolicy / AdminNetworkPolicy / BaselineAdminNetworkPolicy): LIST with `limit`/`continue` paging, then WATCH from the list's
 * resourceVersion (newline-delimited JSON events, bookmarks on). A `410 Gone` (HTTP status or an
 * ERROR event) re-lists and replaces that resource's objects; network errors reconnect with capped
 * exponential backoff and jitter. Objects go through `InventoryStore.upsertRaw`, the validation
 * the manifest files get; invalid ones are logged (once per object version) and left out.
 * The bearer token is re-read periodically (projected service-account tokens rotate) and is
 * never logged.
 */
import { setMaxListeners } from 'node:events';
import { Counter, Registry } from 'prom-client';
import { abortableSleep, backoffDelay } from '../common/backoff.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { metric } from '../metrics/metrics.registry.js';
import { KubernetesApiClient, KubernetesApiError } from './kubernetes-api.client.js';
import { isRecord, type NormalizeResult } from './manifest.normalize.js';
import {
  InventoryStore,
  ObservedEndpoints,
  PolicyInventory,
  PolicyInventorySource,
  type PolicyInventorySourceOptions,
} from './policy-inventory.js';
import { inventoryObjectKey, objectKey, type InventoryObject } from './policy-model.js';

export {
  IN_CLUSTER_CA_FILE,
  IN_CLUSTER_TOKEN_FILE,
  KubernetesApiClient,
  KubernetesApiError,
  SERVICE_ACCOUNT_DIR,
  type KubernetesApiClientOptions,
} from './kubernetes-api.client.js';

/** One API collection the watch follows. */
export interface KubernetesResource {
  /** Metric label and log name (bounded set). */
  name: string;
  /** Collection path across all namespaces, e.g. `/api/v1/pods`. */
  path: string;
  /** Filled into list items, which the API server sends without apiVersion and kind. */
  apiVersion: string;
  kind: string;
  /** A CRD or aggregated API that may be absent: a 404 skips it quietly. */
  optional: boolean;
  /** Extra query parameters for LIST and WATCH (e.g. a field selector). */
  query?: Record<string, string>;
}

/** An optional collection (a CRD or aggregated API) across all namespaces: `/apis/<apiVersion>/<plural>`. */
function optional(name: string, apiVersion: string, kind: string, plural: string): KubernetesResource {
  return { name, path: `/apis/${apiVersion}/${plural}`, apiVersion, kind, optional: true };
}

const CALICO = 'projectcalico.org/v3';
const NETWORK_POLICY_API = 'policy.networking.k8s.io';

export const KUBERNETES_RESOURCES: readonly KubernetesResource[] = [
  { name: 'namespaces', path: '/api/v1/namespaces', apiVersion: 'v1', kind: 'Namespace', optional: false },
  {
    name: 'pods',
    path: '/api/v1/pods',
    apiVersion: 'v1',
    kind: 'Pod',
    optional: false,
    // Finished pods hold no address any more (and their IP may belong to a new pod). The API
    // server sends DELETED when a pod leaves the selection.
    query: { fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed' },
  },
  {
    name: 'networkpolicies',
    path: '/apis/networking.k8s.io/v1/networkpolicies',
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    optional: false,
  },
  {
    name: 'ciliumnetworkpolicies',
    path: '/apis/cilium.io/v2/ciliumnetworkpolicies',
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumNetworkPolicy',
    optional: true,
  },
  {
    name: 'ciliumclusterwidenetworkpolicies',
    path: '/apis/cilium.io/v2/ciliumclusterwidenetworkpolicies',
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumClusterwideNetworkPolicy',
    optional: true,
  },
  {
    name: 'calico-networkpolicies',
    path: '/apis/projectcalico.org/v3/networkpolicies',
    apiVersion: 'projectcalico.org/v3',
    kind: 'NetworkPolicy',
    optional: true,
  },
  {
    name: 'calico-globalnetworkpolicies',
    path: '/apis/projectcalico.org/v3/globalnetworkpolicies',
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    optional: true,
  },
  // Calico tiers, staged policies and network sets (through the Calico API server, as the policies).
  optional('calico-tiers', CALICO, 'Tier', 'tiers'),
  optional('calico-stagednetworkpolicies', CALICO, 'StagedNetworkPolicy', 'stagednetworkpolicies'),
  optional('calico-stagedglobalnetworkpolicies', CALICO, 'StagedGlobalNetworkPolicy', 'stagedglobalnetworkpolicies'),
  optional(
    'calico-stagedkubernetesnetworkpolicies',
    CALICO,
    'StagedKubernetesNetworkPolicy',
    'stagedkubernetesnetworkpolicies',
  ),
  optional('calico-networksets', CALICO, 'NetworkSet', 'networksets'),
  optional('calico-globalnetworksets', CALICO, 'GlobalNetworkSet', 'globalnetworksets'),
  // Kubernetes network-policy-api: ClusterNetworkPolicy (v1alpha2) and the older v1alpha1 pair.
  optional(
    'clusternetworkpolicies',
    `${NETWORK_POLICY_API}/v1alpha2`,
    'ClusterNetworkPolicy',
    'clusternetworkpolicies',
  ),
  optional('adminnetworkpolicies', `${NETWORK_POLICY_API}/v1alpha1`, 'AdminNetworkPolicy', 'adminnetworkpolicies'),
  optional(
    'baselineadminnetworkpolicies',
    `${NETWORK_POLICY_API}/v1alpha1`,
    'BaselineAdminNetworkPolicy',
    'baselineadminnetworkpolicies',
  ),
];

export interface KubernetesWatchOptions {
  /** API server base URL, e.g. `https://10.96.0.1:443` (a path prefix is kept). */
  apiUrl: string;
  /** Bearer token file, re-read every `tokenRefreshMs` and after a 401. */
  tokenFile?: string;
  /** A fixed bearer token (tests, tools); `tokenFile` is preferred. */
  token?: string;
  /** PEM CA bundle for the API server certificate; system CAs when absent. */
  caFile?: string;
  store?: InventoryStore;
  resources?: readonly KubernetesResource[];
  logger?: Logger;
  registry?: Registry;
  /** LIST page size (default 500). */
  pageSize?: number;
  /** Server-side watch timeout; default a random 300-600 s per watch, as client-go does. */
  watchTimeoutSeconds?: number;
  /** LIST request timeout (default 60 s). */
  requestTimeoutMs?: number;
  /** Reconnect backoff (default 500 ms doubling to 30 s, jittered). */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** How often to re-read the token file (default 60 s). */
  tokenRefreshMs?: number;
  /** How long an absent optional resource waits before it is looked for again (default 10 min). */
  absentRecheckMs?: number;
  /**
   * `current()` takes a new store snapshot at most this often (default 1000 ms), so pod churn
   * does not rebuild the evaluator (and drop its decision cache) on every event. 0: always.
   */
  snapshotIntervalMs?: number;
  /** Largest LIST page or watch event accepted (default 64 MiB). */
  maxBodyBytes?: number;
}

/** Counters, optional (`registry`); labels are bounded (resource names, event types, reasons). */
export class KubernetesWatchMetrics {
  readonly events: Counter<'kind' | 'type'>;
  readonly restarts: Counter<'kind' | 'reason'>;
  constructor(registry: Registry = new Registry()) {
    const counter = <T extends string>(name: string, help: string, labelNames: T[]): Counter<T> =>
      metric(registry, name, () => new Counter<T>({ name, help, labelNames, registers: [registry] }));
    this.events = counter('dropscope_kubernetes_watch_events_total', 'Kubernetes watch events by resource and type', [
      'kind',
      'type',
    ]);
    this.restarts = counter(
      'dropscope_kubernetes_watch_restarts_total',
      'Kubernetes watches restarted, by resource and reason (closed, expired, error)',
      ['kind', 'reason'],
    );
  }
}

const EVENT_TYPES = new Set(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']);

/** What the store holds for one API object (`undefined` entry: invalid or ignored). */
interface Tracked {
  resourceVersion?: string;
  entry?: { kind: InventoryObject['kind']; namespace?: string; name: string };
}

interface ResourceState {
  resource: KubernetesResource;
  /** By `namespace/name` of the API object. */
  tracked: Map<string, Tracked>;
  resourceVersion?: string;
  listed: boolean;
  absentLogged: boolean;
}

type WatchEnd = 'expired' | 'closed-empty' | 'closed';

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Follows the Kubernetes API into an `InventoryStore`. `start()` launches one LIST+WATCH loop per
 * resource; `ready` resolves once every resource was listed (or found absent); `current()` gives
 * the snapshot for `InventoryFlowAttributor`; `stop()` aborts every request.
 */
export class KubernetesWatch {
  readonly store: InventoryStore;
  /** Resolves after the first full list of every resource (or on stop). Never rejects. */
  readonly ready: Promise<void>;
  private resolveReady!: () => void;
  private readonly logger: Logger;
  private readonly metrics: KubernetesWatchMetrics;
  private readonly states: ResourceState[];
  private readonly client: KubernetesApiClient;
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];
  private snapshot: PolicyInventory | undefined;
  private snapshotAt = 0;
  private started = false;

  constructor(private readonly options: KubernetesWatchOptions) {
    this.store = options.store ?? new InventoryStore();
    this.logger = (options.logger ?? silentLogger).child({ component: 'kubernetes-watch' });
    this.metrics = new KubernetesWatchMetrics(options.registry);
    this.client = new KubernetesApiClient({ ...options, signal: this.abort.signal, logger: this.logger });
    this.states = (options.resources ?? KUBERNETES_RESOURCES).map((resource) => ({
      resource,
      tracked: new Map(),
      listed: false,
      absentLogged: false,
    }));
    // Each resource's loop listens on the one signal (a request or a sleep at a time, two at most
    // in passing): more than Node's default of 10 is expected, not a leak.
    setMaxListeners(10 + 2 * this.states.length, this.abort.signal);
    this.ready = new Promise((r) => (this.resolveReady = r));
    if (this.states.length === 0) this.resolveReady();
  }

  /** Start listing and watching (idempotent). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.logger.info('watching the Kubernetes API for the policy inventory', {
      url: this.client.base.origin,
      resources: this.states.map((s) => s.resource.name),
    });
    this.loops = this.states.map((s) => this.run(s));
  }

  /** Abort every request and wait for the loops to end. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.resolveReady();
    await Promise.allSettled(this.loops);
    this.client.destroy();
  }

  /** True once every resource has been listed (or found absent). */
  get isReady(): boolean {
    return this.states.every((s) => s.listed);
  }

  /** Wait for `ready` at most `timeoutMs`; resolves whether it got there. */
  async waitUntilReady(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)));
    await Promise.race([this.ready, timeout]);
    clearTimeout(timer);
    return this.isReady;
  }

  /** The inventory snapshot (refreshed at most every `snapshotIntervalMs`). */
  current(): PolicyInventory {
    const every = this.options.snapshotIntervalMs ?? 1000;
    const now = Date.now();
    if (!this.snapshot || now - this.snapshotAt >= every) {
      this.snapshot = this.store.snapshot();
      this.snapshotAt = now;
    }
    return this.snapshot;
  }

  // ---- the loop ---------------------------------------------------------------------------

  private async run(state: ResourceState): Promise<void> {
    const { resource } = state;
    const signal = this.abort.signal;
    let needList = true;
    let attempt = 0;
    while (!signal.aborted) {
      try {
        if (needList) {
          const found = await this.list(state);
          if (!found) {
            this.markListed(state);
            await abortableSleep(this.options.absentRecheckMs ?? 600_000, signal);
            continue;
          }
          needList = false;
          this.markListed(state);
        }
        const end = await this.watch(state);
        if (end === 'expired') {
          this.metrics.restarts.inc({ kind: resource.name, reason: 'expired' });
          this.logger.info('watch expired (410 Gone); listing again', { resource: resource.name });
          needList = true;
          // A relist right after a relist that expired again: slow down.
          if (attempt > 0) await abortableSleep(this.backoff(attempt), signal);
          attempt++;
          continue;
        }
        this.metrics.restarts.inc({ kind: resource.name, reason: 'closed' });
        if (end === 'closed-empty') await abortableSleep(this.backoff(attempt++), signal);
        else attempt = 0;
      } catch (e) {
        if (signal.aborted) break;
        if (e instanceof KubernetesApiError && e.status === 410) {
          this.metrics.restarts.inc({ kind: resource.name, reason: 'expired' });
          this.logger.info('watch expired (410 Gone); listing again', { resource: resource.name });
          needList = true;
          if (attempt > 0) await abortableSleep(this.backoff(attempt), signal);
          attempt++;
          continue;
        }
        if (resource.optional && e instanceof KubernetesApiError && e.status === 404) {
          // The CRD went away while watched: the list finds it absent, forgets its objects and says so once.
          needList = true;
          continue;
        }
        if (e instanceof KubernetesApiError && e.status === 401) this.client.invalidateToken();
        this.metrics.restarts.inc({ kind: resource.name, reason: 'error' });
        const delay = this.backoff(attempt++);
        this.logger.warn('Kubernetes API request failed; retrying', {
          resource: resource.name,
          phase: needList ? 'list' : 'watch',
          error: errorText(e),
          retryInMs: delay,
        });
        await abortableSleep(delay, signal);
      }
    }
  }

  private markListed(state: ResourceState): void {
    if (state.listed) return;
    state.listed = true;
    if (this.isReady) {
      const inv = this.store.snapshot();
      this.logger.info('policy inventory listed from the Kubernetes API', {
        namespaces: inv.namespaces.size,
        pods: inv.pods.length,
        policies: inv.policies.length,
      });
      this.resolveReady();
    }
  }

  private backoff(attempt: number): number {
    return backoffDelay(attempt, { initialMs: this.options.backoffInitialMs, maxMs: this.options.backoffMaxMs });
  }

  /** Full LIST, paged; replaces this resource's objects. False when an optional resource is absent. */
  private async list(state: ResourceState): Promise<boolean> {
    const { resource } = state;
    const seen = new Set<string>();
    // Every page is read before anything is applied: a snapshot taken between pages would hold
    // the new objects next to ones the relist is about to remove.
    const items: unknown[] = [];
    let cont: string | undefined;
    let resourceVersion: string | undefined;
    do {
      const params: Record<string, string> = { ...resource.query, limit: String(this.options.pageSize ?? 500) };
      if (cont) params.continue = cont;
      let body: unknown;
      try {
        body = JSON.parse(await this.client.readAll(await this.client.get(resource.path, params, false)));
      } catch (e) {
        if (resource.optional && e instanceof KubernetesApiError && (e.status === 404 || e.status === 403)) {
          if (!state.absentLogged) {
            state.absentLogged = true;
            const msg =
              e.status === 404
                ? 'optional resource not served by this cluster (CRD absent); skipped'
                : 'optional resource not readable (forbidden by RBAC); skipped';
            this.logger.info(msg, { resource: resource.name, path: resource.path });
          }
          this.forgetAll(state);
          return false;
        }
        throw e;
      }
      if (!isRecord(body) || !Array.isArray(body.items))
        throw new Error(`LIST ${resource.path}: the answer is not a list`);
      for (const item of body.items as unknown[]) items.push(item);
      const meta = isRecord(body.metadata) ? body.metadata : {};
      cont = typeof meta.continue === 'string' && meta.continue !== '' ? meta.continue : undefined;
      resourceVersion = typeof meta.resourceVersion === 'string' ? meta.resourceVersion : resourceVersion;
    } while (cont !== undefined);
    for (const item of items) {
      const id = this.apply(state, item);
      if (id !== undefined) seen.add(id);
    }
    for (const [id, t] of state.tracked) {
      if (seen.has(id)) continue;
      this.remove(t);
      state.tracked.delete(id);
    }
    if (state.absentLogged) {
      state.absentLogged = false;
      this.logger.info('optional resource is now served; watching it', { resource: resource.name });
    }
    state.resourceVersion = resourceVersion;
    this.logger.debug('listed', { resource: resource.name, objects: seen.size, resourceVersion });
    return true;
  }

  /** One WATCH request until the server ends it, an ERROR event, or a network error (thrown). */
  private async watch(state: ResourceState): Promise<WatchEnd> {
    const { resource } = state;
    const timeoutSeconds = this.options.watchTimeoutSeconds ?? 300 + Math.floor(Math.random() * 300);
    const params: Record<string, string> = {
      ...resource.query,
      watch: '1',
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(timeoutSeconds),
    };
    if (state.resourceVersion) params.resourceVersion = state.resourceVersion;
    const res = await this.client.get(resource.path, params, true, (timeoutSeconds + 30) * 1000);
    const max = this.options.maxBodyBytes ?? 64 * 1024 * 1024;
    let lines = 0;
    let buf = '';
    res.setEncoding('utf8');
    for await (const chunk of res as AsyncIterable<string>) {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line === '') continue;
        lines++;
        if (this.event(state, line) === 'expired') {
          res.destroy();
          return 'expired';
        }
      }
      if (buf.length > max) throw new Error(`watch ${resource.path}: an event exceeds ${max} bytes`);
    }
    if (buf.trim() !== '' && this.event(state, buf.trim()) === 'expired') return 'expired';
    return lines === 0 ? 'closed-empty' : 'closed';
  }

  private event(state: ResourceState, line: string): 'expired' | undefined {
    const { resource } = state;
    let ev: unknown;
    try {
      ev = JSON.parse(line);
    } catch {
      throw new Error(`watch ${resource.path}: not a JSON event`);
    }
    if (!isRecord(ev)) throw new Error(`watch ${resource.path}: not a JSON event`);
    const type = typeof ev.type === 'string' ? ev.type : '';
    this.metrics.events.inc({ kind: resource.name, type: EVENT_TYPES.has(type) ? type : 'OTHER' });
    const obj = ev.object;
    const rv = isRecord(obj) && isRecord(obj.metadata) ? obj.metadata.resourceVersion : undefined;
    switch (type) {
      case 'ADDED':
      case 'MODIFIED':
        this.apply(state, obj);
        break;
      case 'DELETED': {
        const id = isRecord(obj) ? this.idOf(obj) : undefined;
        const t = id !== undefined ? state.tracked.get(id) : undefined;
        if (id !== undefined && t) {
          this.remove(t);
          state.tracked.delete(id);
        }
        break;
      }
      case 'BOOKMARK':
        break;
      case 'ERROR': {
        const status = isRecord(obj) ? obj : {};
        if (status.code === 410 || status.reason === 'Expired' || status.reason === 'Gone') return 'expired';
        throw new KubernetesApiError(
          typeof status.code === 'number' ? status.code : 500,
          `watch ${resource.path}: ERROR event: ${typeof status.message === 'string' ? status.message : 'no message'}`,
        );
      }
      default:
        this.logger.debug('unknown watch event type', { resource: resource.name, type });
    }
    if (typeof rv === 'string' && rv !== '') state.resourceVersion = rv;
    return undefined;
  }

  // ---- objects ----------------------------------------------------------------------------

  private idOf(obj: Record<string, unknown>): string | undefined {
    const m = isRecord(obj.metadata) ? obj.metadata : undefined;
    if (!m || typeof m.name !== 'string') return undefined;
    return `${typeof m.namespace === 'string' ? m.namespace : ''}/${m.name}`;
  }

  /** Upsert one API object; returns its id (undefined for an object without a name). */
  private apply(state: ResourceState, raw: unknown): string | undefined {
    const { resource } = state;
    if (!isRecord(raw)) return undefined;
    const id = this.idOf(raw);
    if (id === undefined) return undefined;
    const meta = raw.metadata as Record<string, unknown>;
    const rv = typeof meta.resourceVersion === 'string' ? meta.resourceVersion : undefined;
    const prev = state.tracked.get(id);
    if (prev && rv !== undefined && prev.resourceVersion === rv) return id; // unchanged (a relist)
    const obj =
      typeof raw.kind === 'string' && typeof raw.apiVersion === 'string'
        ? raw
        : { ...raw, apiVersion: resource.apiVersion, kind: resource.kind };
    const res: NormalizeResult = this.store.upsertRaw(obj, { via: 'kubernetes-api' });
    const next: Tracked = { resourceVersion: rv };
    if (res.status === 'ok') {
      const o = res.object;
      next.entry = { kind: o.kind, name: o.name };
      if (o.kind !== 'Namespace' && o.namespace !== undefined) next.entry.namespace = o.namespace;
      if (prev?.entry && this.keyOf(prev.entry) !== inventoryObjectKey(o)) this.remove(prev);
    } else {
      if (prev) this.remove(prev);
      if (res.status === 'invalid')
        this.logger.warn(`invalid ${resource.kind} ${id.replace(/^\//, '')} from the Kubernetes API; left out`, {
          resource: resource.name,
          errors: res.errors.slice(0, 10),
        });
      else this.logger.debug('object ignored', { resource: resource.name, id, reason: res.reason });
    }
    state.tracked.set(id, next);
    return id;
  }

  private keyOf(e: NonNullable<Tracked['entry']>): string {
    return objectKey(e.kind, e.namespace, e.name);
  }

  private remove(t: Tracked): void {
    if (t.entry) this.store.delete(t.entry.kind, t.entry.namespace, t.entry.name);
  }

  private forgetAll(state: ResourceState): void {
    for (const t of state.tracked.values()) this.remove(t);
    state.tracked.clear();
    state.resourceVersion = undefined;
  }
}

// ---- files + API -----------------------------------------------------------------------------

/**
 * One inventory from several snapshots: objects keyed by kind/namespace/name, later parts win.
 * Issues are concatenated; `observed` is shared.
 */
export function mergeInventories(
  parts: readonly PolicyInventory[],
  generation: number,
  observed: ObservedEndpoints,
): PolicyInventory {
  const objects = new Map<string, InventoryObject>();
  // Every kind a snapshot holds, or the merge silently drops it (tiers, sets and staged policies did).
  for (const p of parts)
    for (const o of [
      ...p.namespaces.values(),
      ...p.pods,
      ...p.policies,
      ...p.tiers.values(),
      ...p.networkSets,
      ...p.staged,
    ])
      objects.set(inventoryObjectKey(o), o);
  return new PolicyInventory(
    [...objects.values()],
    generation,
    parts.flatMap((p) => p.issues),
    observed,
  );
}

export interface CombinedInventorySourceOptions extends Omit<PolicyInventorySourceOptions, 'store'> {
  /** The watch, minus store and logger (the source sets both). */
  kubernetes: Omit<KubernetesWatchOptions, 'store' | 'logger'>;
  /** How long `start()` waits for the first full list (default 30 s); then it goes on with what it has. */
  readyTimeoutMs?: number;
}

/**
 * POLICY_MANIFESTS files and the Kubernetes API watch as one `PolicyInventorySource`: each feeds
 * its own store (a file reload replaces only the file objects), and `current()` merges the two
 * snapshots with the API winning when both hold the same kind/namespace/name. `subscribe`
 * listeners hear file reloads only.
 */
export class CombinedInventorySource extends PolicyInventorySource {
  readonly watch: KubernetesWatch;
  private readonly observedEndpoints: ObservedEndpoints;
  private readonly log: Logger;
  private merged: { files: PolicyInventory; api: PolicyInventory; inventory: PolicyInventory } | undefined;
  private mergedGeneration = 0;

  constructor(private readonly combined: CombinedInventorySourceOptions) {
    const observed = new ObservedEndpoints();
    super({ ...combined, store: new InventoryStore(observed) });
    this.observedEndpoints = observed;
    this.log = combined.logger ?? silentLogger;
    this.watch = new KubernetesWatch({
      ...combined.kubernetes,
      store: new InventoryStore(observed),
      logger: this.log,
    });
  }

  override current(): PolicyInventory {
    const files = super.current();
    const api = this.watch.current();
    if (files.isEmpty && files.issues.length === 0) return api;
    if (this.merged && this.merged.files === files && this.merged.api === api) return this.merged.inventory;
    const inventory = mergeInventories([files, api], ++this.mergedGeneration, this.observedEndpoints);
    this.merged = { files, api, inventory };
    return inventory;
  }

  /** Load the files (when any), start the watch and wait for its first list (bounded). */
  override async start(): Promise<PolicyInventory> {
    if (this.combined.paths.length > 0) await super.start();
    this.watch.start();
    const timeoutMs = this.combined.readyTimeoutMs ?? 30_000;
    if (!(await this.watch.waitUntilReady(timeoutMs)))
      this.log.warn('the Kubernetes API inventory is not complete yet; attributing with what is loaded', {
        waitedMs: timeoutMs,
      });
    return this.current();
  }

  override stop(): void {
    super.stop();
    void this.watch.stop();
  }
}
