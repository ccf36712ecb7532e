import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './config.js';
import { closestVariable, KNOWN_VARIABLES } from './known-variables.js';

const dir = mkdtempSync(join(tmpdir(), 'ds-config-'));
const pem = join(dir, 'a.pem');
writeFileSync(pem, 'x');
const base = { DROPSCOPE_DATA_DIR: join(dir, 'data') };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function error(env: Record<string, string>): string {
  try {
    loadConfig({ ...base, ...env });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('loadConfig accepted it');
}

describe('start-up checks', () => {
  it.each([
    [
      { HUBBLE_ADDR: 'relay:4245', HUBBLE_TLS_CA_FILE: join(dir, 'missing.pem') },
      'HUBBLE_TLS_CA_FILE must name a readable file (no such file)',
    ],
    [
      {
        GOLDMANE_ADDR: 'g:7443',
        GOLDMANE_TLS_CA_FILE: join(dir, 'nope'),
        GOLDMANE_TLS_CERT_FILE: pem,
        GOLDMANE_TLS_KEY_FILE: pem,
      },
      'GOLDMANE_TLS_CA_FILE must name a readable file (no such file)',
    ],
    [
      { HUBBLE_ADDR: 'relay:4245', HUBBLE_TLS_CA_FILE: dir },
      'HUBBLE_TLS_CA_FILE must name a readable file (it is not a file)',
    ],
    [{ KAFKA_TLS_CA_FILE: pem }, 'KAFKA_BROKERS must be set: KAFKA_TLS_CA_FILE is set'],
    [{ KAFKA_SESSION_TIMEOUT_MS: '6000' }, 'KAFKA_BROKERS must be set: KAFKA_SESSION_TIMEOUT_MS is set'],
    [{ HUBBLE_TLS_CA_FILE: pem }, 'HUBBLE_ADDR must be set: HUBBLE_TLS_CA_FILE is set'],
    [{ GOLDMANE_TLS_SERVER_NAME: 'g' }, 'GOLDMANE_ADDR must be set: GOLDMANE_TLS_SERVER_NAME is set'],
    [{ GOLDMANE_ADDR: 'g:7443' }, 'GOLDMANE_TLS_CERT_FILE is required with GOLDMANE_ADDR (Goldmane accepts mTLS only)'],
    [
      { GOLDMANE_ADDR: 'g:7443', GOLDMANE_TLS_CERT_FILE: pem, GOLDMANE_TLS_KEY_FILE: pem },
      'GOLDMANE_TLS_CA_FILE is required with GOLDMANE_ADDR',
    ],
    [
      { KAFKA_BROKERS: 'k:9092', DROPSCOPE_ROLES: 'collector' },
      'DATABASE_URL is required with KAFKA_BROKERS for roles collector',
    ],
    [{ HOST: 'not a host!' }, 'HOST must be an IP address or a host name'],
    [{ DROPSCOPE_DATA_DIR: join(pem, 'sub', 'dir') }, `DROPSCOPE_DATA_DIR must be a folder, but ${pem} is a file`],
  ])('refuses %j', (env, expected) => {
    expect(error(env)).toContain(expected);
  });

  it('accepts a consistent configuration, and 0 for every retention ("keep forever")', () => {
    const c = loadConfig({
      ...base,
      HOST: '::1',
      GOLDMANE_ADDR: 'goldmane.calico-system.svc:7443',
      GOLDMANE_TLS_CA_FILE: pem,
      GOLDMANE_TLS_CERT_FILE: pem,
      GOLDMANE_TLS_KEY_FILE: pem,
      RETENTION_DAYS: '0',
      HOURLY_ROLLUP_RETENTION_DAYS: '0',
      DROP_EVENT_RETENTION_DAYS: '0',
      DEAD_LETTER_RETENTION_DAYS: '0',
    });
    expect(c.host).toBe('::1');
    expect(c.goldmane?.tls).toEqual({ caFile: pem, certFile: pem, keyFile: pem, serverName: undefined });
    expect(c.retention).toEqual({ rollupDays: 0, hourlyRollupDays: 0, eventDays: 0, deadLetterDays: 0 });
    expect(loadConfig({ ...base, HOST: 'localhost' }).host).toBe('localhost');
  });

  it('reads KAFKA_CONCURRENT_PARTITIONS (default 8, from 1)', () => {
    const kafka = { ...base, KAFKA_BROKERS: 'k:9092' };
    expect(loadConfig(kafka).kafka?.concurrentPartitions).toBe(8);
    expect(loadConfig({ ...kafka, KAFKA_CONCURRENT_PARTITIONS: '1' }).kafka?.concurrentPartitions).toBe(1);
    expect(error({ ...kafka, KAFKA_CONCURRENT_PARTITIONS: '0' })).toContain('KAFKA_CONCURRENT_PARTITIONS');
    expect(error({ ...kafka, KAFKA_CONCURRENT_PARTITIONS: 'all' })).toContain('KAFKA_CONCURRENT_PARTITIONS');
  });

  it('reads KAFKA_MAX_WAIT_MS (default 5 s, the longest a consumer fetch waits for data)', () => {
    const kafka = { ...base, KAFKA_BROKERS: 'k:9092' };
    expect(loadConfig(kafka).kafka?.maxWaitMs).toBe(5000);
    expect(loadConfig({ ...kafka, KAFKA_MAX_WAIT_MS: '200' }).kafka?.maxWaitMs).toBe(200);
    expect(error({ ...kafka, KAFKA_MAX_WAIT_MS: '0' })).toContain('KAFKA_MAX_WAIT_MS');
  });

  it('reads EDGE_LIST_CACHE_MB (default 64 MB; 0 turns the cache off) and refuses what is not a size', () => {
    expect(loadConfig(base).edgeListCacheBytes).toBe(64 * 1024 * 1024);
    expect(loadConfig({ ...base, EDGE_LIST_CACHE_MB: '0' }).edgeListCacheBytes).toBe(0);
    expect(loadConfig({ ...base, EDGE_LIST_CACHE_MB: '256' }).edgeListCacheBytes).toBe(256 * 1024 * 1024);
    expect(error({ EDGE_LIST_CACHE_MB: '64MB' })).toContain('EDGE_LIST_CACHE_MB must be an integer from 0 to 65536');
    expect(error({ EDGE_LIST_CACHE_MB: '-1' })).toContain('EDGE_LIST_CACHE_MB');
  });

  it('refuses an unknown key in the config file and names the closest known one', () => {
    const file = join(dir, 'typo.yaml');
    writeFileSync(file, 'RETENTON_DAYS: 0\n');
    expect(error({ DROPSCOPE_CONFIG: file })).toBe(
      `invalid configuration: RETENTON_DAYS in ${file} is not a Dropscope setting; did you mean RETENTION_DAYS?`,
    );
    writeFileSync(file, 'COMPLETELY_DIFFERENT: 1\n');
    expect(error({ DROPSCOPE_CONFIG: file })).toBe(
      `invalid configuration: COMPLETELY_DIFFERENT in ${file} is not a Dropscope setting`,
    );
  });

  it('suggests close names', () => {
    expect(closestVariable('KAFKA_BROKER')).toBe('KAFKA_BROKERS');
    expect(closestVariable('hubble_addr')).toBe('HUBBLE_ADDR');
    expect(closestVariable('DATABSAE_URL')).toBe('DATABASE_URL');
    expect(closestVariable('XYZ')).toBeUndefined();
  });

  it('knows exactly the variables the README documents', () => {
    const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
    const table = readme.slice(
      readme.indexOf('## Configuration'),
      readme.indexOf('\n## ', readme.indexOf('## Configuration') + 5),
    );
    const documented = new Set<string>();
    for (const line of table.split('\n').filter((l) => l.startsWith('| `'))) {
      const firstCell = line.split('|')[1];
      for (const m of firstCell.matchAll(/`([A-Z][A-Z0-9_]+)`/g)) documented.add(m[1]);
    }
    documented.add('DROPSCOPE_CONFIG'); // described in the prose above the table
    expect([...documented].sort()).toEqual([...KNOWN_VARIABLES].sort());
  });
});
