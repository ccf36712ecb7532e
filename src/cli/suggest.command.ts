import type { Command } from 'commander';
import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import type { FlowRecord } from '../flow/flow-record.js';
import { validateFlowRecord } from '../flow/flow-record.validator.js';
import { createLineMapper, isFileSource } from '../ingest/line-mappers.js';
import { OVERSIZED_LINE, readLines } from '../ingest/line-reader.js';
import { loadManifestPaths, buildInventory, formatManifestIssue } from '../policy/index.js';
import {
  edgesFromFlows,
  SUGGEST_FORMATS,
  SUGGEST_MODES,
  suggest,
  SuggestInputError,
  type SuggestFormat,
  type SuggestionResult,
  type SuggestMode,
} from '../suggest/index.js';
import { exitWithError, UsageError } from './cli-error.js';

export const SOURCES = ['hubble', 'calico', 'records'] as const;
export type FlowFileSource = (typeof SOURCES)[number];

interface SuggestCliOptions {
  cluster: string[];
  flows?: string;
  source?: string;
  from?: string;
  to?: string;
  mode: string;
  format: string;
  namespace?: string;
}

function oneOf<T extends string>(what: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value))
    throw new UsageError(`${what} must be one of ${allowed.join('|')}, got ${JSON.stringify(value)}`);
  return value as T;
}

/** Reads a flow file; a file of another format yields no records and is refused by name. */
export async function readFlows(file: string, source: FlowFileSource): Promise<FlowRecord[]> {
  const input = createReadStream(file, { highWaterMark: 1 << 20 });
  await once(input, 'open').catch((e: Error) => {
    throw new UsageError(`cannot read --flows ${file}: ${e.message}`);
  });
  const mapper = source === 'records' ? undefined : createLineMapper(source, 'default');
  const records: FlowRecord[] = [];
  let firstError: string | undefined;
  let bad = 0;
  let lines = 0;
  for await (const batch of readLines(input)) {
    for (const line of batch) {
      if (line.text.length === 0) continue;
      lines++;
      try {
        if (line.text === OVERSIZED_LINE) throw new Error('line too long');
        if (!mapper) records.push(validateFlowRecord(JSON.parse(line.text)));
        else {
          const r = mapper.map(line.text);
          if (r.kind === 'flows') records.push(...r.records);
        }
      } catch (e) {
        bad++;
        firstError ??= `line ${line.number}: ${(e as Error).message}`;
      }
    }
  }
  if (mapper) records.push(...mapper.flush());
  if (records.length === 0 && lines > 0)
    throw new UsageError(
      `--flows ${file} holds no ${source === 'records' ? 'FlowRecord JSON lines' : `${source} flows`} ` +
        `(is --source ${source} right?)${firstError ? `: ${firstError}` : ''}`,
    );
  if (bad > 0) process.stderr.write(`dropscope: ${bad} of ${lines} lines in ${file} not read (${firstError ?? ''})\n`);
  return records;
}

export function formatSummary(r: SuggestionResult): string {
  const out: string[] = [];
  const c = r.coverage;
  out.push(
    `# ${r.mode} suggestions (${r.format}): ${r.items.length} namespace(s), ` +
      `${c.edges} observed edges / ${c.flows} flows` +
      (c.window ? ` from ${c.window.from} to ${c.window.to}` : ''),
  );
  out.push(
    `# coverage: ${c.edgesSeenOnce} edge(s) seen only once; ${c.alreadyAdmitted} already admitted by existing policy; ` +
      `${c.ignored} not for this mode or namespace`,
  );
  for (const it of r.items) {
    const v = it.verification;
    out.push(
      `# ${it.namespace}: admits ${v.admitted}/${v.claimed} claimed edges` +
        (v.unverified ? ` (${v.unverified} not verifiable)` : '') +
        `; over-permission: ${v.overPermission.podPairs} pod pair(s)` +
        (v.overPermission.examples.length ? `, e.g. ${v.overPermission.examples.join('; ')}` : ''),
    );
    for (const n of v.notes) out.push(`#   ${n}`);
  }
  if (r.mode === 'fix' && r.combined.claimed > 0)
    out.push(`# all applied together: ${r.combined.admitted}/${r.combined.claimed} edges admitted end to end`);
  for (const n of r.notes) out.push(`# ${n}`);
  return `${out.join('\n')}\n`;
}

export function registerSuggest(program: Command): void {
  program
    .command('suggest')
    .description('suggest least-privilege policies from observed flows, verified by the evaluator')
    .option(
      '--cluster <path>',
      'manifests (file or folder: Namespaces, Pods, policies); repeatable',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option('--flows <file>', 'flow file to learn from')
    .option('--source <source>', `format of --flows: ${SOURCES.join('|')}`)
    .option('--from <time>', 'stored edges since (e.g. -7d); needs the database')
    .option('--to <time>', 'stored edges until (default now)')
    .option('--mode <mode>', `${SUGGEST_MODES.join('|')}`, 'fix')
    .option('--format <format>', `${SUGGEST_FORMATS.join('|')}`, 'k8s')
    .option('--namespace <ns>', 'only policies for this namespace (baseline: the namespace to lock down)')
    .action(async (opts: SuggestCliOptions) => {
      try {
        const mode = oneOf<SuggestMode>('--mode', opts.mode, SUGGEST_MODES);
        const format = oneOf<SuggestFormat>('--format', opts.format, SUGGEST_FORMATS);
        if (opts.cluster.length === 0) throw new UsageError('--cluster is required (manifests of the cluster)');
        if (!opts.flows) {
          if (opts.from)
            throw new UsageError('--from (stored edges) is not available yet: use --flows FILE --source ...');
          throw new UsageError('either --flows FILE --source hubble|calico|records or --from is required');
        }
        if (!opts.source) throw new UsageError(`--source is required with --flows (${SOURCES.join('|')})`);
        const source = oneOf<FlowFileSource>('--source', opts.source, SOURCES);
        if (source !== 'records' && !isFileSource(source))
          throw new UsageError(`--source ${source} is not a file format`);
        const loaded = await loadManifestPaths(opts.cluster);
        const errors = loaded.issues.filter((i) => i.severity === 'error');
        for (const i of errors) process.stderr.write(`dropscope: ${formatManifestIssue(i)}\n`);
        if (loaded.objects.length === 0)
          throw new UsageError(`--cluster ${opts.cluster.join(', ')}: no Namespace, Pod or policy objects found`);
        const inventory = buildInventory(loaded.objects, loaded.issues);
        const records = await readFlows(opts.flows, source);
        const { edges } = edgesFromFlows(records, inventory);
        const result = suggest(inventory, edges, { mode, format, namespace: opts.namespace });
        process.stdout.write(result.items.map((i) => i.yaml).join(''));
        process.stderr.write(formatSummary(result));
      } catch (e) {
        exitWithError(e instanceof SuggestInputError ? new UsageError(e.message) : e);
      }
    });
}
