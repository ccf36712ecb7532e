/**
 * Where every line of an input file went, for the `normalize` and `import` summaries. Each line
 * lands in exactly one bucket, so `lines` always equals the sum of the others (see
 * docs/RELIABILITY.md, "Every input line accounted for"):
 *
 *   lines = records + collapsed + Σ skipped + malformed + blank
 *
 * - records: FlowRecords out of the mappers (one per flow line, whenever it comes out);
 * - collapsed: flow lines folded into their pair's record (Hubble policy-verdict + drop);
 * - skipped: lines that are not flows (lost_events, node_status, stale Calico denies, ...);
 * - malformed: lines that could not be mapped, or longer than the line limit (dead letters);
 * - blank: empty or whitespace-only lines.
 */
export interface LineTally {
  lines: number;
  records: number;
  collapsed: number;
  skipped: Record<string, number>;
  malformed: number;
  blank: number;
}

export function emptyLineTally(): LineTally {
  return { lines: 0, records: 0, collapsed: 0, skipped: {}, malformed: 0, blank: 0 };
}

export function skippedTotal(t: LineTally): number {
  let n = 0;
  for (const k in t.skipped) n += t.skipped[k];
  return n;
}

/** Lines in no bucket; 0 unless something is lost. */
export function unaccountedLines(t: LineTally): number {
  return t.lines - t.records - t.collapsed - skippedTotal(t) - t.malformed - t.blank;
}

export function addLineTally(into: LineTally, t: LineTally): LineTally {
  into.lines += t.lines;
  into.records += t.records;
  into.collapsed += t.collapsed;
  into.malformed += t.malformed;
  into.blank += t.blank;
  for (const k in t.skipped) into.skipped[k] = (into.skipped[k] ?? 0) + t.skipped[k];
  return into;
}

/** `15 lines = 12 records + 2 collapsed + 1 skipped (lost_events: 1) + 0 malformed + 0 blank` */
export function formatLineTally(t: LineTally, malformedName = 'malformed'): string {
  const reasons = Object.entries(t.skipped)
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ');
  return (
    `${t.lines} lines = ${t.records} records + ${t.collapsed} collapsed + ${skippedTotal(t)} skipped` +
    `${reasons ? ` (${reasons})` : ''} + ${t.malformed} ${malformedName} + ${t.blank} blank`
  );
}
