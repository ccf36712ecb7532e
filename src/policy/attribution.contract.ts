/**
 * The attribution contract: what the aggregator stores per drop (`Attribution`), the port it calls
 * (`FlowAttributor`), and the one rule for the "reported" level (DESIGN.md "Attribution",
 * docs/POLICY.md): the deny and end-of-tier (`ruleIndex: -1`) entries the source named; for
 * denied flows the enforced ones, for audit flows the pending ones.
 */
import type { FlowPolicy, FlowRecord } from '../flow/flow-record.js';
import type { PolicyDirection } from './policy-model.js';

export type AttributionLevel = 'reported' | 'inferred' | 'unknown';

export interface AttributedPolicy {
  kind: string;
  namespace?: string;
  name: string;
  action?: 'allow' | 'deny' | 'pass';
  tier?: string;
  ruleIndex?: number;
  direction?: PolicyDirection;
}

export interface AttributedClosestRule {
  /** `ns/name` */
  policy: string;
  direction: PolicyDirection;
  ruleIndex: number;
  detail: string;
}

export interface Attribution {
  level: AttributionLevel;
  /** reported: the entries the source named; inferred: isolating policies, then deny rules. */
  policies: AttributedPolicy[];
  /** `ns/name` of the policies isolating the enforcing side (inferred). */
  isolatedBy?: string[];
  /** The side the answer is about (inferred), when known. */
  direction?: PolicyDirection;
  closestRules?: AttributedClosestRule[];
  /** A sentence for people: "no rule of default/deny-all admits TCP/80 from x/pod=b". */
  reason?: string;
}

export interface FlowAttributor {
  attribute(flow: FlowRecord): Attribution;
}

// ---- reported ----

function isVerdictEntry(p: FlowPolicy): boolean {
  return p.action === 'deny' || p.ruleIndex === -1;
}

/** The entries of `flow.policies` that name what dropped the flow (empty when none). */
export function reportedPolicies(flow: FlowRecord): FlowPolicy[] {
  const wantStage = flow.verdict === 'audit' ? 'pending' : 'enforced';
  const verdictEntries = flow.policies.filter(isVerdictEntry);
  const preferred = verdictEntries.filter((p) => p.stage === wantStage);
  return preferred.length > 0
    ? preferred
    : flow.verdict === 'audit'
      ? verdictEntries
      : verdictEntries.filter((p) => p.stage !== 'pending');
}

/** The reported-level attribution of the given entries (from reportedPolicies). */
export function reportedAttribution(flow: FlowRecord, entries: FlowPolicy[]): Attribution {
  const policies = entries.map((p) => {
    const out: AttributedPolicy = { kind: p.kind, name: p.name, action: p.action };
    if (p.namespace !== undefined) out.namespace = p.namespace;
    if (p.tier !== undefined) out.tier = p.tier;
    if (p.ruleIndex !== undefined) out.ruleIndex = p.ruleIndex;
    return out;
  });
  const names = entries.map((p) => {
    const n = p.namespace ? `${p.namespace}/${p.name}` : p.name;
    if (p.ruleIndex === -1) return `end of tier ${p.tier ?? 'default'} (after ${n})`;
    return `${p.kind} ${n}${p.ruleIndex !== undefined && p.ruleIndex >= 0 ? ` rule ${p.ruleIndex}` : ''}`;
  });
  return {
    level: 'reported',
    policies,
    reason: `${flow.source} reported ${names.join(', ')} ${flow.verdict === 'audit' ? 'would deny' : 'denied'} this flow`,
  };
}

/** Attribution from what the source reported only; used when no policy inventory is configured. */
export const reportedOnlyAttributor: FlowAttributor = {
  attribute(flow: FlowRecord): Attribution {
    const entries = reportedPolicies(flow);
    if (entries.length === 0)
      return { level: 'unknown', policies: [], reason: 'the source named no policy and no policy inventory is loaded' };
    return reportedAttribution(flow, entries);
  },
};

/** The `ns/name` (or `name` for cluster-scoped) string stored and filtered on. */
export function policyRef(p: { namespace?: string; name: string }): string {
  return p.namespace ? `${p.namespace}/${p.name}` : p.name;
}
