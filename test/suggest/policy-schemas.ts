/**
 * Compact structural validators for the three policy resources, written from the published
 * schemas' field names and types: Kubernetes networking.k8s.io/v1 NetworkPolicy (OpenAPI
 * io.k8s.api.networking.v1.NetworkPolicy), Cilium's CiliumNetworkPolicy CRD (cilium.io/v2) and
 * Calico's NetworkPolicy (projectcalico.org/v3). Unknown fields, wrong types and missing required
 * fields are errors, as `kubectl apply --validate=strict` reports them.
 */
type Check = (v: unknown, path: string, errors: string[]) => void;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const str: Check = (v, p, e) => {
  if (typeof v !== 'string') e.push(`${p}: want string`);
};
const int: Check = (v, p, e) => {
  if (!Number.isInteger(v)) e.push(`${p}: want integer`);
};
const intOrString: Check = (v, p, e) => {
  if (!Number.isInteger(v) && typeof v !== 'string') e.push(`${p}: want int-or-string`);
};
const bool: Check = (v, p, e) => {
  if (typeof v !== 'boolean') e.push(`${p}: want boolean`);
};
const oneOfStr =
  (...allowed: string[]): Check =>
  (v, p, e) => {
    if (typeof v !== 'string' || !allowed.includes(v))
      e.push(`${p}: want one of ${allowed.join('|')}, got ${JSON.stringify(v)}`);
  };
const arr =
  (item: Check): Check =>
  (v, p, e) => {
    if (!Array.isArray(v)) return void e.push(`${p}: want array`);
    v.forEach((x, i) => item(x, `${p}[${i}]`, e));
  };
const map =
  (item: Check): Check =>
  (v, p, e) => {
    if (!isObj(v)) return void e.push(`${p}: want object`);
    for (const [k, x] of Object.entries(v)) item(x, `${p}.${k}`, e);
  };
const obj =
  (fields: Record<string, Check>, required: string[] = []): Check =>
  (v, p, e) => {
    if (!isObj(v)) return void e.push(`${p}: want object`);
    for (const r of required) if (v[r] === undefined) e.push(`${p}.${r}: required`);
    for (const [k, x] of Object.entries(v)) {
      const f = fields[k];
      if (!f) e.push(`${p}.${k}: unknown field`);
      else f(x, `${p}.${k}`, e);
    }
  };

const objectMeta = obj({
  name: str,
  namespace: str,
  labels: map(str),
  annotations: map(str),
});

// io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector
const labelSelector = obj({
  matchLabels: map(str),
  matchExpressions: arr(
    obj({ key: str, operator: oneOfStr('In', 'NotIn', 'Exists', 'DoesNotExist'), values: arr(str) }, [
      'key',
      'operator',
    ]),
  ),
});

// io.k8s.api.networking.v1.*
const ipBlock = obj({ cidr: str, except: arr(str) }, ['cidr']);
const npPeer = obj({ podSelector: labelSelector, namespaceSelector: labelSelector, ipBlock });
const npPort = obj({ protocol: oneOfStr('TCP', 'UDP', 'SCTP'), port: intOrString, endPort: int });
const networkPolicy = obj(
  {
    apiVersion: oneOfStr('networking.k8s.io/v1'),
    kind: oneOfStr('NetworkPolicy'),
    metadata: objectMeta,
    spec: obj(
      {
        podSelector: labelSelector,
        policyTypes: arr(oneOfStr('Ingress', 'Egress')),
        ingress: arr(obj({ from: arr(npPeer), ports: arr(npPort) })),
        egress: arr(obj({ to: arr(npPeer), ports: arr(npPort) })),
      },
      ['podSelector'],
    ),
  },
  ['apiVersion', 'kind', 'metadata', 'spec'],
);

// cilium.io/v2 CiliumNetworkPolicy (api/v1/policy: Rule, IngressRule, EgressRule, PortRule)
const ciliumEntity = oneOfStr(
  'all',
  'world',
  'world-ipv4',
  'world-ipv6',
  'cluster',
  'host',
  'remote-node',
  'kube-apiserver',
  'ingress',
  'health',
  'init',
  'unmanaged',
  'none',
);
const cidrRule = obj({ cidr: str, except: arr(str), cidrGroupRef: str }, []);
const portProtocol = obj(
  { port: str, endPort: int, protocol: oneOfStr('TCP', 'UDP', 'SCTP', 'ICMP', 'ICMPv6', 'ANY') },
  ['port'],
);
const portRule = obj({
  ports: arr(portProtocol),
  rules: obj({
    dns: arr(obj({ matchName: str, matchPattern: str })),
    http: arr(map(str)),
    kafka: arr(map(str)),
  }),
  serverNames: arr(str),
});
const fqdnSelector = obj({ matchName: str, matchPattern: str });
const ciliumIngress = obj({
  fromEndpoints: arr(labelSelector),
  fromRequires: arr(labelSelector),
  fromCIDR: arr(str),
  fromCIDRSet: arr(cidrRule),
  fromEntities: arr(ciliumEntity),
  toPorts: arr(portRule),
});
const ciliumEgress = obj({
  toEndpoints: arr(labelSelector),
  toRequires: arr(labelSelector),
  toCIDR: arr(str),
  toCIDRSet: arr(cidrRule),
  toEntities: arr(ciliumEntity),
  toFQDNs: arr(fqdnSelector),
  toServices: arr(map(map(str))),
  toPorts: arr(portRule),
});
const ciliumRule = obj({
  endpointSelector: labelSelector,
  nodeSelector: labelSelector,
  ingress: arr(ciliumIngress),
  ingressDeny: arr(ciliumIngress),
  egress: arr(ciliumEgress),
  egressDeny: arr(ciliumEgress),
  enableDefaultDeny: obj({ ingress: bool, egress: bool }),
  description: str,
  labels: arr(map(str)),
});
const ciliumNetworkPolicy = obj(
  {
    apiVersion: oneOfStr('cilium.io/v2'),
    kind: oneOfStr('CiliumNetworkPolicy'),
    metadata: objectMeta,
    spec: ciliumRule,
    specs: arr(ciliumRule),
  },
  ['apiVersion', 'kind', 'metadata'],
);

// projectcalico.org/v3 NetworkPolicy (api/pkg/apis/projectcalico/v3: NetworkPolicySpec, Rule, EntityRule)
const calicoPort = intOrString;
const entityRule = obj({
  nets: arr(str),
  notNets: arr(str),
  selector: str,
  notSelector: str,
  namespaceSelector: str,
  serviceAccounts: obj({ names: arr(str), selector: str }),
  services: obj({ name: str, namespace: str }),
  ports: arr(calicoPort),
  notPorts: arr(calicoPort),
});
const calicoRule = obj(
  {
    action: oneOfStr('Allow', 'Deny', 'Log', 'Pass'),
    ipVersion: int,
    protocol: intOrString,
    notProtocol: intOrString,
    icmp: obj({ type: int, code: int }),
    notICMP: obj({ type: int, code: int }),
    source: entityRule,
    destination: entityRule,
    http: obj({ methods: arr(str), paths: arr(map(str)) }),
    metadata: obj({ annotations: map(str) }),
  },
  ['action'],
);
const calicoNetworkPolicy = obj(
  {
    apiVersion: oneOfStr('projectcalico.org/v3'),
    kind: oneOfStr('NetworkPolicy'),
    metadata: objectMeta,
    spec: obj({
      tier: str,
      order: (v, p, e) => {
        if (typeof v !== 'number') e.push(`${p}: want number`);
      },
      selector: str,
      types: arr(oneOfStr('Ingress', 'Egress')),
      ingress: arr(calicoRule),
      egress: arr(calicoRule),
      serviceAccountSelector: str,
      performanceHints: arr(str),
    }),
  },
  ['apiVersion', 'kind', 'metadata', 'spec'],
);

/** Errors of one object against the schema its apiVersion/kind names (empty: valid). */
export function schemaErrors(o: unknown): string[] {
  const errors: string[] = [];
  const kind = isObj(o) ? `${String(o.apiVersion)}/${String(o.kind)}` : '?';
  const check =
    kind === 'networking.k8s.io/v1/NetworkPolicy'
      ? networkPolicy
      : kind === 'cilium.io/v2/CiliumNetworkPolicy'
        ? ciliumNetworkPolicy
        : kind === 'projectcalico.org/v3/NetworkPolicy'
          ? calicoNetworkPolicy
          : undefined;
  if (!check) return [`unknown resource ${kind}`];
  check(o, kind, errors);
  // Names are DNS-1123 subdomains (metadata.name of all three resources).
  const name = isObj(o) && isObj(o.metadata) ? o.metadata.name : undefined;
  if (typeof name !== 'string' || !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name))
    errors.push(`${kind}.metadata.name: not a DNS-1123 subdomain: ${JSON.stringify(name)}`);
  return errors;
}
