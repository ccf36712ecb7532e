/**
 * The upstream Kubernetes e2e network-policy model (test/e2e/network/netpol): namespaces x, y, z
 * labelled ns=<name>; pods a, b, c in each labelled pod=<name>; each pod serves 80 and 81 on TCP,
 * UDP and SCTP (port names serve-<port>-<proto>) and 82/TCP. Helpers build an inventory from the
 * fixture plus policy YAML and compare reachability with the expected set of denied pairs.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from '@jest/globals';
import { parseManifestText } from '../../src/policy/manifest.loader.js';
import {
  NetworkPolicyEvaluator,
  type EvaluatorOptions,
  type PolicyDecision,
  type PolicyEndpoint,
} from '../../src/policy/network-policy.evaluator.js';
import { buildInventory, type PolicyInventory } from '../../src/policy/policy-inventory.js';

export const FIXTURES = path.resolve(process.cwd(), 'test/policy/fixtures');
const XYZ_TEXT = readFileSync(path.join(FIXTURES, 'xyz-cluster.yaml'), 'utf8');

export const NAMESPACES = ['x', 'y', 'z'];
export const POD_NAMES = ['a', 'b', 'c'];
export const PODS = NAMESPACES.flatMap((ns) => POD_NAMES.map((p) => `${ns}/${p}`));

export function xyzInventory(policiesYaml = '', extraYaml = ''): PolicyInventory {
  const loaded = parseManifestText(XYZ_TEXT, 'xyz-cluster.yaml');
  if (policiesYaml) parseManifestText(policiesYaml, 'policies.yaml', loaded);
  if (extraYaml) parseManifestText(extraYaml, 'extra.yaml', loaded);
  const errors = loaded.issues.filter((i) => i.severity === 'error');
  if (errors.length > 0) throw new Error(`fixture errors: ${errors.map((e) => e.message).join(' | ')}`);
  return buildInventory(loaded.objects, loaded.issues);
}

export function xyz(policiesYaml = '', options: EvaluatorOptions = {}): NetworkPolicyEvaluator {
  return new NetworkPolicyEvaluator(xyzInventory(policiesYaml), options);
}

export function ep(ev: NetworkPolicyEvaluator, ref: string): PolicyEndpoint {
  if (!ref.includes('/')) return ev.endpointForIp(ref);
  const [ns, name] = ref.split('/');
  const pod = ev.inventory.pod(ns, name);
  if (!pod) throw new Error(`no pod ${ref}`);
  return ev.endpointForPod(pod);
}

export function probe(
  ev: NetworkPolicyEvaluator,
  from: string,
  to: string,
  port: number | undefined,
  protocol = 'TCP',
): PolicyDecision {
  return ev.evaluate({ src: ep(ev, from), dst: ep(ev, to), port, protocol });
}

/** All denied pod pairs `from>to` (self pairs excluded, as the e2e suite ignores loopback). */
export function deniedPairs(ev: NetworkPolicyEvaluator, port: number, protocol = 'TCP'): string[] {
  const out: string[] = [];
  for (const from of PODS)
    for (const to of PODS) if (from !== to && !probe(ev, from, to, port, protocol).allowed) out.push(`${from}>${to}`);
  return out.sort();
}

/** Cross product as `from>to` pairs, minus self pairs. */
export function pairs(froms: string[], tos: string[]): string[] {
  const out: string[] = [];
  for (const f of froms) for (const t of tos) if (f !== t) out.push(`${f}>${t}`);
  return [...new Set(out)].sort();
}

/** Pods of namespaces (`x`) or single pods (`x/a`). */
export function pods(...specs: string[]): string[] {
  return specs.flatMap((s) => (s.includes('/') ? [s] : POD_NAMES.map((p) => `${s}/${p}`)));
}

export function everyoneBut(...specs: string[]): string[] {
  const ex = new Set(pods(...specs));
  return PODS.filter((p) => !ex.has(p));
}

export function expectDenied(ev: NetworkPolicyEvaluator, port: number, protocol: string, denied: string[]): void {
  expect(deniedPairs(ev, port, protocol)).toEqual([...new Set(denied)].sort());
}

export function refs(list: readonly { namespace?: string; name: string }[]): string[] {
  return [...new Set(list.map((r) => (r.namespace !== undefined ? `${r.namespace}/${r.name}` : r.name)))];
}
