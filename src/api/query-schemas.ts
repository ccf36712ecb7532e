/**
 * The query parameters and JSON bodies of each endpoint, declared once (plain TypeScript): the
 * request parsers accept exactly these names (api-requests.ts, request-body.ts) and the OpenAPI
 * document is generated from them (api-docs.decorators.ts, `QueryParams`, `JsonBody`), so the two
 * cannot drift.
 */
import { POLICY_PROTOCOLS } from '../policy/policy-model.js';
import { SUMMARY_BY, STEPS } from '../storage/readers.js';
import { SUGGEST_FORMATS, SUGGEST_MODES } from '../suggest/suggestion-model.js';
import { ALL_VERDICTS, ATTRIBUTION_LEVELS, DIRECTION_VALUES, DROP_VERDICTS } from './drop-filters.js';
import { TIME_FORM } from './query-params.js';

export interface QueryParamSpec {
  name: string;
  type: 'string' | 'integer';
  description: string;
  enum?: readonly string[];
}

export type QuerySchema = readonly QueryParamSpec[];

export const LIMITS = {
  drops: { def: 100, max: 1000 },
  summary: { def: 20, max: 1000 },
  edges: { def: 1000, max: 5000 },
  policies: { def: 1000, max: 5000 },
  recentDrops: { def: 20, max: 200 },
} as const;

const text = (name: string, description: string): QueryParamSpec => ({ name, type: 'string', description });

const limit = (what: string, l: { def: number; max: number }): QueryParamSpec => ({
  name: 'limit',
  type: 'integer',
  description: `${what}, 1-${l.max}, default ${l.def}`,
});

const CURSOR = text('cursor', 'The nextCursor of the previous page');

export const TIME_RANGE: QuerySchema = [
  text('from', `Start (inclusive): ${TIME_FORM}. Default: to - 24h`),
  text('to', `End (exclusive): ${TIME_FORM}. Default: now`),
];

/** The filters of the drop and flow endpoints; `verdicts` is the accepted set (also the default). */
function filters(verdicts: readonly string[], pods: boolean): QuerySchema {
  return [
    ...TIME_RANGE,
    text('cluster', 'Cluster name'),
    text('namespace', 'Namespace on either side'),
    text('srcNamespace', 'Source namespace'),
    text('dstNamespace', 'Destination namespace'),
    text('workload', 'Workload on either side: `Kind/name` (Deployment/frontend), or a bare name matching any kind'),
    text('srcWorkload', 'Source workload (`Kind/name` or bare name)'),
    text('dstWorkload', 'Destination workload (`Kind/name` or bare name)'),
    text(
      'pod',
      pods
        ? 'Pod name on either side'
        : 'Not available here (roll-ups are per workload): a 400 says so; use GET /api/v1/drops?pod=',
    ),
    text('policy', 'Attributed policy: `namespace/name`, or `name` for a cluster-wide policy'),
    text('reason', 'The source drop reason, e.g. POLICY_DENIED, POLICY_DENY'),
    text('direction', `Comma-separated: ${DIRECTION_VALUES.join('|')}`),
    text('verdict', `Comma-separated: ${verdicts.join('|')}. Default: all of them`),
    text('attribution', `Attribution level, comma-separated: ${ATTRIBUTION_LEVELS.join('|')}`),
  ];
}

/** The window of stored history that suggestions and what-ifs replay: a week unless asked. */
export const HISTORY_WINDOW_MS = 7 * 86_400_000;

const HISTORY_RANGE: QuerySchema = [
  text('from', `Start (inclusive): ${TIME_FORM}. Default: to - 7d`),
  text('to', `End (exclusive): ${TIME_FORM}. Default: now`),
];

export const QUERY_SCHEMAS = {
  drops: [...filters(DROP_VERDICTS, true), limit('Page size', LIMITS.drops), CURSOR],
  summary: [
    ...filters(DROP_VERDICTS, false),
    { name: 'by', type: 'string', enum: SUMMARY_BY, description: 'Grouping, default edge' },
    limit('Top N', LIMITS.summary),
  ],
  timeseries: [
    ...filters(DROP_VERDICTS, false),
    {
      name: 'step',
      type: 'string',
      enum: Object.keys(STEPS),
      description: 'Bucket width; default chosen from the range (1m up to 1h, 5m up to 6h, 1h up to 14d, else 1d)',
    },
  ],
  edges: [...filters(ALL_VERDICTS, false), limit('Page size', LIMITS.edges), CURSOR],
  policies: [...TIME_RANGE, limit('Page size', LIMITS.policies), CURSOR],
  policyDetail: [
    ...TIME_RANGE,
    {
      name: 'recent',
      type: 'integer',
      description: `Recent drop events to include, 1-${LIMITS.recentDrops.max}, default ${LIMITS.recentDrops.def}`,
    },
  ],
  alerts: [
    {
      name: 'status',
      type: 'string',
      description: 'Only alerts in this state',
      enum: ['pending', 'firing', 'resolved'],
    },
    text('fingerprint', 'Only the alert with this fingerprint'),
    { name: 'limit', type: 'integer', description: 'Page size, 1-1000, default 100' },
  ],
  suggestions: [
    ...HISTORY_RANGE,
    text('namespace', 'Only policies for this namespace (baseline: the namespace to lock down)'),
    {
      name: 'mode',
      type: 'string',
      enum: SUGGEST_MODES,
      description: 'fix: allow what was denied (default); baseline: lock down a namespace keeping what was seen',
    },
    { name: 'format', type: 'string', enum: SUGGEST_FORMATS, description: 'Policy dialect of the YAML, default k8s' },
  ],
  alertRules: [],
  silences: [text('expired', '`true` adds expired silences')],
} satisfies Record<string, QuerySchema>;

export function paramNames(schema: QuerySchema): string[] {
  return schema.map((p) => p.name);
}

/** An OpenAPI 3 schema fragment, used in the document as written. */
export type OpenApiSchema = Readonly<Record<string, unknown>>;

/**
 * A field of a JSON body. The checker enforces the names, `required` and, for a list of objects,
 * `minItems`/`maxItems` of `schema` and the objects' own `fields`; the values themselves are
 * parsed by the domain (the same parsers the CLI uses).
 */
export interface BodyFieldSpec {
  name: string;
  description: string;
  required?: boolean;
  /** The value's schema; for a list of objects `{type: 'array', minItems, maxItems}` without `items`. */
  schema: OpenApiSchema;
  /** A list of objects: the fields of each. */
  fields?: BodySchema;
}

export type BodySchema = readonly BodyFieldSpec[];

/** Probes per POST /api/v1/policy-test request. */
export const MAX_PROBES = 10_000;

const ENDPOINT_REF = 'NAMESPACE/POD or an IP address (an IP of a pod in the inventory is that pod)';

export const BODY_SCHEMAS = {
  policyTest: [
    {
      name: 'probes',
      required: true,
      description: 'The flows to evaluate, answered in this order',
      schema: { type: 'array', minItems: 1, maxItems: MAX_PROBES },
      fields: [
        {
          name: 'from',
          required: true,
          description: ENDPOINT_REF,
          schema: { type: 'string', example: 'default/xwing' },
        },
        {
          name: 'to',
          required: true,
          description: ENDPOINT_REF,
          schema: { type: 'string', example: 'default/deathstar-7848d6c4d5-th9v2' },
        },
        {
          name: 'port',
          required: true,
          description: "1-65535, or a port name resolved on the destination pod's container ports",
          schema: { oneOf: [{ type: 'integer', minimum: 1, maximum: 65535 }, { type: 'string' }], example: 80 },
        },
        {
          name: 'protocol',
          description: 'Default TCP (any case)',
          schema: { type: 'string', enum: POLICY_PROTOCOLS, default: 'TCP' },
        },
        {
          name: 'expected',
          description: 'The verdict you expect; echoed in the result, to compare with `allowed`',
          schema: { type: 'string', enum: ['allow', 'deny'] },
        },
      ],
    },
  ],
  whatIf: [
    {
      name: 'add',
      description: 'Policies to add or replace (same kind, namespace and name): YAML text, or a list of objects',
      schema: { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'object', additionalProperties: true } }] },
    },
    {
      name: 'remove',
      description: '`namespace/name` (`name` when cluster-wide)',
      schema: { type: 'array', items: { type: 'string' } },
    },
    { name: 'staged', description: "Propose the inventory's Calico staged policies", schema: { type: 'boolean' } },
    { name: 'from', description: `Window start: ${TIME_FORM}. Default: to - 7d`, schema: { type: 'string' } },
    { name: 'to', description: 'Window end. Default: now', schema: { type: 'string' } },
    { name: 'namespace', description: 'Only edges with either end in this namespace', schema: { type: 'string' } },
  ],
} satisfies Record<string, BodySchema>;
