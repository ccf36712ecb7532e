import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import type * as Yaml from 'yaml';
import { parseDuration } from './duration.js';
import { closestVariable, KNOWN_VARIABLES } from './known-variables.js';

/** A bad configuration value: one line naming the variable and the expected form. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    expected: string,
    got?: string,
  ) {
    super(`invalid configuration: ${variable} ${expected}${got === undefined ? '' : `, got ${JSON.stringify(got)}`}`);
    this.name = 'ConfigError';
  }
}

/**
 * A setting that is well formed but does not work here (an unreachable DATABASE_URL, say): one
 * line naming the variable and what was seen, exit status 2 like a ConfigError.
 */
export class StartupCheckError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`start-up check failed: ${variable} ${problem}`);
    this.name = 'StartupCheckError';
  }
}

export const ROLES = ['collector', 'aggregator', 'api', 'alerts'] as const;
export type Role = (typeof ROLES)[number];

export interface TlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  serverName?: string;
}

export interface AppConfig {
  port: number;
  host: string;
  dataDir: string;
  roles: Set<Role>;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  clusterName: string;
  database: { url?: string; poolSize: number };
  kafka?: {
    brokers: string[];
    topic: string;
    dlqTopic: string;
    clientId: string;
    groupId: string;
    tls: boolean;
    tlsFiles: TlsFiles;
    sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
    compression: 'gzip' | 'none';
    createTopics: boolean;
    numPartitions: number;
    sessionTimeoutMs: number;
    heartbeatIntervalMs: number;
    /** KAFKA_DEDUP_WINDOW: offsets per partition within which a repeated flow id is a producer duplicate. */
    dedupWindow: number;
    /** KAFKA_MAX_WAIT_MS: longest a consumer fetch waits for data. */
    maxWaitMs: number;
    /**
     * KAFKA_CONCURRENT_PARTITIONS: partitions an aggregator consumes at once; their batches that
     * meet while a write is in flight are stored together (one transaction).
     */
    concurrentPartitions: number;
  };
  hubble?: { addr: string; tls: TlsFiles; filter: 'policy' | 'drops' | 'all' };
  calico?: { flowLogPath: string };
  goldmane?: { addr: string; tls: TlsFiles };
  /** COLLECTOR_DOWN_GRACE_SECONDS: how long a collector may be down before /readyz fails. */
  collectorDownGraceMs: number;
  policyManifests: string[];
  /** POLICY_KUBERNETES=true: watch the Kubernetes API for the policy inventory. */
  policyKubernetes?: {
    apiUrl: string;
    tokenFile?: string;
    caFile?: string;
    readyTimeoutMs: number;
    /** At most one new inventory snapshot (and evaluator update) per this interval. */
    snapshotIntervalMs: number;
  };
  auth: { disabled: boolean; readTokens: string[]; adminTokens: string[]; metricsOpen: boolean };
  retention: { rollupDays: number; hourlyRollupDays: number; eventDays: number; deadLetterDays: number };
  /** How long after an hour ends its minute roll-ups are summed into the hourly roll-ups. */
  hourlyRollupLatenessMs: number;
  /**
   * How long after a 5-minute (15-minute) unit ends it is summed into `edge_rollups_5m`
   * (`edge_rollups_15m`); later minutes take the late path.
   */
  fiveMinuteRollupLatenessMs: number;
  /** EDGE_LIST_CACHE_MB: memory for the edge list's kept units (edge-unit-cache.ts); 0 turns it off. */
  edgeListCacheBytes: number;
  /**
   * maxBatch: AGGREGATOR_MAX_BATCH. importFlushEntries: IMPORT_FLUSH_ENTRIES, the roll-up rows,
   * drop events and dead letters `import` carries across batches before it writes them.
   * dropEventsPerEdgeMinute: DROP_EVENTS_PER_EDGE_MINUTE, drop events stored per roll-up row (edge
   * and minute; 0: all); the roll-up counts every drop either way.
   */
  aggregator: { maxBatch: number; importFlushEntries: number; dropEventsPerEdgeMinute: number };
  alerts: {
    slackWebhookUrl?: string;
    groupWaitMs: number;
    groupIntervalMs: number;
    repeatIntervalMs: number;
    rulesFile?: string;
    evaluationIntervalMs: number;
    notificationTtlMs: number;
    sendTimeoutMs: number;
    linkBaseUrl?: string;
  };
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const v = str(env, name);
  if (v === undefined) return def;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
    throw new ConfigError(name, `must be an integer from ${min} to ${max}`, v);
  return Number(v);
}

function bool(env: Env, name: string, def: boolean): boolean {
  const v = str(env, name);
  if (v === undefined) return def;
  if (/^(true|1|yes)$/i.test(v)) return true;
  if (/^(false|0|no)$/i.test(v)) return false;
  throw new ConfigError(name, 'must be true or false', v);
}

function duration(env: Env, name: string, def: string): number {
  const v = str(env, name) ?? def;
  const ms = parseDuration(v);
  if (ms === undefined || ms <= 0) throw new ConfigError(name, 'must be a duration such as 30s, 5m or 4h', v);
  return ms;
}

function list(env: Env, name: string): string[] {
  return (str(env, name) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function hostPort(env: Env, name: string): string | undefined {
  const v = str(env, name);
  if (v === undefined) return undefined;
  if (!/^(unix:.+|(dns:\/\/\/)?[A-Za-z0-9._-]+:\d{1,5}|\[[0-9a-fA-F:]+\]:\d{1,5})$/.test(v))
    throw new ConfigError(name, 'must be host:port (e.g. hubble-relay.kube-system.svc:4245)', v);
  return v;
}

function tlsFiles(env: Env, prefix: string): TlsFiles {
  const t: TlsFiles = {
    caFile: str(env, `${prefix}_TLS_CA_FILE`),
    certFile: str(env, `${prefix}_TLS_CERT_FILE`),
    keyFile: str(env, `${prefix}_TLS_KEY_FILE`),
    serverName: str(env, `${prefix}_TLS_SERVER_NAME`),
  };
  if ((t.certFile === undefined) !== (t.keyFile === undefined)) {
    const missing = t.certFile === undefined ? `${prefix}_TLS_CERT_FILE` : `${prefix}_TLS_KEY_FILE`;
    throw new ConfigError(missing, 'must be set too: mTLS needs both a client certificate and its key');
  }
  readableFile(`${prefix}_TLS_CA_FILE`, t.caFile);
  readableFile(`${prefix}_TLS_CERT_FILE`, t.certFile);
  readableFile(`${prefix}_TLS_KEY_FILE`, t.keyFile);
  return t;
}

/** A file setting must name a file this process can read now, not fail at first connect. */
function readableFile(name: string, path: string | undefined): void {
  if (path === undefined) return;
  try {
    if (!statSync(path).isFile()) throw new ConfigError(name, 'must name a readable file (it is not a file)', path);
    accessSync(path, constants.R_OK);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(name, `must name a readable file (${code === 'ENOENT' ? 'no such file' : code})`, path);
  }
}

/** Settings that only mean something beside another one: set alone they are a mistake, not a no-op. */
function requireCompanion(env: Env, prefix: string, companion: string, why: string): void {
  if (str(env, companion) !== undefined) return;
  const stray = KNOWN_VARIABLES.find((k) => k.startsWith(prefix) && k !== companion && str(env, k) !== undefined);
  if (stray !== undefined) throw new ConfigError(companion, `must be set: ${stray} is set, and ${why}`);
}

/** HOST is an IP address or a host name. */
function host(env: Env): string {
  const v = str(env, 'HOST') ?? '0.0.0.0';
  const hostname =
    /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
  if (isIP(v) === 0 && !hostname.test(v))
    throw new ConfigError('HOST', 'must be an IP address or a host name to bind (e.g. 0.0.0.0, ::, localhost)', v);
  return v;
}

/** DROPSCOPE_DATA_DIR: a folder, or a path whose nearest existing ancestor is a folder. */
function dataDir(env: Env): string {
  const dir = resolve(str(env, 'DROPSCOPE_DATA_DIR') ?? './.dropscope');
  for (let p = dir; ; p = dirname(p)) {
    let isDir: boolean | undefined;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      isDir = undefined; // does not exist yet: look at its parent
    }
    if (isDir === false)
      throw new ConfigError(
        'DROPSCOPE_DATA_DIR',
        `must be a folder, but ${p} is a file`,
        str(env, 'DROPSCOPE_DATA_DIR'),
      );
    if (isDir === true || dirname(p) === p) return dir;
  }
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** POLICY_KUBERNETES and its KUBERNETES_* settings (in-cluster defaults). */
function policyKubernetes(env: Env): AppConfig['policyKubernetes'] {
  if (!bool(env, 'POLICY_KUBERNETES', false)) return undefined;
  let apiUrl = str(env, 'KUBERNETES_API_URL');
  if (apiUrl !== undefined) {
    if (!/^https?:\/\/[^\s/]+(\/\S*)?$/.test(apiUrl))
      throw new ConfigError('KUBERNETES_API_URL', 'must be an http(s) URL such as https://kubernetes.default.svc');
  } else {
    const host = str(env, 'KUBERNETES_SERVICE_HOST');
    if (host === undefined)
      throw new ConfigError(
        'KUBERNETES_API_URL',
        'is required with POLICY_KUBERNETES=true outside a cluster (KUBERNETES_SERVICE_HOST is not set)',
      );
    const port = int(env, 'KUBERNETES_SERVICE_PORT', 443, 1, 65535);
    apiUrl = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }
  const file = (name: string, inCluster: string): string | undefined => {
    const v = str(env, name);
    if (v === undefined) return existsSync(inCluster) ? inCluster : undefined;
    if (!existsSync(v)) throw new ConfigError(name, 'must name an existing file', v);
    return v;
  };
  return {
    apiUrl,
    tokenFile: file('KUBERNETES_TOKEN_FILE', `${SA_DIR}/token`),
    caFile: file('KUBERNETES_CA_FILE', `${SA_DIR}/ca.crt`),
    readyTimeoutMs: duration(env, 'POLICY_KUBERNETES_READY_TIMEOUT', '30s'),
    snapshotIntervalMs: duration(env, 'POLICY_KUBERNETES_SNAPSHOT_INTERVAL', '1s'),
  };
}

/**
 * Reads the optional config file (YAML mapping of the same variable names; the environment wins)
 * named by DROPSCOPE_CONFIG. Loaded with the `yaml` package's safe core schema: no custom tags.
 */
export function mergeConfigFile(env: Env): Env {
  const path = str(env, 'DROPSCOPE_CONFIG');
  if (path === undefined) return env;
  let doc: unknown;
  try {
    // Loaded only for a config file: every command reads the configuration, few name a file.
    const { parse: parseYaml } = createRequire(import.meta.url)('yaml') as typeof Yaml;
    doc = parseYaml(readFileSync(path, 'utf8'), { schema: 'core', maxAliasCount: 0 });
  } catch (e) {
    throw new ConfigError('DROPSCOPE_CONFIG', `must name a readable YAML file (${(e as Error).message})`, path);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    throw new ConfigError('DROPSCOPE_CONFIG', 'must hold a YAML mapping of VARIABLE: value', path);
  const merged: Env = {};
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    if (!KNOWN_VARIABLES.includes(k)) {
      const hint = closestVariable(k);
      throw new ConfigError(k, `in ${path} is not a Dropscope setting${hint ? `; did you mean ${hint}?` : ''}`);
    }
    if (v !== null && typeof v === 'object')
      throw new ConfigError(k, `in ${path} must be a scalar (string, number or boolean)`);
    merged[k] = v === null ? undefined : String(v);
  }
  return { ...merged, ...env };
}

/** Validates the whole configuration up front; throws ConfigError on the first bad value. */
export function loadConfig(rawEnv: Env = process.env): AppConfig {
  const env = mergeConfigFile(rawEnv);

  const roleList = list(env, 'DROPSCOPE_ROLES').length > 0 ? list(env, 'DROPSCOPE_ROLES') : ['all'];
  const roles = new Set<Role>();
  for (const r of roleList) {
    if (r === 'all') ROLES.forEach((x) => roles.add(x));
    else if ((ROLES as readonly string[]).includes(r)) roles.add(r as Role);
    else throw new ConfigError('DROPSCOPE_ROLES', `must be a comma-separated list of all|${ROLES.join('|')}`, r);
  }

  const logLevel = (str(env, 'LOG_LEVEL') ?? 'info').toLowerCase();
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal'].includes(logLevel))
    throw new ConfigError('LOG_LEVEL', 'must be one of trace|debug|info|warn|error|fatal', logLevel);

  const dbUrl = str(env, 'DATABASE_URL');
  if (dbUrl !== undefined && !/^postgres(ql)?:\/\//.test(dbUrl))
    throw new ConfigError('DATABASE_URL', 'must be a postgres:// or postgresql:// URL'); // value not echoed: it may hold a password

  requireCompanion(env, 'KAFKA_', 'KAFKA_BROKERS', 'Kafka settings do nothing without brokers');
  requireCompanion(env, 'HUBBLE_', 'HUBBLE_ADDR', 'Hubble settings do nothing without the Relay address');
  requireCompanion(env, 'GOLDMANE_', 'GOLDMANE_ADDR', 'Goldmane settings do nothing without its address');

  const brokers = list(env, 'KAFKA_BROKERS');
  for (const b of brokers)
    if (!/^[A-Za-z0-9._-]+:\d{1,5}$/.test(b))
      throw new ConfigError('KAFKA_BROKERS', 'must be a comma-separated list of host:port', b);
  let kafka: AppConfig['kafka'] | undefined;
  if (brokers.length > 0) {
    const mech = str(env, 'KAFKA_SASL_MECHANISM')?.toLowerCase();
    let sasl: NonNullable<AppConfig['kafka']>['sasl'];
    if (mech !== undefined) {
      if (mech !== 'plain' && mech !== 'scram-sha-256' && mech !== 'scram-sha-512')
        throw new ConfigError('KAFKA_SASL_MECHANISM', 'must be plain, scram-sha-256 or scram-sha-512', mech);
      const username = str(env, 'KAFKA_SASL_USERNAME');
      const password = env.KAFKA_SASL_PASSWORD;
      if (username === undefined) throw new ConfigError('KAFKA_SASL_USERNAME', 'is required with KAFKA_SASL_MECHANISM');
      if (!password) throw new ConfigError('KAFKA_SASL_PASSWORD', 'is required with KAFKA_SASL_MECHANISM');
      sasl = { mechanism: mech, username, password };
    }
    const compression = (str(env, 'KAFKA_COMPRESSION') ?? 'gzip').toLowerCase();
    if (compression !== 'gzip' && compression !== 'none')
      throw new ConfigError('KAFKA_COMPRESSION', 'must be gzip or none', compression);
    const tlsF = tlsFiles(env, 'KAFKA');
    kafka = {
      brokers,
      topic: str(env, 'KAFKA_TOPIC') ?? 'dropscope.flows.v1',
      dlqTopic: str(env, 'KAFKA_DLQ_TOPIC') ?? 'dropscope.flows.dlq',
      clientId: str(env, 'KAFKA_CLIENT_ID') ?? 'dropscope',
      groupId: str(env, 'KAFKA_GROUP_ID') ?? 'dropscope-aggregator',
      tls: bool(env, 'KAFKA_TLS', tlsF.caFile !== undefined || tlsF.certFile !== undefined),
      tlsFiles: tlsF,
      sasl,
      compression,
      createTopics: bool(env, 'KAFKA_CREATE_TOPICS', true),
      numPartitions: int(env, 'KAFKA_NUM_PARTITIONS', 12, 1, 10_000),
      sessionTimeoutMs: int(env, 'KAFKA_SESSION_TIMEOUT_MS', 30_000, 1000, 3_600_000),
      heartbeatIntervalMs: int(env, 'KAFKA_HEARTBEAT_INTERVAL_MS', 3000, 100, 3_600_000),
      dedupWindow: int(env, 'KAFKA_DEDUP_WINDOW', 10_000, 0, 1_000_000),
      maxWaitMs: int(env, 'KAFKA_MAX_WAIT_MS', 5000, 10, 60_000),
      concurrentPartitions: int(env, 'KAFKA_CONCURRENT_PARTITIONS', 8, 1, 256),
    };
    if (kafka.heartbeatIntervalMs >= kafka.sessionTimeoutMs)
      throw new ConfigError('KAFKA_HEARTBEAT_INTERVAL_MS', 'must be smaller than KAFKA_SESSION_TIMEOUT_MS');
  }

  // With Kafka the roles run as separate processes: a process without the aggregator keeps its
  // positions in the shared database, and a private embedded one would fork them from the rest.
  if (kafka && dbUrl === undefined && !roles.has('aggregator') && roles.size > 0)
    throw new ConfigError(
      'DATABASE_URL',
      `is required with KAFKA_BROKERS for roles ${[...roles].join(',')} (they share state with the aggregators through it)`,
    );

  const hubbleAddr = hostPort(env, 'HUBBLE_ADDR');
  const hubbleFilter = (str(env, 'HUBBLE_FILTER') ?? 'policy').toLowerCase();
  if (hubbleFilter !== 'policy' && hubbleFilter !== 'drops' && hubbleFilter !== 'all')
    throw new ConfigError('HUBBLE_FILTER', 'must be policy, drops or all', hubbleFilter);
  const goldmaneAddr = hostPort(env, 'GOLDMANE_ADDR');
  const goldmaneTls = goldmaneAddr ? tlsFiles(env, 'GOLDMANE') : undefined;
  // Goldmane serves mTLS only: without a client certificate the stream is refused at every connect.
  if (goldmaneTls !== undefined)
    for (const [name, v] of [
      ['GOLDMANE_TLS_CERT_FILE', goldmaneTls.certFile],
      ['GOLDMANE_TLS_CA_FILE', goldmaneTls.caFile],
    ] as const)
      if (v === undefined) throw new ConfigError(name, 'is required with GOLDMANE_ADDR (Goldmane accepts mTLS only)');

  const readTokens = list(env, 'API_READ_TOKENS');
  const adminTokens = list(env, 'API_ADMIN_TOKENS');
  for (const [name, toks] of [
    ['API_READ_TOKENS', readTokens],
    ['API_ADMIN_TOKENS', adminTokens],
  ] as const)
    for (const t of toks)
      if (t.length < 16) throw new ConfigError(name, 'must hold tokens of at least 16 characters each'); // token not echoed

  const slackFile = str(env, 'SLACK_WEBHOOK_URL_FILE');
  readableFile('SLACK_WEBHOOK_URL_FILE', slackFile);
  const slack =
    str(env, 'SLACK_WEBHOOK_URL') ?? (slackFile ? readFileSync(slackFile, 'utf8').trim() || undefined : undefined);
  const rulesFile = str(env, 'ALERT_RULES_FILE');
  readableFile('ALERT_RULES_FILE', rulesFile);
  const linkBase = str(env, 'ALERT_LINK_BASE_URL');
  if (linkBase !== undefined && !/^https?:\/\/\S+$/.test(linkBase))
    throw new ConfigError(
      'ALERT_LINK_BASE_URL',
      'must be an http(s) URL such as https://dropscope.example.com',
      linkBase,
    );
  if (slack !== undefined && !/^https?:\/\/\S+$/.test(slack))
    throw new ConfigError(
      slackFile && !str(env, 'SLACK_WEBHOOK_URL') ? 'SLACK_WEBHOOK_URL_FILE' : 'SLACK_WEBHOOK_URL',
      'must be (or hold) an http(s) URL',
    ); // not echoed: the URL is a secret

  return {
    port: int(env, 'PORT', 8080, 0, 65535),
    host: host(env),
    dataDir: dataDir(env),
    roles,
    logLevel: logLevel as AppConfig['logLevel'],
    clusterName: str(env, 'CLUSTER_NAME') ?? 'default',
    database: { url: dbUrl, poolSize: int(env, 'DATABASE_POOL_SIZE', 10, 1, 200) },
    kafka,
    hubble: hubbleAddr ? { addr: hubbleAddr, tls: tlsFiles(env, 'HUBBLE'), filter: hubbleFilter } : undefined,
    calico: str(env, 'CALICO_FLOWLOG_PATH') ? { flowLogPath: str(env, 'CALICO_FLOWLOG_PATH')! } : undefined,
    goldmane: goldmaneAddr && goldmaneTls ? { addr: goldmaneAddr, tls: goldmaneTls } : undefined,
    collectorDownGraceMs: int(env, 'COLLECTOR_DOWN_GRACE_SECONDS', 60, 0, 86_400) * 1000,
    policyManifests: list(env, 'POLICY_MANIFESTS'),
    policyKubernetes: policyKubernetes(env),
    auth: {
      disabled: bool(env, 'AUTH_DISABLED', false),
      readTokens,
      adminTokens,
      metricsOpen: !bool(env, 'METRICS_AUTH', false),
    },
    retention: {
      rollupDays: int(env, 'RETENTION_DAYS', 30, 0, 3650),
      hourlyRollupDays: int(env, 'HOURLY_ROLLUP_RETENTION_DAYS', 90, 0, 3650),
      eventDays: int(env, 'DROP_EVENT_RETENTION_DAYS', 7, 0, 3650),
      deadLetterDays: int(env, 'DEAD_LETTER_RETENTION_DAYS', 7, 0, 3650),
    },
    hourlyRollupLatenessMs: duration(env, 'HOURLY_ROLLUP_LATENESS', '15m'),
    fiveMinuteRollupLatenessMs: duration(env, 'FIVE_MINUTE_ROLLUP_LATENESS', '2m'),
    edgeListCacheBytes: int(env, 'EDGE_LIST_CACHE_MB', 64, 0, 65_536) * 1024 * 1024,
    aggregator: {
      maxBatch: int(env, 'AGGREGATOR_MAX_BATCH', 5000, 1, 100_000),
      importFlushEntries: int(env, 'IMPORT_FLUSH_ENTRIES', 20_000, 1, 1_000_000),
      dropEventsPerEdgeMinute: int(env, 'DROP_EVENTS_PER_EDGE_MINUTE', 10, 0, 1_000_000),
    },
    alerts: {
      slackWebhookUrl: slack,
      groupWaitMs: duration(env, 'ALERT_GROUP_WAIT', '30s'),
      groupIntervalMs: duration(env, 'ALERT_GROUP_INTERVAL', '5m'),
      repeatIntervalMs: duration(env, 'ALERT_REPEAT_INTERVAL', '4h'),
      rulesFile,
      evaluationIntervalMs: duration(env, 'ALERT_EVALUATION_INTERVAL', '15s'),
      notificationTtlMs: duration(env, 'ALERT_NOTIFICATION_TTL', '24h'),
      sendTimeoutMs: duration(env, 'ALERT_SEND_TIMEOUT', '10s'),
      linkBaseUrl: linkBase,
    },
  };
}
