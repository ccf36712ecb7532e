/**
 * Which pod labels name a workload. Controllers stamp per-revision or per-pod labels
 * (pod-template-hash, controller-revision-hash, statefulset pod-name, ...): a selector on them
 * breaks at the next rollout or selects a single replica, so they never appear in suggestions.
 */
import type { Labels } from '../policy/index.js';

/** Label keys that change per revision or per pod. */
const VOLATILE_KEYS = new Set([
  'pod-template-hash',
  'controller-revision-hash',
  'pod-template-generation',
  'statefulset.kubernetes.io/pod-name',
  'apps.kubernetes.io/pod-index',
  'batch.kubernetes.io/controller-uid',
  'controller-uid',
  'batch.kubernetes.io/job-completion-index',
  'job-completion-index',
  'security.istio.io/tlsMode',
  'service.istio.io/canonical-revision',
]);
const VOLATILE_PREFIXES = ['topology.kubernetes.io/', 'io.cilium.', 'io.kubernetes.'];

/** Keys that name a workload, in order of preference. */
export const WORKLOAD_LABEL_KEYS = [
  'app.kubernetes.io/name',
  'app',
  'k8s-app',
  'name',
  'app.kubernetes.io/instance',
  'app.kubernetes.io/component',
  'component',
] as const;

export function isStableLabelKey(key: string): boolean {
  return !VOLATILE_KEYS.has(key) && !VOLATILE_PREFIXES.some((p) => key.startsWith(p));
}

export function stableLabels(labels: Labels): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(labels).sort()) if (isStableLabelKey(k)) out[k] = labels[k];
  return out;
}

export function labelsMatch(selector: Labels, labels: Labels): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/**
 * The smallest readable selector for a workload: the preferred workload keys first (one, then
 * accumulating), else all stable labels. `neighbours` are the stable labels of the other pods of
 * the namespace; a candidate is accepted when it selects no pod outside the workload (pods whose
 * stable labels equal the workload's).
 */
export function workloadSelector(labels: Labels, neighbours: readonly Labels[]): Record<string, string> {
  const stable = stableLabels(labels);
  // Replicas may carry more labels than the flow reported: a pod belongs when it has all of them.
  const others = neighbours.filter((n) => !labelsMatch(stable, stableLabels(n)));
  const exact = (sel: Labels): boolean => !others.some((n) => labelsMatch(sel, n));
  const chosen: Record<string, string> = {};
  for (const k of WORKLOAD_LABEL_KEYS) {
    if (stable[k] === undefined) continue;
    chosen[k] = stable[k];
    if (exact(chosen)) return { ...chosen };
  }
  return stable;
}
