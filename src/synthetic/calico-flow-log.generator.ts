/**
 * A deterministic generator of realistic Calico Enterprise flows.log lines (felix JSON output with
 * fluentd's `host`), for benchmarks, demos and tests. Same seed, same lines.
 *
 * Shape: namespaces with Deployments/DaemonSets talking to each other, to kube-dns and to the
 * outside; aggregation level 2 for allowed flows (names `-`, `name_aggr` `<rs>-*`, no IPs) and
 * level 1 for denied ones (pod names and IPs kept, source port dropped), like Enterprise defaults;
 * a configurable share of denies (tier end-of-tier denies and explicit GNP denies) and of allowed
 * flows that a staged policy would deny.
 */
import { seededRandom } from '../common/prng.js';

export interface CalicoFlowLogGeneratorOptions {
  seed?: number;
  namespaces?: number;
  workloadsPerNamespace?: number;
  nodes?: number;
  /** Share of denied flows, 0..1 (default 0.1). */
  denyShare?: number;
  /** Share of allowed flows denied by a pending staged policy, 0..1 (default 0.02). */
  stagedDenyShare?: number;
  /** Epoch seconds of the first interval (default 1700000000). */
  startTime?: number;
  /** Flush interval in seconds (default 300). */
  intervalSeconds?: number;
  /** Lines per interval before time moves on (default 1000). */
  linesPerInterval?: number;
}

const HASH_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const APPS = [
  'frontend',
  'cart',
  'checkout',
  'payment',
  'catalog',
  'search',
  'auth',
  'orders',
  'shipping',
  'email',
  'redis',
  'postgres',
];
const PORTS = [80, 443, 8080, 8443, 5432, 6379, 9090, 3000, 50051, 7070];

interface Workload {
  ns: string;
  app: string;
  kind: 'Deployment' | 'DaemonSet';
  hash: string;
  port: number;
}

export class CalicoFlowLogGenerator {
  private readonly r: () => number;
  private readonly workloads: Workload[] = [];
  private readonly nodes: string[];
  private readonly o: Required<CalicoFlowLogGeneratorOptions>;
  private seq = 0;

  constructor(options: CalicoFlowLogGeneratorOptions = {}) {
    this.o = {
      seed: 1,
      namespaces: 8,
      workloadsPerNamespace: 6,
      nodes: 5,
      denyShare: 0.1,
      stagedDenyShare: 0.02,
      startTime: 1700000000,
      intervalSeconds: 300,
      linesPerInterval: 1000,
      ...options,
    };
    this.r = seededRandom(this.o.seed);
    for (let n = 0; n < this.o.namespaces; n++) {
      const ns = `team-${n}`;
      for (let w = 0; w < this.o.workloadsPerNamespace; w++) {
        const app = APPS[(n * 7 + w) % APPS.length] + (w >= APPS.length ? `-${w}` : '');
        this.workloads.push({
          ns,
          app,
          kind: this.r() < 0.85 ? 'Deployment' : 'DaemonSet',
          hash: this.hash(10),
          port: PORTS[Math.floor(this.r() * PORTS.length)],
        });
      }
    }
    this.nodes = Array.from({ length: this.o.nodes }, (_, i) => `ip-10-0-${i}-${10 + i}.ec2.internal`);
  }

  private hash(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += HASH_ALPHABET[Math.floor(this.r() * HASH_ALPHABET.length)];
    return s;
  }

  private pick<T>(a: readonly T[]): T {
    return a[Math.floor(this.r() * a.length)];
  }

  private int(lo: number, hi: number): number {
    return lo + Math.floor(this.r() * (hi - lo + 1));
  }

  private aggr(w: Workload): string {
    return w.kind === 'Deployment' ? `${w.app}-${w.hash.slice(0, 10)}-*` : `${w.app}-*`;
  }

  private labels(w: Workload): { labels: string[] } {
    return w.kind === 'Deployment'
      ? { labels: [`app=${w.app}`, `pod-template-hash=${w.hash.slice(0, 10)}`] }
      : { labels: [`app=${w.app}`, 'pod-template-generation=3', `controller-revision-hash=${w.hash.slice(0, 8)}`] };
  }

  private podName(w: Workload): string {
    return w.kind === 'Deployment' ? `${w.app}-${w.hash.slice(0, 10)}-${this.hash(5)}` : `${w.app}-${this.hash(5)}`;
  }

  private ip(): string {
    return `10.${this.int(1, 3)}.${this.int(0, 255)}.${this.int(1, 254)}`;
  }

  /** The next line (no trailing newline). */
  next(): string {
    const i = this.seq++;
    const start = this.o.startTime + Math.floor(i / this.o.linesPerInterval) * this.o.intervalSeconds;
    const end = start + this.o.intervalSeconds;
    const src = this.pick(this.workloads);
    const roll = this.r();
    const deny = roll < this.o.denyShare;
    const staged = !deny && roll < this.o.denyShare + this.o.stagedDenyShare;
    const kind = this.r();
    const toDns = kind < 0.25;
    const toWorld = !toDns && kind < 0.35;
    const dst = toDns || toWorld ? undefined : this.pick(this.workloads);
    const reporter: 'src' | 'dst' = toWorld || this.r() < 0.5 ? 'src' : 'dst';
    const host = this.pick(this.nodes);
    const tierPass = `0|platform|platform.baseline|pass|${this.int(0, 2)}`;

    let enforced: string[];
    let pending: string[] | undefined;
    if (deny) {
      const ns = reporter === 'dst' && dst ? dst.ns : src.ns;
      enforced =
        this.r() < 0.7
          ? [tierPass, `1|default|${ns}/knp.default.default-deny|deny|-1`]
          : ['0|security|security.block-egress-world|deny|0'];
    } else if (toDns) {
      enforced = [tierPass, `1|default|${src.ns}/knp.default.allow-dns|allow|0`];
    } else {
      const ns = reporter === 'dst' && dst ? dst.ns : src.ns;
      enforced = [tierPass, `1|default|${ns}/knp.default.allow-${dst ? dst.app : 'egress'}|allow|${this.int(0, 3)}`];
    }
    if (staged) pending = [tierPass, `1|default|${src.ns}/default.staged:lockdown|deny|-1`];

    const srcDenied = deny; // level 1: names and IPs kept
    const packetsIn = this.int(1, 400);
    const packetsOut = deny ? 0 : this.int(1, 400);
    const rec: Record<string, unknown> = {
      start_time: start,
      end_time: end,
      source_ip: srcDenied ? this.ip() : null,
      source_name: srcDenied ? this.podName(src) : '-',
      source_name_aggr: this.aggr(src),
      source_namespace: src.ns,
      nat_outgoing_ports: null,
      source_port: null,
      source_type: 'wep',
      source_labels: this.labels(src),
      dest_ip: toWorld
        ? srcDenied
          ? `52.${this.int(0, 255)}.${this.int(0, 255)}.${this.int(1, 254)}`
          : null
        : srcDenied
          ? this.ip()
          : null,
      dest_name: dst && srcDenied ? this.podName(dst) : '-',
      dest_name_aggr: toDns ? 'coredns-565d847f94-*' : toWorld ? 'pub' : this.aggr(dst!),
      dest_namespace: toDns ? 'kube-system' : toWorld ? '-' : dst!.ns,
      dest_port: toDns ? 53 : toWorld ? 443 : dst!.port,
      dest_type: toWorld ? 'net' : 'wep',
      dest_labels: toDns
        ? { labels: ['k8s-app=kube-dns', 'pod-template-hash=565d847f94'] }
        : toWorld
          ? null
          : this.labels(dst!),
      dest_service_namespace: toDns ? 'kube-system' : '-',
      dest_service_name: toDns ? 'kube-dns' : '-',
      dest_service_port: toDns ? 'dns' : '-',
      dest_service_port_num: toDns ? 53 : null,
      dest_domains: toWorld ? ['api.example.com'] : null,
      proto: toDns ? 'udp' : 'tcp',
      action: deny ? 'deny' : 'allow',
      reporter,
      policies: { enforced_policies: enforced, pending_policies: pending ?? enforced },
      bytes_in: packetsIn * this.int(60, 1400),
      bytes_out: packetsOut * this.int(60, 1400),
      num_flows: this.int(1, 40),
      num_flows_started: this.int(0, 20),
      num_flows_completed: this.int(0, 20),
      packets_in: packetsIn,
      packets_out: packetsOut,
      http_requests_allowed_in: 0,
      http_requests_denied_in: 0,
      process_name: '-',
      num_process_names: 0,
      process_id: '-',
      num_process_ids: 0,
      original_source_ips: null,
      num_original_source_ips: 0,
      host,
      '@timestamp': end * 1000,
    };
    return JSON.stringify(rec);
  }

  /** `n` lines. */
  lines(n: number): string[] {
    const out: string[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.next();
    return out;
  }
}
