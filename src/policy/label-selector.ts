/**
 * Kubernetes label selectors (metav1.LabelSelector): matchLabels + matchExpressions
 * (In, NotIn, Exists, DoesNotExist), compiled once into a predicate. An empty selector matches
 * everything; a missing selector is a different thing and is handled by the caller.
 */

export type Labels = Readonly<Record<string, string>>;

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface LabelSelectorRequirement {
  key: string;
  operator: SelectorOperator;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export type LabelPredicate = (labels: Labels) => boolean;

/**
 * The value of a label, own properties only: label keys such as `constructor` or `toString` must
 * not resolve to Object.prototype members, and a `__proto__` label is ordinary data.
 */
export function labelValue(labels: Labels, key: string): string | undefined {
  return Object.hasOwn(labels, key) ? labels[key] : undefined;
}

/** A label map from entries; defines every key as an own property (`out[k] = v` would drop `__proto__`). */
export function labelMap(entries: Iterable<readonly [string, string]>): Record<string, string> {
  return Object.fromEntries(entries) as Record<string, string>;
}

export const SELECTOR_OPERATORS: readonly SelectorOperator[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

const MATCH_ALL: LabelPredicate = () => true;

/** True when the selector has no requirement at all (matches every label set). */
export function isEmptySelector(sel: LabelSelector): boolean {
  return Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0;
}

/** Requirements of a selector in one flat list (matchLabels become `In [v]`). */
export function selectorRequirements(sel: LabelSelector): LabelSelectorRequirement[] {
  const reqs: LabelSelectorRequirement[] = [];
  for (const [key, value] of Object.entries(sel.matchLabels ?? {})) reqs.push({ key, operator: 'In', values: [value] });
  for (const e of sel.matchExpressions ?? []) reqs.push(e);
  return reqs;
}

/**
 * A label that every label set the selector matches carries: the first `In` (or matchLabels)
 * requirement, as key and allowed values; undefined when the selector has none.
 */
export function requiredLabel(sel: LabelSelector): { key: string; values: readonly string[] } | undefined {
  const r = selectorRequirements(sel).find((x) => x.operator === 'In');
  return r ? { key: r.key, values: r.values ?? [] } : undefined;
}

/** Compile a selector into a predicate; `keyMap` rewrites keys (Cilium `k8s:` prefixes). */
export function compileLabelSelector(sel: LabelSelector, keyMap?: (key: string) => string): LabelPredicate {
  const reqs = selectorRequirements(sel).map((r) => ({ ...r, key: keyMap ? keyMap(r.key) : r.key }));
  if (reqs.length === 0) return MATCH_ALL;
  const checks: LabelPredicate[] = reqs.map((r) => {
    const key = r.key;
    switch (r.operator) {
      case 'In': {
        const values = r.values ?? [];
        // The value first, own-property check only when it matches (labelValue's answer, cheaper
        // for the many label sets that do not match): inherited members are never label strings.
        if (values.length === 1) {
          const v = values[0];
          return (l) => l[key] === v && Object.hasOwn(l, key);
        }
        const set = new Set(values);
        return (l) => {
          const v = l[key];
          return typeof v === 'string' && set.has(v) && Object.hasOwn(l, key);
        };
      }
      case 'NotIn': {
        const set = new Set(r.values ?? []);
        return (l) => {
          const v = labelValue(l, key);
          return v === undefined || !set.has(v);
        };
      }
      case 'Exists':
        return (l) => Object.hasOwn(l, key);
      case 'DoesNotExist':
        return (l) => !Object.hasOwn(l, key);
    }
  });
  if (checks.length === 1) return checks[0];
  return (l) => {
    for (const c of checks) if (!c(l)) return false;
    return true;
  };
}

/** Human form: `app=web,tier in (a,b),!legacy`; `{}` for the empty selector. */
export function describeSelector(sel: LabelSelector): string {
  const parts = selectorRequirements(sel).map((r) => {
    switch (r.operator) {
      case 'In':
        return (r.values ?? []).length === 1
          ? `${r.key}=${(r.values ?? [])[0]}`
          : `${r.key} in (${(r.values ?? []).join(',')})`;
      case 'NotIn':
        return `${r.key} notin (${(r.values ?? []).join(',')})`;
      case 'Exists':
        return r.key;
      case 'DoesNotExist':
        return `!${r.key}`;
    }
  });
  return parts.length === 0 ? '{}' : parts.join(',');
}

/** Canonical, order-independent string of a label set: `k1=v1,k2=v2` sorted by key. */
export function canonicalLabels(labels: Labels | undefined): string {
  if (!labels) return '';
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  keys.sort();
  let out = '';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    out += (i === 0 ? '' : ',') + k + '=' + labels[k];
  }
  return out;
}

/** `app=x,tier=y` or `{}`: used in reasons. */
export function describeLabels(labels: Labels | undefined): string {
  const c = canonicalLabels(labels);
  return c === '' ? '{}' : c;
}
