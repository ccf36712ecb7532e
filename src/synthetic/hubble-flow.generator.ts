/**
 * Deterministic synthetic Hubble traffic in the `hubble observe -o json` shape, for benchmarks,
 * load tests and the fake Relay: a cluster of namespaces and workloads, allowed traces, DNS
 * (L7), egress to the world, a share of policy drops emitted as Cilium does (a policy-verdict
 * event followed microseconds later by a drop event), other drops, audit verdicts, and
 * occasional lost_events. Same seed, same lines.
 */
import { seededRandom } from '../common/prng.js';

export interface HubbleGeneratorOptions {
  /** Number of GetFlowsResponse lines to produce. */
  count: number;
  seed?: number;
  /** Relay cluster name, used as the `cluster/` node prefix. */
  cluster?: string;
  nodes?: number;
  namespaces?: number;
  workloadsPerNamespace?: number;
  podsPerWorkload?: number;
  /** Share (0..1) of connections denied by policy; each yields a policy-verdict + drop pair. */
  policyDropShare?: number;
  /** Share of connections dropped for non-policy reasons. */
  otherDropShare?: number;
  /** First flow time (ms since epoch). */
  startMs?: number;
  /** Average flows per second of flow time (sets the spacing of timestamps). */
  flowsPerSecond?: number;
  /** Emit a lost_events line every N lines (0: never). */
  lostEventsEvery?: number;
  /**
   * Service-graph shape for benchmarks (the cluster size and rate come with it; explicit options
   * win): see HUBBLE_SHAPES. Without it, any pod talks to any pod of a small cluster.
   */
  shape?: HubbleShape;
}

/**
 * Edge cardinality of the generated traffic, for the import benchmark (docs/PERFORMANCE.md):
 * - `sparse`: each workload talks to 5 fixed peers on one port each: ~10,000 roll-up edge keys
 *   per minute of flow time;
 * - `dense`: any workload to any workload on any of 8 ports: ~120,000 edge keys per minute.
 */
export const HUBBLE_SHAPES = ['sparse', 'dense'] as const;
export type HubbleShape = (typeof HUBBLE_SHAPES)[number];

export function isHubbleShape(s: string): s is HubbleShape {
  return (HUBBLE_SHAPES as readonly string[]).includes(s);
}

/** Peers per workload in the `sparse` shape. */
const SPARSE_PEERS = 5;

const SHAPE_DEFAULTS: Record<HubbleShape, Partial<HubbleGeneratorOptions>> = {
  sparse: { namespaces: 14, workloadsPerNamespace: 25, podsPerWorkload: 2, flowsPerSecond: 3000 },
  dense: { namespaces: 40, workloadsPerNamespace: 25, podsPerWorkload: 2, flowsPerSecond: 3300 },
};

/** A protojson GetFlowsResponse object, as one `hubble observe -o json` line. */
export type HubbleJsonResponse = Record<string, unknown>;

const WORKLOAD_NAMES = [
  'frontend',
  'api',
  'checkout',
  'cart',
  'payments',
  'catalog',
  'auth',
  'worker',
  'db',
  'cache',
  'search',
  'mailer',
];
const NS_NAMES = ['shop', 'payments', 'identity', 'data', 'ops', 'web', 'batch', 'ml'];
const WORLD = [
  { ip: '1.1.1.1', name: 'one.one.one.one' },
  { ip: '140.82.112.3', name: 'github.com' },
  { ip: '52.94.236.248', name: 'dynamodb.us-east-1.amazonaws.com' },
  { ip: '151.101.1.69', name: 'registry.npmjs.org' },
];
const PORTS = [80, 443, 5432, 6379, 8080, 9090, 3306, 9200];
const OTHER_DROPS: Array<[string, number]> = [
  ['CT_MAP_INSERTION_FAILED', 155],
  ['STALE_OR_UNROUTABLE_IP', 151],
  ['UNSUPPORTED_L3_PROTOCOL', 139],
  ['SERVICE_BACKEND_NOT_FOUND', 158],
];

interface Pod {
  namespace: string;
  name: string;
  workload: string;
  ip: string;
  identity: number;
  id: number;
  /** Index of the pod's workload in the cluster. */
  workloadIndex: number;
  node: number;
  labels: string[];
}

function hex(rand: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(rand() * 16).toString(16);
  return s;
}

function uuid(rand: () => number): string {
  return `${hex(rand, 8)}-${hex(rand, 4)}-4${hex(rand, 3)}-${'89ab'[Math.floor(rand() * 4)]}${hex(rand, 3)}-${hex(rand, 12)}`;
}

function rfc3339(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const frac = String(ns % 1_000_000_000n).padStart(9, '0');
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac}Z`;
}

type ClusterOptions = Required<Omit<HubbleGeneratorOptions, 'shape'>>;

function buildCluster(rand: () => number, o: ClusterOptions): Pod[] {
  const pods: Pod[] = [];
  let identity = 10_000;
  let epId = 100;
  for (let n = 0; n < o.namespaces; n++) {
    const ns = NS_NAMES[n % NS_NAMES.length] + (n >= NS_NAMES.length ? `-${n}` : '');
    for (let w = 0; w < o.workloadsPerNamespace; w++) {
      const wl = WORKLOAD_NAMES[(n * 3 + w) % WORKLOAD_NAMES.length];
      const rs = hex(rand, 10);
      identity += 1 + Math.floor(rand() * 50);
      for (let p = 0; p < o.podsPerWorkload; p++) {
        pods.push({
          namespace: ns,
          name: `${wl}-${rs}-${hex(rand, 5)}`,
          workload: wl,
          ip: `10.244.${pods.length >> 8}.${(pods.length & 255) + 1}`,
          identity,
          id: epId++,
          workloadIndex: n * o.workloadsPerNamespace + w,
          node: Math.floor(rand() * o.nodes),
          labels: [
            `k8s:app=${wl}`,
            `k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=${ns}`,
            `k8s:io.cilium.k8s.namespace.labels.team=${ns}-team`,
            `k8s:io.cilium.k8s.policy.cluster=${o.cluster}`,
            `k8s:io.cilium.k8s.policy.serviceaccount=${wl}`,
            `k8s:io.kubernetes.pod.namespace=${ns}`,
            `k8s:pod-template-hash=${rs}`,
          ],
        });
      }
    }
  }
  return pods;
}

function endpoint(p: Pod, cluster: string): Record<string, unknown> {
  return {
    ID: p.id,
    identity: p.identity,
    cluster_name: cluster,
    namespace: p.namespace,
    labels: p.labels,
    pod_name: p.name,
    workloads: [{ name: p.workload, kind: 'Deployment' }],
  };
}

/** Generates GetFlowsResponse objects (protojson shape). */
export function* generateHubbleResponses(options: HubbleGeneratorOptions): Generator<HubbleJsonResponse> {
  const o: ClusterOptions = {
    seed: 1,
    cluster: 'gen',
    nodes: 3,
    namespaces: 4,
    workloadsPerNamespace: 3,
    podsPerWorkload: 2,
    policyDropShare: 0.1,
    otherDropShare: 0.01,
    startMs: Date.parse('2025-01-01T00:00:00Z'),
    flowsPerSecond: 5000,
    lostEventsEvery: 0,
    ...(options.shape ? SHAPE_DEFAULTS[options.shape] : {}),
    ...options,
  };
  const rand = seededRandom(o.seed);
  const pods = buildCluster(rand, o);
  const sparse = options.shape === 'sparse';
  const workloads = o.namespaces * o.workloadsPerNamespace;
  /** The k-th of a workload's fixed peers (a pseudo-random set), any of its pods. */
  const peerOf = (src: Pod, k: number): Pod => {
    const peer = (src.workloadIndex * 7 + k * 131 + 1) % workloads;
    return pods[peer * o.podsPerWorkload + Math.floor(rand() * o.podsPerWorkload)];
  };
  /** Destination of a pod-to-pod flow: one of the source's peers (sparse), or any pod. */
  const pickDst = (src: Pod): Pod =>
    sparse ? peerOf(src, Math.floor(rand() * SPARSE_PEERS)) : pods[Math.floor(rand() * pods.length)];
  /** Destination and port: each sparse peer is reached on one port. */
  const pickPeer = (src: Pod): [Pod, number] => {
    if (!sparse) return [pods[Math.floor(rand() * pods.length)], PORTS[Math.floor(rand() * PORTS.length)]];
    const k = Math.floor(rand() * SPARSE_PEERS);
    return [peerOf(src, k), PORTS[k % PORTS.length]];
  };
  const dns: Pod = {
    namespace: 'kube-system',
    name: 'coredns-5d78c9869d-abcde',
    workload: 'coredns',
    ip: '10.96.0.10',
    identity: 102,
    id: 5,
    workloadIndex: -1,
    node: 0,
    labels: [
      'k8s:k8s-app=kube-dns',
      'k8s:io.kubernetes.pod.namespace=kube-system',
      'k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=kube-system',
    ],
  };
  const stepNs = BigInt(Math.max(1, Math.round(1e9 / o.flowsPerSecond)));
  let now = BigInt(o.startMs) * 1_000_000n;
  let emitted = 0;
  const nodeName = (i: number): string => `${o.cluster}/node-${i}`;

  while (emitted < o.count) {
    if (o.lostEventsEvery > 0 && emitted > 0 && emitted % o.lostEventsEvery === 0) {
      emitted++;
      yield {
        lost_events: { source: 'HUBBLE_RING_BUFFER', num_events_lost: String(1 + Math.floor(rand() * 100)) },
        node_name: nodeName(Math.floor(rand() * o.nodes)),
        time: rfc3339(now),
      };
      continue;
    }
    now += stepNs + BigInt(Math.floor(rand() * Number(stepNs)));
    const src = pods[Math.floor(rand() * pods.length)];
    const node = nodeName(src.node);
    const time = rfc3339(now);
    const sport = 32768 + Math.floor(rand() * 28000);
    const roll = rand();
    const base = (
      dst: Record<string, unknown>,
      dstIp: string,
      dport: number,
      proto: 'TCP' | 'UDP',
    ): Record<string, unknown> => ({
      time,
      uuid: uuid(rand),
      IP: { source: src.ip, destination: dstIp, ipVersion: 'IPv4' },
      l4:
        proto === 'TCP'
          ? { TCP: { source_port: sport, destination_port: dport, flags: { SYN: true } } }
          : { UDP: { source_port: sport, destination_port: dport } },
      source: endpoint(src, o.cluster),
      destination: dst,
      Type: 'L3_L4',
      node_name: node,
    });

    if (roll < o.policyDropShare) {
      // Policy denial on the source's node (egress) or the destination's node (ingress): a
      // policy-verdict event, then the drop event microseconds later.
      const [dst, port] = pickPeer(src);
      const explicit = rand() < 0.25;
      const egress = rand() < 0.5;
      const reason = explicit ? 'POLICY_DENY' : 'POLICY_DENIED';
      const denier = explicit
        ? [
            {
              name: `deny-${dst.workload}`,
              namespace: egress ? src.namespace : dst.namespace,
              kind: 'CiliumNetworkPolicy',
              labels: [
                'k8s:io.cilium.k8s.policy.derived-from=CiliumNetworkPolicy',
                `k8s:io.cilium.k8s.policy.name=deny-${dst.workload}`,
                `k8s:io.cilium.k8s.policy.namespace=${egress ? src.namespace : dst.namespace}`,
              ],
              revision: '3',
            },
          ]
        : undefined;
      const onNode = nodeName(egress ? src.node : dst.node);
      const verdict = {
        ...base(endpoint(dst, o.cluster), dst.ip, port, 'TCP'),
        node_name: onNode,
        verdict: 'DROPPED',
        drop_reason: explicit ? 181 : 133,
        drop_reason_desc: reason,
        event_type: { type: 5 },
        traffic_direction: egress ? 'EGRESS' : 'INGRESS',
        ...(denier ? (egress ? { egress_denied_by: denier } : { ingress_denied_by: denier }) : {}),
        Summary: 'TCP Flags: SYN',
      };
      yield { flow: verdict, node_name: onNode, time };
      emitted++;
      if (emitted >= o.count) break;
      const dropTime = rfc3339(now + BigInt(1000 + Math.floor(rand() * 4000)));
      const drop = {
        ...verdict,
        time: dropTime,
        uuid: uuid(rand),
        event_type: { type: 1, sub_type: explicit ? 181 : 133 },
        traffic_direction: undefined,
        egress_denied_by: undefined,
        ingress_denied_by: undefined,
        is_reply: false,
        file: { name: 'bpf_lxc.c', line: 1400 },
      };
      yield { flow: JSON.parse(JSON.stringify(drop)) as unknown, node_name: onNode, time: dropTime };
      emitted++;
    } else if (roll < o.policyDropShare + o.otherDropShare) {
      const dst = pickDst(src);
      const [desc, code] = OTHER_DROPS[Math.floor(rand() * OTHER_DROPS.length)];
      yield {
        flow: {
          ...base(endpoint(dst, o.cluster), dst.ip, 8080, 'TCP'),
          verdict: 'DROPPED',
          drop_reason: code,
          drop_reason_desc: desc,
          event_type: { type: 1, sub_type: code },
        },
        node_name: node,
        time,
      };
      emitted++;
    } else if (roll < o.policyDropShare + o.otherDropShare + 0.01) {
      const dst = pickDst(src);
      yield {
        flow: {
          ...base(endpoint(dst, o.cluster), dst.ip, 8080, 'TCP'),
          verdict: 'AUDIT',
          event_type: { type: 5 },
          traffic_direction: 'INGRESS',
        },
        node_name: node,
        time,
      };
      emitted++;
    } else if (roll < 0.25) {
      const query = `${WORKLOAD_NAMES[Math.floor(rand() * WORKLOAD_NAMES.length)]}.${src.namespace}.svc.cluster.local.`;
      yield {
        flow: {
          ...base(endpoint(dns, o.cluster), dns.ip, 53, 'UDP'),
          verdict: 'FORWARDED',
          Type: 'L7',
          l7: { type: 'REQUEST', dns: { query, observation_source: 'proxy', qtypes: ['A'] } },
          event_type: { type: 129 },
          traffic_direction: 'EGRESS',
          is_reply: false,
          Summary: `DNS Query ${query} A`,
        },
        node_name: node,
        time,
      };
      emitted++;
    } else if (roll < 0.32) {
      const w = WORLD[Math.floor(rand() * WORLD.length)];
      yield {
        flow: {
          ...base({ identity: 2, labels: ['reserved:world'] }, w.ip, 443, 'TCP'),
          verdict: 'FORWARDED',
          destination_names: [w.name],
          event_type: { type: 4, sub_type: 11 },
          traffic_direction: 'EGRESS',
          trace_observation_point: 'TO_NETWORK',
          is_reply: false,
        },
        node_name: node,
        time,
      };
      emitted++;
    } else {
      const [dst, port] = pickPeer(src);
      yield {
        flow: {
          ...base(endpoint(dst, o.cluster), dst.ip, port, 'TCP'),
          verdict: 'FORWARDED',
          event_type: { type: 4 },
          traffic_direction: 'INGRESS',
          trace_observation_point: 'TO_ENDPOINT',
          is_reply: false,
          Summary: 'TCP Flags: SYN',
        },
        node_name: nodeName(dst.node),
        time,
      };
      emitted++;
    }
  }
}

/** Generates `hubble observe -o json` lines (no trailing newline). */
export function* generateHubbleLines(options: HubbleGeneratorOptions): Generator<string> {
  for (const r of generateHubbleResponses(options)) yield JSON.stringify(r);
}
