/**
 * A compact structural validator for the Kubernetes kinds deploy/kubernetes uses, written from
 * the published OpenAPI definitions (kubernetes api/openapi-spec v3, io.k8s.api.*; the
 * prometheus-operator ServiceMonitor CRD): each object's properties with their types, and the
 * fields the schema marks required. Fields outside the model are reported as unknown, as
 * `kubectl apply --validate=strict` does, so a misspelt `readinessprobe` is caught. Only the
 * properties the manifests might reasonably use are modelled; add one here when a manifest needs it.
 */

type Schema =
  | 'string'
  | 'integer'
  | 'boolean'
  /** IntOrString (ports, maxSurge) and resource.Quantity (which also accepts numbers). */
  | 'int-or-string'
  /** Free-form (x-kubernetes-preserve-unknown-fields, or not modelled). */
  | 'any'
  | { object: Record<string, Schema>; required?: string[] }
  | { array: Schema }
  | { map: Schema };

const str = 'string' as const;
const int = 'integer' as const;
const bool = 'boolean' as const;
const ios = 'int-or-string' as const;
const strings: Schema = { array: str };
const stringMap: Schema = { map: str };
const obj = (object: Record<string, Schema>, required: string[] = []): Schema => ({ object, required });

const objectMeta = obj({
  name: str,
  generateName: str,
  namespace: str,
  labels: stringMap,
  annotations: stringMap,
});
const labelSelector = obj({
  matchLabels: stringMap,
  matchExpressions: { array: obj({ key: str, operator: str, values: strings }, ['key', 'operator']) },
});
const keySelector = obj({ name: str, key: str, optional: bool }, ['key']);
const envVar = obj(
  {
    name: str,
    value: str,
    valueFrom: obj({
      secretKeyRef: keySelector,
      configMapKeyRef: keySelector,
      fieldRef: obj({ apiVersion: str, fieldPath: str }, ['fieldPath']),
      resourceFieldRef: obj({ containerName: str, resource: str, divisor: ios }, ['resource']),
    }),
  },
  ['name'],
);
const envFrom = obj({
  prefix: str,
  configMapRef: obj({ name: str, optional: bool }),
  secretRef: obj({ name: str, optional: bool }),
});
const probe = obj({
  httpGet: obj(
    {
      path: str,
      port: ios,
      host: str,
      scheme: str,
      httpHeaders: { array: obj({ name: str, value: str }, ['name', 'value']) },
    },
    ['port'],
  ),
  tcpSocket: obj({ port: ios, host: str }, ['port']),
  exec: obj({ command: strings }),
  initialDelaySeconds: int,
  periodSeconds: int,
  timeoutSeconds: int,
  successThreshold: int,
  failureThreshold: int,
  terminationGracePeriodSeconds: int,
});
const seccompProfile = obj({ type: str, localhostProfile: str }, ['type']);
const container = obj(
  {
    name: str,
    image: str,
    imagePullPolicy: str,
    command: strings,
    args: strings,
    workingDir: str,
    ports: { array: obj({ name: str, containerPort: int, protocol: str, hostPort: int }, ['containerPort']) },
    env: { array: envVar },
    envFrom: { array: envFrom },
    resources: obj({ limits: { map: ios }, requests: { map: ios } }),
    volumeMounts: {
      array: obj({ name: str, mountPath: str, readOnly: bool, subPath: str }, ['name', 'mountPath']),
    },
    livenessProbe: probe,
    readinessProbe: probe,
    startupProbe: probe,
    securityContext: obj({
      allowPrivilegeEscalation: bool,
      privileged: bool,
      readOnlyRootFilesystem: bool,
      runAsNonRoot: bool,
      runAsUser: int,
      runAsGroup: int,
      capabilities: obj({ add: strings, drop: strings }),
      seccompProfile,
    }),
  },
  ['name'],
);
const keyToPath = { array: obj({ key: str, path: str, mode: int }, ['key', 'path']) };
const volume = obj(
  {
    name: str,
    emptyDir: obj({ medium: str, sizeLimit: ios }),
    secret: obj({ secretName: str, items: keyToPath, defaultMode: int, optional: bool }),
    configMap: obj({ name: str, items: keyToPath, defaultMode: int, optional: bool }),
    hostPath: obj({ path: str, type: str }, ['path']),
  },
  ['name'],
);
const podSpec = obj(
  {
    containers: { array: container },
    initContainers: { array: container },
    volumes: { array: volume },
    serviceAccountName: str,
    automountServiceAccountToken: bool,
    enableServiceLinks: bool,
    restartPolicy: str,
    terminationGracePeriodSeconds: int,
    priorityClassName: str,
    nodeSelector: stringMap,
    tolerations: 'any',
    affinity: 'any',
    topologySpreadConstraints: 'any',
    securityContext: obj({
      runAsNonRoot: bool,
      runAsUser: int,
      runAsGroup: int,
      fsGroup: int,
      seccompProfile,
    }),
  },
  ['containers'],
);
const podTemplate = obj({ metadata: objectMeta, spec: podSpec });

function resource(spec: Record<string, Schema>, required: string[] = []): Schema {
  return obj({ apiVersion: str, kind: str, metadata: objectMeta, ...spec }, [
    'apiVersion',
    'kind',
    'metadata',
    ...required,
  ]);
}

/** apiVersion/kind -> schema. */
export const KINDS: Record<string, Schema> = {
  'v1/Namespace': resource({ spec: 'any' }),
  'v1/ServiceAccount': resource({
    automountServiceAccountToken: bool,
    imagePullSecrets: { array: obj({ name: str }) },
  }),
  'v1/ConfigMap': resource({ data: stringMap, binaryData: stringMap, immutable: bool }),
  'v1/Secret': resource({ type: str, data: stringMap, stringData: stringMap, immutable: bool }),
  'v1/Service': resource({
    spec: obj({
      type: str,
      clusterIP: str,
      selector: stringMap,
      sessionAffinity: str,
      publishNotReadyAddresses: bool,
      ports: {
        array: obj({ name: str, port: int, targetPort: ios, protocol: str, appProtocol: str, nodePort: int }, ['port']),
      },
    }),
  }),
  'apps/v1/Deployment': resource({
    spec: obj(
      {
        replicas: int,
        selector: labelSelector,
        template: podTemplate,
        strategy: obj({ type: str, rollingUpdate: obj({ maxSurge: ios, maxUnavailable: ios }) }),
        revisionHistoryLimit: int,
        minReadySeconds: int,
        progressDeadlineSeconds: int,
      },
      ['selector', 'template'],
    ),
  }),
  'batch/v1/Job': resource({
    spec: obj(
      {
        template: podTemplate,
        backoffLimit: int,
        ttlSecondsAfterFinished: int,
        activeDeadlineSeconds: int,
        completions: int,
        parallelism: int,
      },
      ['template'],
    ),
  }),
  'rbac.authorization.k8s.io/v1/ClusterRole': resource({
    rules: {
      array: obj(
        { apiGroups: strings, resources: strings, verbs: strings, resourceNames: strings, nonResourceURLs: strings },
        ['verbs'],
      ),
    },
  }),
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': resource(
    {
      roleRef: obj({ apiGroup: str, kind: str, name: str }, ['apiGroup', 'kind', 'name']),
      subjects: { array: obj({ kind: str, name: str, namespace: str, apiGroup: str }, ['kind', 'name']) },
    },
    ['roleRef'],
  ),
  'monitoring.coreos.com/v1/ServiceMonitor': resource(
    {
      spec: obj(
        {
          jobLabel: str,
          selector: labelSelector,
          namespaceSelector: obj({ any: bool, matchNames: strings }),
          endpoints: {
            array: obj({
              port: str,
              targetPort: ios,
              path: str,
              scheme: str,
              interval: str,
              scrapeTimeout: str,
              honorLabels: bool,
              authorization: 'any',
              relabelings: { array: relabelConfig() },
              metricRelabelings: { array: relabelConfig() },
            }),
          },
        },
        ['selector'],
      ),
    },
    ['spec'],
  ),
};

function relabelConfig(): Schema {
  return obj({
    sourceLabels: strings,
    separator: str,
    targetLabel: str,
    regex: str,
    modulus: int,
    replacement: str,
    action: str,
  });
}

/** Kinds that live in a namespace (kustomize's `namespace` applies to them). */
export const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function check(v: unknown, s: Schema, path: string, errors: string[]): void {
  if (s === 'any') return;
  const t = typeOf(v);
  if (s === 'string' || s === 'boolean') {
    if (t !== s) errors.push(`${path}: expected ${s}, got ${t}`);
    return;
  }
  if (s === 'integer') {
    if (!Number.isInteger(v)) errors.push(`${path}: expected integer, got ${t}`);
    return;
  }
  if (s === 'int-or-string') {
    if (t !== 'string' && !Number.isInteger(v)) errors.push(`${path}: expected integer or string, got ${t}`);
    return;
  }
  if ('array' in s) {
    if (t !== 'array') errors.push(`${path}: expected array, got ${t}`);
    else (v as unknown[]).forEach((x, i) => check(x, s.array, `${path}[${i}]`, errors));
    return;
  }
  if (t !== 'object') {
    errors.push(`${path}: expected object, got ${t}`);
    return;
  }
  const o = v as Record<string, unknown>;
  if ('map' in s) {
    for (const [k, x] of Object.entries(o)) check(x, s.map, `${path}.${k}`, errors);
    return;
  }
  for (const r of s.required ?? []) if (o[r] === undefined) errors.push(`${path}.${r}: required`);
  for (const [k, x] of Object.entries(o)) {
    const ks = s.object[k];
    if (ks === undefined) errors.push(`${path}.${k}: unknown field`);
    else check(x, ks, `${path}.${k}`, errors);
  }
}

/** Errors of one manifest object ([] when valid). */
export function validateResource(doc: unknown): string[] {
  const o = doc as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } };
  const key = `${String(o?.apiVersion)}/${String(o?.kind)}`;
  const schema = KINDS[key];
  if (!schema) return [`${key}: not a kind this validator knows`];
  const name = typeof o.metadata?.name === 'string' ? o.metadata.name : '?';
  const errors: string[] = [];
  check(doc, schema, `${String(o.kind)}/${name}`, errors);
  if (typeof o.metadata?.name !== 'string' || o.metadata.name === '')
    errors.push(`${String(o.kind)}: metadata.name is required`);
  return errors;
}
