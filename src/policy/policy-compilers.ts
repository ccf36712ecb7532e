/**
 * The registered policy compilers, one per dialect. A new dialect is a PolicyCompiler in its own
 * file plus one entry here.
 */
import { calicoPolicyCompiler } from './calico-policy.compiler.js';
import { ciliumPolicyCompiler } from './cilium-policy.compiler.js';
import { clusterNetworkPolicyCompiler } from './cluster-network-policy.compiler.js';
import type { PolicyCompiler } from './compiled-policy.js';
import { kubernetesPolicyCompiler } from './kubernetes-policy.compiler.js';
import type { PolicyObject } from './policy-model.js';

export const POLICY_COMPILERS: readonly PolicyCompiler[] = [
  kubernetesPolicyCompiler,
  ciliumPolicyCompiler,
  calicoPolicyCompiler,
  clusterNetworkPolicyCompiler,
];

/** Compilers by the policy kinds they take; a kind registered twice is a programming error. */
export function compilersByKind(
  compilers: readonly PolicyCompiler[],
): ReadonlyMap<PolicyObject['kind'], PolicyCompiler> {
  const m = new Map<PolicyObject['kind'], PolicyCompiler>();
  for (const c of compilers)
    for (const k of c.kinds) {
      if (m.has(k)) throw new Error(`two compilers for ${k}`);
      m.set(k, c);
    }
  return m;
}
