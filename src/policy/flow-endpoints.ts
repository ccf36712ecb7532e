/**
 * FlowEndpoint (what a flow carries) → PolicyEndpoint (what the evaluator needs). Pod labels and
 * namespace come from the flow; namespace labels from the inventory's Namespace, else the ones
 * Cilium embeds in flow labels (`io.cilium.k8s.namespace.labels.*`), else the implicit
 * `kubernetes.io/metadata.name`. Named ports and hostNetwork come from the inventory's Pod when
 * known. A flow endpoint without labels is filled in from the inventory (by pod name or IP), then
 * from endpoints observed on earlier flows.
 */
import type { FlowEndpoint } from '../flow/flow-record.js';
import { NAMESPACE_NAME_LABEL } from './manifest.normalize.js';
import { withMemoSlot, type NetworkPolicyEvaluator, type PolicyEndpoint } from './network-policy.evaluator.js';
import { splitFlowLabels, type PolicyInventory } from './policy-inventory.js';
import type { PodObject } from './policy-model.js';

function inventoryPod(inv: PolicyInventory, e: FlowEndpoint): PodObject | undefined {
  if (e.namespace && e.pod) {
    const p = inv.pod(e.namespace, e.pod);
    if (p) return p;
  }
  if (e.ip) {
    const p = inv.podByIp(e.ip);
    if (p && (!e.namespace || p.namespace === e.namespace)) return p;
  }
  return undefined;
}

/** Map a flow endpoint for evaluation; `notes` receives what had to be guessed or is missing. */
export function policyEndpointFromFlow(
  evaluator: NetworkPolicyEvaluator,
  e: FlowEndpoint,
  notes?: string[],
): PolicyEndpoint {
  // A new object the evaluator may keep its identity memo in.
  return withMemoSlot(mapFlowEndpoint(evaluator, e, notes));
}

function mapFlowEndpoint(evaluator: NetworkPolicyEvaluator, e: FlowEndpoint, notes?: string[]): PolicyEndpoint {
  const inv = evaluator.inventory;
  switch (e.kind) {
    case 'world':
    case 'network':
      return e.ip !== undefined ? { kind: 'external', labels: {}, ip: e.ip } : { kind: 'external', labels: {} };
    case 'host':
      return e.ip !== undefined ? { kind: 'host', labels: {}, ip: e.ip } : { kind: 'host', labels: {} };
    default:
      break;
  }
  const pod = inventoryPod(inv, e);
  if (e.kind === 'service' && !pod) {
    notes?.push(
      `service ${e.service?.namespace ?? e.namespace ?? ''}/${e.service?.name ?? ''}: backend pod unknown (pre-DNAT address)`,
    );
  }
  if (!e.namespace && !pod) {
    // Unknown and not in the inventory: an address outside the cluster as far as we can tell.
    if (e.kind === 'pod') notes?.push(`pod endpoint ${e.ip ?? '?'} without namespace`);
    return e.ip !== undefined ? { kind: 'external', labels: {}, ip: e.ip } : { kind: 'external', labels: {} };
  }
  const namespace = e.namespace ?? pod?.namespace ?? '';
  let { pod: labels, namespace: nsLabels } = splitFlowLabels(e.labels);
  if (Object.keys(labels).length === 0) {
    if (pod) labels = { ...pod.labels };
    else {
      const seen =
        (e.pod ? inv.observed.byName(namespace, e.pod) : undefined) ??
        (e.ip ? inv.observed.byAddress(e.ip) : undefined);
      if (seen) ({ pod: labels, namespace: nsLabels } = splitFlowLabels(seen.labels));
      else notes?.push(`no labels known for ${namespace}/${e.pod ?? e.ip ?? '?'}`);
    }
  }
  const out: PolicyEndpoint = { kind: 'pod', namespace, labels };
  if (e.pod ?? pod?.name) out.name = e.pod ?? pod?.name;
  if (!inv.hasNamespaceManifest(namespace) && Object.keys(nsLabels).length > 0) {
    out.namespaceLabels = { ...nsLabels, [NAMESPACE_NAME_LABEL]: namespace };
  }
  const ip = e.ip ?? pod?.ips[0];
  if (ip !== undefined) out.ip = ip;
  if (pod) {
    out.namedPorts = pod.ports;
    if (pod.hostNetwork) out.hostNetwork = true;
  }
  return out;
}
