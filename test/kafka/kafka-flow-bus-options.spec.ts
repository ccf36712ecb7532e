/** KafkaFlowBus configuration: TLS files, SASL secrecy, topic creation on a broker that cannot. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { KafkaFlowBus, kafkaTlsConfig, messageKey } from '../../src/bus/kafka-flow.bus.js';
import type { Logger } from '../../src/common/logger.js';
import { aggregationKey } from '../../src/flow/aggregation-key.js';
import { startKafkaMockCluster, type KafkaMockCluster } from '../support/kafka-mock-cluster.js';
import { FAST_GROUP, flow, readTopic, unique } from './kafka-test-utils.js';

interface Line {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}

function collectingLogger(lines: Line[]): Logger {
  const make = (bindings: Record<string, unknown>): Logger => ({
    debug: (msg, fields) => lines.push({ level: 'debug', msg, fields: { ...bindings, ...fields } }),
    info: (msg, fields) => lines.push({ level: 'info', msg, fields: { ...bindings, ...fields } }),
    warn: (msg, fields) => lines.push({ level: 'warn', msg, fields: { ...bindings, ...fields } }),
    error: (msg, fields) => lines.push({ level: 'error', msg, fields: { ...bindings, ...fields } }),
    child: (b) => make({ ...bindings, ...b }),
  });
  return make({});
}

let cluster: KafkaMockCluster;
beforeAll(async () => {
  cluster = await startKafkaMockCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

describe('KafkaFlowBus options', () => {
  it('reads TLS material from files and keeps servername and rejectUnauthorized', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dropscope-kafka-tls-'));
    try {
      writeFileSync(join(dir, 'ca.pem'), 'CA PEM');
      writeFileSync(join(dir, 'cert.pem'), 'CERT PEM');
      writeFileSync(join(dir, 'key.pem'), 'KEY PEM');
      const tls = kafkaTlsConfig({
        caFile: join(dir, 'ca.pem'),
        certFile: join(dir, 'cert.pem'),
        keyFile: join(dir, 'key.pem'),
        servername: 'kafka.internal',
      });
      expect(typeof tls).toBe('object');
      if (typeof tls !== 'object') return;
      expect(String(tls.ca)).toBe('CA PEM');
      expect(String(tls.cert)).toBe('CERT PEM');
      expect(String(tls.key)).toBe('KEY PEM');
      expect(tls.servername).toBe('kafka.internal');
      expect(tls.rejectUnauthorized).toBe(true);
      expect(kafkaTlsConfig(true)).toBe(true);
      expect(kafkaTlsConfig(undefined)).toBeUndefined();
      expect(() => kafkaTlsConfig({ caFile: join(dir, 'missing.pem') })).toThrow(
        /cannot read Kafka TLS CA file .*missing\.pem/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // The mock broker has no SASL (its ApiVersions lists no SaslHandshake): the client connects for
  // real and fails at the SASL step, and that attempt's logs and error are what is checked.
  it.each(['plain', 'scram-sha-512'] as const)(
    'never logs the SASL password (%s) when a real connection to the mock broker fails at the SASL handshake',
    async (mechanism) => {
      const lines: Line[] = [];
      const password = `s3cret-Pa55-${mechanism}`;
      const bus = new KafkaFlowBus({
        brokers: [cluster.bootstrap],
        topic: unique('sasl'),
        sasl: { mechanism, username: 'dropscope', password },
        connectionTimeout: 2000,
        requestTimeout: 5000,
        logger: collectingLogger(lines),
      });
      let failure: unknown;
      try {
        await bus.publish({ records: [flow(1)] });
      } catch (e) {
        failure = e;
      }
      await bus.close();
      expect(String(failure)).toMatch(/does not support the requested API version/);
      expect(String(failure)).not.toContain(password);
      // The attempt was logged (configuration, then the client's error), without the password.
      expect(lines.find((l) => l.msg === 'kafka bus configured')?.fields).toMatchObject({
        saslMechanism: mechanism,
        saslUsername: 'dropscope',
      });
      expect(lines.some((l) => l.level === 'error' && /does not support the requested API version/.test(l.msg))).toBe(
        true,
      );
      expect(JSON.stringify(lines)).not.toContain(password);
    },
  );

  it('rejects unsupported compression and empty broker lists', () => {
    expect(() => new KafkaFlowBus({ brokers: [] })).toThrow(/at least one broker/);
    expect(() => new KafkaFlowBus({ brokers: ['x:1'], compression: 'zstd' as 'gzip' })).toThrow(/compression/);
  });

  it('derives the key from the flow, and a stable fallback otherwise', () => {
    const f = flow(3);
    expect(messageKey(f, JSON.stringify(f))).toBe(aggregationKey(f));
    expect(messageKey({ cluster: 'c' }, '{"cluster":"c"}')).toBe(messageKey({ cluster: 'c' }, '{"cluster":"c"}'));
    expect(messageKey('x', '"x"')).toMatch(/^unkeyed:[0-9a-f]{16}$/);
    expect(messageKey({ cluster: 'c' }, '{"cluster":"c"}')).not.toBe(messageKey('x', '"x"'));
  });

  it('treats a broker without CreateTopics as a warning, then works on auto-created topics; metrics are reused', async () => {
    const lines: Line[] = [];
    const topic = unique('auto');
    const registry = new Registry();
    const options = {
      brokers: [cluster.bootstrap],
      topic,
      dlqTopic: `${topic}.dlq`,
      createTopics: true,
      numPartitions: 2,
      replicationFactor: 1,
      logger: collectingLogger(lines),
      registry,
      ...FAST_GROUP,
    };
    const bus = new KafkaFlowBus(options);
    const second = new KafkaFlowBus(options); // same registry: metrics reused, no "already registered"
    await bus.publish({ records: [flow(1), flow(2)] });
    await bus.close();
    await second.close();
    const raw = await readTopic(cluster.bootstrap, topic, 2);
    expect(raw).toHaveLength(2);
    const outcome = lines.find((l) => /kafka topics/.test(l.msg));
    // The mock has no CreateTopics (and reports no controller): a warning, not a failure.
    expect(outcome?.level).toBe('warn');
    expect(outcome?.msg).toMatch(/could not create kafka topics/);
  });
});
