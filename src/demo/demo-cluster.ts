/**
 * The demo's simulated cluster, after the classic default-deny walkthrough: frontend, backend and
 * database namespaces, each default-deny with DNS allowed, frontend → backend allowed both ways,
 * backend's egress to the database allowed, and the database's ingress rule from backend
 * missing, so backend's connections to postgres are dropped. Its manifests, its Hubble flows
 * (protojson GetFlowsResponse objects for the fake Relay) and its Calico flows.log lines.
 */

export const DEMO_CLUSTER = 'demo';

interface DemoPod {
  namespace: string;
  name: string;
  app: string;
  /** Workload kind/name as Hubble names it. */
  workload: { kind: string; name: string };
  ip: string;
  identity: number;
  labelKey: string;
  hash?: string;
}

const POD_LIST: DemoPod[] = [
  {
    namespace: 'frontend',
    name: 'web-6f7d8c9b5-x2kqp',
    app: 'web',
    workload: { kind: 'Deployment', name: 'web' },
    ip: '10.244.1.10',
    identity: 21001,
    labelKey: 'app',
    hash: '6f7d8c9b5',
  },
  {
    namespace: 'backend',
    name: 'api-5b6c7d8f9-m7wtn',
    app: 'api',
    workload: { kind: 'Deployment', name: 'api' },
    ip: '10.244.1.20',
    identity: 21002,
    labelKey: 'app',
    hash: '5b6c7d8f9',
  },
  {
    namespace: 'backend',
    name: 'worker-7c8d9b6f4-q4zvx',
    app: 'worker',
    workload: { kind: 'Deployment', name: 'worker' },
    ip: '10.244.2.21',
    identity: 21003,
    labelKey: 'app',
    hash: '7c8d9b6f4',
  },
  {
    namespace: 'database',
    name: 'postgres-0',
    app: 'postgres',
    workload: { kind: 'StatefulSet', name: 'postgres' },
    ip: '10.244.2.30',
    identity: 21004,
    labelKey: 'app',
  },
  {
    namespace: 'kube-system',
    name: 'coredns-565d847f94-h8n2c',
    app: 'kube-dns',
    workload: { kind: 'Deployment', name: 'coredns' },
    ip: '10.244.0.5',
    identity: 102,
    labelKey: 'k8s-app',
    hash: '565d847f94',
  },
];

const POD = Object.fromEntries(POD_LIST.map((p) => [p.app, p])) as Record<string, DemoPod>;

function podLabels(p: DemoPod): Record<string, string> {
  return { [p.labelKey]: p.app, ...(p.hash ? { 'pod-template-hash': p.hash } : {}) };
}

function namespaceDoc(ns: string): string {
  return `apiVersion: v1
kind: Namespace
metadata:
  name: ${ns}
  labels:
    kubernetes.io/metadata.name: ${ns}
`;
}

function podDoc(p: DemoPod): string {
  const labels = Object.entries(podLabels(p))
    .map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`)
    .join('\n');
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${p.name}
  namespace: ${p.namespace}
  labels:
${labels}
spec:
  containers:
    - name: ${p.app}
status:
  podIP: ${p.ip}
  podIPs: [{ ip: ${p.ip} }]
`;
}

function baselinePolicies(ns: string): string {
  return `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
  namespace: ${ns}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-dns
  namespace: ${ns}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - to:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: kube-system
          podSelector:
            matchLabels:
              k8s-app: kube-dns
      ports:
        - { protocol: UDP, port: 53 }
        - { protocol: TCP, port: 53 }
`;
}

/** The allow rules of the walkthrough; the database's ingress from backend is the missing one. */
const ALLOW_RULES = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-egress-to-backend
  namespace: frontend
spec:
  podSelector:
    matchLabels:
      app: web
  policyTypes: [Egress]
  egress:
    - to:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: backend
          podSelector:
            matchLabels:
              app: api
      ports:
        - { protocol: TCP, port: 8080 }
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-ingress-from-frontend
  namespace: backend
spec:
  podSelector:
    matchLabels:
      app: api
  policyTypes: [Ingress]
  ingress:
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: frontend
          podSelector:
            matchLabels:
              app: web
      ports:
        - { protocol: TCP, port: 8080 }
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-egress-to-database
  namespace: backend
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - to:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: database
          podSelector:
            matchLabels:
              app: postgres
      ports:
        - { protocol: TCP, port: 5432 }
`;

const POLICY_NAMESPACES = ['frontend', 'backend', 'database'];

/** The cluster's manifests (Namespaces, Pods, NetworkPolicies) as one multi-document YAML file. */
export function demoManifests(): string {
  const docs = [
    '# The dropscope demo cluster: default-deny everywhere, and the database never got its\n' +
      '# "allow ingress from backend" rule, so backend → database:5432 is dropped.\n' +
      namespaceDoc('kube-system'),
    ...POLICY_NAMESPACES.map(namespaceDoc),
    ...POD_LIST.map(podDoc),
    ...POLICY_NAMESPACES.map(baselinePolicies),
    ALLOW_RULES,
  ];
  return docs.join('---\n');
}

function hubbleEndpoint(p: DemoPod): Record<string, unknown> {
  return {
    ID: p.identity - 20000,
    identity: p.identity,
    cluster_name: DEMO_CLUSTER,
    namespace: p.namespace,
    labels: [
      ...Object.entries(podLabels(p)).map(([k, v]) => `k8s:${k}=${v}`),
      `k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=${p.namespace}`,
      `k8s:io.kubernetes.pod.namespace=${p.namespace}`,
    ],
    pod_name: p.name,
    workloads: [p.workload],
  };
}

interface HubbleFlowSpec {
  src: DemoPod;
  dst: DemoPod;
  port: number;
  protocol: 'TCP' | 'UDP';
  dropped: boolean;
  direction: 'INGRESS' | 'EGRESS';
}

function isoNanos(ms: number, seq: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}${String(seq % 1_000_000).padStart(6, '0')}Z`;
}

let flowSeq = 0;

function hubbleFlow(spec: HubbleFlowSpec, ms: number): Record<string, unknown> {
  const seq = flowSeq++;
  const time = isoNanos(ms, seq);
  const srcPort = 32768 + (seq % 28000);
  const node = `${DEMO_CLUSTER}/worker-${spec.direction === 'INGRESS' ? spec.dst.ip.split('.')[2] : spec.src.ip.split('.')[2]}`;
  const l4 =
    spec.protocol === 'TCP'
      ? { TCP: { source_port: srcPort, destination_port: spec.port, flags: { SYN: true } } }
      : { UDP: { source_port: srcPort, destination_port: spec.port } };
  const flow: Record<string, unknown> = {
    time,
    uuid: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    verdict: spec.dropped ? 'DROPPED' : 'FORWARDED',
    IP: { source: spec.src.ip, destination: spec.dst.ip, ipVersion: 'IPv4' },
    l4,
    source: hubbleEndpoint(spec.src),
    destination: hubbleEndpoint(spec.dst),
    Type: 'L3_L4',
    node_name: node,
    traffic_direction: spec.direction,
    is_reply: false,
    // Cilium: drop events are type 1 with the drop reason as sub-type; forwarded traces type 4.
    event_type: spec.dropped ? { type: 1, sub_type: 133 } : { type: 4 },
    ...(spec.dropped ? { drop_reason: 133, drop_reason_desc: 'POLICY_DENIED' } : {}),
    Summary: spec.protocol === 'TCP' ? 'TCP Flags: SYN' : 'UDP',
  };
  return { flow, node_name: node, time };
}

/** One second of the cluster's Hubble traffic: web → api, DNS, and api → postgres (dropped). */
export function hubbleTick(nowMs: number): Array<Record<string, unknown>> {
  const { web, api, postgres } = POD;
  const dns = POD['kube-dns'];
  return [
    hubbleFlow({ src: web, dst: dns, port: 53, protocol: 'UDP', dropped: false, direction: 'EGRESS' }, nowMs),
    hubbleFlow({ src: web, dst: api, port: 8080, protocol: 'TCP', dropped: false, direction: 'INGRESS' }, nowMs + 1),
    hubbleFlow({ src: api, dst: dns, port: 53, protocol: 'UDP', dropped: false, direction: 'EGRESS' }, nowMs + 2),
    hubbleFlow(
      { src: api, dst: postgres, port: 5432, protocol: 'TCP', dropped: true, direction: 'INGRESS' },
      nowMs + 3,
    ),
  ];
}

function calicoLabels(p: DemoPod): { labels: string[] } {
  return { labels: Object.entries(podLabels(p)).map(([k, v]) => `${k}=${v}`) };
}

function calicoAggr(p: DemoPod): string {
  return p.hash ? `${p.workload.name}-${p.hash}-*` : p.name;
}

/**
 * Calico flows.log lines (felix JSON) for the interval ending at `endSec`: backend's worker →
 * postgres denied at the database's end of tier (level 1: pod names and IPs kept), and web →
 * api allowed (level 2 aggregation).
 */
export function calicoLines(endSec: number, intervalSec: number): string[] {
  const { web, api, worker, postgres } = POD;
  const base = (
    src: DemoPod,
    dst: DemoPod,
    port: number,
    deny: boolean,
    reporter: 'src' | 'dst',
    policy: string,
  ): string =>
    JSON.stringify({
      start_time: endSec - intervalSec,
      end_time: endSec,
      source_ip: deny ? src.ip : null,
      source_name: deny ? src.name : '-',
      source_name_aggr: calicoAggr(src),
      source_namespace: src.namespace,
      source_port: null,
      source_type: 'wep',
      source_labels: calicoLabels(src),
      dest_ip: deny ? dst.ip : null,
      dest_name: deny ? dst.name : '-',
      dest_name_aggr: calicoAggr(dst),
      dest_namespace: dst.namespace,
      dest_port: port,
      dest_type: 'wep',
      dest_labels: calicoLabels(dst),
      dest_service_namespace: '-',
      dest_service_name: '-',
      dest_service_port: '-',
      dest_service_port_num: null,
      dest_domains: null,
      proto: 'tcp',
      action: deny ? 'deny' : 'allow',
      reporter,
      policies: { enforced_policies: [policy], pending_policies: [policy] },
      bytes_in: deny ? 0 : 4096,
      bytes_out: deny ? 222 : 1554,
      num_flows: deny ? 3 : 5,
      num_flows_started: deny ? 3 : 5,
      num_flows_completed: deny ? 0 : 5,
      packets_in: deny ? 0 : 20,
      packets_out: deny ? 3 : 15,
      http_requests_allowed_in: 0,
      http_requests_denied_in: 0,
      original_source_ips: null,
      num_original_source_ips: 0,
      host: 'worker-2',
    });
  return [
    base(worker, postgres, 5432, true, 'dst', '0|default|database/knp.default.default-deny|deny|-1'),
    base(web, api, 8080, false, 'src', '0|default|frontend/knp.default.allow-egress-to-backend|allow|0'),
  ];
}
