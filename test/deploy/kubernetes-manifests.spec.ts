/**
 * deploy/kubernetes renders (kustomization resources, namespace, images) into objects that
 * validate against the Kubernetes schemas, and that fit together: selectors match pods, every
 * referenced Secret, ConfigMap key and port exists, each role has its probes and settings, and
 * the RBAC covers exactly what the policy watcher reads.
 */
import { describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { KNOWN_VARIABLES } from '../../src/config/known-variables.js';
import { KUBERNETES_RESOURCES } from '../../src/policy/kubernetes-watch.js';
import { DEPLOY } from './grafana-dashboards.js';
import { validateResource } from './kubernetes-schema.js';
import { renderKustomization, type Manifest } from './kustomization.js';

const BASE = join(DEPLOY, 'kubernetes', 'base');
const OPERATOR = join(DEPLOY, 'kubernetes', 'prometheus-operator');

interface KeyRef {
  name: string;
  key: string;
  optional?: boolean;
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  ports?: Array<{ name?: string; containerPort: number }>;
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: KeyRef; configMapKeyRef?: KeyRef } }>;
  envFrom?: Array<{
    configMapRef?: { name: string; optional?: boolean };
    secretRef?: { name: string; optional?: boolean };
  }>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
}
interface PodSpec {
  containers: Container[];
  volumes?: Array<{ name: string; secret?: { secretName: string; optional?: boolean } }>;
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  restartPolicy?: string;
}
interface Workload extends Manifest {
  spec: {
    replicas?: number;
    selector?: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
}

const byKind = (ms: Manifest[], kind: string): Manifest[] => ms.filter((m) => m.kind === kind);
const find = (ms: Manifest[], kind: string, name: string): Manifest | undefined =>
  ms.find((m) => m.kind === kind && m.metadata.name === name);
const selects = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('deploy/kubernetes', () => {
  const base = renderKustomization(BASE);
  const operator = renderKustomization(OPERATOR);
  const deployments = byKind(base, 'Deployment') as Workload[];
  const workloads = [...deployments, ...(byKind(base, 'Job') as Workload[])];

  it('renders the kinds the issue asks for, in the dropscope namespace, with the pinned image', () => {
    expect(base.map((m) => `${m.kind}/${m.metadata.name}`).sort()).toEqual([
      'ClusterRole/dropscope-policy-reader',
      'ClusterRoleBinding/dropscope-policy-reader',
      'ConfigMap/dropscope-config',
      'Deployment/dropscope-aggregator',
      'Deployment/dropscope-alerts',
      'Deployment/dropscope-api',
      'Deployment/dropscope-collector',
      'Job/dropscope-migrate',
      'Namespace/dropscope',
      'Secret/dropscope-api-tokens',
      'Secret/dropscope-database',
      'Secret/dropscope-goldmane-tls',
      'Secret/dropscope-hubble-tls',
      'Secret/dropscope-kafka',
      'Secret/dropscope-slack',
      'Service/dropscope-api',
      'Service/dropscope-metrics',
      'ServiceAccount/dropscope',
    ]);
    expect(operator.map((m) => `${m.kind}/${m.metadata.name}`)).toEqual([
      ...base.map((m) => `${m.kind}/${m.metadata.name}`),
      'ServiceMonitor/dropscope',
    ]);
    for (const m of operator)
      if (!['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(m.kind))
        expect(`${m.kind}/${m.metadata.name} ${m.metadata.namespace}`).toBe(`${m.kind}/${m.metadata.name} dropscope`);
    for (const w of workloads)
      expect(w.spec.template.spec.containers.map((c) => c.image)).toEqual(['ghcr.io/dropscope/dropscope:0.1.0']);
  });

  it('every object validates against its Kubernetes schema', () => {
    expect(operator.flatMap(validateResource)).toEqual([]);
  });

  it('the validator catches missing required fields, unknown fields and wrong types', () => {
    const api = structuredClone(find(base, 'Deployment', 'dropscope-api')) as Workload;
    const c = api.spec.template.spec.containers[0] as unknown as Record<string, unknown>;
    c.readinessprobe = c.readinessProbe;
    (api.spec as Record<string, unknown>).replicas = '2';
    delete (api.spec as Record<string, unknown>).selector;
    (c.ports as Array<Record<string, unknown>>)[0].containerPort = undefined;
    expect(validateResource(api)).toEqual([
      'Deployment/dropscope-api.spec.selector: required',
      'Deployment/dropscope-api.spec.replicas: expected integer, got string',
      'Deployment/dropscope-api.spec.template.spec.containers[0].ports[0].containerPort: required',
      'Deployment/dropscope-api.spec.template.spec.containers[0].ports[0].containerPort: expected integer, got undefined',
      'Deployment/dropscope-api.spec.template.spec.containers[0].readinessprobe: unknown field',
    ]);
    expect(validateResource({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } })).toEqual([
      'v1/Pod: not a kind this validator knows',
    ]);
  });

  it('runs each role with its probes, settings Dropscope knows, and references that resolve', () => {
    const roles = deployments.map((d) => [
      d.metadata.name,
      d.spec.template.spec.containers[0].env?.find((e) => e.name === 'DROPSCOPE_ROLES')?.value,
    ]);
    expect(roles).toEqual([
      ['dropscope-collector', 'collector'],
      ['dropscope-aggregator', 'aggregator'],
      ['dropscope-api', 'api'],
      ['dropscope-alerts', 'alerts'],
    ]);
    const config = find(base, 'ConfigMap', 'dropscope-config') as Manifest & { data: Record<string, string> };
    expect(Object.keys(config.data).filter((k) => !KNOWN_VARIABLES.includes(k))).toEqual([]);
    for (const w of workloads) {
      const name = w.metadata.name;
      if (w.spec.selector) expect(selects(w.spec.selector.matchLabels, w.spec.template.metadata.labels)).toBe(true);
      const pod = w.spec.template.spec;
      const c = pod.containers[0];
      expect({ name, unknown: (c.env ?? []).map((e) => e.name).filter((n) => !KNOWN_VARIABLES.includes(n)) }).toEqual({
        name,
        unknown: [],
      });
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef ?? e.valueFrom?.configMapKeyRef;
        if (!ref) continue;
        const kind = e.valueFrom?.secretKeyRef ? 'Secret' : 'ConfigMap';
        const target = find(base, kind, ref.name) as Manifest & { stringData?: object; data?: object };
        expect({
          name,
          ref: ref.name,
          key: ref.key,
          present: Object.keys({ ...target?.stringData, ...target?.data }).includes(ref.key),
        }).toEqual({ name, ref: ref.name, key: ref.key, present: true });
      }
      for (const f of c.envFrom ?? []) {
        const [kind, ref] = f.configMapRef ? ['ConfigMap', f.configMapRef] : ['Secret', f.secretRef!];
        expect({ name, ref: ref.name, found: find(base, kind, ref.name) !== undefined }).toEqual({
          name,
          ref: ref.name,
          found: true,
        });
      }
      for (const v of pod.volumes ?? []) if (v.secret) expect(find(base, 'Secret', v.secret.secretName)).toBeDefined();
      for (const m of c.volumeMounts ?? []) expect((pod.volumes ?? []).map((v) => v.name)).toContain(m.name);
      expect(pod.serviceAccountName).toBe('dropscope');
      if (w.kind === 'Job') {
        expect(c.args).toEqual(['migrate']);
        expect(['Never', 'OnFailure']).toContain(pod.restartPolicy);
        continue;
      }
      const ports = (c.ports ?? []).map((p) => p.name);
      expect({ name, liveness: c.livenessProbe?.httpGet, readiness: c.readinessProbe?.httpGet }).toEqual({
        name,
        liveness: { path: '/healthz', port: 'http' },
        readiness: { path: '/readyz', port: 'http' },
      });
      expect(ports).toEqual(['http']);
      const annotations = (w.spec.template.metadata as { annotations?: Record<string, string> }).annotations;
      expect(annotations).toEqual({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': '8080',
        'prometheus.io/path': '/metrics',
      });
      // Only the aggregator talks to the API server.
      expect({ name, token: pod.automountServiceAccountToken }).toEqual({
        name,
        token: name === 'dropscope-aggregator',
      });
    }
    const aggregator = deployments.find((d) => d.metadata.name === 'dropscope-aggregator')!;
    expect(aggregator.spec.template.spec.containers[0].env).toContainEqual({
      name: 'POLICY_KUBERNETES',
      value: 'true',
    });
  });

  it('the Services select role pods by a named port, and the ServiceMonitor selects the metrics Service', () => {
    const services = byKind(base, 'Service') as Array<
      Manifest & { spec: { selector: Record<string, string>; ports: Array<{ targetPort: string }> } }
    >;
    for (const s of services) {
      const pods = deployments.filter((d) => selects(s.spec.selector, d.spec.template.metadata.labels));
      expect({ service: s.metadata.name, pods: pods.length > 0 }).toEqual({ service: s.metadata.name, pods: true });
      for (const d of pods)
        for (const p of s.spec.ports)
          expect(d.spec.template.spec.containers[0].ports!.map((x) => x.name)).toContain(p.targetPort);
    }
    const api = services.find((s) => s.metadata.name === 'dropscope-api')!;
    expect(
      deployments
        .filter((d) => selects(api.spec.selector, d.spec.template.metadata.labels))
        .map((d) => d.metadata.name),
    ).toEqual(['dropscope-api']);
    const metrics = services.find((s) => s.metadata.name === 'dropscope-metrics')!;
    expect(deployments.filter((d) => selects(metrics.spec.selector, d.spec.template.metadata.labels)).length).toBe(4);
    const sm = find(operator, 'ServiceMonitor', 'dropscope') as Manifest & {
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: Array<{ port: string }> };
    };
    expect(selects(sm.spec.selector.matchLabels, metrics.metadata.labels!)).toBe(true);
    expect(sm.spec.endpoints.map((e) => e.port)).toEqual(['http']);
  });

  it('RBAC: read-only access to every kind the policy watcher reads and the network-policy-api kinds, bound to the ServiceAccount', () => {
    const role = find(base, 'ClusterRole', 'dropscope-policy-reader') as Manifest & {
      rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>;
    };
    for (const r of role.rules) expect(r.verbs).toEqual(['get', 'list', 'watch']);
    const allows = (group: string, resource: string): boolean =>
      role.rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource));
    for (const r of KUBERNETES_RESOURCES) {
      // /api/v1/pods -> core group; /apis/<group>/<version>/<resource>.
      const m = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)\/([^/]+)$/.exec(r.path)!;
      expect({ path: r.path, allowed: allows(m[1] ?? '', m[2]) }).toEqual({ path: r.path, allowed: true });
    }
    for (const r of ['clusternetworkpolicies', 'adminnetworkpolicies', 'baselineadminnetworkpolicies'])
      expect(allows('policy.networking.k8s.io', r)).toBe(true);
    const binding = find(base, 'ClusterRoleBinding', 'dropscope-policy-reader') as Manifest & {
      roleRef: { kind: string; name: string };
      subjects: Array<{ kind: string; name: string; namespace: string }>;
    };
    expect(binding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: 'dropscope-policy-reader',
    });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'dropscope', namespace: 'dropscope' }]);
  });
});
