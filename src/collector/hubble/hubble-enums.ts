/**
 * Hubble enum tables (facts from Cilium's api/v1/flow, 1.19). Needed because a flow may carry an
 * enum as a name (protojson, proto-loader with `enums: String`) or as a number (the deprecated
 * `drop_reason`, `event_type.sub_type` of drop events, values newer than our .proto).
 */

const DROP_REASON_LIST: ReadonlyArray<readonly [number, string]> = [
  [0, 'DROP_REASON_UNKNOWN'],
  [130, 'INVALID_SOURCE_MAC'],
  [131, 'INVALID_DESTINATION_MAC'],
  [132, 'INVALID_SOURCE_IP'],
  [133, 'POLICY_DENIED'],
  [134, 'INVALID_PACKET_DROPPED'],
  [135, 'CT_TRUNCATED_OR_INVALID_HEADER'],
  [136, 'CT_MISSING_TCP_ACK_FLAG'],
  [137, 'CT_UNKNOWN_L4_PROTOCOL'],
  [138, 'CT_CANNOT_CREATE_ENTRY_FROM_PACKET'],
  [139, 'UNSUPPORTED_L3_PROTOCOL'],
  [140, 'MISSED_TAIL_CALL'],
  [141, 'ERROR_WRITING_TO_PACKET'],
  [142, 'UNKNOWN_L4_PROTOCOL'],
  [143, 'UNKNOWN_ICMPV4_CODE'],
  [144, 'UNKNOWN_ICMPV4_TYPE'],
  [145, 'UNKNOWN_ICMPV6_CODE'],
  [146, 'UNKNOWN_ICMPV6_TYPE'],
  [147, 'ERROR_RETRIEVING_TUNNEL_KEY'],
  [148, 'ERROR_RETRIEVING_TUNNEL_OPTIONS'],
  [149, 'INVALID_GENEVE_OPTION'],
  [150, 'UNKNOWN_L3_TARGET_ADDRESS'],
  [151, 'STALE_OR_UNROUTABLE_IP'],
  [152, 'NO_MATCHING_LOCAL_CONTAINER_FOUND'],
  [153, 'ERROR_WHILE_CORRECTING_L3_CHECKSUM'],
  [154, 'ERROR_WHILE_CORRECTING_L4_CHECKSUM'],
  [155, 'CT_MAP_INSERTION_FAILED'],
  [156, 'INVALID_IPV6_EXTENSION_HEADER'],
  [157, 'IP_FRAGMENTATION_NOT_SUPPORTED'],
  [158, 'SERVICE_BACKEND_NOT_FOUND'],
  [160, 'NO_TUNNEL_OR_ENCAPSULATION_ENDPOINT'],
  [161, 'FAILED_TO_INSERT_INTO_PROXYMAP'],
  [162, 'REACHED_EDT_RATE_LIMITING_DROP_HORIZON'],
  [163, 'UNKNOWN_CONNECTION_TRACKING_STATE'],
  [164, 'LOCAL_HOST_IS_UNREACHABLE'],
  [165, 'NO_CONFIGURATION_AVAILABLE_TO_PERFORM_POLICY_DECISION'],
  [166, 'UNSUPPORTED_L2_PROTOCOL'],
  [167, 'NO_MAPPING_FOR_NAT_MASQUERADE'],
  [168, 'UNSUPPORTED_PROTOCOL_FOR_NAT_MASQUERADE'],
  [169, 'FIB_LOOKUP_FAILED'],
  [170, 'ENCAPSULATION_TRAFFIC_IS_PROHIBITED'],
  [171, 'INVALID_IDENTITY'],
  [172, 'UNKNOWN_SENDER'],
  [173, 'NAT_NOT_NEEDED'],
  [174, 'IS_A_CLUSTERIP'],
  [175, 'FIRST_LOGICAL_DATAGRAM_FRAGMENT_NOT_FOUND'],
  [176, 'FORBIDDEN_ICMPV6_MESSAGE'],
  [177, 'DENIED_BY_LB_SRC_RANGE_CHECK'],
  [178, 'SOCKET_LOOKUP_FAILED'],
  [179, 'SOCKET_ASSIGN_FAILED'],
  [180, 'PROXY_REDIRECTION_NOT_SUPPORTED_FOR_PROTOCOL'],
  [181, 'POLICY_DENY'],
  [182, 'VLAN_FILTERED'],
  [183, 'INVALID_VNI'],
  [184, 'INVALID_TC_BUFFER'],
  [185, 'NO_SID'],
  [186, 'MISSING_SRV6_STATE'],
  [187, 'NAT46'],
  [188, 'NAT64'],
  [189, 'AUTH_REQUIRED'],
  [190, 'CT_NO_MAP_FOUND'],
  [191, 'SNAT_NO_MAP_FOUND'],
  [192, 'INVALID_CLUSTER_ID'],
  [193, 'UNSUPPORTED_PROTOCOL_FOR_DSR_ENCAP'],
  [194, 'NO_EGRESS_GATEWAY'],
  [195, 'UNENCRYPTED_TRAFFIC'],
  [196, 'TTL_EXCEEDED'],
  [197, 'NO_NODE_ID'],
  [198, 'DROP_RATE_LIMITED'],
  [199, 'IGMP_HANDLED'],
  [200, 'IGMP_SUBSCRIBED'],
  [201, 'MULTICAST_HANDLED'],
  [202, 'DROP_HOST_NOT_READY'],
  [203, 'DROP_EP_NOT_READY'],
  [204, 'DROP_NO_EGRESS_IP'],
  [205, 'DROP_PUNT_PROXY'],
];

const DROP_REASON_BY_CODE: string[] = [];
for (const [code, name] of DROP_REASON_LIST) DROP_REASON_BY_CODE[code] = name;

/** Every drop reason name this build knows. */
export const DROP_REASON_NAMES: readonly string[] = DROP_REASON_LIST.map(([, name]) => name);

/** Enum name of a drop reason code; codes newer than this table become `DROP_REASON_<n>`. */
export function dropReasonName(code: number): string {
  return DROP_REASON_BY_CODE[code] ?? `DROP_REASON_${code}`;
}

/** Drop reasons that mean "network policy refused it" (FlowRecord verdict `denied`). */
export const POLICY_DROP_REASONS: ReadonlySet<string> = new Set(['POLICY_DENIED', 'POLICY_DENY', 'AUTH_REQUIRED']);

export const VERDICT_NAMES: readonly string[] = [
  'VERDICT_UNKNOWN',
  'FORWARDED',
  'DROPPED',
  'ERROR',
  'AUDIT',
  'REDIRECTED',
  'TRACED',
  'TRANSLATED',
];

export const TRAFFIC_DIRECTION_NAMES: readonly string[] = ['TRAFFIC_DIRECTION_UNKNOWN', 'INGRESS', 'EGRESS'];

export const FLOW_TYPE_NAMES: readonly string[] = ['UNKNOWN_TYPE', 'L3_L4', 'L7', 'SOCK'];

export const L7_FLOW_TYPE_NAMES: readonly string[] = ['UNKNOWN_L7_TYPE', 'REQUEST', 'RESPONSE', 'SAMPLE'];

export const LOST_EVENT_SOURCE_NAMES: readonly string[] = [
  'UNKNOWN_LOST_EVENT_SOURCE',
  'PERF_EVENT_RING_BUFFER',
  'OBSERVER_EVENTS_QUEUE',
  'HUBBLE_RING_BUFFER',
];

export const NODE_STATE_NAMES: readonly string[] = [
  'UNKNOWN_NODE_STATE',
  'NODE_CONNECTED',
  'NODE_UNAVAILABLE',
  'NODE_GONE',
  'NODE_ERROR',
];

/** Cilium monitor message types (event_type.type) as FlowRecord.eventType. */
export function eventTypeName(type: number): string {
  switch (type) {
    case 1:
      return 'drop';
    case 2:
      return 'debug';
    case 3:
      return 'capture';
    case 4:
      return 'trace';
    case 5:
      return 'policy-verdict';
    case 7:
      return 'trace-sock';
    case 129:
      return 'l7';
    case 130:
      return 'agent';
    default:
      return `type-${type}`;
  }
}

/** policy_match_type (a uint32 upstream, not an enum), as Hubble's compact output prints it. */
export const POLICY_MATCH_NAMES: readonly string[] = [
  'none',
  'L3-Only',
  'L3-L4',
  'L4-Only',
  'all',
  'L3-Proto',
  'Proto-Only',
];

/** Reserved security identities (pkg/identity/numericidentity.go) by number. */
export const RESERVED_IDENTITY_NAMES: readonly string[] = [
  'unknown',
  'host',
  'world',
  'unmanaged',
  'health',
  'init',
  'remote-node',
  'kube-apiserver',
  'ingress',
  'world-ipv4',
  'world-ipv6',
  'encrypted-overlay',
];

/** Name for an enum that arrived as a string or a number; numbers outside the table stay numeric. */
export function enumName(v: unknown, names: readonly string[]): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return names[v] ?? String(v);
  return undefined;
}

/** A metric label from an enum: the lower-cased name when it is a known one, else `other` (bounded). */
export function enumLabel(name: string, names: readonly string[]): string {
  return names.includes(name) ? name.toLowerCase() : 'other';
}
