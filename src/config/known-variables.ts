import { editDistance } from '../common/edit-distance.js';

/**
 * Every configuration variable Dropscope reads. A `--config` file key outside this list is an
 * error naming the closest known one: a typo such as `RETENTON_DAYS: 0` must not silently leave
 * retention on. A test keeps this list and the README's configuration table in step.
 */
export const KNOWN_VARIABLES: readonly string[] = [
  'PORT',
  'HOST',
  'DROPSCOPE_ROLES',
  'DROPSCOPE_DATA_DIR',
  'DROPSCOPE_CONFIG',
  'DATABASE_URL',
  'DATABASE_POOL_SIZE',
  'CLUSTER_NAME',
  'LOG_LEVEL',
  'DEBUG',
  'HUBBLE_ADDR',
  'HUBBLE_FILTER',
  'HUBBLE_TLS_CA_FILE',
  'HUBBLE_TLS_CERT_FILE',
  'HUBBLE_TLS_KEY_FILE',
  'HUBBLE_TLS_SERVER_NAME',
  'CALICO_FLOWLOG_PATH',
  'GOLDMANE_ADDR',
  'GOLDMANE_TLS_CA_FILE',
  'GOLDMANE_TLS_CERT_FILE',
  'GOLDMANE_TLS_KEY_FILE',
  'GOLDMANE_TLS_SERVER_NAME',
  'COLLECTOR_DOWN_GRACE_SECONDS',
  'POLICY_MANIFESTS',
  'POLICY_KUBERNETES',
  'KUBERNETES_API_URL',
  'KUBERNETES_TOKEN_FILE',
  'KUBERNETES_CA_FILE',
  'POLICY_KUBERNETES_READY_TIMEOUT',
  'POLICY_KUBERNETES_SNAPSHOT_INTERVAL',
  'KAFKA_BROKERS',
  'KAFKA_TOPIC',
  'KAFKA_DLQ_TOPIC',
  'KAFKA_GROUP_ID',
  'KAFKA_CLIENT_ID',
  'KAFKA_TLS',
  'KAFKA_TLS_CA_FILE',
  'KAFKA_TLS_CERT_FILE',
  'KAFKA_TLS_KEY_FILE',
  'KAFKA_TLS_SERVER_NAME',
  'KAFKA_SASL_MECHANISM',
  'KAFKA_SASL_USERNAME',
  'KAFKA_SASL_PASSWORD',
  'KAFKA_COMPRESSION',
  'KAFKA_CREATE_TOPICS',
  'KAFKA_NUM_PARTITIONS',
  'KAFKA_SESSION_TIMEOUT_MS',
  'KAFKA_HEARTBEAT_INTERVAL_MS',
  'KAFKA_DEDUP_WINDOW',
  'KAFKA_MAX_WAIT_MS',
  'KAFKA_CONCURRENT_PARTITIONS',
  'AGGREGATOR_MAX_BATCH',
  'IMPORT_FLUSH_ENTRIES',
  'DROP_EVENTS_PER_EDGE_MINUTE',
  'RETENTION_DAYS',
  'HOURLY_ROLLUP_RETENTION_DAYS',
  'HOURLY_ROLLUP_LATENESS',
  'FIVE_MINUTE_ROLLUP_LATENESS',
  'EDGE_LIST_CACHE_MB',
  'DROP_EVENT_RETENTION_DAYS',
  'DEAD_LETTER_RETENTION_DAYS',
  'API_READ_TOKENS',
  'API_ADMIN_TOKENS',
  'AUTH_DISABLED',
  'METRICS_AUTH',
  'SLACK_WEBHOOK_URL',
  'ALERT_GROUP_WAIT',
  'ALERT_GROUP_INTERVAL',
  'ALERT_REPEAT_INTERVAL',
  'ALERT_RULES_FILE',
  'ALERT_EVALUATION_INTERVAL',
  'ALERT_NOTIFICATION_TTL',
  'ALERT_SEND_TIMEOUT',
  'ALERT_LINK_BASE_URL',
  'SLACK_WEBHOOK_URL_FILE',
];

/** The known variable closest to `name` (case-insensitive), or undefined when nothing is close. */
export function closestVariable(name: string): string | undefined {
  const upper = name.toUpperCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const known of KNOWN_VARIABLES) {
    const distance = editDistance(upper, known);
    if (distance < bestDistance) [best, bestDistance] = [known, distance];
  }
  // Beyond a third of the name it is a different word, not a typo.
  return bestDistance <= Math.max(2, Math.floor(upper.length / 3)) ? best : undefined;
}
