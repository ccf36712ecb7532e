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
  const ports = dst.namedPorts;
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

export type PortMatcher = (port: number | undefined, proto: string, dst: EndpointContext) => PortResult;

/** Matchers whose answer depends on the port and protocol only (no named port to resolve). */
const BY_NUMBER = new WeakSet<PortMatcher>();

/**
 * Whether a matcher's answer depends on the port and protocol only, never on the destination:
 * true for ANY_PORT and for what compilePortRanges makes of ranges without named ports. The
 * evaluator then keeps the answer per port and protocol instead of asking again for each probe.
 */
export function matchesByNumberOnly(m: PortMatcher): boolean {
  return BY_NUMBER.has(m);
}

/** The matcher of a rule without ports: every port and protocol. */
export const ANY_PORT: PortMatcher = () => 'match';
BY_NUMBER.add(ANY_PORT);

/**
 * `matchPortRanges` over fixed ranges, compiled once per rule: the numeric ranges in flat arrays
 * (one shape, no property loads on range objects of varying shapes per probe), named ports
 * resolved as before. Same answer: match when any range matches, else unresolved when a named
 * port could not be looked up, else nomatch.
 */
export function compilePortRanges(ranges: readonly PortRange[]): PortMatcher {
  const named: PortRange[] = [];
  const protos: (string | undefined)[] = [];
  const anyPort: boolean[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  for (const r of ranges) {
    if (typeof r.port === 'string') {
      named.push(r);
      continue;
    }
    protos.push(r.protocol);
    // No port: every port of the protocol (also a probe without a port).
    anyPort.push(r.port === undefined);
    starts.push(r.port ?? 0);
    ends.push(r.port === undefined ? 0 : (r.endPort ?? r.port));
  }
  const n = protos.length;
  if (named.length === 0 && n === 1) {
    // One numeric range (most rules): no loop.
    const p = protos[0];
    const any = anyPort[0];
    const start = starts[0];
    const end = ends[0];
    return byNumber((port, proto) =>
      (p === undefined || p === proto) && (any || (port !== undefined && port >= start && port <= end))
        ? 'match'
        : 'nomatch',
    );
  }
  const numeric = (port: number | undefined, proto: string): boolean => {
    for (let i = 0; i < n; i++) {
      const p = protos[i];
      if (p !== undefined && p !== proto) continue;
      if (anyPort[i]) return true;
      if (port !== undefined && port >= starts[i] && port <= ends[i]) return true;
    }
    return false;
  };
  if (named.length === 0) return byNumber((port, proto) => (numeric(port, proto) ? 'match' : 'nomatch'));
  if (n === 0) return (port, proto, dst) => matchPortRanges(named, port, proto, dst);
  return (port, proto, dst) => (numeric(port, proto) ? 'match' : matchPortRanges(named, port, proto, dst));
}

function byNumber(m: PortMatcher): PortMatcher {
  BY_NUMBER.add(m);
  return m;
}
