/**
 * docker-compose.yml stays in step with the rest: every role runs, with only settings Dropscope
 * knows; Kafka runs in KRaft mode; what it mounts exists; Prometheus scrapes every role and loads
 * the rules; Grafana gets the provisioning and its home dashboard exists.
 */
import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { KNOWN_VARIABLES } from '../../src/config/known-variables.js';

const ROOT = join(import.meta.dirname, '..', '..');

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string | number>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
}

const compose = parseYaml(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};
const services = compose.services;

describe('docker-compose.yml', () => {
  it('runs each role in its own service, with settings Dropscope knows', () => {
    const roles = Object.entries(services)
      .filter(([, s]) => s.environment?.DROPSCOPE_ROLES !== undefined)
      .map(([name, s]) => [name, s.environment!.DROPSCOPE_ROLES]);
    expect(roles).toEqual([
      ['collector', 'collector'],
      ['aggregator', 'aggregator'],
      ['api', 'api'],
      ['alerts', 'alerts'],
    ]);
    for (const name of ['migrate', 'collector', 'aggregator', 'api', 'alerts']) {
      const unknown = Object.keys(services[name].environment ?? {}).filter((k) => !KNOWN_VARIABLES.includes(k));
      expect({ name, unknown }).toEqual({ name, unknown: [] });
      if (name !== 'migrate')
        expect(services[name].depends_on?.migrate).toEqual({ condition: 'service_completed_successfully' });
    }
  });

  it('runs Kafka as a single KRaft node (broker and controller, no ZooKeeper)', () => {
    const env = services.kafka.environment!;
    expect(env.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(env.KAFKA_CONTROLLER_QUORUM_VOTERS).toBe('1@kafka:9093');
    expect(Object.keys(env).filter((k) => /ZOOKEEPER/i.test(k))).toEqual([]);
    expect(Object.keys(services).filter((k) => /zookeeper/i.test(k))).toEqual([]);
  });

  it('mounts only paths that exist in the repository', () => {
    for (const [name, s] of Object.entries(services))
      for (const v of s.volumes ?? []) {
        const host = v.split(':')[0];
        if (host.startsWith('./'))
          expect({ name, host, exists: existsSync(join(ROOT, host)) }).toEqual({ name, host, exists: true });
      }
  });

  it('has Prometheus scrape every role and load the rules, and Grafana open an existing dashboard', () => {
    const prom = parseYaml(readFileSync(join(ROOT, 'deploy', 'prometheus', 'prometheus.yml'), 'utf8')) as {
      rule_files: string[];
      scrape_configs: Array<{ job_name: string; dns_sd_configs?: Array<{ names: string[] }> }>;
    };
    const job = prom.scrape_configs.find((j) => j.job_name === 'dropscope')!;
    expect(job.dns_sd_configs![0].names).toEqual(['collector', 'aggregator', 'api', 'alerts']);
    expect(services.prometheus.volumes).toContain('./deploy/prometheus:/etc/prometheus:ro');
    expect(prom.rule_files).toEqual(['/etc/prometheus/rules/*.yml']);

    expect(services.grafana.volumes).toEqual(
      expect.arrayContaining([
        './deploy/grafana/provisioning:/etc/grafana/provisioning:ro',
        './deploy/grafana/dashboards:/etc/grafana/dashboards/dropscope:ro',
      ]),
    );
    const home = String(services.grafana.environment!.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH);
    expect(home.startsWith('/etc/grafana/dashboards/dropscope/')).toBe(true);
    expect(
      existsSync(
        join(ROOT, 'deploy', 'grafana', 'dashboards', home.slice('/etc/grafana/dashboards/dropscope/'.length)),
      ),
    ).toBe(true);
    const provider = parseYaml(
      readFileSync(join(ROOT, 'deploy', 'grafana', 'provisioning', 'dashboards', 'dashboards.yaml'), 'utf8'),
    ) as { providers: Array<{ type: string; options: { path: string } }> };
    expect(provider.providers).toEqual([
      expect.objectContaining({
        type: 'file',
        options: expect.objectContaining({ path: '/etc/grafana/dashboards/dropscope' }),
      }),
    ]);
  });
});
