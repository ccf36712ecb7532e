/**
 * Renders a kustomization the way `kubectl kustomize` does for the features deploy/kubernetes
 * uses: `resources` (files and directories, depth first, in order), `namespace` (set on namespaced
 * objects) and `images` (name -> newName:newTag). Any other kustomization field throws, so a new
 * feature cannot go untested.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { CLUSTER_SCOPED } from './kubernetes-schema.js';

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  resources?: string[];
  images?: Array<{ name: string; newName?: string; newTag?: string }>;
}

const SUPPORTED = new Set(['apiVersion', 'kind', 'namespace', 'resources', 'images']);

interface PodHolder {
  spec?: {
    template?: { spec?: { containers?: Array<{ image?: string }>; initContainers?: Array<{ image?: string }> } };
  };
}

export function renderKustomization(dir: string): Manifest[] {
  const k = parseYaml(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
  const unsupported = Object.keys(k).filter((f) => !SUPPORTED.has(f));
  if (unsupported.length > 0) throw new Error(`${dir}: kustomization fields not rendered by the test: ${unsupported}`);
  const out: Manifest[] = [];
  for (const r of k.resources ?? []) {
    const p = join(dir, r);
    if (statSync(p).isDirectory()) out.push(...renderKustomization(p));
    else
      for (const doc of parseAllDocuments(readFileSync(p, 'utf8'))) {
        if (doc.errors.length > 0) throw new Error(`${p}: ${doc.errors[0].message}`);
        const m = doc.toJS() as Manifest | null;
        if (m !== null) out.push(m);
      }
  }
  for (const m of out) {
    if (k.namespace && !CLUSTER_SCOPED.has(m.kind)) m.metadata.namespace = k.namespace;
    const pod = (m as PodHolder).spec?.template?.spec;
    for (const c of [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])])
      for (const img of k.images ?? [])
        if (c.image === img.name || c.image?.startsWith(`${img.name}:`))
          c.image = `${img.newName ?? img.name}:${img.newTag ?? c.image.split(':')[1] ?? 'latest'}`;
  }
  return out;
}
