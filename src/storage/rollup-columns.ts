/**
 * The columns of a batch's roll-up document (json_to_recordset), read by the minute writer
 * (rollup.writer.ts) and by the hourly and daily roll-ups' late-minute path (rollup-closer.ts).
 */
export const ROLLUP_COLUMNS = `bucket timestamptz, edge_key text, cluster text, src_kind text, src_namespace text,
  src_workload text, src_labels jsonb, dst_kind text, dst_namespace text, dst_workload text, dst_labels jsonb,
  dst_port int, protocol text, verdict text, direction text, drop_reason text, attribution_level text, policies text[],
  source text, count bigint, packets bigint, bytes bigint, first_seen double precision, last_seen double precision`;
