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
  type ObservedEdge,
  SUGGEST_FORMATS,
  SUGGEST_MODES,
  suggest,
  SuggestInputError,
  type SuggestFormat,
  type SuggestionResult,
  type SuggestMode,
} from '../suggest/index.js';
import { checkAgainstHistory, type HistoryCheck } from '../whatif/index.js';
import { exitWithError, UsageError } from './cli-error.js';
import { cliTime, openStoredEdgeSource, type OpenEdgeSource } from './stored-history.js';

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
  config?: string;
}

/** Stored history (--from): the database edge reader, opened only when asked for. */
export interface SuggestDependencies {
  openEdgeSource: OpenEdgeSource;
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

/** Each suggestion replayed over the history it was learned from, by namespace. */
export type HistoryChecks = ReadonlyMap<string, HistoryCheck>;

export function formatSummary(r: SuggestionResult, history?: HistoryChecks): string {
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
        `; over-permission: ${v.overPermission.approximate ? 'at least ' : ''}${v.overPermission.podPairs} pod pair(s)` +
        (v.overPermission.examples.length ? `, e.g. ${v.overPermission.examples.join('; ')}` : ''),
    );
    const h = history?.get(it.namespace);
    if (h)
      out.push(
        `#   against the stored history: ${h.newlyAllowed} denied edge(s) newly allowed, ${h.newlyDenied} edge(s) newly denied`,
      );
    for (const n of v.notes) out.push(`#   ${n}`);
  }
  if (r.mode === 'fix' && r.combined.claimed > 0)
    out.push(`# all applied together: ${r.combined.admitted}/${r.combined.claimed} edges admitted end to end`);
  for (const n of r.notes) out.push(`# ${n}`);
  return `${out.join('\n')}\n`;
}

export function registerSuggest(
  program: Command,
  deps: SuggestDependencies = { openEdgeSource: openStoredEdgeSource },
): void {
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
    .option('--from <time>', 'learn from stored edges since (RFC 3339, now, or -30m, -24h, -7d): the database')
    .option('--to <time>', 'stored edges until (default now)')
    .option('--config <file>', 'YAML file of VARIABLE: value settings for the database (the environment wins)')
    .option('--mode <mode>', `${SUGGEST_MODES.join('|')}`, 'fix')
    .option('--format <format>', `${SUGGEST_FORMATS.join('|')}`, 'k8s')
    .option('--namespace <ns>', 'only policies for this namespace (baseline: the namespace to lock down)')
    .action(async (opts: SuggestCliOptions) => {
      try {
        const mode = oneOf<SuggestMode>('--mode', opts.mode, SUGGEST_MODES);
        const format = oneOf<SuggestFormat>('--format', opts.format, SUGGEST_FORMATS);
        if (opts.cluster.length === 0) throw new UsageError('--cluster is required (manifests of the cluster)');
        if (opts.flows && opts.from !== undefined)
          throw new UsageError('give either --flows FILE (a flow file) or --from (stored edges), not both');
        if (!opts.flows && opts.from === undefined)
          throw new UsageError('either --flows FILE --source hubble|calico|records or --from TIME is required');
        let source: FlowFileSource | undefined;
        if (opts.flows) {
          if (!opts.source) throw new UsageError(`--source is required with --flows (${SOURCES.join('|')})`);
          source = oneOf<FlowFileSource>('--source', opts.source, SOURCES);
          if (source !== 'records' && !isFileSource(source))
            throw new UsageError(`--source ${source} is not a file format`);
        }
        const now = Date.now();
        const window =
          opts.from !== undefined
            ? { from: cliTime('from', opts.from, now), to: opts.to !== undefined ? cliTime('to', opts.to, now) : now }
            : undefined;
        if (window && window.from > window.to) throw new UsageError('--from must not be later than --to');
        const loaded = await loadManifestPaths(opts.cluster);
        const errors = loaded.issues.filter((i) => i.severity === 'error');
        for (const i of errors) process.stderr.write(`dropscope: ${formatManifestIssue(i)}\n`);
        if (loaded.objects.length === 0)
          throw new UsageError(`--cluster ${opts.cluster.join(', ')}: no Namespace, Pod or policy objects found`);
        const inventory = buildInventory(loaded.objects, loaded.issues);
        if (opts.flows && source) {
          const { edges } = edgesFromFlows(await readFlows(opts.flows, source), inventory);
          const result = suggest(inventory, edges, { mode, format, namespace: opts.namespace });
          process.stdout.write(result.items.map((i) => i.yaml).join(''));
          process.stderr.write(formatSummary(result));
          return;
        }
        const w = window as { from: number; to: number };
        const iso = { from: new Date(w.from).toISOString(), to: new Date(w.to).toISOString() };
        const opened = await deps.openEdgeSource(inventory, opts.config);
        let edges: ObservedEdge[];
        try {
          edges = await opened.source.observedEdges(
            w,
            opts.namespace !== undefined ? { namespace: opts.namespace } : {},
          );
        } finally {
          await opened.close();
        }
        const result = suggest(inventory, edges, { mode, format, namespace: opts.namespace, window: iso });
        const history = new Map(
          result.items.map((i) => [i.namespace, checkAgainstHistory(inventory, i.policies, edges, iso)] as const),
        );
        process.stdout.write(result.items.map((i) => i.yaml).join(''));
        process.stderr.write(formatSummary(result, history));
      } catch (e) {
        exitWithError(e instanceof SuggestInputError ? new UsageError(e.message) : e);
      }
    });
}
