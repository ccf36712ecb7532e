/** The `table` format of a what-if: the changed edges, for a person. */
import type { WhatIfEndpoint, WhatIfResult } from './what-if.js';

function endpointText(e: WhatIfEndpoint): string {
  if (e.kind === 'pod') return `${e.namespace ?? '?'}/${e.workload ?? '?'}`;
  return e.kind === 'host' ? `host ${e.ip ?? '?'}` : (e.ip ?? 'external');
}

function columns(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  // The last column (the reason) is not padded.
  return rows.map((r) => r.map((v, c) => (c === r.length - 1 ? v : v.padEnd(widths[c]))).join('  ')).join('\n');
}

export function formatWhatIfTable(r: WhatIfResult): string {
  const s = r.summary;
  const out: string[] = [
    `What-if from ${r.window.from} to ${r.window.to}: ${s.edges} edge(s) observed; ` +
      `${s.newlyDenied} newly denied, ${s.newlyAllowed} newly allowed, ${s.unchanged} unchanged, ${s.uncertain} uncertain`,
  ];
  const p = r.proposal;
  const change = [
    ...p.added.map((x) => `+ ${x}`),
    ...p.replaced.map((x) => `~ ${x}`),
    ...p.removed.map((x) => `- ${x}`),
  ];
  if (change.length > 0) out.push(`Proposal: ${change.join(', ')}`);
  const changed = r.items.filter((i) => i.before !== i.after && i.before !== 'uncertain' && i.after !== 'uncertain');
  if (changed.length === 0) out.push('No observed edge changes verdict.');
  else {
    out.push('');
    out.push(
      columns([
        ['CHANGE', 'SOURCE', 'DESTINATION', 'PORT', 'COUNT', 'LAST SEEN', 'WHY'],
        ...changed.map((i) => [
          i.after === 'denied' ? 'newly denied' : 'newly allowed',
          endpointText(i.src),
          endpointText(i.dst),
          `${i.protocol}/${i.dstPort}`,
          String(i.count),
          i.lastSeen,
          i.reason,
        ]),
      ]),
    );
  }
  if (s.uncertain > 0)
    out.push('', `${s.uncertain} edge(s) cannot be decided; --format json lists them with the reason.`);
  return `${out.join('\n')}\n`;
}
