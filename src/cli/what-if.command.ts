import type { Command } from 'commander';
import { isFileSource } from '../ingest/line-mappers.js';
import { buildInventory, formatManifestIssue, loadManifestPaths } from '../policy/index.js';
import { edgesFromFlows, type ObservedEdge } from '../suggest/index.js';
import { formatWhatIfTable, whatIf, WhatIfInputError, type EdgeWindow, type Proposal } from '../whatif/index.js';
import { exitWithError, UsageError } from './cli-error.js';
import { cliTime, openStoredEdgeSource, type OpenEdgeSource } from './stored-history.js';
import { readFlows, SOURCES, type FlowFileSource } from './suggest.command.js';

const FORMATS = ['table', 'json'] as const;

interface WhatIfCliOptions {
  cluster: string[];
  add: string[];
  remove: string[];
  staged?: boolean;
  flows?: string;
  source?: string;
  from?: string;
  to?: string;
  namespace?: string;
  format: string;
  config?: string;
}

/** Stored history: the database edge reader, opened only when the command needs it. */
export interface WhatIfDependencies {
  openEdgeSource: OpenEdgeSource;
}

const repeat = (v: string, prev: string[]): string[] => [...prev, v];

/** The window of flow-file edges: the one asked for, else the span of the edges. */
function flowWindow(edges: readonly ObservedEdge[], asked: Partial<EdgeWindow>, now: number): EdgeWindow {
  let from = asked.from;
  let to = asked.to;
  if (from === undefined) from = edges.length > 0 ? Math.min(...edges.map((e) => Date.parse(e.firstSeen))) : now;
  if (to === undefined) to = edges.length > 0 ? Math.max(...edges.map((e) => Date.parse(e.lastSeen))) : now;
  return { from, to };
}

export function registerWhatIf(
  program: Command,
  deps: WhatIfDependencies = { openEdgeSource: openStoredEdgeSource },
): void {
  program
    .command('what-if')
    .description('replay observed traffic against proposed policies: which edges would break, which would open')
    .option('--cluster <path>', 'current manifests (Namespaces, Pods, policies); repeatable', repeat, [] as string[])
    .option('--add <file>', 'policies to add or replace (same kind/namespace/name); repeatable', repeat, [] as string[])
    .option(
      '--remove <ns/name>',
      'policy to remove (name alone for cluster-scoped); repeatable',
      repeat,
      [] as string[],
    )
    .option('--staged', "propose the cluster's Calico staged policies")
    .option('--flows <file>', 'flow file to replay instead of the stored history')
    .option('--source <source>', `format of --flows: ${SOURCES.join('|')}`)
    .option('--from <time>', 'window start (RFC 3339, now, or -30m, -24h, -7d); stored history default -7d')
    .option('--to <time>', 'window end (default now)')
    .option('--namespace <ns>', 'only edges with either end in this namespace')
    .option('--format <format>', FORMATS.join('|'), 'table')
    .option('--config <file>', 'YAML file of VARIABLE: value settings for the database (the environment wins)')
    .action(async (opts: WhatIfCliOptions) => {
      try {
        if (!(FORMATS as readonly string[]).includes(opts.format))
          throw new UsageError(`--format must be one of ${FORMATS.join('|')}, got ${JSON.stringify(opts.format)}`);
        if (opts.cluster.length === 0) throw new UsageError('--cluster is required (manifests of the cluster)');
        if (opts.add.length === 0 && opts.remove.length === 0 && !opts.staged)
          throw new UsageError('nothing proposed: give --add FILE, --remove NS/NAME or --staged');
        const now = Date.now();
        const asked: Partial<EdgeWindow> = {};
        if (opts.from !== undefined) asked.from = cliTime('from', opts.from, now);
        if (opts.to !== undefined) asked.to = cliTime('to', opts.to, now);
        let source: FlowFileSource | undefined;
        if (opts.flows) {
          if (!opts.source) throw new UsageError(`--source is required with --flows (${SOURCES.join('|')})`);
          if (
            !(SOURCES as readonly string[]).includes(opts.source) ||
            (opts.source !== 'records' && !isFileSource(opts.source))
          )
            throw new UsageError(`--source must be one of ${SOURCES.join('|')}, got ${JSON.stringify(opts.source)}`);
          source = opts.source as FlowFileSource;
        }

        const loaded = await loadManifestPaths(opts.cluster);
        for (const i of loaded.issues.filter((x) => x.severity === 'error'))
          process.stderr.write(`dropscope: ${formatManifestIssue(i)}\n`);
        if (loaded.objects.length === 0)
          throw new UsageError(`--cluster ${opts.cluster.join(', ')}: no Namespace, Pod or policy objects found`);
        const inventory = buildInventory(loaded.objects, loaded.issues);
        const added = opts.add.length > 0 ? await loadManifestPaths(opts.add) : undefined;
        const addErrors = added?.issues.filter((x) => x.severity === 'error') ?? [];
        if (addErrors.length > 0) throw new UsageError(addErrors.map(formatManifestIssue).join('; '));
        if (added && added.objects.length === 0) throw new UsageError(`--add ${opts.add.join(', ')}: no policy found`);
        const proposal: Proposal = {
          add: [...(added?.objects ?? []), ...(opts.staged ? inventory.staged : [])],
          remove: opts.remove,
        };
        if (opts.staged && inventory.staged.length === 0)
          process.stderr.write('dropscope: --staged: the cluster manifests hold no staged policies\n');

        let edges: ObservedEdge[];
        let window: EdgeWindow;
        if (opts.flows && source) {
          const all = edgesFromFlows(await readFlows(opts.flows, source), inventory).edges;
          window = flowWindow(all, asked, now);
          edges = all.filter((e) => Date.parse(e.lastSeen) >= window.from && Date.parse(e.firstSeen) <= window.to);
        } else {
          window = { from: asked.from ?? cliTime('from', '-7d', now), to: asked.to ?? now };
          if (window.from > window.to) throw new UsageError('--from must not be later than --to');
          const opened = await deps.openEdgeSource(inventory, opts.config);
          try {
            edges = await opened.source.observedEdges(
              window,
              opts.namespace !== undefined ? { namespace: opts.namespace } : {},
            );
          } finally {
            await opened.close();
          }
        }
        if (window.from > window.to) throw new UsageError('--from must not be later than --to');

        const result = whatIf(inventory, proposal, edges, {
          window: { from: new Date(window.from).toISOString(), to: new Date(window.to).toISOString() },
          ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}),
        });
        process.stdout.write(
          opts.format === 'json' ? `${JSON.stringify(result, null, 2)}\n` : formatWhatIfTable(result),
        );
      } catch (e) {
        exitWithError(e instanceof WhatIfInputError ? new UsageError(e.message) : e);
      }
    });
}
