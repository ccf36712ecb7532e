/**
 * The read side of the store, as the API and the CLI see it: small interfaces over the roll-ups
 * and the drop events, with plain result types (no SQL, no NestJS). PostgreSQL implementations:
 * drop-event.reader.ts, edge.reader.ts, rollup-stats.reader.ts; tests use in-memory fakes.
 */

/** The filters shared by every read (a time range is always given; verdicts are explicit). */
export interface DropFilters {
  /** ms since the epoch, inclusive */
  from: number;
  /** ms since the epoch, exclusive */
  to: number;
  cluster?: string;
  /** Either side. */
  namespace?: string;
  srcNamespace?: string;
  dstNamespace?: string;
  /** Either side; `Kind/name` exactly, or a bare name matching any kind. */
  workload?: string;
  srcWorkload?: string;
  dstWorkload?: string;
  /** Either side (drop events only: roll-ups are per workload). */
  pod?: string;
  policy?: string;
  reason?: string;
  direction?: string[];
  verdict: string[];
  attribution?: string[];
}

/** A page of results and where the next one starts (null on the last page). */
export interface ReaderPage<T, P> {
  items: T[];
  next: P | null;
}

export interface DropAttributionView {
  level: string;
  policies: unknown[];
  isolatedBy?: string[];
  reason?: string;
}

/** One drop event: its id, the full FlowRecord (flow id as `flowId`) and its attribution. */
export type DropItem = Record<string, unknown> & {
  id: string;
  flowId: string;
  time: string;
  attribution: DropAttributionView;
};

/** Keyset position in the event list: (time with microseconds, id). */
export interface DropPosition {
  /** `YYYY-MM-DDTHH:MM:SS.ffffffZ` */
  time: string;
  id: string;
}

export interface DropEventReader {
  /** Drop events newest first, after `after` when given. */
  listDrops(f: DropFilters, limit: number, after?: DropPosition): Promise<ReaderPage<DropItem, DropPosition>>;
}

export const SUMMARY_BY = ['edge', 'policy', 'namespace', 'reason', 'workload'] as const;
export type SummaryBy = (typeof SUMMARY_BY)[number];

export const STEPS = { '1m': 60_000, '5m': 300_000, '15m': 900_000, '1h': 3_600_000, '1d': 86_400_000 } as const;
export type Step = keyof typeof STEPS;

export type SummaryItem = Record<string, string | number | null> & {
  count: number;
  firstSeen: string;
  lastSeen: string;
};

export interface TimeseriesPoint {
  time: string;
  count: number;
  verdicts: Record<string, number>;
}

export interface Timeseries {
  step: Step;
  from: string;
  to: string;
  items: TimeseriesPoint[];
}

export interface PolicyDropStats {
  policy: string;
  count: number;
  firstSeen: string;
  lastSeen: string;
  verdicts: Record<string, number>;
}

/** Aggregates over the per-minute roll-ups. */
export interface RollupStatsReader {
  /** Top `limit` groups by flow count. */
  summary(f: DropFilters, by: SummaryBy, limit: number): Promise<{ by: SummaryBy; items: SummaryItem[] }>;
  /** Flow counts per step from floor(from) to `to`, zero-filled, split by verdict. */
  timeseries(f: DropFilters, step: Step): Promise<Timeseries>;
  /** Drop counts per credited policy (`ns/name`), or for one policy only. */
  policyDropStats(f: DropFilters, policy?: string): Promise<Map<string, PolicyDropStats>>;
}

export interface EdgeEndpointView {
  kind: string;
  namespace: string | null;
  /** `Kind/name`, an aggregated name, or (for non-pod endpoints) the IP. */
  workload: string | null;
  labels: Record<string, string> | null;
}

/** One observed edge as the API lists it. */
export interface EdgeItem {
  cluster: string;
  src: EdgeEndpointView;
  dst: EdgeEndpointView;
  /** null for ICMP (see icmpType). */
  dstPort: number | null;
  /** ICMP only: the message type (the roll-ups keep no ICMP code). */
  icmpType: number | null;
  protocol: string;
  verdict: string;
  directions: string[];
  count: number;
  packets: number;
  bytes: number;
  firstSeen: string;
  lastSeen: string;
}

/** One side of an observed edge, for suggestions and what-if evaluation. */
export interface ObservedEndpoint {
  kind: string;
  namespace: string | null;
  /** `Kind/name` or an aggregated name; null for address-only endpoints. */
  workload: string | null;
  /** The most recent labels seen in the window. */
  labels: Record<string, string> | null;
  /** The IP (or external address) when the endpoint is known only by its address. */
  address: string | null;
}

export interface ObservedEdge {
  cluster: string;
  src: ObservedEndpoint;
  dst: ObservedEndpoint;
  dstPort: number | null;
  icmpType: number | null;
  protocol: string;
  verdict: string;
  directions: string[];
  count: number;
  firstSeen: string;
  lastSeen: string;
}

/** The window of `observedEdges`: every verdict; namespace matches either side. */
export interface EdgeWindow {
  from: number;
  to: number;
  namespace?: string;
  cluster?: string;
}

export interface EdgeReader {
  /** Edges grouped at workload level, largest first, `limit` from `offset` (stable for a past window). */
  edges(f: DropFilters, limit: number, offset: number): Promise<ReaderPage<EdgeItem, number>>;
  /** Every observed edge of a window (all verdicts), for `suggest --from` and `what-if`. */
  observedEdges(w: EdgeWindow): Promise<ObservedEdge[]>;
  /** Reads a window into the reader's cache in the background, where it keeps one. */
  warm?(f: DropFilters): void;
  /** Resolves once no background read of the reader's is running (shutdown). */
  settled?(): Promise<void>;
}

/** The protocols whose roll-up `dst_port` column holds the ICMP type. */
export function isIcmpProtocol(protocol: string): boolean {
  return /^icmp/i.test(protocol);
}
