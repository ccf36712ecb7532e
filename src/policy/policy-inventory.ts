/**
 * The policy inventory: Namespaces, Pods and policies (Kubernetes NetworkPolicy, Cilium, Calico)
 * as immutable snapshots. One mutable `InventoryStore` takes objects one at a time (`upsert` /
 * `delete`, the shape a Kubernetes API watch produces) or all at once (`replaceAll`, a reload of
 * the manifest files); `snapshot()` returns an immutable `PolicyInventory` that the evaluator
 * compiles. `PolicyInventorySource` reloads files on change (mtime polling) and emits snapshots.
 */
import { promises as fs } from 'node:fs';
import type { FlowEndpoint } from '../flow/flow-record.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { labelMap, type Labels } from './label-selector.js';
import { formatManifestIssue, listManifestFiles, loadManifestPaths, type ManifestIssue } from './manifest.loader.js';
import { NAMESPACE_NAME_LABEL, normalizeObject, type NormalizeResult } from './manifest.normalize.js';
import {
  inventoryObjectKey,
  isPolicyObject,
  objectKey,
  type CalicoNetworkSetObject,
  type CalicoTierObject,
  type InventoryObject,
  type NamespaceObject,
  type PodObject,
  type PolicyObject,
  type StagedPolicyObject,
} from './policy-model.js';

/** Label keys Cilium adds to endpoint labels; they are not pod labels for NetworkPolicy. */
const CILIUM_META_PREFIXES = [
  'io.cilium.k8s.namespace.labels.',
  'io.cilium.k8s.policy.',
  'io.kubernetes.pod.namespace',
  'io.cilium.',
];
const CILIUM_NS_LABEL_PREFIX = 'io.cilium.k8s.namespace.labels.';

/** Split flow labels into pod labels and the namespace labels Cilium embeds in them. */
export function splitFlowLabels(labels: Readonly<Record<string, string>> | undefined): {
  pod: Record<string, string>;
  namespace: Record<string, string>;
} {
  const pod: Array<[string, string]> = [];
  const namespace: Array<[string, string]> = [];
  if (labels) {
    for (const [k, v] of Object.entries(labels)) {
      if (k.startsWith(CILIUM_NS_LABEL_PREFIX)) namespace.push([k.slice(CILIUM_NS_LABEL_PREFIX.length), v]);
      else if (!CILIUM_META_PREFIXES.some((p) => k.startsWith(p))) pod.push([k, v]);
    }
  }
  return { pod: labelMap(pod), namespace: labelMap(namespace) };
}

/** Endpoints learned from flows, bounded: a fallback for labels when manifests lack the pod. */
export class ObservedEndpoints {
  private readonly byIp = new Map<string, FlowEndpoint>();
  private readonly byPod = new Map<string, FlowEndpoint>();
  constructor(private readonly max = 50_000) {}

  observe(e: FlowEndpoint): void {
    if (e.kind !== 'pod' || !e.labels || Object.keys(e.labels).length === 0 || !e.namespace) return;
    if (e.ip) this.put(this.byIp, e.ip, e);
    if (e.pod) this.put(this.byPod, `${e.namespace}/${e.pod}`, e);
  }
  private put(m: Map<string, FlowEndpoint>, k: string, e: FlowEndpoint): void {
    if (m.has(k)) m.delete(k);
    else if (m.size >= this.max) {
      const first = m.keys().next();
      if (!first.done) m.delete(first.value);
    }
    m.set(k, e);
  }
  byAddress(ip: string): FlowEndpoint | undefined {
    return this.byIp.get(ip);
  }
  byName(namespace: string, pod: string): FlowEndpoint | undefined {
    return this.byPod.get(`${namespace}/${pod}`);
  }
  get size(): number {
    return this.byIp.size + this.byPod.size;
  }
}

function isNetworkSet(o: InventoryObject): o is CalicoNetworkSetObject {
  return o.kind === 'NetworkSet' || o.kind === 'GlobalNetworkSet';
}

/** An immutable snapshot of the cluster as far as policy evaluation needs it. */
export class PolicyInventory {
  readonly namespaces: ReadonlyMap<string, NamespaceObject>;
  readonly pods: readonly PodObject[];
  /** Enforced policies (staged ones are in `staged`). */
  readonly policies: readonly PolicyObject[];
  /** Calico Tier resources by name. */
  readonly tiers: ReadonlyMap<string, CalicoTierObject>;
  /** Calico NetworkSets and GlobalNetworkSets. */
  readonly networkSets: readonly CalicoNetworkSetObject[];
  /** Calico staged policies: never enforced; a proposal (what-if --staged). */
  readonly staged: readonly StagedPolicyObject[];
  private readonly podsByKey = new Map<string, PodObject>();
  private readonly podsByIp = new Map<string, PodObject>();
  private readonly covered = new Set<string>();
  private readonly implicitNsLabels = new Map<string, Labels>();

  constructor(
    objects: readonly InventoryObject[],
    /** Increases with every change of the source store. */
    readonly generation: number,
    readonly issues: readonly ManifestIssue[] = [],
    readonly observed: ObservedEndpoints = new ObservedEndpoints(),
  ) {
    const namespaces = new Map<string, NamespaceObject>();
    const pods: PodObject[] = [];
    const policies: PolicyObject[] = [];
    const tiers = new Map<string, CalicoTierObject>();
    const networkSets: CalicoNetworkSetObject[] = [];
    const staged: StagedPolicyObject[] = [];
    for (const o of objects) {
      if (o.kind === 'Namespace') {
        namespaces.set(o.name, o);
        this.covered.add(o.name);
      } else if (o.kind === 'Pod') {
        pods.push(o);
        this.covered.add(o.namespace);
        this.podsByKey.set(`${o.namespace}/${o.name}`, o);
        // hostNetwork pods share the node IP: never resolve an IP to them.
        if (!o.hostNetwork) for (const ip of o.ips) this.podsByIp.set(ip, o);
      } else if (o.kind === 'Tier') tiers.set(o.name, o);
      else if (isNetworkSet(o)) networkSets.push(o);
      else if (!isPolicyObject(o)) staged.push(o);
      else {
        policies.push(o);
        if (o.namespace !== undefined) this.covered.add(o.namespace);
      }
    }
    this.namespaces = namespaces;
    this.pods = pods;
    this.policies = policies;
    this.tiers = tiers;
    this.networkSets = Object.freeze(networkSets);
    this.staged = Object.freeze(staged);
    Object.freeze(this.pods);
    Object.freeze(this.policies);
  }

  /** Every object of the snapshot, for building a modified copy (what-if). */
  objects(): InventoryObject[] {
    return [
      ...this.namespaces.values(),
      ...this.pods,
      ...this.policies,
      ...this.tiers.values(),
      ...this.networkSets,
      ...this.staged,
    ];
  }

  static empty(): PolicyInventory {
    return new PolicyInventory([], 0);
  }

  /** True when no object at all was loaded: every attribution is `unknown`. */
  get isEmpty(): boolean {
    return this.namespaces.size === 0 && this.pods.length === 0 && this.policies.length === 0;
  }

  /**
   * True when the inventory knows the namespace (a Namespace, Pod or namespaced policy object was
   * loaded for it), so "no policy selects this pod" is a finding rather than a gap. Cluster-wide
   * policies alone do not cover a namespace.
   */
  coversNamespace(ns: string): boolean {
    return this.covered.has(ns);
  }

  /** Labels of a namespace: from its manifest, else only the implicit `kubernetes.io/metadata.name`. */
  namespaceLabels(ns: string): Labels {
    const n = this.namespaces.get(ns);
    if (n) return n.labels;
    let l = this.implicitNsLabels.get(ns);
    if (!l) {
      l = Object.freeze({ [NAMESPACE_NAME_LABEL]: ns });
      this.implicitNsLabels.set(ns, l);
    }
    return l;
  }

  hasNamespaceManifest(ns: string): boolean {
    return this.namespaces.has(ns);
  }

  pod(namespace: string, name: string): PodObject | undefined {
    return this.podsByKey.get(`${namespace}/${name}`);
  }

  podByIp(ip: string): PodObject | undefined {
    return this.podsByIp.get(ip);
  }

  /** Namespaces in the inventory, sorted. */
  namespaceNames(): string[] {
    return [...this.covered].sort();
  }
}

/** What a Kubernetes API watch (or any other feed) calls. */
export interface InventoryFeed {
  /** Add or replace one raw Kubernetes object (as the API returns it). */
  upsertRaw(raw: unknown, origin?: { via?: string }): NormalizeResult;
  upsert(object: InventoryObject): void;
  delete(kind: InventoryObject['kind'], namespace: string | undefined, name: string): boolean;
}

/** The mutable store behind snapshots. */
export class InventoryStore implements InventoryFeed {
  private readonly objects = new Map<string, InventoryObject>();
  private generation = 0;
  private issues: ManifestIssue[] = [];
  private cached: PolicyInventory | undefined;
  readonly observed: ObservedEndpoints;

  constructor(observed?: ObservedEndpoints) {
    this.observed = observed ?? new ObservedEndpoints();
  }

  upsertRaw(raw: unknown, origin?: { via?: string }): NormalizeResult {
    const res = normalizeObject(raw);
    if (res.status === 'ok') this.upsert(origin ? { ...res.object, origin } : res.object);
    return res;
  }

  upsert(object: InventoryObject): void {
    this.objects.set(inventoryObjectKey(object), object);
    this.touch();
  }

  delete(kind: InventoryObject['kind'], namespace: string | undefined, name: string): boolean {
    const ok = this.objects.delete(objectKey(kind, kind === 'Namespace' ? undefined : namespace, name));
    if (ok) this.touch();
    return ok;
  }

  /** Replace everything (a full reload of the manifest files). */
  replaceAll(objects: readonly InventoryObject[], issues: readonly ManifestIssue[] = []): void {
    this.objects.clear();
    for (const o of objects) this.objects.set(inventoryObjectKey(o), o);
    this.issues = [...issues];
    this.touch();
  }

  /** Remember the labels a flow carried for an endpoint (does not change the snapshot). */
  observeEndpoint(endpoint: FlowEndpoint): void {
    this.observed.observe(endpoint);
  }

  snapshot(): PolicyInventory {
    if (!this.cached)
      this.cached = new PolicyInventory([...this.objects.values()], this.generation, this.issues, this.observed);
    return this.cached;
  }

  private touch(): void {
    this.generation++;
    this.cached = undefined;
  }
}

/** Build a snapshot from objects in one call (tests, CLI). */
export function buildInventory(
  objects: readonly InventoryObject[],
  issues: readonly ManifestIssue[] = [],
): PolicyInventory {
  const s = new InventoryStore();
  s.replaceAll(objects, issues);
  return s.snapshot();
}

/** Load manifest files/folders into a snapshot. */
export async function loadInventory(paths: readonly string[]): Promise<PolicyInventory> {
  const loaded = await loadManifestPaths(paths);
  return buildInventory(loaded.objects, loaded.issues);
}

export interface PolicyInventorySourceOptions {
  /** Files or folders (POLICY_MANIFESTS, comma-separated in the environment). */
  paths: readonly string[];
  /** How often to check mtimes; default 5000 ms. 0 disables polling (reload() by hand). */
  pollIntervalMs?: number;
  logger?: Logger;
  store?: InventoryStore;
}

export type InventoryListener = (inventory: PolicyInventory) => void;

/**
 * Loads manifests and reloads them when a file is added, removed or modified (mtime + size
 * polling, which also works for ConfigMap volume symlink swaps where fs.watch does not).
 */
export class PolicyInventorySource {
  private readonly store: InventoryStore;
  private readonly logger: Logger;
  private readonly listeners = new Set<InventoryListener>();
  private timer: NodeJS.Timeout | undefined;
  private signature = '';
  private loading: Promise<PolicyInventory> | undefined;

  constructor(private readonly options: PolicyInventorySourceOptions) {
    this.store = options.store ?? new InventoryStore();
    this.logger = (options.logger ?? silentLogger).child({ component: 'policy-inventory' });
  }

  /** The current snapshot (empty until the first load). */
  current(): PolicyInventory {
    return this.store.snapshot();
  }

  /** The store, for feeds (an API watch) and `observeEndpoint`. */
  get feed(): InventoryStore {
    return this.store;
  }

  subscribe(listener: InventoryListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Initial load, then polling. */
  async start(): Promise<PolicyInventory> {
    const inv = await this.reload();
    const every = this.options.pollIntervalMs ?? 5000;
    if (every > 0 && !this.timer) {
      this.timer = setInterval(() => {
        void this.checkForChanges().catch((e: unknown) =>
          this.logger.warn('policy manifest check failed', { error: String(e) }),
        );
      }, every);
      this.timer.unref();
    }
    return inv;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reload when the file set or any mtime/size changed; resolves true when it reloaded. */
  async checkForChanges(): Promise<boolean> {
    const sig = await this.computeSignature();
    if (sig === this.signature) return false;
    await this.reload();
    return true;
  }

  /** Load all files now and emit the new snapshot. */
  async reload(): Promise<PolicyInventory> {
    if (this.loading) return this.loading;
    this.loading = (async () => {
      try {
        this.signature = await this.computeSignature();
        const loaded = await loadManifestPaths(this.options.paths);
        this.store.replaceAll(loaded.objects, loaded.issues);
        const inv = this.store.snapshot();
        for (const i of loaded.issues) {
          if (i.severity === 'error') this.logger.warn(formatManifestIssue(i));
          else this.logger.debug(formatManifestIssue(i));
        }
        this.logger.info('policy inventory loaded', {
          files: loaded.files.length,
          namespaces: inv.namespaces.size,
          pods: inv.pods.length,
          policies: inv.policies.length,
          errors: loaded.issues.filter((i) => i.severity === 'error').length,
          generation: inv.generation,
        });
        for (const l of this.listeners) l(inv);
        return inv;
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }

  private async computeSignature(): Promise<string> {
    const { files } = await listManifestFiles(this.options.paths);
    const parts: string[] = [];
    for (const f of files) {
      try {
        const st = await fs.stat(f);
        parts.push(`${f}:${st.mtimeMs}:${st.size}`);
      } catch {
        parts.push(`${f}:gone`);
      }
    }
    return parts.join('|');
  }
}

/** POLICY_MANIFESTS=a.yaml,dir/ → ['a.yaml','dir/']. */
export function parsePolicyManifestsEnv(value: string | undefined): string[] {
  return (value ?? '')
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
