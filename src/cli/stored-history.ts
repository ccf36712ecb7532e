/**
 * Stored history for `suggest --from` and `what-if --from`: the database of the settings
 * (DATABASE_URL, else the embedded server, shared with a running `serve` as `import` shares it),
 * read through the edge reader and turned into the suggester's ObservedEdges.
 */
import { createLogger } from '../common/pino-logger.js';
import { parseTime, TimeInputError } from '../common/time-window.js';
import { loadConfig } from '../config/config.js';
import type { PolicyInventory } from '../policy/index.js';
import { openDatabase } from '../storage/database.js';
import { PostgresEdgeReader } from '../storage/edge.reader.js';
import type { EdgeReader } from '../storage/readers.js';
import { edgesFromStored } from '../suggest/index.js';
import type { EdgeSource } from '../whatif/index.js';
import { UsageError } from './cli-error.js';

export interface OpenedEdgeSource {
  source: EdgeSource;
  close(): Promise<void>;
}

/** Opens the edge source; `configFile` is --config (YAML of VARIABLE: value; the environment wins). */
export type OpenEdgeSource = (inventory: PolicyInventory, configFile?: string) => Promise<OpenedEdgeSource>;

/** The stored edges of a window, endpoints resolved against the inventory (Pods' labels, workloads). */
export function storedEdgeSource(reader: Pick<EdgeReader, 'observedEdges'>, inventory: PolicyInventory): EdgeSource {
  return {
    observedEdges: async (window, options = {}) =>
      edgesFromStored(await reader.observedEdges({ ...window, ...options }), inventory).edges,
  };
}

export const openStoredEdgeSource: OpenEdgeSource = async (inventory, configFile) => {
  const env = { ...process.env };
  if (configFile) env.DROPSCOPE_CONFIG = configFile;
  const config = loadConfig(env);
  const log = createLogger(env.LOG_LEVEL ?? 'warn', process.stderr);
  // One open, which applies pending migrations: a database nothing was imported into yet answers
  // with no edges rather than a missing table.
  const db = await openDatabase(
    { url: config.database.url, dataDir: config.dataDir, poolSize: 2 },
    log.child({ component: 'database' }),
  );
  return { source: storedEdgeSource(new PostgresEdgeReader(db.dataSource), inventory), close: () => db.close() };
};

/** A --from/--to value (RFC 3339, now, -7d); a bad one is a usage error naming the option. */
export function cliTime(param: string, value: string, now: number): number {
  try {
    return parseTime(param, value, now);
  } catch (e) {
    throw e instanceof TimeInputError ? new UsageError(`--${e.message}`) : e;
  }
}
