import { queryRows } from '../support/test-database.js';

/**
 * One `hubble observe -o json` line: one flow between two pods, `FORWARDED`, or `DROPPED` by
 * policy (one drop event). `port` makes lines (and so files) differ from each other.
 */
export function hubbleLine(time: Date, port: number, verdict: 'FORWARDED' | 'DROPPED' = 'FORWARDED'): string {
  const iso = time.toISOString();
  const flow: Record<string, unknown> = {
    time: iso,
    verdict,
    IP: { source: '10.244.1.60', destination: '10.244.1.5', ipVersion: 'IPv4' },
    l4: { TCP: { source_port: port, destination_port: 80, flags: { SYN: true } } },
    source: { namespace: 'default', pod_name: 'xwing' },
    destination: { namespace: 'default', pod_name: 'deathstar-7848d6c4d5-th9v2' },
    node_name: 'kind-kind/kind-worker',
    Type: 'L3_L4',
  };
  if (verdict === 'DROPPED') Object.assign(flow, { drop_reason_desc: 'POLICY_DENIED', event_type: { type: 1 } });
  else Object.assign(flow, { event_type: { type: 4 }, traffic_direction: 'INGRESS' });
  return JSON.stringify({ flow, node_name: 'kind-kind/kind-worker', time: iso });
}

/**
 * `n` forwarded flows of one edge, one second apart before `end`, ports from `firstPort` (wrapping
 * after 60,000, so long files stay within the port range): a file's text.
 */
export function forwardedFlows(n: number, firstPort: number, end = new Date()): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++)
    lines.push(hubbleLine(new Date(end.getTime() - (n - i) * 1000), firstPort + (i % 60_000)));
  return `${lines.join('\n')}\n`;
}

/** Flows stored in the roll-ups. */
export async function storedFlows(url: string): Promise<number> {
  const [r] = await queryRows<{ n: string | null }>(url, `SELECT sum(count) AS n FROM edge_rollups`);
  return Number(r?.n ?? 0);
}

/** The flow count of the summary line `imported N flows ...`. */
export function importedFlows(stdout: string): number {
  const m = /imported (\d+) flows/.exec(stdout);
  if (!m) throw new Error(`no summary in: ${stdout}`);
  return Number(m[1]);
}
