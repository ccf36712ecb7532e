import type { FlowRecord } from '../flow/flow-record.js';

export type AttributionLevel = 'reported' | 'inferred' | 'unknown';

/** Which policy dropped a flow, and how we know (DESIGN.md "Attribution"). */
export interface Attribution {
  level: AttributionLevel;
  policies: Array<{
    kind: string;
    namespace?: string;
    name: string;
    action?: string;
    tier?: string;
    ruleIndex?: number;
  }>;
  /** `ns/name` of the policies isolating the endpoint (inferred level). */
  isolatedBy?: string[];
  /** A sentence a person can act on. */
  reason?: string;
}

/** The aggregator's view of attribution; the policy evaluator plugs in behind it. Called per drop: keep it cheap. */
export interface FlowAttributor {
  attribute(flow: FlowRecord): Attribution;
}

/**
 * Attribution from what the source itself reported: the deny (or end-of-tier deny) entries of
 * `policies`; unknown otherwise. Used when no policy inventory is configured.
 */
export const reportedOnlyAttributor: FlowAttributor = {
  attribute(flow: FlowRecord): Attribution {
    const denying = flow.policies.filter((p) => p.action === 'deny' && p.stage === 'enforced');
    const chosen =
      denying.length > 0 ? denying : flow.verdict === 'audit' ? flow.policies.filter((p) => p.action === 'deny') : [];
    if (chosen.length === 0)
      return { level: 'unknown', policies: [], reason: 'the source named no policy and no policy inventory is loaded' };
    return {
      level: 'reported',
      policies: chosen.map((p) => ({
        kind: p.kind,
        namespace: p.namespace,
        name: p.name,
        action: p.action,
        tier: p.tier,
        ruleIndex: p.ruleIndex,
      })),
    };
  },
};

/** The `ns/name` (or `name` for cluster-scoped) string stored and filtered on. */
export function policyRef(p: { namespace?: string; name: string }): string {
  return p.namespace ? `${p.namespace}/${p.name}` : p.name;
}
