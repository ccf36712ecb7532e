/**
 * Reads Kubernetes manifests from files and folders: YAML (multi-document) or JSON, and `kind: List`
 * / `*List` documents as `kubectl get ns,pods,networkpolicies -A -o yaml` prints them. Parsing is
 * safe: `yaml`'s parseAllDocuments with the core schema, no custom tags (unknown tags are read as
 * plain values and reported as warnings), alias expansion bounded. A bad document is reported with
 * its file, document index, kind and name, and skipped; it never stops the load.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { isRecord, normalizeObject } from './manifest.normalize.js';
import type { InventoryObject, ObjectOrigin } from './policy-model.js';

export const MANIFEST_EXTENSIONS = ['.yaml', '.yml', '.json'];

export interface ManifestIssue {
  file: string;
  /** Document index in the file (0-based), `.items[i]` inside a List. */
  index?: string;
  kind?: string;
  namespace?: string;
  name?: string;
  severity: 'error' | 'warning';
  message: string;
}

export interface LoadedManifests {
  objects: InventoryObject[];
  issues: ManifestIssue[];
  files: string[];
  /** Documents of kinds not used for evaluation (Services, Deployments, ...). */
  ignored: number;
}

/** `file#2 (NetworkPolicy default/deny-all): spec.ingress[0]...`: one line for logs and CLIs. */
export function formatManifestIssue(i: ManifestIssue): string {
  const where = i.index !== undefined ? `${i.file}#${i.index}` : i.file;
  const what = i.kind ? ` (${i.kind}${i.name ? ` ${i.namespace ? `${i.namespace}/` : ''}${i.name}` : ''})` : '';
  return `${i.severity}: ${where}${what}: ${i.message}`;
}

function addObject(raw: unknown, file: string, index: string, out: LoadedManifests): void {
  if (isRecord(raw) && Array.isArray(raw.items) && typeof raw.kind === 'string' && raw.kind.endsWith('List')) {
    raw.items.forEach((item, i) => addObject(item, file, `${index}.items[${i}]`, out));
    return;
  }
  if (raw === null || raw === undefined) return; // empty document (`---` at the end)
  const res = normalizeObject(raw);
  const origin: ObjectOrigin = { file, index };
  if (res.status === 'ok') {
    out.objects.push({ ...res.object, origin });
    const o = res.object;
    for (const w of res.warnings) {
      out.issues.push({
        file,
        index,
        kind: o.kind,
        name: o.name,
        ...(o.kind !== 'Namespace' && o.namespace ? { namespace: o.namespace } : {}),
        severity: 'warning',
        message: w,
      });
    }
  } else if (res.status === 'ignored') {
    out.ignored++;
  } else {
    const issue: ManifestIssue = {
      file,
      index,
      kind: res.kind,
      severity: 'error',
      message: `skipped: ${res.errors.join('; ')}`,
    };
    if (res.name) issue.name = res.name;
    if (res.namespace) issue.namespace = res.namespace;
    out.issues.push(issue);
  }
}

/** Parse one file's text (YAML or JSON, any number of documents) into `out`. */
export function parseManifestText(text: string, file: string, out?: LoadedManifests): LoadedManifests {
  const acc: LoadedManifests = out ?? { objects: [], issues: [], files: [], ignored: 0 };
  if (!acc.files.includes(file)) acc.files.push(file);
  const docs = parseAllDocuments(text, { schema: 'core', customTags: [], uniqueKeys: true, prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    const index = String(i);
    if (doc.errors.length > 0) {
      acc.issues.push({
        file,
        index,
        severity: 'error',
        message: `skipped: YAML: ${doc.errors.map((e) => e.message.split('\n')[0]).join('; ')}`,
      });
      return;
    }
    for (const w of doc.warnings)
      acc.issues.push({ file, index, severity: 'warning', message: `YAML: ${w.message.split('\n')[0]}` });
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      acc.issues.push({
        file,
        index,
        severity: 'error',
        message: `skipped: ${e instanceof Error ? e.message : String(e)}`,
      });
      return;
    }
    addObject(value, file, index, acc);
  });
  return acc;
}

/** Expand files and folders (recursively) to manifest files, sorted; hidden entries (`..data`) skipped. */
export async function listManifestFiles(
  paths: readonly string[],
): Promise<{ files: string[]; issues: ManifestIssue[] }> {
  const files: string[] = [];
  const issues: ManifestIssue[] = [];
  const walk = async (p: string, explicit: boolean): Promise<void> => {
    let st;
    try {
      st = await fs.stat(p);
    } catch (e) {
      issues.push({
        file: p,
        severity: 'error',
        message: `cannot read: ${e instanceof Error ? e.message : String(e)}`,
      });
      return;
    }
    if (st.isDirectory()) {
      const entries = (await fs.readdir(p)).filter((n) => !n.startsWith('.')).sort();
      for (const n of entries) await walk(path.join(p, n), false);
    } else if (explicit || MANIFEST_EXTENSIONS.includes(path.extname(p).toLowerCase())) {
      files.push(p);
    }
  };
  for (const p of paths) await walk(p, true);
  return { files: [...new Set(files)], issues };
}

/** Load every manifest under `paths` (files or folders). Never throws for bad content. */
export async function loadManifestPaths(paths: readonly string[]): Promise<LoadedManifests> {
  const { files, issues } = await listManifestFiles(paths);
  const out: LoadedManifests = { objects: [], issues, files: [], ignored: 0 };
  for (const f of files) {
    let text: string;
    try {
      text = await fs.readFile(f, 'utf8');
    } catch (e) {
      out.issues.push({
        file: f,
        severity: 'error',
        message: `cannot read: ${e instanceof Error ? e.message : String(e)}`,
      });
      continue;
    }
    parseManifestText(text, f, out);
  }
  return out;
}
