/**
 * Port matching for every policy dialect, in one place: protocol names, named ports resolved
 * against the destination pod's container ports, numeric ports and port ranges.
 */
import type { EndpointContext } from './compiled-policy.js';

/** `unresolved`: a named port could not be looked up (the destination pod's ports are unknown). */
export type PortResult = 'match' | 'nomatch' | 'unresolved';

/**
 * One allowed port or range. `protocol` undefined matches any protocol; `port` undefined matches
 * every port of the protocol; a string `port` is a container port name; `endPort` ends a range.
 */
export interface PortRange {
  protocol?: string;
  port?: number | string;
  endPort?: number;
}

const PROTO_NUMBERS: ReadonlyMap<string, string> = new Map([
  ['6', 'TCP'],
  ['17', 'UDP'],
  ['132', 'SCTP'],
  ['1', 'ICMP'],
  ['58', 'ICMPV6'],
]);

/** Upper-case protocol name; IANA numbers of the common ones become names; default TCP. */
export function normProto(p: string | undefined): string {
  if (!p) return 'TCP';
  const u = p.toUpperCase();
  return PROTO_NUMBERS.get(u) ?? u;
}

/** The number of a named container port of the destination pod, or why there is none. */
export function resolveNamedPort(dst: EndpointContext, name: string, protocol: string): PortResult | number {
  const ports = dst.ep.namedPorts;
  if (!dst.isPod) return 'nomatch';
  if (ports === undefined) return 'unresolved';
  for (const p of ports) if (p.name === name && p.protocol === protocol) return p.port;
  return 'nomatch';
}

/** Whether `port`/`proto` to `dst` is in any of the ranges (an empty list matches nothing). */
export function matchPortRanges(
  ranges: readonly PortRange[],
  port: number | undefined,
  proto: string,
  dst: EndpointContext,
): PortResult {
  let unresolved = false;
  for (const r of ranges) {
    if (r.protocol !== undefined && r.protocol !== proto) continue;
    if (r.port === undefined) return 'match';
    if (port === undefined) continue;
    if (typeof r.port === 'number') {
      if (port >= r.port && port <= (r.endPort ?? r.port)) return 'match';
      continue;
    }
    const res = resolveNamedPort(dst, r.port, proto);
    if (res === port) return 'match';
    if (res === 'unresolved') unresolved = true;
  }
  return unresolved ? 'unresolved' : 'nomatch';
}

/** `TCP/80`, `TCP/8000-8080`, `UDP/dns`, `TCP/*`. */
export function describePortRange(protocol: string, r: PortRange): string {
  if (r.port === undefined) return `${protocol}/*`;
  if (r.endPort !== undefined) return `${protocol}/${r.port}-${r.endPort}`;
  return `${protocol}/${r.port}`;
}
