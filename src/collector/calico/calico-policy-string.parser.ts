import type { FlowPolicy, PolicyAction, PolicyStage } from '../../flow/flow-record.js';

/**
 * Calico policy-trace strings (`enforced_policies[]`, `pending_policies[]`, `transit_policies[]`,
 * legacy `all_policies[]`) to FlowPolicy entries. Both name dialects are accepted:
 *
 *   entry    = index "|" tier "|" namePart "|" action [ "|" ruleIndex ]
 *   legacy   : namePart = [ns "/"] ["staged:"] tier "." name | [ns "/"] ["staged:"] "knp.default." name
 *              | "__PROFILE__." profileName | "kanp.<tier>." name | "kbanp.<tier>." name
 *   explicit : namePart = shortKind ":" [ns "/"] name   (Calico >= 3.32)
 *
 * A namePart is explicit when the text before its first `:` is a known short kind, legacy
 * otherwise (so `ns/tier.staged:name` stays legacy). See docs/CALICO.md for the full table.
 */

export class PolicyStringError extends Error {
  constructor(
    readonly input: string,
    message: string,
  ) {
    super(
      `bad Calico policy string ${JSON.stringify(input.length > 200 ? `${input.slice(0, 200)}...` : input)}: ${message}`,
    );
    this.name = 'PolicyStringError';
  }
}

/** One parsed entry: its position in the evaluation trace plus the normalized policy. */
export interface PolicyHitEntry {
  /** Order of the hit in the trace (0-based). */
  index: number;
  policy: FlowPolicy;
}

/** Short kinds of the explicit-kind dialect (Calico 3.32+, Enterprise parser extras). */
const SHORT_KINDS: Readonly<Record<string, { kind: string; namespaced: boolean; tiered: boolean }>> = {
  gnp: { kind: 'GlobalNetworkPolicy', namespaced: false, tiered: true },
  np: { kind: 'CalicoNetworkPolicy', namespaced: true, tiered: true },
  sgnp: { kind: 'StagedGlobalNetworkPolicy', namespaced: false, tiered: true },
  snp: { kind: 'StagedNetworkPolicy', namespaced: true, tiered: true },
  knp: { kind: 'NetworkPolicy', namespaced: true, tiered: false },
  sknp: { kind: 'StagedKubernetesNetworkPolicy', namespaced: true, tiered: false },
  kcnp: { kind: 'ClusterNetworkPolicy', namespaced: false, tiered: false },
  pro: { kind: 'Profile', namespaced: false, tiered: false },
  eot: { kind: 'EndOfTier', namespaced: false, tiered: false },
  kanp: { kind: 'AdminNetworkPolicy', namespaced: false, tiered: false },
  kbanp: { kind: 'BaselineAdminNetworkPolicy', namespaced: false, tiered: false },
};

const PROFILE_TIER = '__PROFILE__';
const KNP_PREFIX = 'knp.default.';
const STAGED = 'staged:';

/** Kinds whose hits never affect traffic (they only appear in pending traces). */
export function isStagedKind(kind: string): boolean {
  return kind.startsWith('Staged');
}

function parseAction(raw: string, input: string): PolicyAction {
  switch (raw) {
    case 'allow':
    case 'deny':
    case 'pass':
      return raw;
    case 'Allow':
    case 'ALLOW':
      return 'allow';
    case 'Deny':
    case 'DENY':
      return 'deny';
    case 'Pass':
    case 'PASS':
    case 'next-tier':
      return 'pass';
    default:
      throw new PolicyStringError(input, `action must be allow, deny or pass, got ${JSON.stringify(raw)}`);
  }
}

const INT_RE = /^-?\d{1,9}$/;

/** ruleIndex: >= 0, -1 end of tier; -2 (unknown), `-`, `*` (obfuscated) and absent -> undefined. */
function parseRuleIndex(raw: string | undefined, input: string): number | undefined {
  if (raw === undefined || raw === '-' || raw === '*' || raw === '') return undefined;
  if (!INT_RE.test(raw))
    throw new PolicyStringError(input, `rule index must be an integer, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (n >= -1) return n;
  if (n === -2) return undefined;
  throw new PolicyStringError(input, `rule index must be >= -2, got ${n}`);
}

/** Removes a leading `<tier>.` from a Calico policy name; names may contain further dots. */
function stripTier(name: string, tier: string | undefined): string {
  if (tier && name.length > tier.length + 1 && name.startsWith(tier) && name.charCodeAt(tier.length) === 46 /* . */)
    return name.slice(tier.length + 1);
  return name;
}

function splitNamespace(s: string): [string | undefined, string] {
  const slash = s.indexOf('/');
  if (slash < 0) return [undefined, s];
  return [s.slice(0, slash) || undefined, s.slice(slash + 1)];
}

function explicitKind(
  namePart: string,
  tier: string,
  input: string,
): Omit<FlowPolicy, 'action' | 'stage' | 'ruleIndex'> | undefined {
  const colon = namePart.indexOf(':');
  if (colon <= 0) return undefined;
  const short = namePart.slice(0, colon);
  if (!Object.prototype.hasOwnProperty.call(SHORT_KINDS, short)) return undefined;
  const spec = SHORT_KINDS[short];
  const rest = namePart.slice(colon + 1);
  const [namespace, rawName] = spec.namespaced || rest.includes('/') ? splitNamespace(rest) : [undefined, rest];
  let name = rawName;
  if (spec.namespaced && namespace === undefined)
    throw new PolicyStringError(input, `kind ${short} needs "<namespace>/<name>", got ${JSON.stringify(rest)}`);
  if (spec.tiered) name = stripTier(name, tier);
  if (!name) throw new PolicyStringError(input, 'policy name is empty');
  const out: Omit<FlowPolicy, 'action' | 'stage' | 'ruleIndex'> = { kind: spec.kind, name };
  if (namespace !== undefined) out.namespace = namespace;
  if (spec.kind !== 'Profile' && tier && tier !== PROFILE_TIER) out.tier = tier;
  return out;
}

function legacyKind(namePart: string, tier: string, input: string): Omit<FlowPolicy, 'action' | 'stage' | 'ruleIndex'> {
  if (tier === PROFILE_TIER || namePart.startsWith(`${PROFILE_TIER}.`)) {
    const name = namePart.startsWith(`${PROFILE_TIER}.`) ? namePart.slice(PROFILE_TIER.length + 1) : namePart;
    if (!name) throw new PolicyStringError(input, 'profile name is empty');
    return { kind: 'Profile', name };
  }
  // `staged:` may sit before the tier (docs form `ns/staged:tier.name`), before `knp.default.`
  // or after the tier (code form `ns/tier.staged:name`): remove it wherever it is.
  let staged = false;
  let s = namePart;
  const at = s.indexOf(STAGED);
  if (at >= 0) {
    staged = true;
    s = s.slice(0, at) + s.slice(at + STAGED.length);
  }
  const [namespace, rest] = splitNamespace(s);
  let kind: string;
  let name: string;
  let outTier: string | undefined = tier || undefined;
  if (rest.startsWith(KNP_PREFIX)) {
    kind = staged ? 'StagedKubernetesNetworkPolicy' : 'NetworkPolicy';
    name = rest.slice(KNP_PREFIX.length);
    outTier = tier || 'default';
  } else if (rest.startsWith('kanp.')) {
    kind = 'AdminNetworkPolicy';
    name = stripTier(rest.slice(5), tier);
  } else if (rest.startsWith('kbanp.')) {
    kind = 'BaselineAdminNetworkPolicy';
    name = stripTier(rest.slice(6), tier);
  } else if (tier === '*' && rest === '*') {
    // Enterprise API obfuscation (`N|*|*|action|*`): the caller may not see the tier.
    return { kind: 'Obfuscated', name: '*' };
  } else {
    name = stripTier(rest, tier);
    if (namespace !== undefined) kind = staged ? 'StagedNetworkPolicy' : 'CalicoNetworkPolicy';
    else kind = staged ? 'StagedGlobalNetworkPolicy' : 'GlobalNetworkPolicy';
  }
  if (!name) throw new PolicyStringError(input, 'policy name is empty');
  const out: Omit<FlowPolicy, 'action' | 'stage' | 'ruleIndex'> = { kind, name };
  if (namespace !== undefined) out.namespace = namespace;
  if (outTier !== undefined) out.tier = outTier;
  return out;
}

/**
 * Parses one policy string. Throws PolicyStringError with the offending input and reason.
 * The returned policy is a fresh object owned by the caller.
 */
export function parsePolicyString(input: string, stage: PolicyStage): PolicyHitEntry {
  if (typeof input !== 'string') throw new PolicyStringError(String(input), 'must be a string');
  const parts = input.split('|');
  if (parts.length !== 4 && parts.length !== 5)
    throw new PolicyStringError(input, `expected "index|tier|name|action[|ruleIndex]", got ${parts.length} fields`);
  const [rawIndex, tier, namePart, rawAction, rawRule] = parts;
  if (!/^\d{1,6}$/.test(rawIndex))
    throw new PolicyStringError(input, `index must be a non-negative integer, got ${JSON.stringify(rawIndex)}`);
  if (!namePart) throw new PolicyStringError(input, 'policy name is empty');
  const action = parseAction(rawAction, input);
  const ruleIndex = parseRuleIndex(rawRule, input);
  const base = explicitKind(namePart, tier, input) ?? legacyKind(namePart, tier, input);
  const policy: FlowPolicy = { ...base, action, stage };
  if (ruleIndex !== undefined) policy.ruleIndex = ruleIndex;
  return { index: Number(rawIndex), policy };
}

/**
 * A bounded memo of parsed strings: real flow logs repeat the same few hundred policy strings
 * millions of times. Cached FlowPolicy objects are frozen and shared between records.
 */
export class PolicyStringCache {
  private readonly enforced = new Map<string, Readonly<PolicyHitEntry>>();
  private readonly pending = new Map<string, Readonly<PolicyHitEntry>>();

  constructor(private readonly maxEntries = 10_000) {}

  get(input: string, stage: PolicyStage): Readonly<PolicyHitEntry> {
    const map = stage === 'enforced' ? this.enforced : this.pending;
    let hit = map.get(input);
    if (hit === undefined) {
      const parsed = parsePolicyString(input, stage);
      hit = Object.freeze({ index: parsed.index, policy: Object.freeze(parsed.policy) });
      if (map.size >= this.maxEntries) map.clear();
      map.set(input, hit);
    }
    return hit;
  }
}

const defaultCache = new PolicyStringCache();

function sortByIndex(entries: Readonly<PolicyHitEntry>[]): void {
  // Usually already sorted and tiny: insertion sort, no comparator allocation per call.
  for (let i = 1; i < entries.length; i++) {
    const e = entries[i];
    let j = i - 1;
    while (j >= 0 && entries[j].index > e.index) {
      entries[j + 1] = entries[j];
      j--;
    }
    entries[j + 1] = e;
  }
}

/**
 * Parses a trace (one of the `*_policies` arrays) sorted by index. Throws on any bad entry or on
 * a non-array. `null`/`undefined` give an empty trace.
 */
export function parsePolicyTrace(
  list: unknown,
  stage: PolicyStage,
  cache: PolicyStringCache = defaultCache,
): Readonly<PolicyHitEntry>[] {
  if (list === null || list === undefined) return [];
  if (!Array.isArray(list)) throw new PolicyStringError(String(list), 'a policy list must be an array of strings');
  const out: Readonly<PolicyHitEntry>[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const s: unknown = list[i];
    if (typeof s !== 'string') throw new PolicyStringError(JSON.stringify(s) ?? String(s), 'must be a string');
    out[i] = cache.get(s, stage);
  }
  sortByIndex(out);
  return out;
}

/** The verdict entry of a sorted trace: the one with the highest index. */
export function verdictEntry<T extends { index: number }>(sorted: readonly T[]): T | undefined {
  return sorted.length === 0 ? undefined : sorted[sorted.length - 1];
}

/** Parses one string list (unsorted input, any stage), returning FlowPolicy entries sorted by index. */
export function parsePolicyStrings(list: readonly string[], stage: PolicyStage): FlowPolicy[] {
  return parsePolicyTrace(list, stage).map((e) => ({ ...e.policy }));
}
