import { hash } from 'node:crypto';

/** The fields that make an edge of the API's edge list (storage's EDGE_COLUMNS, same order). */
export interface EdgeIdFields {
  cluster: string;
  src_kind: string;
  src_namespace: string;
  src_workload: string;
  dst_kind: string;
  dst_namespace: string;
  dst_workload: string;
  dst_port: number;
  protocol: string;
  verdict: string;
}

/** Between the fields: a control character no Kubernetes name, kind, protocol or verdict holds. */
const SEPARATOR = '\u001f';

/**
 * An edge's id: the MD5 of its ten list fields joined by U+001F, as 32 hex digits (PostgreSQL's
 * `uuid` input). Stored on every roll-up row so that the edge list groups by one 16-byte value
 * instead of ten text columns; the same as PostgreSQL's
 * `md5(concat_ws(chr(31), ...))::uuid` over the columns (storage's EDGE_ID_SQL), which computes
 * it for rows written before the column existed. 128 bits: no two edges share an id in practice.
 */
export function edgeId(f: EdgeIdFields): string {
  return hash(
    'md5',
    f.cluster +
      SEPARATOR +
      f.src_kind +
      SEPARATOR +
      f.src_namespace +
      SEPARATOR +
      f.src_workload +
      SEPARATOR +
      f.dst_kind +
      SEPARATOR +
      f.dst_namespace +
      SEPARATOR +
      f.dst_workload +
      SEPARATOR +
      String(f.dst_port) +
      SEPARATOR +
      f.protocol +
      SEPARATOR +
      f.verdict,
  );
}
